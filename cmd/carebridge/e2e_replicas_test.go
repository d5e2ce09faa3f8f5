package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/watch"
)

// ingestedBy reads how many posts an instance stored, from its /metrics.
func ingestedBy(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	n := 0
	for _, m := range regexp.MustCompile(`(?m)^carebridge_posts_ingested_total\{[^}]*\} ([0-9]+)`).FindAllSubmatch(body, -1) {
		v, _ := strconv.Atoi(string(m[1]))
		n += v
	}
	return n
}

// TestReplicasOneLeader runs two instances on one PostgreSQL: only the
// leader polls X, every post is mirrored once, and when the leader stops
// the other takes over within the leadership check.
func TestReplicasOneLeader(t *testing.T) {
	storeURL := storeKinds(t)["postgres"](t)
	h := newHarness(t, storeURL, harnessOptions{brands: []string{"SBCare"}, searches: []string{"from:ucustomer"}})
	h.x.AddUser(xfake.User{ID: "7000001", Username: "ucustomer", Name: "Kim"})

	type instance struct {
		addr string
		stop func()
	}
	start := func() instance {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		a, err := newApp(ctx, h.cfg, appOptions{Logger: slog.New(slog.DiscardHandler), Listener: ln, PollInterval: 20 * time.Millisecond, LeaderCheck: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.run(ctx) }()
		var once sync.Once
		stop := func() { once.Do(func() { cancel(); <-done }) }
		t.Cleanup(stop)
		return instance{addr: ln.Addr().String(), stop: stop}
	}
	one, two := start(), start()
	post := func(text string) string {
		return h.x.AddTweet(xfake.Tweet{AuthorID: "7000001", Text: text}).ID
	}
	mirroredOnce := func(ids []string) {
		t.Helper()
		eventually(t, 30*time.Second, "posts mirrored", func() (bool, string) {
			m := h.mirrors()
			for _, id := range ids {
				n := 0
				for _, x := range m[id] {
					if !x.fyi {
						n++
					}
				}
				if n != 1 {
					return false, fmt.Sprintf("post %s mirrored %d times", id, n)
				}
			}
			return true, ""
		})
	}
	var first []string
	for i := 0; i < 5; i++ {
		first = append(first, post(fmt.Sprintf("my iphone battery %d", i)))
	}
	mirroredOnce(first)
	a, b := ingestedBy(t, one.addr), ingestedBy(t, two.addr)
	if (a == 0) == (b == 0) {
		t.Fatalf("posts ingested by instance one %d, two %d: want exactly one instance polling", a, b)
	}
	leader, follower := one, two
	if b > 0 {
		leader, follower = two, one
	}
	leader.stop()
	var second []string
	for i := 0; i < 5; i++ {
		second = append(second, post(fmt.Sprintf("my ipad screen %d", i)))
	}
	mirroredOnce(second)
	if n := ingestedBy(t, follower.addr); n < len(second) {
		t.Errorf("the follower ingested %d posts after the leader stopped, want %d", n, len(second))
	}
	time.Sleep(500 * time.Millisecond)
	mirroredOnce(append(first, second...))
}

// TestReplicasKilledLeader runs two `carebridge serve` processes (the real
// binary) on one PostgreSQL with the same configuration and sources: one
// leads (polls X and runs the schedules), both deliver the outbox. Posts
// are mirrored once and approved replies sent once; department digests and
// each account's opening greeting are due at the next whole minute, while
// both processes run, and arrive once. Then the leader is killed with
// SIGKILL (while approved replies are in flight): the other process takes
// the pollers and the schedules over within 30 s, and the next minute's
// digests, executive digest and sign-offs arrive once, from it.
func TestReplicasKilledLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two processes of the real binary; skipped with -short")
	}
	t.Parallel() // with the other end-to-end tests
	began := time.Now()
	storeURL := storeKinds(t)["postgres"](t)
	rng := seededRNG(t)
	// The schedules are built when serve starts and run at whole minutes
	// (HH:MM): slot 1 with both processes alive, slot 2 after the kill.
	sl := scheduleSlots(t, began, 20*time.Second)
	t.Logf("schedules in %s: slot 1 %s (digests, greetings), slot 2 %s (digests, executive digest, sign-offs)",
		sl.zone, sl.first.Format("Mon 15:04"), sl.second.Format("15:04"))
	// 250 posts: at Slack's 1 message a second per channel, the first 150
	// are mirrored well before slot 2 (the busiest channel holds about a
	// quarter of them).
	// History at a Marketplace app's limits (as in TestServeKilledMidReplay):
	// the killed leader's in-flight messages are unknown, and at an
	// unlisted app's one history call a minute, 15 messages a page, a busy
	// channel's check takes one minute per page — several minutes of wall
	// clock here. That limit after a crash is proven in process, on an
	// accelerated clock, by TestKillAtUnlistedHistoryLimits.
	w := newServeWorld(t, storeURL, serveWorldOptions{posts: 250, seed: rng.Uint64(), extra: sl.yaml(), slack: []slackfake.Option{slackfake.WithMarketplaceHistory()}})
	w.writeConfig(strings.Replace(w.cfgSrc, "timezone: Asia/Tokyo", "timezone: "+sl.zone, 1))
	w.slack.AddChannel(watchChannel, "care-watch", "U0STAFF01", "U0MANAGER", "U0EXEC001")
	// The second process: same configuration, another HTTP address.
	addrB := freeAddr(t)
	cfgB := filepath.Join(w.dir, "carebridge-b.yaml")
	if err := os.WriteFile(cfgB, []byte(strings.Replace(w.cfgSrc, "addr: "+w.addr, "addr: "+addrB, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	a := w.serve()
	waitReady(t, a.addr, time.Minute)
	b := startServe(t, cfgB, filepath.Join(w.dir, "serve-b.log"))
	b.addr = addrB
	waitReady(t, b.addr, time.Minute)
	logOf := map[*process]string{a: w.logPath, b: filepath.Join(w.dir, "serve-b.log")}
	if time.Now().After(sl.first.Add(-5 * time.Second)) {
		t.Fatalf("the processes were ready only at %s, too late for slot 1 at %s", time.Now().Format("15:04:05"), sl.first.Format("15:04:05"))
	}

	first, second := w.posts[:150], w.posts[150:]
	for _, p := range first {
		w.publish(p)
	}
	w.waitMirrored(first, 3*time.Minute)
	na, nb := ingestedBy(t, a.addr), ingestedBy(t, b.addr)
	if (na == 0) == (nb == 0) {
		t.Fatalf("posts ingested by process A %d, B %d: want exactly one process polling", na, nb)
	}
	leader, follower := a, b
	if nb > 0 {
		leader, follower = b, a
	}
	t.Logf("leader %s ingested %d posts, follower %s ingested 0", leader.addr, max(na, nb), follower.addr)
	replies := w.prepareReplies(rng, 20, 2*time.Minute, nil)
	early, late := replies[:10], replies[10:]

	// Slot 1: digests in every department and a greeting per account, once.
	waitUntil(t, sl.first)
	wantGreetings := len(w.brands)
	eventually(t, time.Minute, "slot 1's digests and greetings delivered", func() (bool, string) {
		c := countScheduled(w, sl)
		return c.digests[0] >= len(e2eDepartments) && c.greetings >= wantGreetings,
			fmt.Sprintf("%d of %d digests, %d of %d greetings", c.digests[0], len(e2eDepartments), c.greetings, wantGreetings)
	})
	// Whoever queued them leads the schedules; the same process polls.
	schedA, schedB := scheduledBy(t, a.addr), scheduledBy(t, b.addr)
	if (schedA == 0) == (schedB == 0) {
		t.Fatalf("scheduled effects queued by process A %d, B %d: want exactly one process running the schedules", schedA, schedB)
	}
	if (schedA > 0) != (leader == a) {
		t.Fatalf("the schedules run on one process (A queued %d, B %d) and the pollers on the other: the test kills one leader", schedA, schedB)
	}
	// Kill the leader while replies are going out and posts arrive.
	for _, r := range early {
		w.approve(r)
	}
	for _, p := range second[:40] {
		w.publish(p)
	}
	time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
	sentAtKill := w.tallyReplies(early).sent
	ledBefore := strings.Count(readFile(t, logOf[follower]), `"this process is now the leader" elector=schedules`)
	kill(leader)
	killed := time.Now()
	t.Logf("SIGKILL to the leader with %d of %d approved replies on X, %.0fs before slot 2", sentAtKill, len(early), sl.second.Sub(killed).Seconds())
	if sl.second.Sub(killed) < 10*time.Second {
		t.Fatalf("the kill came %s, too close to slot 2 at %s to tell a hand-over from a job run", killed.Format("15:04:05"), sl.second.Format("15:04:05"))
	}
	for _, p := range second[40:] {
		w.publish(p)
	}
	var handOver, schedHandOver time.Duration
	eventually(t, 30*time.Second, "the follower polling X and holding the schedules", func() (bool, string) {
		if handOver == 0 && ingestedBy(t, follower.addr) > 0 {
			handOver = time.Since(killed)
		}
		if schedHandOver == 0 && strings.Count(readFile(t, logOf[follower]), `"this process is now the leader" elector=schedules`) > ledBefore {
			schedHandOver = time.Since(killed)
		}
		return handOver > 0 && schedHandOver > 0, fmt.Sprintf("pollers after %s, schedules after %s", handOver, schedHandOver)
	})
	t.Logf("hand-over: the follower ingested its first post %.1fs and held the schedules %.1fs after the SIGKILL", handOver.Seconds(), schedHandOver.Seconds())
	for _, r := range late {
		w.approve(r)
	}
	eventually(t, 3*time.Minute, "every reply sent", func() (bool, string) {
		c := w.tallyReplies(replies)
		return c.sent == len(replies), fmt.Sprintf("%d of %d", c.sent, len(replies))
	})
	w.waitMirrored(w.posts, 3*time.Minute)

	// Slot 2, on the survivor alone: digests, the executive digest and a
	// sign-off per account, once.
	waitUntil(t, sl.second)
	eventually(t, time.Minute, "slot 2's digests and sign-offs delivered", func() (bool, string) {
		c := countScheduled(w, sl)
		return c.digests[1] >= len(e2eDepartments) && c.exec >= 1 && c.signOffs >= wantGreetings,
			fmt.Sprintf("%d of %d digests, %d executive, %d of %d sign-offs", c.digests[1], len(e2eDepartments), c.exec, c.signOffs, wantGreetings)
	})
	firstRun := time.Since(killed)
	if n := scheduledBy(t, follower.addr); n == 0 {
		t.Errorf("the survivor queued no scheduled effect after the kill")
	}
	time.Sleep(3 * time.Second)
	mt, rt := w.tallyMirrors(w.posts), w.tallyReplies(replies)
	if mt.lost+mt.doubled+rt.lost+rt.doubled > 0 {
		t.Errorf("posts: %+v; replies: %+v", mt, rt)
		m := w.mirrors()
		for _, id := range mt.doubledIDs {
			w.mu.Lock()
			fid := w.ids[id]
			w.mu.Unlock()
			for _, x := range m[fid] {
				t.Logf("post %s: mirror %s/%s (thread %q): %.200q", id, x.channel, x.ts, x.threadTS, x.body)
			}
		}
	}
	linking := 0
	for _, d := range e2eDepartments {
		for _, m := range w.slack.Messages(d.channel) {
			if m.FromBot() && len(m.Blocks) > 0 && isReport(t, m.Blocks) && statusURL.MatchString(sectionText(t, m.Blocks)) {
				linking++
			}
		}
	}
	t.Logf("reports (digests, spike alerts) linking posts in the department channels, not counted as mirrors: %d", linking)
	c := scheduledNoDuplicates(t, w, sl, wantGreetings)
	t.Logf("RESULT replicas: %d posts (mirrored %d, lost %d, doubled %d), %d replies (sent %d, lost %d, doubled %d), "+
		"scheduled: %d+%d digests, %d executive, %d greetings, %d sign-offs (%d doubled), hand-over: pollers %.1fs, schedules %.1fs (slot 2 delivered %.0fs after the kill), %.0fs in all",
		mt.posts, mt.mirrored, mt.lost, mt.doubled, rt.replies, rt.sent, rt.lost, rt.doubled,
		c.digests[0], c.digests[1], c.exec, c.greetings, c.signOffs, c.doubled,
		handOver.Seconds(), schedHandOver.Seconds(), firstRun.Seconds(), time.Since(began).Seconds())
}

// watchChannel is the executive watch channel of the replica test.
const watchChannel = "C0WATCH"

// slots are the two whole minutes at which the replica test's schedules
// run, in a time zone where both fall on one working day.
type slots struct {
	zone          string
	first, second time.Time // in zone
	// weekdays overrides office_hours.weekdays when no zone has the
	// slots on a Monday–Friday (Saturday around noon UTC).
	weekdays string
}

// scheduleSlots picks the first whole minute at least lead after now, the
// minute after it, and a zone in which both are on a weekday (the
// calendar's default mon–fri), away from midnight; when every zone has a
// weekend day there, the calendar gets that day as a working day.
func scheduleSlots(t *testing.T, now time.Time, lead time.Duration) slots {
	t.Helper()
	first := now.Truncate(time.Minute).Add(time.Minute)
	for first.Sub(now) < lead {
		first = first.Add(time.Minute)
	}
	var weekend *slots
	for _, zone := range []string{"Asia/Tokyo", "UTC", "America/New_York", "Europe/Berlin", "Pacific/Auckland", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Honolulu"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			continue
		}
		f, s := first.In(loc), first.Add(time.Minute).In(loc)
		if f.Hour() < 1 || s.Hour() >= 23 {
			continue // keep both slots on one local day
		}
		if wd := f.Weekday(); wd == time.Saturday || wd == time.Sunday {
			if weekend == nil {
				weekend = &slots{zone: zone, first: f, second: s, weekdays: strings.ToLower(f.Format("Mon"))}
			}
			continue
		}
		return slots{zone: zone, first: f, second: s}
	}
	if weekend == nil {
		t.Fatalf("no time zone has %s and the minute after on one day", first)
	}
	t.Logf("no zone has %s on a weekday: the office opens on %s too", first, weekend.weekdays)
	return *weekend
}

// yaml is the configuration of the schedules: department digests at both
// slots, the executive digest at the second, the office opening (greeting)
// at the first and its closing (sign-off) at the second.
func (s slots) yaml() string {
	f, n := s.first.Format("15:04"), s.second.Format("15:04")
	return fmt.Sprintf(`digests:
  times: [%q, %q]
watch:
  channel: "#care-watch"
  digest_time: %q
office_hours:
  open: %q
  close: %q
  greeting: "Good morning, the care team is here ({date}, {weekday})."
  sign_off: "The care team signs off for today ({date})."
`, f, n, n, f, n) + weekdays(s.weekdays)
}

func weekdays(extra string) string {
	if extra == "" {
		return ""
	}
	return "  weekdays: [mon, tue, wed, thu, fri, " + extra + "]\n"
}

// waitUntil sleeps until the wall clock reaches at: the schedules run in
// other processes, on the real clock.
func waitUntil(t *testing.T, at time.Time) {
	t.Helper()
	if d := time.Until(at); d > 0 {
		t.Logf("waiting %.0fs for %s", d.Seconds(), at.Format("15:04:05"))
		time.Sleep(d)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// scheduledBy reads how many digests and greetings a process queued,
// from its /metrics.
func scheduledBy(t *testing.T, addr string) int {
	t.Helper()
	m, err := scrape(addr)
	if err != nil {
		return -1
	}
	return int(sumMetric(m, "carebridge_digests_total") + sumMetric(m, "carebridge_greetings_total"))
}

// scheduledCount is what the schedules delivered, counted on the fakes.
type scheduledCount struct {
	digests             [2]int // department digests of slot 1 and slot 2
	exec                int    // executive digests
	greetings, signOffs int    // public posts by the official accounts
	doubled             int    // messages present more than once
	texts               map[string]int
}

var digestTitle = regexp.MustCompile(`^(.+) — digest (\d\d:\d\d)`)

// countScheduled counts the digests in the department channels (by
// channel and title, which names the slot), the executive digests in the
// watch channel and the greetings and sign-offs on X (by author and
// text, which names the day).
func countScheduled(w *serveWorld, sl slots) scheduledCount {
	c := scheduledCount{texts: map[string]int{}}
	for _, d := range e2eDepartments {
		for _, m := range w.slack.Messages(d.channel) {
			if !m.FromBot() || m.ThreadTS != "" {
				continue
			}
			g := digestTitle.FindStringSubmatch(m.Text)
			if g == nil {
				continue
			}
			c.texts[d.channel+" "+g[0]]++
			switch g[2] {
			case sl.first.Format("15:04"):
				c.digests[0]++
			case sl.second.Format("15:04"):
				c.digests[1]++
			}
		}
	}
	for _, m := range w.slack.Messages(watchChannel) {
		if m.FromBot() && m.ThreadTS == "" && strings.HasPrefix(m.Text, "Customer care — daily watch") {
			c.texts[watchChannel+" "+strings.SplitN(m.Text, "\n", 2)[0]]++
			c.exec++
		}
	}
	official := map[string]bool{}
	for _, b := range w.brands {
		official[w.users[b]] = true
	}
	for _, tw := range w.x.SentTweets() {
		if tw.InReplyToTweetID != "" || !official[tw.AuthorID] {
			continue
		}
		switch {
		case strings.HasPrefix(tw.Text, "Good morning, the care team is here"):
			c.greetings++
		case strings.HasPrefix(tw.Text, "The care team signs off"):
			c.signOffs++
		default:
			continue
		}
		c.texts[tw.AuthorID+" "+tw.Text]++
	}
	for _, n := range c.texts {
		if n > 1 {
			c.doubled++
		}
	}
	return c
}

// scheduledNoDuplicates checks what the schedules of issue 6 delivered over
// the run: in every department channel one digest per slot, one executive
// digest, and from every one of accounts official accounts one greeting
// and one sign-off; nothing twice, nothing missing.
func scheduledNoDuplicates(t *testing.T, w *serveWorld, sl slots, accounts int) scheduledCount {
	t.Helper()
	c := countScheduled(w, sl)
	for text, n := range c.texts {
		if n > 1 {
			t.Errorf("sent %d times: %q", n, text)
		}
	}
	want := scheduledCount{digests: [2]int{len(e2eDepartments), len(e2eDepartments)}, exec: 1, greetings: accounts, signOffs: accounts}
	if c.digests != want.digests || c.exec != want.exec || c.greetings != want.greetings || c.signOffs != want.signOffs {
		t.Errorf("scheduled messages: digests %v, executive %d, greetings %d, sign-offs %d; want digests %v, executive %d, greetings and sign-offs %d (one per account)",
			c.digests, c.exec, c.greetings, c.signOffs, want.digests, want.exec, accounts)
	}
	t.Logf("scheduled messages: digests %v (slot 1, slot 2), executive %d, greetings %d, sign-offs %d, doubled %d", c.digests, c.exec, c.greetings, c.signOffs, c.doubled)
	return c
}

// The replica test's schedules fall on a working day of the calendar
// whenever it runs, Saturday noon UTC (every candidate zone at the
// weekend) included, and its configuration is valid.
func TestScheduleSlotsOnWorkingDays(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2026, 11, 23, 22, 2, 50, 0, time.UTC),  // Monday evening
		time.Date(2026, 11, 28, 12, 0, 10, 0, time.UTC),  // Saturday noon
		time.Date(2026, 11, 29, 23, 59, 45, 0, time.UTC), // Sunday night
	} {
		sl := scheduleSlots(t, now, 20*time.Second)
		src := "timezone: " + sl.zone + "\ndepartments:\n  - {id: network, channel: \"#n\", approvers: [U0MANAGER]}\nroutes:\n  - {department: network, keywords: [x]}\ntriage: network\n" + sl.yaml()
		cfg, err := config.Parse([]byte(src), "t.yaml", config.LevelRouting, config.Options{})
		if err != nil {
			t.Fatalf("%s: %v\n%s", now, err, src)
		}
		cal, err := watch.NewCalendar(cfg.OfficeHours, cfg.Location)
		if err != nil {
			t.Fatal(err)
		}
		if !cal.IsBusinessDay(sl.first) || sl.second.Sub(sl.first) != time.Minute || sl.first.Sub(now) < 20*time.Second || sl.first.YearDay() != sl.second.YearDay() {
			t.Errorf("%s: slots %s and %s in %s (weekdays %q): want a working day, a minute apart, 20 s ahead at least", now, sl.first, sl.second, sl.zone, sl.weekdays)
		}
	}
}
