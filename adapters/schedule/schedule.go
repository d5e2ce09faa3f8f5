// Package schedule runs carebridge's watching jobs on gocron
// (github.com/go-co-op/gocron/v2): the SLA and spike checks every minute,
// auto-closing every hour, department digests, the executive digest, and
// the opening greeting and closing sign-off at their times of day in the
// configured time zone. Under several replicas sharing PostgreSQL only
// the elected leader runs them (gocron's distributed elector, backed by
// store.Elector's advisory lock); the jobs are idempotent besides (every
// effect carries a unique key), so a change of leader mid-run sends
// nothing twice.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/watch"
)

// Jobs is what the schedule runs; *watch.Watcher implements it.
type Jobs interface {
	CheckSLA(ctx context.Context) (int, error)
	CheckSpikes(ctx context.Context) ([]watch.Spike, error)
	AutoClose(ctx context.Context) (int, error)
	Digest(ctx context.Context, dept string) (bool, error)
	ExecDigest(ctx context.Context) (bool, error)
	Greet(ctx context.Context, purpose string) (int, error)
	DigestTimes(dept string) []string
}

var _ Jobs = (*watch.Watcher)(nil)

// Options configure a Scheduler. Jobs and Config are required.
type Options struct {
	Jobs   Jobs
	Config *config.Config
	// Elector, if set, lets only the leader run the jobs.
	Elector bridge.Elector
	// LeaderCheck is how often, with an Elector, the leadership is claimed
	// or confirmed between job runs (default 5s; wall clock, whatever
	// Clock is), so that when the leader dies another replica holds the
	// schedules within LeaderCheck rather than at its next job run.
	LeaderCheck time.Duration
	// Clock drives the schedule: the process's one clock (tests use
	// bridge/clocktest's fake); default bridge.SystemClock.
	Clock  bridge.TimerClock
	Logger *slog.Logger
	// CheckInterval is how often SLA clocks and spikes are checked
	// (default 1m); CloseInterval how often silent tickets are closed
	// (default 1h).
	CheckInterval, CloseInterval time.Duration
	// Timeout bounds one run of a job (default 5m).
	Timeout time.Duration
}

// Scheduler runs the jobs until Stop.
type Scheduler struct {
	s   gocron.Scheduler
	opt Options
	log *slog.Logger
	// Named jobs, for tests and logs.
	jobs map[string]gocron.Job
	// stopLeading ends the leadership check loop; leading is closed when
	// it has returned.
	stopLeading context.CancelFunc
	leading     chan struct{}
}

// New builds the schedule; Start starts it.
func New(opt Options) (*Scheduler, error) {
	if opt.Jobs == nil || opt.Config == nil {
		return nil, errors.New("schedule: Jobs and Config are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.CheckInterval <= 0 {
		opt.CheckInterval = time.Minute
	}
	if opt.CloseInterval <= 0 {
		opt.CloseInterval = time.Hour
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 5 * time.Minute
	}
	if opt.LeaderCheck <= 0 {
		opt.LeaderCheck = 5 * time.Second
	}
	loc := opt.Config.Location
	if loc == nil {
		loc = time.UTC
	}
	if opt.Clock == nil {
		opt.Clock = bridge.SystemClock{}
	}
	sopts := []gocron.SchedulerOption{gocron.WithLocation(loc), gocron.WithClock(gocronClock{opt.Clock})}
	if opt.Elector != nil {
		sopts = append(sopts, gocron.WithDistributedElector(opt.Elector))
	}
	s, err := gocron.NewScheduler(sopts...)
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	sc := &Scheduler{s: s, opt: opt, log: opt.Logger, jobs: map[string]gocron.Job{}}
	if err := sc.define(); err != nil {
		_ = s.Shutdown()
		return nil, err
	}
	return sc, nil
}

// define adds every job.
func (sc *Scheduler) define() error {
	cfg, j := sc.opt.Config, sc.opt.Jobs
	every := func(name string, d time.Duration, fn func(ctx context.Context) error) error {
		return sc.add(name, gocron.DurationJob(d), fn)
	}
	if err := every("sla", sc.opt.CheckInterval, func(ctx context.Context) error { _, err := j.CheckSLA(ctx); return err }); err != nil {
		return err
	}
	if err := every("spikes", sc.opt.CheckInterval, func(ctx context.Context) error { _, err := j.CheckSpikes(ctx); return err }); err != nil {
		return err
	}
	if err := every("auto-close", sc.opt.CloseInterval, func(ctx context.Context) error { _, err := j.AutoClose(ctx); return err }); err != nil {
		return err
	}
	for _, d := range cfg.Departments {
		dept := d.ID
		if err := sc.daily("digest:"+dept, j.DigestTimes(dept), func(ctx context.Context) error { _, err := j.Digest(ctx, dept); return err }); err != nil {
			return err
		}
	}
	if cfg.Watch.Channel != "" {
		if err := sc.daily("exec-digest", []string{cfg.Watch.DigestTime}, func(ctx context.Context) error { _, err := j.ExecDigest(ctx); return err }); err != nil {
			return err
		}
	}
	oh := cfg.OfficeHours
	if oh.Open != "" && oh.Close != "" {
		if err := sc.daily("greeting", []string{oh.Open}, func(ctx context.Context) error { _, err := j.Greet(ctx, watch.Greeting); return err }); err != nil {
			return err
		}
		if err := sc.daily("sign-off", []string{oh.Close}, func(ctx context.Context) error { _, err := j.Greet(ctx, watch.SignOff); return err }); err != nil {
			return err
		}
	}
	return nil
}

// daily adds a job that runs every day at each of times ("HH:MM", in the
// scheduler's location).
func (sc *Scheduler) daily(name string, times []string, fn func(ctx context.Context) error) error {
	if len(times) == 0 {
		return nil
	}
	var at []gocron.AtTime
	for _, t := range times {
		h, m, err := watch.ParseHHMM(t)
		if err != nil {
			return fmt.Errorf("schedule %s: %w", name, err)
		}
		at = append(at, gocron.NewAtTime(uint(h), uint(m), 0))
	}
	return sc.add(name, gocron.DailyJob(1, gocron.NewAtTimes(at[0], at[1:]...)), fn)
}

func (sc *Scheduler) add(name string, def gocron.JobDefinition, fn func(ctx context.Context) error) error {
	job, err := sc.s.NewJob(def, gocron.NewTask(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, sc.opt.Timeout)
		defer cancel()
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			sc.log.Warn("scheduled job failed; it runs again at its next time", "job", name, "err", err)
		}
	}), gocron.WithName(name), gocron.WithSingletonMode(gocron.LimitModeReschedule))
	if err != nil {
		return fmt.Errorf("schedule %s: %w", name, err)
	}
	sc.jobs[name] = job
	return nil
}

// Start starts the schedule; it returns at once.
func (sc *Scheduler) Start() {
	sc.s.Start()
	if sc.opt.Elector == nil || sc.leading != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	sc.stopLeading, sc.leading = cancel, make(chan struct{})
	go sc.claimLeadership(ctx)
}

// claimLeadership asks the elector every LeaderCheck until ctx ends. The
// jobs ask it too before each run (gocron's distributed elector), but the
// daily ones run a few times a day: without this loop a replica would take
// the schedules over from a dead leader only when its next job came due.
func (sc *Scheduler) claimLeadership(ctx context.Context) {
	defer close(sc.leading)
	tick := time.NewTicker(sc.opt.LeaderCheck)
	defer tick.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, sc.opt.LeaderCheck)
		err := sc.opt.Elector.IsLeader(cctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			sc.log.Debug("not leading the schedules", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Stop stops the schedule and waits for running jobs.
func (sc *Scheduler) Stop() error {
	if sc.stopLeading != nil {
		sc.stopLeading()
		<-sc.leading
	}
	return sc.s.Shutdown()
}

// NextRuns returns the next n run times of the job named name ("sla",
// "spikes", "auto-close", "digest:<dept>", "exec-digest", "greeting",
// "sign-off").
func (sc *Scheduler) NextRuns(name string, n int) ([]time.Time, error) {
	j, ok := sc.jobs[name]
	if !ok {
		return nil, fmt.Errorf("schedule: no job %q", name)
	}
	return j.NextRuns(n)
}

// Names lists the jobs.
func (sc *Scheduler) Names() []string {
	out := make([]string, 0, len(sc.jobs))
	for n := range sc.jobs {
		out = append(out, n)
	}
	return out
}
