package watch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// Purposes of a public post by an official account.
const (
	Greeting = "greeting" // at opening time
	SignOff  = "sign_off" // at closing time
)

// greetingText returns what a posts for purpose on the day of at: its own
// text, else office_hours'; "{date}" and "{weekday}" are replaced with the
// local date (2006-01-02) and weekday (Mon), which also keeps X from
// refusing the same text two days running. Empty (or "-") means nothing is
// posted.
func (w *Watcher) greetingText(a Account, purpose string, at time.Time) string {
	text, own := w.cfg.OfficeHours.Greeting, a.Greeting
	if purpose == SignOff {
		text, own = w.cfg.OfficeHours.SignOff, a.SignOff
	}
	if own != "" {
		text = own
	}
	if strings.TrimSpace(text) == "-" {
		return ""
	}
	local := at.In(w.loc)
	return strings.NewReplacer("{date}", local.Format("2006-01-02"), "{weekday}", local.Format("Mon")).Replace(text)
}

// Greet queues, for each official account, its greeting (purpose
// Greeting) or sign-off (SignOff) as a public post, exactly once per
// account, purpose and local day — the outbox row's dedupe key says so,
// whatever the restarts and replicas. Nothing is posted on days the office
// is closed (weekends, holidays). It returns how many posts this call
// queued.
func (w *Watcher) Greet(ctx context.Context, purpose string) (int, error) {
	if purpose != Greeting && purpose != SignOff {
		return 0, fmt.Errorf("greet: unknown purpose %q", purpose)
	}
	now := w.clock.Now()
	if !w.cal.IsBusinessDay(now) {
		return 0, nil
	}
	day := now.In(w.loc).Format("2006-01-02")
	n := 0
	for _, a := range w.accounts {
		text := w.greetingText(a, purpose, now)
		if text == "" {
			continue
		}
		key := "greeting:" + strings.ToLower(a.Handle) + ":" + day + ":" + purpose
		queued := false
		err := w.store.WithTx(ctx, func(tx Tx) error {
			it, err := bridge.PostItemOf(bridge.PostPayload{Platform: a.Platform, Account: a.Handle, Text: text, Purpose: purpose}, key, now.UTC())
			if err != nil {
				return err
			}
			if queued, err = tx.Enqueue(ctx, it); err != nil || !queued {
				return err
			}
			if _, err := tx.RecordOpsEvent(ctx, &bridge.OpsEvent{Kind: bridge.OpsGreeting, Key: key, At: now.UTC()}); err != nil {
				return err
			}
			return bridge.Audit(ctx, tx, bridge.AuditGreetingQueued, a.Handle, "", 0, map[string]any{"purpose": purpose, "day": day, "text": text}, now.UTC())
		})
		if err != nil {
			return n, fmt.Errorf("greet %s: %w", key, err)
		}
		if queued {
			n++
			w.metrics.GreetingQueued(a.Handle, purpose)
		}
	}
	return n, nil
}
