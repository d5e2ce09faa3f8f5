package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/slack/slackfake"
)

// serveWorld is the real `carebridge serve` binary (one or more
// processes) against the fakes living in the test process, replaying
// generated posts. It counts what reached the fakes: mirrors in Slack, replies on X.
type serveWorld struct {
	*harness
	posts   []replayPost
	addr    string // http.addr of the configuration (first process)
	logPath string
}

type serveWorldOptions struct {
	posts int
	seed  uint64 // of the generated posts (default 1)
	slack []slackfake.Option
	extra string // appended YAML
}

// newServeWorld writes a configuration for posts generated posts: one
// search finds them all (replaySearch), the mentions pollers find most of
// them again, every official account answers as itself.
//
// The pollers stay inside X's 15-minute windows (xLimits) for as long as
// these tests run: the search every 2 s (at most 450 in 15 minutes) and
// each of the three accounts' mentions every 6 s (150 each, 450 in all;
// X allows 180 per user). Restarts poll at once, a few requests more.
func newServeWorld(t *testing.T, storeURL string, o serveWorldOptions) *serveWorld {
	t.Helper()
	if o.seed == 0 {
		o.seed = 1
	}
	posts := generatedPosts(o.posts, o.seed)
	brands := brandsOf(posts)
	// Slack redelivers an unacknowledged event after 1 and 5 minutes; the
	// harness's 1 s and 3 s would give up on an event while a killed
	// process restarts, so these tests keep more of the schedule (not all
	// of it: they run on the wall clock).
	slackOpts := append([]slackfake.Option{slackfake.WithRetryDelays(0, 5*time.Second, 20*time.Second)}, o.slack...)
	h := newHarness(t, storeURL, harnessOptions{brands: brands, searches: []string{replaySearch}, extra: o.extra, slack: slackOpts,
		searchInterval: "2s", mentionsInterval: "6s"})
	h.slack.AddUser(staff, "aiko", false)
	h.slack.AddUser(manager, "ken", false)
	h.slack.AddUser(executive, "ceo", false)
	w := &serveWorld{harness: h, posts: posts, logPath: filepath.Join(h.dir, "serve.log")}
	// serve needs a fixed port: take a free one.
	w.addr = freeAddr(t)
	h.cfgSrc = strings.Replace(h.cfgSrc, "addr: 127.0.0.1:0", "addr: "+w.addr, 1)
	w.writeConfig(h.cfgSrc)
	t.Cleanup(func() {
		if t.Failed() {
			w.dumpDiagnostics()
		}
	})
	return w
}

// writeConfig replaces the configuration file the processes read.
func (w *serveWorld) writeConfig(src string) {
	w.t.Helper()
	w.cfgSrc = src
	if err := os.WriteFile(w.configPath(), []byte(src), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// serve starts one `carebridge serve` process logging to w.logPath.
func (w *serveWorld) serve() *process {
	w.t.Helper()
	p := startServe(w.t, w.configPath(), w.logPath)
	p.addr = w.addr
	return p
}

// kill ends p with SIGKILL and waits for it.
func kill(p *process) {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// dumpDiagnostics logs the store's state and the processes' warnings.
func (w *serveWorld) dumpDiagnostics() {
	t := w.t
	logs, _ := os.ReadFile(w.logPath)
	lines := strings.Split(string(logs), "\n")
	var bad []string
	for _, l := range lines {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			bad = append(bad, l)
		}
	}
	if db, err := sqlx.Open(dbDriver(w.store), dbDSN(w.store)); err == nil {
		var posts, tickets int
		db.Get(&posts, "SELECT count(*) FROM posts")
		db.Get(&tickets, "SELECT count(*) FROM tickets")
		states := map[string]int{}
		rows, _ := db.Queryx("SELECT kind || ':' || state, count(*) FROM outbox GROUP BY kind, state")
		for rows != nil && rows.Next() {
			var st string
			var n int
			rows.Scan(&st, &n)
			states[st] = n
		}
		drafts := map[string]int{}
		rows, _ = db.Queryx("SELECT state, count(*) FROM drafts GROUP BY state")
		for rows != nil && rows.Next() {
			var st string
			var n int
			rows.Scan(&st, &n)
			drafts[st] = n
		}
		t.Logf("store: %d posts, %d tickets, outbox %v, drafts %v", posts, tickets, states, drafts)
		db.Close()
	}
	t.Logf("serve warnings and errors (%d of %d lines):\n%s\nlast lines:\n%s", len(bad), len(lines),
		strings.Join(bad[max(0, len(bad)-40):], "\n"), strings.Join(lines[max(0, len(lines)-15):], "\n"))
}

// botMessages counts the bot's top-level and thread messages in every
// department channel (cheap: no block parsing), as a progress measure.
func (w *serveWorld) botMessages() int {
	n := 0
	for _, d := range e2eDepartments {
		for _, m := range w.slack.Messages(d.channel) {
			if m.FromBot() {
				n++
			}
		}
	}
	return n
}

// mirrorTally counts, for every replayed post, its own (non-FYI) mirrors.
type mirrorTally struct {
	posts, mirrored, lost, doubled int
	doubledIDs                     []string
}

func (w *serveWorld) tallyMirrors(posts []replayPost) mirrorTally {
	m := w.mirrors()
	tally := mirrorTally{posts: len(posts)}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range posts {
		own := 0
		for _, x := range m[w.ids[p.ExternalID]] {
			if !x.fyi {
				own++
			}
		}
		switch {
		case own == 0:
			tally.lost++
		case own > 1:
			tally.doubled++
			tally.doubledIDs = append(tally.doubledIDs, p.ExternalID)
		}
		if own > 0 {
			tally.mirrored++
		}
	}
	return tally
}

// waitMirrored waits until every one of posts has a mirror.
func (w *serveWorld) waitMirrored(posts []replayPost, timeout time.Duration) {
	w.t.Helper()
	eventually(w.t, timeout, "every post mirrored", func() (bool, string) {
		c := w.tallyMirrors(posts)
		return c.mirrored == len(posts), fmt.Sprintf("%d of %d mirrored", c.mirrored, len(posts))
	})
}

// reply is one staff answer: a draft in the thread of a mirrored post,
// approved by the manager's reaction, expected once on X.
type reply struct {
	tweet   string // fake id of the post whose thread it answers
	channel string
	thread  string
	text    string
	ts      string // the draft message
}

// replyCandidates returns threads to answer: root mirrors of customer
// posts that mention one of the official accounts (X allows a public
// reply to those only), one per ticket, in a seeded random order.
func (w *serveWorld) replyCandidates(rng *rand.Rand) []reply {
	m := w.mirrors()
	official := map[string]bool{}
	for _, b := range w.brands {
		official[strings.ToLower(b)] = true
	}
	mention := regexp.MustCompile(`@([A-Za-z0-9_]+)`)
	var out []reply
	used := map[string]bool{}
	w.mu.Lock()
	for _, p := range w.posts {
		if p.brand {
			continue
		}
		ok := false
		for _, mm := range mention.FindAllStringSubmatch(p.Text, -1) {
			ok = ok || official[strings.ToLower(mm[1])]
		}
		if !ok {
			continue
		}
		id := w.ids[p.ExternalID]
		for _, x := range m[id] {
			if !x.fyi && x.threadTS == "" && !used[x.channel+x.ts] {
				used[x.channel+x.ts] = true
				out = append(out, reply{tweet: id, channel: x.channel, thread: x.ts})
			}
		}
	}
	w.mu.Unlock()
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// draft posts a staff reply in r's thread.
func (w *serveWorld) draft(r *reply) {
	w.t.Helper()
	ts, err := w.slack.UserPosts(r.channel, staff, r.thread, r.text)
	if err != nil {
		w.t.Fatal(err)
	}
	r.ts = ts
}

// draftState reads the bot's verdict on a draft from its reactions:
// "pending" (⏳, waiting for approval), "blocked" or "".
func (w *serveWorld) draftState(r reply) string {
	for _, x := range w.slack.Reactions(r.channel, r.ts) {
		switch x {
		case slackad.DraftMarks.Pending:
			return "pending"
		case slackad.DraftMarks.Blocked:
			return "blocked"
		}
	}
	return ""
}

// approve adds the manager's approval reaction to r's draft.
func (w *serveWorld) approve(r reply) {
	w.t.Helper()
	if err := w.slack.UserReacts(r.channel, r.ts, manager, w.cfg.Approvals.ApproveEmoji); err != nil {
		w.t.Fatal(err)
	}
}

// sentCounts counts the public replies on the fake X by text.
func (w *serveWorld) sentCounts() map[string]int {
	out := map[string]int{}
	for _, tw := range w.x.SentTweets() {
		out[tw.Text]++
	}
	return out
}

// replyTally counts replies sent once, not at all and more than once.
type replyTally struct{ replies, sent, lost, doubled int }

func (w *serveWorld) tallyReplies(rs []reply) replyTally {
	c := w.sentCounts()
	out := replyTally{replies: len(rs)}
	for _, r := range rs {
		switch n := c[r.text]; {
		case n == 0:
			out.lost++
		case n > 1:
			out.doubled++
		}
		if c[r.text] > 0 {
			out.sent++
		}
	}
	return out
}

// prepareReplies writes n drafts on distinct tickets and waits until the
// bot accepted each (⏳); blocked drafts (a guard said no, e.g. the
// conversation's latest post did not mention us) are replaced by other
// candidates. onDraft runs after each draft is written.
func (w *serveWorld) prepareReplies(rng *rand.Rand, n int, timeout time.Duration, onDraft func(i int)) []reply {
	w.t.Helper()
	cands := w.replyCandidates(rng)
	var out []reply
	next := 0
	deadline := time.Now().Add(timeout)
	var waiting []reply
	for len(out) < n {
		for len(out)+len(waiting) < n && next < len(cands) {
			r := cands[next]
			next++
			r.text = fmt.Sprintf("Thanks for telling us, we are looking into it now (ref %d).", next)
			w.draft(&r)
			waiting = append(waiting, r)
			if onDraft != nil {
				onDraft(next)
			}
		}
		if len(waiting) == 0 {
			w.t.Fatalf("only %d of %d threads could be answered (%d candidates)", len(out), n, len(cands))
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out after %s: %d drafts accepted, %d still without a verdict", timeout, len(out), len(waiting))
		}
		var still []reply
		for _, r := range waiting {
			switch w.draftState(r) {
			case "pending":
				out = append(out, r)
			case "blocked":
				w.t.Logf("draft %q blocked by a guard; answering another thread", r.text)
			default:
				still = append(still, r)
			}
		}
		waiting = still
		time.Sleep(50 * time.Millisecond)
	}
	return out
}

// ---- /metrics and /readyz

// scrape reads the process's /metrics into name{labels} → value.
func scrape(addr string) (map[string]float64, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// sumMetric adds every series of a metric name.
func sumMetric(m map[string]float64, name string) float64 {
	total := 0.0
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			total += v
		}
	}
	return total
}

// readyz returns /readyz's status and body (status 0 if unreachable).
func readyz(addr string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// waitReady waits until the process answers /readyz with 200.
func waitReady(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "/readyz 200", func() (bool, string) {
		code, body := readyz(addr)
		return code == 200, fmt.Sprintf("%d %s", code, body)
	})
}

// seededRNG returns a random source seeded from CAREBRIDGE_E2E_SEED or
// the clock, logging the seed so that a failing run can be repeated.
func seededRNG(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CAREBRIDGE_E2E_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CAREBRIDGE_E2E_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("random seed %d (repeat with CAREBRIDGE_E2E_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// sortedInts returns n distinct sorted values from [lo, hi).
func sortedInts(rng *rand.Rand, n, lo, hi int) []int {
	seen := map[int]bool{}
	var out []int
	for len(out) < n && len(seen) < hi-lo {
		v := lo + rng.IntN(hi-lo)
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Ints(out)
	return out
}

// envInt reads a positive integer knob.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// envDuration reads a duration knob.
func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
