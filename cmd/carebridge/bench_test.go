package main

// End-to-end benchmarks: real TWCS posts through the real Service (ingest →
// route → store → outbox → Slack publisher) into the in-process fake Slack,
// on SQLite and on PostgreSQL. They run only with -bench; docs/BENCHMARKS.md
// ("End to end") has the commands, the figures and how to read them.
//
//	BenchmarkEndToEnd/{sqlite,postgres}  throughput, pacing and rate limits off
//	BenchmarkLatencyPaced/{sqlite,postgres}  receipt → Slack latency at 50 posts/s over 10 paced channels
//	BenchmarkServeRSS/{sqlite,postgres}  peak RSS of a real `carebridge serve` child under load
//
// PostgreSQL runs only when CAREBRIDGE_TEST_POSTGRES_URL is set; each run
// gets a fresh schema. The TWCS samples live in ../shared/data/twcs beside
// the repository; without them the benchmarks skip.
//
// Knobs (environment):
//
//	CAREBRIDGE_BENCH_WORKERS           outbox.workers (default 128)
//	CAREBRIDGE_BENCH_BATCH             posts per Ingest call in BenchmarkEndToEnd (default 100)
//	CAREBRIDGE_BENCH_LATENCY_DURATION  how long BenchmarkLatencyPaced feeds posts (default 20s)
//	CAREBRIDGE_BENCH_LATENCY_RATE      its arrival rate in posts/s (default 50)
//	CAREBRIDGE_BENCH_RSS_POSTS         posts BenchmarkServeRSS publishes (default 10000)
//	CAREBRIDGE_BENCH_RSS_RATE          its publishing rate in posts/s (default 2000)

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/file"
	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/adapters/x"
	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/route"
	"github.com/carebridge/carebridge/store/storetest"
)

// ---- knobs ----

func benchEnvInt(b testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func benchEnvDuration(b testing.TB, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration such as 20s", name, v)
	}
	return d
}

// benchWorkers is outbox.workers for every benchmark. 128 was the best
// setting for both stores on the reference machine (BENCHMARKS.md has the
// sweep): a worker waits on Slack's answer most of its time, and more of
// them let each claim and each group commit carry more rows.
func benchWorkers(b testing.TB) int { return benchEnvInt(b, "CAREBRIDGE_BENCH_WORKERS", 128) }

// ---- stores ----

// benchStoreURL returns a fresh store for one benchmark run: a new SQLite
// file, or a new PostgreSQL schema (dropped when the run ends).
func benchStoreURL(b *testing.B, kind string) string {
	b.Helper()
	switch kind {
	case "sqlite":
		return filepath.Join(b.TempDir(), "carebridge.db")
	case "postgres":
		base := os.Getenv("CAREBRIDGE_TEST_POSTGRES_URL")
		if base == "" {
			b.Skip("set CAREBRIDGE_TEST_POSTGRES_URL=postgres://... to benchmark on PostgreSQL")
		}
		return storetest.FreshPostgresSchema(b, base)
	}
	b.Fatalf("unknown store kind %q", kind)
	return ""
}

// ---- data ----

// benchPost is one TWCS post of the benchmark feed.
type benchPost struct {
	author, text string
	brand        bool
	parent       int // index of the post it answers in the feed, or -1
	root         int // index of its conversation's first post
	mentions     []string
}

// benchData is both TWCS samples, deduplicated, oldest first, with reply
// links kept only where the parent comes earlier in the feed (so a poller
// would always have delivered it already and the ancestor fetcher is never
// needed).
type benchData struct {
	posts  []benchPost
	brands []string // non-numeric authors (companies), sorted
	userID map[string]string
}

var (
	benchDataOnce sync.Once
	benchDataVal  *benchData
	benchDataErr  error
)

func loadBenchData(b testing.TB) *benchData {
	b.Helper()
	benchDataOnce.Do(func() { benchDataVal, benchDataErr = readBenchData() })
	if errors.Is(benchDataErr, os.ErrNotExist) {
		b.Skipf("TWCS data not available (%v); it lives in ../shared/data/twcs beside the repository", benchDataErr)
	}
	if benchDataErr != nil {
		b.Fatal(benchDataErr)
	}
	return benchDataVal
}

func readBenchData() (*benchData, error) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "twcs")
	var all []bridge.Post
	seen := map[string]bool{}
	for _, name := range []string{"twcs_head_5000_with_index_col.csv", "twcs_random_5000.csv"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		rd, err := file.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for {
			p, _, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if !seen[p.ExternalID] {
				seen[p.ExternalID] = true
				all = append(all, p)
			}
		}
		f.Close()
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].CreatedAt.Before(all[j].CreatedAt) })
	d := &benchData{userID: map[string]string{}}
	index := map[string]int{}
	brandSet := map[string]bool{}
	numeric := regexp.MustCompile(`^[0-9]+$`)
	for i, r := range all {
		p := benchPost{author: r.AuthorID, text: r.Text, parent: -1, root: i}
		if j, ok := index[r.InReplyTo]; ok && r.InReplyTo != "" {
			p.parent, p.root = j, d.posts[j].root
		}
		if !numeric.MatchString(r.AuthorID) {
			p.brand = true
			brandSet[r.AuthorID] = true
		}
		p.mentions = r.Mentions
		index[r.ExternalID] = i
		d.posts = append(d.posts, p)
	}
	for br := range brandSet {
		d.brands = append(d.brands, br)
	}
	if !brandSet["AppleSupport"] {
		d.brands = append(d.brands, "AppleSupport") // e2eRoutes names it
	}
	sort.Strings(d.brands)
	for i, br := range d.brands {
		d.userID[br] = strconv.Itoa(9000000 + i)
	}
	// Routing sees only mentions of our own accounts, as the X normalizer
	// passes them.
	lower := map[string]bool{}
	for _, br := range d.brands {
		lower[strings.ToLower(br)] = true
	}
	for i := range d.posts {
		var ms []string
		for _, m := range d.posts[i].mentions {
			if lower[strings.ToLower(m)] {
				ms = append(ms, strings.ToLower(m))
			}
		}
		d.posts[i].mentions = ms
	}
	return d, nil
}

// handle is the X handle of a TWCS author (customers are numbers).
func (d *benchData) handle(p *benchPost) string {
	if p.brand {
		return p.author
	}
	return "u" + p.author
}

// feedID is the unique external id of template post k in cycle c: the data
// is cycled to make as many posts as a benchmark needs.
func feedID(c, k int) string {
	return strconv.FormatInt(1_000_000_000_000+int64(c)*1_000_000+int64(k), 10)
}

var benchEpoch = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// post builds post i of the feed as an X poller would deliver it. With
// roots, every post opens its own conversation.
func (d *benchData) post(i int, roots bool) bridge.Post {
	n := len(d.posts)
	c, k := i/n, i%n
	tp := &d.posts[k]
	h := d.handle(tp)
	id := feedID(c, k)
	p := bridge.Post{
		Platform:        x.Platform,
		Source:          bridge.SourceSearch,
		ExternalID:      id,
		ConversationKey: id,
		AuthorID:        tp.author,
		AuthorHandle:    h,
		AuthorName:      h,
		Text:            tp.text,
		Mentions:        tp.mentions,
		URL:             "https://x.com/" + h + "/status/" + id,
		CreatedAt:       benchEpoch.Add(time.Duration(i) * time.Millisecond),
		Eligibility:     bridge.EligiblePublic,
	}
	if tp.brand {
		p.AuthorID = d.userID[tp.author]
	}
	if !roots {
		p.ConversationKey = feedID(c, tp.root)
		if tp.parent >= 0 {
			p.InReplyTo = feedID(c, tp.parent)
		}
	}
	return p
}

// isRoot reports whether feed post i opens a conversation.
func (d *benchData) isRoot(i int) bool { k := i % len(d.posts); return d.posts[k].root == k }

// ---- configuration and wiring ----

type benchDept struct{ id, channel, name string }

type benchSetup struct {
	store    string
	slack    *slackfake.Server
	xURL     string
	httpAddr string
	pacing   string // the lines under slack.pacing
	workers  int
	depts    []benchDept
	routes   string // routes: and triage:
	brands   []string
	userID   map[string]string
	searches string // x.searches and x.poll
	dir      string
}

func (s *benchSetup) yaml() string {
	var w strings.Builder
	fmt.Fprintf(&w, "timezone: UTC\nstore:\n  url: %q\nhttp:\n  addr: %s\n", s.store, s.httpAddr)
	id := s.slack.Identity()
	fmt.Fprintf(&w, "slack:\n  mode: socket\n  bot_token: %s\n  app_token: %s\n  api_base_url: %s\n  pacing:\n%s",
		id.BotToken, id.AppToken, s.slack.APIURL(), s.pacing)
	fmt.Fprintf(&w, "x:\n  api_base_url: %s\n  bearer_token: %s\n  stream: false\n%s  accounts:\n", s.xURL, xfake.DefaultAppToken, s.searches)
	for _, br := range s.brands {
		fmt.Fprintf(&w, "    - handle: %s\n      user_id: %q\n      mentions: false\n      dms: false\n      oauth2:\n        access_token: token-%s\n",
			br, s.userID[br], s.userID[br])
	}
	w.WriteString("departments:\n")
	for _, d := range s.depts {
		fmt.Fprintf(&w, "  - id: %s\n    channel: \"#%s\"\n    approvers: [U0MANAGER]\n", d.id, d.name)
	}
	w.WriteString(s.routes)
	fmt.Fprintf(&w, "\noutbox:\n  workers: %d\n", s.workers)
	return w.String()
}

// write writes the configuration, loads it as serve does and returns it.
func (s *benchSetup) write(b testing.TB) (*config.Config, string) {
	b.Helper()
	path := filepath.Join(s.dir, "carebridge.yaml")
	src := s.yaml()
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path, config.LevelServe)
	if err != nil {
		b.Fatalf("benchmark configuration:\n%v\n%s", err, src)
	}
	return cfg, path
}

// benchApp is carebridge wired by newApp, as `carebridge serve` wires it,
// running in this process. Warnings and errors go to a file.
type benchApp struct {
	app     *app
	svc     *bridge.Service
	logPath string
	stop    func()
}

func startBenchApp(b testing.TB, cfg *config.Config, dir string) *benchApp {
	b.Helper()
	logPath := filepath.Join(dir, "carebridge.log")
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, appOptions{Logger: logger, Listener: ln})
	if err != nil {
		cancel()
		logf.Close()
		b.Fatalf("newApp: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				b.Errorf("carebridge stopped with %v", err)
			}
			logf.Close()
		})
	}
	b.Cleanup(stop)
	return &benchApp{app: a, svc: a.service, logPath: logPath, stop: stop}
}

// reportLog logs how many warnings and errors carebridge wrote, and the
// first few: a clean run has none.
func reportLog(b testing.TB, path string) {
	data, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	b.Logf("carebridge logged %d warnings/errors; first: %s", len(lines), strings.Join(lines[:min(3, len(lines))], "\n  "))
}

// ---- measurements ----

// resetPeakRSS lowers this process's resident set as far as Go can and
// resets its high-water mark (VmHWM), so that the peak read at the end
// belongs to one benchmark run. It reports whether the reset worked.
func resetPeakRSS() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// procStatusMB reads a kB field (VmHWM, VmRSS) of /proc/<pid>/status in MB.
func procStatusMB(pid, field string) (float64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", field, err)
		}
		return kb / 1024, nil
	}
	return 0, fmt.Errorf("no %s in /proc/%s/status", field, pid)
}

func reportPeakRSS(b *testing.B, reset bool, name string) {
	hwm, err := procStatusMB("self", "VmHWM")
	if err != nil {
		b.Logf("peak RSS not available: %v", err)
		return
	}
	if !reset {
		b.Logf("could not reset VmHWM (/proc/self/clear_refs): %s is this process's lifetime peak", name)
	}
	b.ReportMetric(hwm, name)
}

// runOnce runs a fixed workload exactly once per -count, whatever
// -benchtime says: with b.Loop the testing package does not call the
// benchmark again with a larger b.N, and the iterations after the first
// are empty. ns/op of such a benchmark means nothing; its metrics do.
func runOnce(b *testing.B, work func()) {
	ran := false
	for b.Loop() {
		if !ran {
			ran = true
			work()
		}
	}
}

// percentile of sorted durations, in milliseconds (nearest rank).
func percentileMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

// tsTime turns a Slack ts ("1700000000.000100") into a time. The fake
// stamps ts from its clock (the wall clock here) when it records the
// message, to the microsecond.
func tsTime(ts string) (time.Time, error) {
	sec, frac, ok := strings.Cut(ts, ".")
	if !ok {
		return time.Time{}, fmt.Errorf("ts %q", ts)
	}
	s, err1 := strconv.ParseInt(sec, 10, 64)
	us, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("ts %q", ts)
	}
	return time.UnixMicro(s*1e6 + us), nil
}

// mirroredPosts indexes the non-FYI bot messages of the channels by the
// external id of the post they show.
func mirroredPosts(fake *slackfake.Server, channels []string) (map[string][]slackfake.Message, int) {
	out := map[string][]slackfake.Message{}
	total := 0
	for _, ch := range channels {
		for _, m := range fake.Messages(ch) {
			if !m.FromBot() {
				continue
			}
			total++
			if strings.HasPrefix(m.Text, "FYI") {
				continue
			}
			if match := statusURL.FindSubmatch(m.Blocks); match != nil {
				out[string(match[1])] = append(out[string(match[1])], m)
			}
		}
	}
	return out, total
}

// waitFor polls done every interval until it holds; it fails the benchmark
// when progress (as reported by done) stalls for stall.
func waitFor(b testing.TB, interval, stall time.Duration, what string, done func() (bool, int)) {
	b.Helper()
	last, lastAt := -1, time.Now()
	for {
		ok, progress := done()
		if ok {
			return
		}
		if progress != last {
			last, lastAt = progress, time.Now()
		} else if time.Since(lastAt) > stall {
			b.Fatalf("no progress for %s waiting for %s (at %d)", stall, what, progress)
		}
		time.Sleep(interval)
	}
}

func channelIDs(depts []benchDept) []string {
	var out []string
	for _, d := range depts {
		out = append(out, d.channel)
	}
	return out
}

// ---- BenchmarkEndToEnd ----

// BenchmarkEndToEnd measures sustained throughput: b.N TWCS posts (cycled
// with fresh ids, conversations kept) are handed to Service.Ingest in
// batches as a poller would, and the benchmark ends when every resulting
// message (the post, in its conversation's thread, plus FYI copies) is in
// the fake Slack. Carebridge's pacing and the fake's rate limits are off,
// so this is the speed of ingest, routing, the store, the outbox relay and
// the Slack publisher together.
func BenchmarkEndToEnd(b *testing.B) {
	data := loadBenchData(b)
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) { benchEndToEnd(b, data, kind) })
	}
}

func e2eBenchDepts() []benchDept {
	var out []benchDept
	for _, d := range e2eDepartments {
		out = append(out, benchDept{d.id, d.channel, d.name})
	}
	return out
}

func benchEndToEnd(b *testing.B, data *benchData, kind string) {
	b.StopTimer()
	reset := resetPeakRSS()
	storeURL := benchStoreURL(b, kind)
	batch := benchEnvInt(b, "CAREBRIDGE_BENCH_BATCH", 100)
	fake := slackfake.New(slackfake.WithRateLimit(false))
	b.Cleanup(fake.Close)
	depts := e2eBenchDepts()
	for _, d := range depts {
		fake.AddChannel(d.channel, d.name, "U0STAFF01", "U0MANAGER")
	}
	setup := &benchSetup{
		store: storeURL, slack: fake, xURL: "http://127.0.0.1:9/", httpAddr: "127.0.0.1:0",
		pacing: "    disabled: true\n", workers: benchWorkers(b), depts: depts, routes: e2eRoutes,
		brands: data.brands, userID: data.userID, dir: b.TempDir(),
	}
	cfg, _ := setup.write(b)
	router, err := cfg.Router()
	if err != nil {
		b.Fatal(err)
	}

	// The posts and the number of messages they make.
	batches := make([]bridge.Batch, 0, b.N/batch+1)
	want := 0
	for i := 0; i < b.N; i += batch {
		posts := make([]bridge.Post, 0, batch)
		for j := i; j < min(i+batch, b.N); j++ {
			p := data.post(j, false)
			want++
			if data.isRoot(j) {
				for _, f := range router.Route(route.Input{Text: p.Text, Mentions: p.Mentions}).FYI {
					if cfg.Department(f) != nil {
						want++
					}
				}
			}
			posts = append(posts, p)
		}
		last := posts[len(posts)-1].ExternalID
		batches = append(batches, bridge.Batch{Posts: posts, Cursor: &bridge.Cursor{Key: "x:search:bench", Value: last}})
	}

	ba := startBenchApp(b, cfg, setup.dir)
	ctx := context.Background()
	base := fake.Calls("chat.postMessage")
	noise := startNoise()
	b.StartTimer()
	start := time.Now()
	for _, bt := range batches {
		if _, err := ba.svc.Ingest(ctx, bt); err != nil {
			b.Fatalf("ingest: %v", err)
		}
	}
	ingested := time.Since(start)
	// Calls counts requests as they arrive, which is cheap to poll; the
	// messages themselves are recorded a moment later, so they are
	// counted once the calls are all in.
	waitFor(b, time.Millisecond, time.Minute, "every message sent to Slack", func() (bool, int) {
		n := fake.Calls("chat.postMessage") - base
		return n >= want, n
	})
	waitFor(b, time.Millisecond, time.Minute, "every message recorded in Slack", func() (bool, int) {
		n := 0
		for _, d := range depts {
			n += len(fake.Messages(d.channel))
		}
		return n >= want, n
	})
	elapsed := time.Since(start)
	b.StopTimer()

	// Every post exactly once, nothing else.
	mirrored, total := mirroredPosts(fake, channelIDs(depts))
	for i := 0; i < b.N; i++ {
		if n := len(mirrored[data.post(i, false).ExternalID]); n != 1 {
			b.Fatalf("post %d mirrored %d times", i, n)
		}
	}
	if total != want {
		b.Fatalf("%d messages in Slack, want %d", total, want)
	}
	ba.stop()
	reportLog(b, ba.logPath)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "posts/s")
	b.ReportMetric(float64(b.N)/ingested.Seconds(), "ingest-posts/s")
	b.ReportMetric(float64(want)/float64(b.N), "msgs/post")
	reportPeakRSS(b, reset, "peak-RSS-MB")
	reportNoise(b, noise)
}

// ---- BenchmarkLatencyPaced ----

// BenchmarkLatencyPaced measures the time from receipt (the Ingest call)
// to the message in Slack with pacing on: posts arrive one per Ingest call
// at a steady 50 posts/s, round-robin over 10 department channels (5
// posts/s each), each opening a ticket. Carebridge paces each channel at
// 10 messages/s with a burst of 3, and the fake Slack enforces the same
// limit (429 with Retry-After beyond it).
//
// The arrival time is taken just before Ingest; the arrival time in Slack
// is the message's ts, which the fake stamps from the wall clock, to the
// microsecond, when it records the message (before its HTTP answer
// leaves). No polling error enters the figure.
func BenchmarkLatencyPaced(b *testing.B) {
	data := loadBenchData(b)
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) { benchLatency(b, data, kind) })
	}
}

const (
	latencyChannels  = 10
	latencyPerSecond = 10 // carebridge pacing and the fake's limit, per channel
	latencyBurst     = 3
)

func benchLatency(b *testing.B, data *benchData, kind string) {
	reset := resetPeakRSS()
	storeURL := benchStoreURL(b, kind)
	duration := benchEnvDuration(b, "CAREBRIDGE_BENCH_LATENCY_DURATION", 20*time.Second)
	rate := benchEnvInt(b, "CAREBRIDGE_BENCH_LATENCY_RATE", 50)
	fake := slackfake.New(slackfake.WithChannelRateLimit(latencyPerSecond, latencyBurst))
	b.Cleanup(fake.Close)
	var depts []benchDept
	var routes strings.Builder
	routes.WriteString("routes:\n")
	for i := range latencyChannels {
		d := benchDept{fmt.Sprintf("lane%d", i), fmt.Sprintf("C0LANE%d", i), fmt.Sprintf("care-lane%d", i)}
		depts = append(depts, d)
		fake.AddChannel(d.channel, d.name, "U0STAFF01", "U0MANAGER")
		fmt.Fprintf(&routes, "  - department: %s\n    keywords: [cbroute%c]\n", d.id, 'a'+i)
	}
	routes.WriteString("triage: lane0\n")
	setup := &benchSetup{
		store: storeURL, slack: fake, xURL: "http://127.0.0.1:9/", httpAddr: "127.0.0.1:0",
		pacing:  fmt.Sprintf("    per_second: %d\n    burst: %d\n", latencyPerSecond, latencyBurst),
		workers: benchWorkers(b), depts: depts, routes: routes.String(),
		brands: data.brands, userID: data.userID, dir: b.TempDir(),
	}
	cfg, _ := setup.write(b)
	router, err := cfg.Router()
	if err != nil {
		b.Fatal(err)
	}
	n := int(duration.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	posts := make([]bridge.Post, n)
	for i := range posts {
		p := data.post(i, true)
		p.Text += fmt.Sprintf(" cbroute%c", 'a'+i%latencyChannels)
		if got := router.Route(route.Input{Text: p.Text, Mentions: p.Mentions}).Department; got != depts[i%latencyChannels].id {
			b.Fatalf("post %d routes to %s, want %s: %q", i, got, depts[i%latencyChannels].id, p.Text)
		}
		posts[i] = p
	}
	ba := startBenchApp(b, cfg, setup.dir)
	ctx := context.Background()
	received := make(map[string]time.Time, n)
	var maxLag time.Duration
	var noise *cpuNoise

	runOnce(b, func() {
		noise = startNoise()
		start := time.Now()
		for i := range posts {
			due := start.Add(time.Duration(i) * interval)
			time.Sleep(time.Until(due))
			now := time.Now()
			maxLag = max(maxLag, now.Sub(due))
			received[posts[i].ExternalID] = now
			if _, err := ba.svc.Ingest(ctx, bridge.Batch{Posts: posts[i : i+1]}); err != nil {
				b.Fatalf("ingest: %v", err)
			}
		}
		waitFor(b, 20*time.Millisecond, 30*time.Second, "every post in Slack", func() (bool, int) {
			got := 0
			for _, d := range depts {
				got += len(fake.Messages(d.channel))
			}
			return got >= n, got
		})
	})

	mirrored, total := mirroredPosts(fake, channelIDs(depts))
	lat := make([]time.Duration, 0, n)
	for id, at := range received {
		ms := mirrored[id]
		if len(ms) != 1 {
			b.Fatalf("post %s mirrored %d times", id, len(ms))
		}
		t, err := tsTime(ms[0].TS)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, t.Sub(at))
	}
	slices.Sort(lat)
	ba.stop()
	reportLog(b, ba.logPath)
	b.ReportMetric(percentileMS(lat, 0.50), "p50-ms")
	b.ReportMetric(percentileMS(lat, 0.90), "p90-ms")
	b.ReportMetric(percentileMS(lat, 0.99), "p99-ms")
	b.ReportMetric(percentileMS(lat, 1), "max-ms")
	b.ReportMetric(float64(n), "posts")
	b.ReportMetric(float64(fake.Calls("chat.postMessage")-total), "429s")
	b.ReportMetric(float64(maxLag)/float64(time.Millisecond), "feed-lag-max-ms")
	reportPeakRSS(b, reset, "peak-RSS-MB")
	reportNoise(b, noise)
}

// ---- BenchmarkServeRSS ----

// buildServe builds carebridge into a directory removed when b ends.
func buildServe(b testing.TB) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "carebridge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// BenchmarkServeRSS measures the memory of the real binary: it runs
// `carebridge serve` as a child process against the fake X and the fake
// Slack living in this process, publishes TWCS posts into the fake X at
// 2,000 posts/s (a search poller picks them up every 100 ms, as in
// production but faster), waits until every post is in the fake Slack,
// and reads the child's VmHWM (peak resident set) and VmRSS from
// /proc/<pid>/status. Pacing and rate limits are off, as in
// BenchmarkEndToEnd, so the backlog, and the memory, are as large as the
// load makes them.
func BenchmarkServeRSS(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc/<pid>/status")
	}
	data := loadBenchData(b)
	bin := buildServe(b)
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) { benchServeRSS(b, data, bin, kind) })
	}
}

func benchServeRSS(b *testing.B, data *benchData, bin, kind string) {
	storeURL := benchStoreURL(b, kind)
	n := benchEnvInt(b, "CAREBRIDGE_BENCH_RSS_POSTS", 10000)
	rate := benchEnvInt(b, "CAREBRIDGE_BENCH_RSS_RATE", 2000)

	xs := xfake.New()
	b.Cleanup(xs.Close)
	for _, ep := range []xfake.Endpoint{xfake.EndpointSearchRecent, xfake.EndpointTweetLookup} {
		xs.SetRateLimit(ep, 1_000_000_000, 15*time.Minute)
	}
	fake := slackfake.New(slackfake.WithRateLimit(false))
	b.Cleanup(fake.Close)
	depts := e2eBenchDepts()
	for _, d := range depts {
		fake.AddChannel(d.channel, d.name, "U0STAFF01", "U0MANAGER")
	}
	users := map[string]string{} // TWCS author → fake user id
	for _, br := range data.brands {
		users[br] = data.userID[br]
		xs.AddUser(xfake.User{ID: data.userID[br], Username: br, Name: br})
	}
	for _, p := range data.posts {
		if _, ok := users[p.author]; !ok {
			users[p.author] = p.author
			xs.AddUser(xfake.User{ID: p.author, Username: "u" + p.author, Name: "u" + p.author})
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	setup := &benchSetup{
		store: storeURL, slack: fake, xURL: xs.URL(), httpAddr: addr,
		pacing: "    disabled: true\n", workers: benchWorkers(b), depts: depts, routes: e2eRoutes,
		brands: data.brands, userID: data.userID, dir: b.TempDir(),
		searches: "  poll:\n    max_results: 100\n  searches:\n    - name: load\n      query: cbload\n      interval: 100ms\n",
	}
	_, cfgPath := setup.write(b)
	logPath := filepath.Join(setup.dir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "-config", cfgPath, "-log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	b.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	pid := strconv.Itoa(cmd.Process.Pid)
	channels := channelIDs(depts)
	countPosts := func() int {
		got := 0
		for _, ch := range channels {
			for _, m := range fake.Messages(ch) {
				if m.FromBot() && !strings.HasPrefix(m.Text, "FYI") {
					got++
				}
			}
		}
		return got
	}

	// A first post sets the poller's cursor (the first poll of a search
	// reads only a few pages of history).
	xs.AddTweet(xfake.Tweet{AuthorID: users[data.posts[0].author], Text: "hello cbload"})
	waitFor(b, 50*time.Millisecond, 30*time.Second, "the first post in Slack", func() (bool, int) {
		got := countPosts()
		return got >= 1, got
	})
	idle, err := procStatusMB(pid, "VmRSS")
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := procCPU(b, pid)

	var elapsed time.Duration
	noise := startNoise()
	runOnce(b, func() {
		fakeID := make([]string, len(data.posts)) // per template post, in the current cycle
		start := time.Now()
		const chunk = 20
		for i := 0; i < n; i += chunk {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
			for j := i; j < min(i+chunk, n); j++ {
				k := j % len(data.posts)
				p := &data.posts[k]
				tw := xfake.Tweet{AuthorID: users[p.author], Text: p.text + " cbload"}
				if p.parent >= 0 {
					tw.InReplyToTweetID = fakeID[p.parent]
				}
				fakeID[k] = xs.AddTweet(tw).ID
			}
		}
		waitFor(b, 100*time.Millisecond, time.Minute, "every post in Slack", func() (bool, int) {
			got := countPosts()
			return got >= n+1, got
		})
		elapsed = time.Since(start)
	})

	hwm, err := procStatusMB(pid, "VmHWM")
	if err != nil {
		b.Fatal(err)
	}
	rss, err := procStatusMB(pid, "VmRSS")
	if err != nil {
		b.Fatal(err)
	}
	cpu := procCPU(b, pid) - cpu0
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(40 * time.Second):
		b.Error("serve did not stop within 40 s of SIGTERM")
	}
	reportLog(b, logPath)
	b.ReportMetric(hwm, "serve-peak-RSS-MB")
	b.ReportMetric(rss, "serve-end-RSS-MB")
	b.ReportMetric(idle, "serve-idle-RSS-MB")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "posts/s")
	b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(n), "serve-cpu-µs/post")
	reportNoise(b, noise)
}

// procCPU is the user+system CPU time a process has used so far.
func procCPU(b testing.TB, pid string) time.Duration {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// The command name may hold spaces; fields resume after its ")".
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	// utime and stime are fields 14 and 15 of the whole line, 12 and 13 here
	// (state is field 3), in clock ticks of 1/100 s on Linux.
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// ---- noise ----

// cpuNoise estimates how much CPU went to work unrelated to the benchmark
// while it ran: other tests, builds or fuzzers on a shared machine distort
// every figure here. It is the machine's busy time (/proc/stat) less the
// time of this process and its children, of PostgreSQL's processes
// (backends that exit are counted through their postmaster) and of
// interrupt handling (mostly loopback traffic, which is the benchmark's).
// Backends serving other clients of the same cluster count as the
// benchmark's, so the estimate errs low.
type cpuNoise struct {
	start time.Time
	busy  int64              // machine busy ticks less irq and softirq
	procs map[string]cpuProc // our processes, by pid
}

// cpuProc is the CPU time (in ticks) of one of our processes, and the pid
// of the process whose children's time takes it over when it exits ("" if
// none of ours does).
type cpuProc struct {
	ticks  int64
	reaper string
}

// cpuSample reads the machine's busy ticks (less interrupts) and the
// ticks of the processes that belong to the benchmark.
func cpuSample() (busy int64, procs map[string]cpuProc) {
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(data), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
		for i, v := range f[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			switch i {
			case 0, 1, 2, 7: // user, nice, system, steal
				busy += n
			}
		}
	}
	type proc struct {
		comm, ppid    string
		own, children int64
	}
	all := map[string]proc{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid := d.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		data, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue
		}
		open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(string(data[end+1:]))
		if len(f) < 15 {
			continue
		}
		// After the command: state ppid ... utime(11) stime(12) cutime(13) cstime(14).
		t := func(i int) int64 { n, _ := strconv.ParseInt(f[i], 10, 64); return n }
		all[pid] = proc{comm: string(data[open+1 : end]), ppid: f[1], own: t(11) + t(12), children: t(13) + t(14)}
	}
	self := strconv.Itoa(os.Getpid())
	procs = map[string]cpuProc{}
	for pid, p := range all {
		switch {
		case pid == self:
			procs[pid] = cpuProc{ticks: p.own + p.children}
		case p.ppid == self:
			procs[pid] = cpuProc{ticks: p.own, reaper: self}
		case p.comm == "postgres" && all[p.ppid].comm == "postgres":
			procs[pid] = cpuProc{ticks: p.own, reaper: p.ppid} // a backend
		case p.comm == "postgres":
			procs[pid] = cpuProc{ticks: p.own + p.children} // a postmaster, with its exited backends
		}
	}
	return busy, procs
}

func startNoise() *cpuNoise {
	n := &cpuNoise{start: time.Now()}
	n.busy, n.procs = cpuSample()
	return n
}

// percent is the share of the machine's CPU (all cores) that went to
// unrelated work since startNoise.
func (n *cpuNoise) percent() float64 {
	busy, procs := cpuSample()
	ours := int64(0)
	for pid, p := range procs {
		old, seen := n.procs[pid]
		if !seen && p.reaper == "" {
			continue // a postmaster started since: another cluster's
		}
		ours += p.ticks - old.ticks
	}
	for pid, p := range n.procs {
		if _, ok := procs[pid]; !ok && p.reaper != "" {
			if _, ok := procs[p.reaper]; ok {
				ours -= p.ticks // its whole time moved to its reaper
			}
		}
	}
	capacity := time.Since(n.start).Seconds() * float64(runtime.NumCPU()) * 100 // ticks
	return min(100, max(0, float64(busy-n.busy-ours)/capacity*100))
}

func reportNoise(b *testing.B, n *cpuNoise) {
	p := n.percent()
	b.ReportMetric(p, "noise-cpu-%")
	if p > 5 && time.Since(n.start) > 2*time.Second {
		b.Logf("other work used about %.0f%% of the machine's CPU during this run: the figures are disturbed", p)
	}
}
