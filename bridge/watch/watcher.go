package watch

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

// Metrics observes the watching jobs; nil means none.
type Metrics interface {
	SLAAlert(department, level string)
	SpikeAlert(department string)
	DigestQueued(kind string)
	GreetingQueued(account, purpose string)
	TicketAutoClosed(department string)
}

type noMetrics struct{}

func (noMetrics) SLAAlert(string, string)       {}
func (noMetrics) SpikeAlert(string)             {}
func (noMetrics) DigestQueued(string)           {}
func (noMetrics) GreetingQueued(string, string) {}
func (noMetrics) TicketAutoClosed(string)       {}

// Options configure a Watcher; Store and Config are required.
type Options struct {
	// Store runs the jobs' transactions (store.Runner[watch.Tx] builds it
	// from the store).
	Store  bridge.TxRunner[Tx]
	Config *config.Config
	// Accounts are the official accounts that post the opening greeting
	// and the closing sign-off (the composition root lists them from the
	// networks' configuration); none means no greetings.
	Accounts []Account
	Clock    bridge.Clock
	Logger   *slog.Logger
	Metrics  Metrics
	// BaselineDays is how many previous days make a spike's baseline
	// (default 7).
	BaselineDays int
}

// Account is an official account that greets at opening time and signs
// off at closing time.
type Account struct {
	Platform bridge.Platform // the network the account posts on
	Handle   string
	// Greeting and SignOff are the account's own texts; empty means
	// office_hours.greeting and sign_off, "-" means nothing.
	Greeting, SignOff string
}

// Watcher runs the watching jobs.
type Watcher struct {
	store    bridge.TxRunner[Tx]
	cfg      *config.Config
	accounts []Account
	clock    bridge.Clock
	log      *slog.Logger
	metrics  Metrics
	cal      *Calendar
	loc      *time.Location
	days     int
	// slaDone remembers the SLA alert keys already recorded, so that a
	// long-overdue ticket costs no transaction per scan.
	slaDone sync.Map
	// trigger counts new tickets as they are ingested (spiketrigger.go).
	trigger spikeTrigger
}

// New builds a Watcher.
func New(opt Options) (*Watcher, error) {
	if opt.Store == nil || opt.Config == nil {
		return nil, errors.New("watch: Store and Config are required")
	}
	loc := opt.Config.Location
	if loc == nil {
		loc = time.UTC
	}
	cal, err := NewCalendar(opt.Config.OfficeHours, loc)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w := &Watcher{store: opt.Store, cfg: opt.Config, accounts: opt.Accounts, clock: opt.Clock, log: opt.Logger, metrics: opt.Metrics, cal: cal, loc: loc, days: opt.BaselineDays}
	if w.clock == nil {
		w.clock = bridge.SystemClock{}
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.metrics == nil {
		w.metrics = noMetrics{}
	}
	if w.days <= 0 {
		w.days = 7
	}
	return w, nil
}

// AfterHours is the line shown on a post that arrived at at outside
// office hours, saying when its SLA clock starts ("" during office hours).
// It fits bridge.Options.AfterHours.
func (w *Watcher) AfterHours(at time.Time) string {
	return ClockStartsText(at, w.cal, w.loc)
}

// slot is now in the configured zone, to the minute: what identifies one
// run of a daily job, whichever replica runs it and however late within
// the minute.
func (w *Watcher) slot(now time.Time) time.Time {
	return now.In(w.loc).Truncate(time.Minute)
}

func (w *Watcher) slaOf(dept string) config.SLA {
	if d := w.cfg.Department(dept); d != nil {
		return EffectiveSLA(w.cfg.SLA, d.SLA)
	}
	return w.cfg.SLA
}

// fmtDur writes a duration as "45m", "1h05m" or "2d 3h".
func fmtDur(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d <= 0:
		return "0m"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// fmtWhen writes an instant in the configured zone: "15:04" today,
// "Mon 15:04" within a week, else "2 Jan 15:04".
func (w *Watcher) fmtWhen(t, now time.Time) string {
	t, now = t.In(w.loc), now.In(w.loc)
	switch {
	case t.Year() == now.Year() && t.YearDay() == now.YearDay():
		return t.Format("15:04")
	case now.Sub(t) < 6*24*time.Hour && t.Sub(now) < 6*24*time.Hour:
		return t.Format("Mon 15:04")
	}
	return t.Format("2 Jan 15:04")
}

// mention is the notice markup (bridge.ChatMessage.Text) that notifies
// d's escalation: a group (a Slack user group, a Teams tag) or a person.
func (w *Watcher) mention(d *config.Department) string {
	switch {
	case d.Escalation == "":
		return ""
	case w.cfg.EscalationIsGroup(d):
		return "<!subteam^" + d.Escalation + ">"
	}
	return "<@" + d.Escalation + ">"
}

func (w *Watcher) deptName(id string) string {
	if d := w.cfg.Department(id); d != nil {
		return d.Name
	}
	return id
}
