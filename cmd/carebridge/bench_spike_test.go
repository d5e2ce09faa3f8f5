package main

// BenchmarkSpikeAtSlackRate: a traffic bomb through the real binary at
// Slack's real limits. docs/BENCHMARKS.md ("A traffic bomb at Slack's
// rate") has the command and the figures.
//
// `carebridge serve` runs as a child process against the fake X and the
// fake Slack living in this process. The fake Slack holds Slack's posting
// limit (its default: 1 chat.postMessage a second per channel, bursts of
// 3, 429 with Retry-After beyond), carebridge runs its default pacing
// (the same), default bundles (target 60 s, 10 a bundle, growing to 40)
// and default spike alerts (20 new conversations, 3× the baseline). The
// fake X holds X's published 15-minute windows. Generated posts that name
// the company are published into the fake X, found by one search (every
// second) and, for mentions, by the account's mentions poller; DMs by the
// DM poller. Posts are counted on the fake Slack: a post is visible when
// a top-level bot message in a department channel (alone or in a bundle)
// shows its status URL; its wait is from its publication on X (the
// poller's delay included) to the first such message, as the benchmark
// sees the fake Slack every 100 ms.
//
// Knobs (environment): CAREBRIDGE_BENCH_SPIKE_POSTS (3000),
// CAREBRIDGE_BENCH_SPIKE_SECONDS (60), CAREBRIDGE_BENCH_SPIKE_STORE
// (sqlite; "postgres" needs CAREBRIDGE_TEST_POSTGRES_URL). A run is wall-
// clock bound (about two minutes at the defaults): run it once, e.g.
//
//	go test -run '^$' -bench BenchmarkSpikeAtSlackRate -benchtime 1x ./cmd/carebridge

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/adapters/x/xfake"
)

func BenchmarkSpikeAtSlackRate(b *testing.B) {
	kind := os.Getenv("CAREBRIDGE_BENCH_SPIKE_STORE")
	if kind == "" {
		kind = "sqlite"
	}
	bin := buildServe(b)
	b.Run(kind, func(b *testing.B) { benchSpike(b, bin, kind) })
}

// spikeKeywords are, per department, words of e2eRoutes that route a
// post there (the first department takes 80% of the bomb).
var spikeKeywords = []struct{ dept, text string }{
	{"network", "no signal"},
	{"billing", "overcharged on my bill"},
	{"devices", "battery dies"},
	{"wifi", "router keeps dropping"},
	{"sales", "rude shop staff"},
	{"voices", "thanks for the help"},
	{"triage", "question about my contract"},
}

// spikeSent is one published post.
type spikeSent struct {
	id     string
	dept   string
	at     time.Time
	urgent bool // a mention or a DM: never bundled, goes first
}

func benchSpike(b *testing.B, bin, kind string) {
	storeURL := benchStoreURL(b, kind)
	total := benchEnvInt(b, "CAREBRIDGE_BENCH_SPIKE_POSTS", 3000)
	span := time.Duration(benchEnvInt(b, "CAREBRIDGE_BENCH_SPIKE_SECONDS", 60)) * time.Second

	xs := xfake.New(xfake.WithKeepAlive(100 * time.Millisecond))
	b.Cleanup(xs.Close)
	for ep, limit := range xLimits {
		xs.SetRateLimit(ep, limit, 15*time.Minute)
	}
	fake := slackfake.New() // Slack's limits: 1 message/s per channel, bursts of 3
	b.Cleanup(fake.Close)
	for _, d := range e2eDepartments {
		fake.AddChannel(d.channel, d.name, "U0STAFF01", "U0MANAGER")
	}
	fake.AddChannel("C0WATCH", "care-watch", "U0EXEC001")
	const brandID = "9000000"
	xs.AddUser(xfake.User{ID: brandID, Username: "SBCare", Name: "SBCare Support"})
	xs.AddUserToken("token-"+brandID, brandID)
	xs.AddUser(xfake.User{ID: "9000001", Username: "AppleSupport", Name: "Apple Support"})
	xs.AddUserToken("token-9000001", "9000001")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := b.TempDir()
	id := fake.Identity()
	var y strings.Builder
	fmt.Fprintf(&y, "timezone: Asia/Tokyo\nstore:\n  url: %q\nhttp:\n  addr: %s\n", storeURL, addr)
	fmt.Fprintf(&y, "slack:\n  mode: socket\n  bot_token: %s\n  app_token: %s\n  api_base_url: %s\n", id.BotToken, id.AppToken, fake.APIURL())
	fmt.Fprintf(&y, "x:\n  api_base_url: %s\n  bearer_token: %s\n  poll:\n    search_interval: 1s\n    mentions_interval: 2s\n    dm_interval: 3s\n    max_results: 100\n",
		xs.URL(), xfake.DefaultAppToken)
	y.WriteString("  searches:\n    - name: company\n      query: softbank\n  accounts:\n")
	fmt.Fprintf(&y, "    - handle: SBCare\n      user_id: %q\n      oauth2:\n        access_token: token-%s\n", brandID, brandID)
	y.WriteString("    - handle: AppleSupport\n      user_id: \"9000001\"\n      mentions: false\n      dms: false\n      oauth2:\n        access_token: token-9000001\n")
	y.WriteString("departments:\n")
	for _, d := range e2eDepartments {
		fmt.Fprintf(&y, "  - id: %s\n    channel: \"#%s\"\n    approvers: [U0MANAGER]\n", d.id, d.name)
	}
	y.WriteString(e2eRoutes)
	y.WriteString("watch:\n  channel: \"#care-watch\"\n")
	cfgPath := filepath.Join(dir, "carebridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(y.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "-config", cfgPath, "-log-level", "info")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if b.Failed() || os.Getenv("CAREBRIDGE_BENCH_SPIKE_LOG") != "" {
			if log, err := os.ReadFile(filepath.Join(dir, "serve.log")); err == nil {
				var warn []string
				for _, l := range strings.Split(string(log), "\n") {
					if (strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "unknown")) && len(warn) < 80 {
						warn = append(warn, l)
					}
				}
				b.Logf("serve log, warnings and errors:\n%s\ntail:\n%s", strings.Join(warn, "\n"), tail(string(log), 3000))
			}
		}
	})

	// The watcher: the first time each post is visible, and the alerts.
	w := &spikeWatch{fake: fake, seen: map[string]time.Time{}, copies: map[string]map[string]bool{}}
	stopWatch := w.run()
	defer stopWatch()

	// A first post sets the search's cursor.
	users := 0
	newUser := func() string {
		users++
		uid := fmt.Sprintf("%d", 7000000+users)
		xs.AddUser(xfake.User{ID: uid, Username: fmt.Sprintf("cust%05d", users), Name: fmt.Sprintf("Customer %d", users)})
		return uid
	}
	first := xs.AddTweet(xfake.Tweet{AuthorID: newUser(), Text: "softbank question about my contract"})
	waitFor(b, 100*time.Millisecond, time.Minute, "the first post in Slack", func() (bool, int) {
		_, ok := w.visible(first.ID)
		return ok, 0
	})

	var sent []spikeSent
	var threshold time.Time // when the busy department's 20th new conversation was published
	busyN := 0
	runOnce(b, func() {
		start := time.Now()
		for i := range total {
			time.Sleep(time.Until(start.Add(time.Duration(i) * span / time.Duration(total))))
			dept := 0 // 80% to the busy department
			if i%5 == 0 {
				dept = 1 + (i/5)%(len(spikeKeywords)-1)
			}
			kw := spikeKeywords[dept]
			uid := newUser()
			s := spikeSent{dept: kw.dept}
			switch {
			case dept == 0 && i%250 == 1: // a mention every 5 s
				s.id, s.urgent = xs.AddTweet(xfake.Tweet{AuthorID: uid, Text: fmt.Sprintf("@SBCare %s at my place since noon (%d)", kw.text, i)}).ID, true
			case dept == 0 && i%750 == 3: // a DM every 15 s
				dm := xs.AddDM(xfake.DMEvent{SenderID: uid, RecipientID: brandID, Text: fmt.Sprintf("%s at home, please help (%d)", kw.text, i)})
				s.id, s.urgent = dm.DMConversationID, true
			default:
				s.id = xs.AddTweet(xfake.Tweet{AuthorID: uid, Text: fmt.Sprintf("softbank %s again today, block %d", kw.text, i)}).ID
			}
			s.at = time.Now()
			sent = append(sent, s)
			if dept == 0 {
				busyN++
				if busyN == 20 {
					threshold = s.at
				}
			}
		}
		b.Logf("published %d posts in %.1fs", total, time.Since(start).Seconds())
		waitFor(b, 200*time.Millisecond, 3*time.Minute, "every post visible", func() (bool, int) {
			n := 0
			for _, s := range sent {
				if _, ok := w.visible(s.id); ok {
					n++
				}
			}
			return n == len(sent), n
		})
		b.Logf("every post visible %.1fs after the first was published", time.Since(start).Seconds())
	})
	stopWatch()

	// Figures.
	var waits, urgent []time.Duration
	lost := 0
	for _, s := range sent {
		at, ok := w.visible(s.id)
		if !ok {
			lost++
			continue
		}
		d := at.Sub(s.at)
		waits = append(waits, d)
		if s.urgent {
			urgent = append(urgent, d)
		}
	}
	slices.Sort(waits)
	slices.Sort(urgent)
	doubled := 0
	for _, s := range sent {
		if len(w.copies[s.id]) > 1 {
			doubled++
		}
	}
	// Order: the busy channel's new passive posts, in publication order;
	// a post is out of order when a post published after it became
	// visible before it (posts of one bundle are visible together).
	var order []time.Time
	for _, s := range sent {
		if s.dept == "network" && !s.urgent {
			if at, ok := w.visible(s.id); ok {
				order = append(order, at)
			}
		}
	}
	outOfOrder, maxBehind := 0, time.Duration(0)
	minAfter := time.Time{}
	for i := len(order) - 1; i >= 0; i-- {
		if !minAfter.IsZero() && minAfter.Before(order[i]) {
			outOfOrder++
			maxBehind = max(maxBehind, order[i].Sub(minAfter))
		}
		if minAfter.IsZero() || order[i].Before(minAfter) {
			minAfter = order[i]
		}
	}
	alert, watchAlert := w.alertAt("C0NETWORK"), w.alertAt("C0WATCH")
	sec := func(d time.Duration) float64 { return d.Seconds() }
	pct := func(q float64) float64 { return percentileMS(waits, q/100) / 1000 }
	b.ReportMetric(pct(50), "p50_visible_s")
	b.ReportMetric(pct(90), "p90_visible_s")
	b.ReportMetric(pct(100), "max_visible_s")
	if len(urgent) > 0 {
		b.ReportMetric(sec(urgent[len(urgent)-1]), "max_mention_dm_s")
	}
	if !alert.IsZero() && !threshold.IsZero() {
		b.ReportMetric(sec(alert.Sub(threshold)), "alert_after_threshold_s")
	}
	if !watchAlert.IsZero() && !threshold.IsZero() {
		b.ReportMetric(sec(watchAlert.Sub(threshold)), "watch_alert_after_threshold_s")
	}
	b.ReportMetric(float64(outOfOrder), "out_of_order")
	b.ReportMetric(sec(maxBehind), "max_out_of_order_s")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(doubled), "doubled")
	b.ReportMetric(float64(fake.RateLimited("chat.postMessage")), "slack_429s")
	bundles, singles := w.counts("C0NETWORK")
	b.ReportMetric(float64(bundles), "busy_bundles")
	b.ReportMetric(float64(singles), "busy_singles")
	b.Logf("%d posts (%d mentions/DMs): wait p50 %.1fs p90 %.1fs max %.1fs; mentions/DMs max %.1fs; alert %.1fs after the threshold (watch %.1fs); %d out of order (at most %.1fs); lost %d, doubled %d; 429s %d; busy channel %d bundles, %d single messages, status %q",
		len(sent), len(urgent), pct(50), pct(90), pct(100), sec(lastOr(urgent)), sec(alert.Sub(threshold)), sec(watchAlert.Sub(threshold)),
		outOfOrder, sec(maxBehind), lost, doubled, fake.RateLimited("chat.postMessage"), bundles, singles, w.status("C0NETWORK"))
	if lost > 0 || doubled > 0 {
		b.Errorf("lost %d, doubled %d", lost, doubled)
	}
}

func lastOr(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)-1]
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// spikeWatch reads the fake Slack every 100 ms: when each post was first
// visible, in which messages, and when the spike alerts came.
type spikeWatch struct {
	fake   *slackfake.Server
	mu     sync.Mutex
	seen   map[string]time.Time       // tweet (or DM event) id → first visible
	copies map[string]map[string]bool // id → the messages (channel/ts) showing it
	alerts map[string]time.Time       // channel → first spike alert
	known  map[string]bool            // channel/ts already read
}

func (w *spikeWatch) run() (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			w.scan()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}

// dmEventURL is a DM's link: the conversation (one per customer here).
var dmEventURL = regexp.MustCompile(`https://x\.com/messages/([0-9]+-[0-9]+)`)

func (w *spikeWatch) scan() {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.known == nil {
		w.known, w.alerts = map[string]bool{}, map[string]time.Time{}
	}
	for _, ch := range append(channelIDs(e2eBenchDepts()), "C0WATCH") {
		for _, m := range w.fake.Messages(ch) {
			key := ch + "/" + m.TS
			if w.known[key] || !m.FromBot() || m.ThreadTS != "" || len(m.Blocks) == 0 {
				continue
			}
			w.known[key] = true
			blocks := string(m.Blocks)
			if strings.HasPrefix(strings.TrimSpace(blocks), `[{"type":"header"`) {
				if strings.Contains(blocks, "Spike: ") {
					if _, ok := w.alerts[ch]; !ok {
						w.alerts[ch] = now
					}
				}
				continue
			}
			if ch == "C0WATCH" {
				continue
			}
			for _, id := range shownIDs(blocks) {
				if _, ok := w.seen[id]; !ok {
					w.seen[id] = now
				}
				if w.copies[id] == nil {
					w.copies[id] = map[string]bool{}
				}
				w.copies[id][key] = true
			}
		}
	}
}

// shownIDs are the ids of the posts a message shows: the status URLs of
// posts and the DM event ids of DM links.
func shownIDs(blocks string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range tweetURL.FindAllStringSubmatch(blocks, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	for _, m := range dmEventURL.FindAllStringSubmatch(blocks, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

func (w *spikeWatch) visible(id string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.seen[id]
	return at, ok
}

func (w *spikeWatch) alertAt(ch string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.alerts[ch]
}

// counts are the bundles and single posts among a channel's messages.
func (w *spikeWatch) counts(ch string) (bundles, singles int) {
	for _, m := range w.fake.Messages(ch) {
		if !m.FromBot() || m.ThreadTS != "" {
			continue
		}
		switch n := len(shownIDs(string(m.Blocks))); {
		case strings.Contains(string(m.Blocks), ":package:"):
			bundles++
		case n > 0 && !strings.HasPrefix(string(m.Blocks), `[{"type":"header"`):
			singles++
		}
	}
	return bundles, singles
}

// status is the channel's traffic status message, as it reads now.
func (w *spikeWatch) status(ch string) string {
	for _, m := range w.fake.Messages(ch) {
		if m.FromBot() && (strings.Contains(m.Text, "Heavy traffic") || strings.Contains(m.Text, "Traffic back to normal")) {
			return fmt.Sprintf("%s (%d edits)", m.Text, len(m.History))
		}
	}
	return ""
}
