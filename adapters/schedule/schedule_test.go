package schedule_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge/clocktest"

	"github.com/carebridge/carebridge/adapters/schedule"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/watch"
	"github.com/carebridge/carebridge/store"
	"github.com/carebridge/carebridge/store/storetest"
)

var quiet = slog.New(slog.DiscardHandler)

func cfgIn(t *testing.T, tz string) *config.Config {
	t.Helper()
	y := `
timezone: ` + tz + `
x:
  accounts: [{handle: SBCare, user_id: "1"}, {handle: SBCareWiFi, user_id: "2"}]
departments:
  - {id: network, channel: "#care-network", approvers: [U0MANAGER1]}
  - {id: billing, channel: "#care-billing", approvers: [U0MANAGER1], digests: ["08:30"]}
routes:
  - {department: network, keywords: [signal]}
triage: network
watch: {channel: "#care-watch", digest_time: "02:30"}
office_hours:
  open: "09:00"
  close: "18:00"
  greeting: "Good morning ({date})"
  sign_off: "Good night ({date})"
`
	cfg, err := config.Parse([]byte(y), "t.yaml", config.LevelRouting, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// recorder is a Jobs that records when each job ran (by the fake clock).
type recorder struct {
	clock bridge.Clock
	mu    sync.Mutex
	runs  map[string][]time.Time
	ran   chan string
}

func newRecorder(c bridge.Clock) *recorder {
	return &recorder{clock: c, runs: map[string][]time.Time{}, ran: make(chan string, 100)}
}

func (r *recorder) note(name string) {
	r.mu.Lock()
	r.runs[name] = append(r.runs[name], r.clock.Now())
	r.mu.Unlock()
	r.ran <- name
}
func (r *recorder) CheckSLA(context.Context) (int, error) { r.note("sla"); return 0, nil }
func (r *recorder) CheckSpikes(context.Context) ([]watch.Spike, error) {
	r.note("spikes")
	return nil, nil
}
func (r *recorder) AutoClose(context.Context) (int, error) { r.note("auto-close"); return 0, nil }
func (r *recorder) Digest(_ context.Context, d string) (bool, error) {
	r.note("digest:" + d)
	return true, nil
}
func (r *recorder) ExecDigest(context.Context) (bool, error)       { r.note("exec-digest"); return true, nil }
func (r *recorder) Greet(_ context.Context, p string) (int, error) { r.note(p); return 1, nil }
func (r *recorder) DigestTimes(dept string) []string {
	if dept == "billing" {
		return []string{"08:30"}
	}
	return []string{"12:00", "18:00"}
}

func start(t *testing.T, opt schedule.Options) *schedule.Scheduler {
	t.Helper()
	if opt.CheckInterval == 0 {
		opt.CheckInterval, opt.CloseInterval = 1000*time.Hour, 1000*time.Hour // keep the test about daily jobs
	}
	opt.Logger = quiet
	sc, err := schedule.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	sc.Start()
	t.Cleanup(func() { _ = sc.Stop() })
	return sc
}

// Daily jobs keep their wall-clock time across daylight-saving changes
// (America/New_York, 8 March and 1 November 2026) and in a zone without
// them (Asia/Tokyo).
func TestDailyTimesAcrossDST(t *testing.T) {
	for _, c := range []struct {
		tz    string
		start time.Time // UTC
		job   string
		n     int
		want  []string // UTC instants
	}{
		{"America/New_York", time.Date(2026, 3, 6, 20, 0, 0, 0, time.UTC), "digest:network", 6, []string{
			"2026-03-06T23:00:00Z",                         // Fri 18:00 EST
			"2026-03-07T17:00:00Z", "2026-03-07T23:00:00Z", // Sat 12:00, 18:00 EST
			"2026-03-08T16:00:00Z", "2026-03-08T22:00:00Z", // Sun 12:00, 18:00 EDT: one hour earlier in UTC
			"2026-03-09T16:00:00Z",
		}},
		{"America/New_York", time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC), "greeting", 3, []string{
			"2026-10-31T13:00:00Z", // Sat 09:00 EDT
			"2026-11-01T14:00:00Z", // Sun 09:00 EST
			"2026-11-02T14:00:00Z",
		}},
		{"America/New_York", time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC), "billing-digest", 2, []string{
			"2026-10-31T12:30:00Z", "2026-11-01T13:30:00Z", // 08:30 EDT, then 08:30 EST
		}},
		{"Asia/Tokyo", time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC), "digest:network", 4, []string{
			"2026-03-07T03:00:00Z", "2026-03-07T09:00:00Z", "2026-03-08T03:00:00Z", "2026-03-08T09:00:00Z",
		}},
		{"Asia/Tokyo", time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC), "sign-off", 2, []string{
			"2026-03-07T09:00:00Z", "2026-03-08T09:00:00Z",
		}},
	} {
		t.Run(c.tz+"/"+c.job, func(t *testing.T) {
			fc := clocktest.New(c.start)
			job := c.job
			if job == "billing-digest" {
				job = "digest:billing"
			}
			sc := start(t, schedule.Options{Jobs: newRecorder(fc), Config: cfgIn(t, c.tz), Clock: fc})
			runs, err := sc.NextRuns(job, c.n)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range runs {
				got = append(got, r.UTC().Format(time.RFC3339))
			}
			if len(got) != len(c.want) {
				t.Fatalf("next runs = %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("run %d = %s, want %s (all: %v)", i, got[i], c.want[i], got)
				}
			}
		})
	}
}

// A time of day that does not exist on the spring-forward day (02:30 on
// 2026-03-08 in America/New_York) runs where Go's time.Date puts it: read
// with the daylight-time offset, that is 06:30 UTC, 01:30 EST, an hour
// before the gap (gocron's default daylight-saving policy keeps
// time.Date's instant). It runs once that day. A time that exists twice on the
// fall-back day (01:30 on 2026-11-01) runs once, at its first occurrence
// (01:30 EDT). docs/ARCHITECTURE.md says so.
func TestDailyTimeInDSTGapAndOverlap(t *testing.T) {
	for _, c := range []struct {
		digestTime string
		start      time.Time // UTC
		want       []string  // UTC instants
	}{
		{"02:30", time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC), []string{
			"2026-03-08T06:30:00Z", // Sun 01:30 EST: 02:30 does not exist
			"2026-03-09T06:30:00Z", // Mon 02:30 EDT
			"2026-03-10T06:30:00Z",
		}},
		{"01:30", time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC), []string{
			"2026-11-01T05:30:00Z", // Sun 01:30 EDT, not again at 01:30 EST
			"2026-11-02T06:30:00Z", // Mon 01:30 EST
			"2026-11-03T06:30:00Z",
		}},
	} {
		t.Run(c.digestTime, func(t *testing.T) {
			cfg := cfgIn(t, "America/New_York")
			cfg.Watch.DigestTime = c.digestTime
			fc := clocktest.New(c.start)
			sc := start(t, schedule.Options{Jobs: newRecorder(fc), Config: cfg, Clock: fc})
			runs, err := sc.NextRuns("exec-digest", len(c.want))
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range runs {
				if got := r.UTC().Format(time.RFC3339); i >= len(c.want) || got != c.want[i] {
					t.Errorf("run %d = %s, want %v", i, got, c.want)
				}
			}
			if len(runs) != len(c.want) {
				t.Errorf("%d runs, want %d", len(runs), len(c.want))
			}
		})
	}
}

// The fake clock crossing the spring-forward night fires the noon digest
// at 12:00 EDT.
func TestDigestFiresAtLocalNoonAfterSpringForward(t *testing.T) {
	fc := clocktest.New(time.Date(2026, 3, 8, 4, 0, 0, 0, time.UTC)) // Sat 23:00 EST
	rec := newRecorder(fc)
	sc := start(t, schedule.Options{Jobs: rec, Config: cfgIn(t, "America/New_York"), Clock: fc})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := fc.WaitForTimers(ctx, len(sc.Names())); err != nil {
		t.Fatal(err)
	}
	fc.Advance(time.Date(2026, 3, 8, 16, 0, 1, 0, time.UTC).Sub(fc.Now())) // 12:00:01 EDT
	for {
		select {
		case name := <-rec.ran:
			if name != "digest:network" {
				continue
			}
			rec.mu.Lock()
			at := rec.runs[name][0]
			rec.mu.Unlock()
			ny, _ := time.LoadLocation("America/New_York")
			if got := at.In(ny).Format("Mon 15:04 MST"); got != "Sun 12:00 EDT" {
				t.Errorf("digest ran at %s, want Sun 12:00 EDT", got)
			}
			return
		case <-ctx.Done():
			t.Fatal("the digest did not run")
		}
	}
}

// countingJobs counts greetings on top of a real Watcher.
type countingJobs struct {
	*watch.Watcher
	mu    sync.Mutex
	greet int
	done  chan struct{}
}

func (c *countingJobs) Greet(ctx context.Context, purpose string) (int, error) {
	n, err := c.Watcher.Greet(ctx, purpose)
	c.mu.Lock()
	c.greet++
	c.mu.Unlock()
	c.done <- struct{}{}
	return n, err
}

// Two replicas on one PostgreSQL, each with its scheduler and elector, at
// opening time: one leads and greets; each account posts once.
func TestGreetingOnceWithTwoReplicasOnPostgres(t *testing.T) {
	base := os.Getenv("CAREBRIDGE_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("CAREBRIDGE_TEST_POSTGRES_URL is not set")
	}
	u := storetest.FreshPostgresSchema(t, base)
	greetTwice(t, func() *store.Store { return openStore(t, u) }, 2)
}

// Under SQLite one process runs the schedule.
func TestGreetingOnSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cb.db")
	greetTwice(t, func() *store.Store { return openStore(t, path) }, 1)
}

func greetTwice(t *testing.T, open func() *store.Store, replicas int) {
	cfg := cfgIn(t, "Asia/Tokyo")
	startAt := time.Date(2026, 3, 9, 8, 59, 30, 0, time.FixedZone("JST", 9*3600)) // Monday
	var stores []*store.Store
	var jobs []*countingJobs
	var clocks []*clocktest.Clock
	var scheds []*schedule.Scheduler
	done := make(chan struct{}, 10)
	for i := 0; i < replicas; i++ {
		s := open()
		fc := clocktest.New(startAt)
		runner, err := store.Runner[watch.Tx](s)
		if err != nil {
			t.Fatal(err)
		}
		w, err := watch.New(watch.Options{Store: runner, Config: cfg, Accounts: []watch.Account{{Platform: "x", Handle: "SBCare"}, {Platform: "x", Handle: "SBCareWiFi"}}, Clock: fc, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		j := &countingJobs{Watcher: w, done: done}
		el := s.Elector("schedules")
		t.Cleanup(func() { _ = el.Resign(context.Background()) })
		sc := start(t, schedule.Options{Jobs: j, Config: cfg, Clock: fc, Elector: el})
		stores, jobs, clocks, scheds = append(stores, s), append(jobs, j), append(clocks, fc), append(scheds, sc)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for i, fc := range clocks {
		if err := fc.WaitForTimers(ctx, len(scheds[i].Names())); err != nil {
			t.Fatal(err)
		}
	}
	for _, fc := range clocks {
		fc.Advance(31 * time.Second) // 09:00:01
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("nobody greeted")
	}
	for _, sc := range scheds {
		if err := sc.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for _, j := range jobs {
		total += j.greet
	}
	if total != 1 {
		t.Errorf("Greet ran %d times across %d replicas, want once (on the leader)", total, replicas)
	}
	items, err := stores[0].ClaimOutbox(t.Context(), bridge.ClaimParams{Now: startAt.Add(time.Hour), Limit: 100, Lease: time.Minute, Owner: "t", Kinds: []string{bridge.KindPlatformPost}})
	if err != nil {
		t.Fatal(err)
	}
	accounts := map[string]int{}
	for _, it := range items {
		var p bridge.PostPayload
		_ = json.Unmarshal(it.Payload, &p)
		accounts[p.Account]++
		if p.Text != "Good morning (2026-03-09)" {
			t.Errorf("greeting text %q", p.Text)
		}
	}
	if len(items) != 2 || accounts["SBCare"] != 1 || accounts["SBCareWiFi"] != 1 {
		t.Errorf("greetings queued: %v, want one per account", accounts)
	}
}

func openStore(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), url, store.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// countingElector counts the leadership checks; it never leads.
type countingElector struct {
	mu sync.Mutex
	n  int
}

func (e *countingElector) IsLeader(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	return errors.New("another process leads")
}

func (e *countingElector) calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

// Between job runs the scheduler keeps claiming the leadership every
// LeaderCheck, so that a replica takes the schedules over from a dead
// leader without waiting for its next job (hours away for a daily one);
// Stop ends the checks.
func TestLeadershipClaimedBetweenJobs(t *testing.T) {
	cfg := cfgIn(t, "Asia/Tokyo")
	fc := clocktest.New(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)) // never advanced: no job runs
	el := &countingElector{}
	sc := start(t, schedule.Options{Jobs: newRecorder(fc), Config: cfg, Clock: fc, Elector: el, LeaderCheck: 10 * time.Millisecond})
	deadline := time.Now().Add(30 * time.Second)
	for el.calls() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("leadership checked %d times in 30s with LeaderCheck 10ms and no job due, want at least 3", el.calls())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := sc.Stop(); err != nil {
		t.Fatal(err)
	}
	n := el.calls()
	time.Sleep(100 * time.Millisecond)
	if m := el.calls(); m != n {
		t.Errorf("leadership checked %d more times after Stop", m-n)
	}
}
