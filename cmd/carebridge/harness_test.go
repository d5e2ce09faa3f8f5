package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/adapters/x/xfake/traffic"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store/storetest"
)

// storeKinds returns the store URLs an end-to-end test runs against: a
// fresh SQLite file, and a fresh PostgreSQL schema when
// CAREBRIDGE_TEST_POSTGRES_URL is set.
func storeKinds(t *testing.T) map[string]func(t *testing.T) string {
	kinds := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return filepath.Join(t.TempDir(), "carebridge.db") },
		"postgres": func(t *testing.T) string {
			base := os.Getenv("CAREBRIDGE_TEST_POSTGRES_URL")
			if base == "" {
				t.Skip("set CAREBRIDGE_TEST_POSTGRES_URL=postgres://... to run the end-to-end tests on PostgreSQL")
			}
			return storetest.FreshPostgresSchema(t, base)
		},
	}
	return kinds
}

// department of the end-to-end configuration: id, channel id, name.
var e2eDepartments = []struct{ id, channel, name string }{
	{"network", "C0NETWORK", "care-network"},
	{"billing", "C0BILLING", "care-billing"},
	{"devices", "C0DEVICES", "care-devices"},
	{"wifi", "C0WIFI", "care-wifi"},
	{"sales", "C0SALES", "care-sales"},
	{"voices", "C0VOICES", "care-voices"},
	{"triage", "C0TRIAGE", "care-triage"},
}

// e2eRoutes carries the keywords of examples/carebridge.yaml's routes,
// which the generated posts (adapters/x/xfake/traffic) use, with the
// devices rule first and a few more device words for the reply tests'
// own posts ("iphone hotspot gone" is a devices ticket); the tests
// compute what they expect with the same router.
const e2eRoutes = `
routes:
  - department: network
    keywords: [outage, no signal, "no service", 圏外, 通信障害, 불통]
    continue: true
  - department: voices
    keywords: [outage, 通信障害, 불통]
  - department: devices
    keywords: [iphone, ipad, ios, mac, app, android, battery, screen, sim card, 機種変更, 故障, 배터리, 액정]
    accounts: [AppleSupport]
  - department: wifi
    keywords: [wifi, wi-fi, hotspot, router, ワイファイ, 와이파이]
  - department: network
    keywords: [signal, reception, 5g, 4g, lte, dropped calls, 電波, つながらない, 신호, 통화품질]
  - department: billing
    keywords: [bill, billing, invoice, charged, refund, overcharged, 料金, 請求, 返金, 요금, 청구서, 환불]
  - department: sales
    keywords: [rude, shop staff, store staff, salesperson, 店員, 態度, 직원, 불친절]
  - department: voices
    keywords: [love, thank you, thanks, awesome, ありがとう, 最高, 감사합니다, 최고]
triage: triage
`

// harness is one carebridge against the fakes.
type harness struct {
	t      *testing.T
	x      *xfake.Server
	slack  *slackfake.Server
	cfg    *config.Config
	cfgSrc string
	dir    string
	store  string
	http   bool   // events over HTTP
	addr   string // carebridge's listener

	mu      sync.Mutex
	users   map[string]string // author handle → fake user id
	ids     map[string]string // generated post id → fake tweet id
	parents map[string]string // fake tweet id → fake id of the tweet it replies to
	brands  []string
	running []func()
	logs    io.Writer // where carebridge logs (debug level); nil discards
}

type harnessOptions struct {
	http     bool     // deliver Slack events over the HTTP Events API (default Socket Mode)
	xURL     string   // X base URL override (a proxy in front of the fake)
	brands   []string // official accounts
	searches []string // extra search queries
	stream   bool
	extra    string // appended YAML
	// bundles is the YAML under bundles: (default "disabled: true"): the
	// tests written before bundles answer in each post's own thread and
	// count one message per post; e2e_spike_test.go tests bundling.
	bundles string
	slack   []slackfake.Option
	logs    io.Writer // receives carebridge's log at debug level
	x       []xfake.Option
	// Poll intervals (default 1s and 2s): a test's searches and
	// mentions pollers together must stay inside X's 15-minute windows
	// (xLimits) for the test's whole run.
	searchInterval, mentionsInterval string
}

// xLimits are X's published 15-minute request limits of the endpoints
// carebridge calls (pay-per-use table, ../shared/reference or docs.x.com
// "Rate limits"): search and mentions per app, POST /2/tweets and DMs
// per user, timelines per app.
var xLimits = map[xfake.Endpoint]int{
	xfake.EndpointSearchRecent:    450,
	xfake.EndpointMentions:        450,
	xfake.EndpointTweetLookup:     3500,
	xfake.EndpointUserTweets:      1500,
	xfake.EndpointUsersMe:         75,
	xfake.EndpointUserLookup:      300,
	xfake.EndpointDMEvents:        300,
	xfake.EndpointCreateTweet:     100,
	xfake.EndpointSendDM:          200,
	xfake.EndpointStream:          50,
	xfake.EndpointStreamRulesGet:  450,
	xfake.EndpointStreamRulesPost: 100,
}

func newHarness(t *testing.T, storeURL string, o harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), store: storeURL, users: map[string]string{}, ids: map[string]string{}, parents: map[string]string{}, logs: o.logs}
	h.x = xfake.New(append([]xfake.Option{xfake.WithKeepAlive(100 * time.Millisecond)}, o.x...)...)
	t.Cleanup(h.x.Close)
	// X's published 15-minute windows (docs.x.com rate limits; per app
	// unless noted). The fake keeps one bucket per endpoint for all
	// accounts, so the per-user limits (mentions 180, POST /2/tweets 100)
	// bind all accounts together: stricter than X. The poll intervals
	// below keep every test well inside its windows; one that ran out
	// would wait for x-rate-limit-reset, 15 minutes, and time out.
	for ep, limit := range xLimits {
		h.x.SetRateLimit(ep, limit, 15*time.Minute)
	}
	h.x.SetRateLimit(xfake.EndpointCreateTweetApp24h, 10_000, 24*time.Hour)
	// Slack: chat.postMessage about 1 per second per channel with short
	// bursts (the fake's 1/s, burst 3, set here explicitly), and history
	// reads at the limits of an app not listed in the Marketplace — what
	// the README's manifest installs: one conversations.history or
	// conversations.replies call a minute each, 15 messages a page (the
	// fake's default; no test here lifts it).
	// Slack retries a failed HTTP delivery after 1 and 5 minutes; the
	// tests keep the schedule's shape but not its length, because they
	// run on the wall clock (the HTTP tests refuse deliveries on purpose
	// and would wait minutes for the retry).
	h.slack = slackfake.New(append([]slackfake.Option{slackfake.WithChannelRateLimit(1, 3), slackfake.WithRateLimit(true),
		slackfake.WithRetryDelays(0, time.Second, 3*time.Second)}, o.slack...)...)
	t.Cleanup(h.slack.Close)
	for _, d := range e2eDepartments {
		h.slack.AddChannel(d.channel, d.name, "U0STAFF01", "U0MANAGER", "U0EXEC001")
	}

	if o.searchInterval == "" {
		o.searchInterval = "1s"
	}
	if o.mentionsInterval == "" {
		o.mentionsInterval = "2s"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "timezone: Asia/Tokyo\nstore:\n  url: %q\nhttp:\n  addr: 127.0.0.1:0\n", storeURL)
	id := h.slack.Identity()
	mode := "socket"
	if o.http {
		mode = "http"
		h.http = true
	}
	fmt.Fprintf(&b, "slack:\n  mode: %s\n  bot_token: %s\n  app_token: %s\n  signing_secret: %s\n  api_base_url: %s\n  pacing:\n    per_second: 1\n    burst: 3\n  watchers: [U0EXEC001]\n",
		mode, id.BotToken, id.AppToken, id.SigningSecret, h.slack.APIURL())
	xURL := h.x.URL()
	if o.xURL != "" {
		xURL = o.xURL
	}
	fmt.Fprintf(&b, "x:\n  api_base_url: %s\n  bearer_token: %s\n  stream: %v\n  poll:\n    search_interval: %s\n    mentions_interval: %s\n    dm_interval: 5s\n    max_results: 100\n",
		xURL, xfake.DefaultAppToken, o.stream, o.searchInterval, o.mentionsInterval)
	b.WriteString("  accounts:\n")
	if !slices.Contains(o.brands, "AppleSupport") {
		o.brands = append(o.brands, "AppleSupport") // the routes name it
	}
	for i, brand := range o.brands {
		uid := fmt.Sprintf("%d", 9000000+i)
		h.users[brand] = uid
		h.brands = append(h.brands, brand)
		h.x.AddUser(xfake.User{ID: uid, Username: brand, Name: brand + " Support"})
		h.x.AddUserToken("token-"+uid, uid)
		fmt.Fprintf(&b, "    - handle: %s\n      user_id: %q\n      dms: false\n      oauth2:\n        access_token: token-%s\n", brand, uid, uid)
	}
	if len(o.searches) > 0 {
		b.WriteString("  searches:\n")
		for i, q := range o.searches {
			fmt.Fprintf(&b, "    - name: s%d\n      query: %q\n", i, q)
		}
	}
	b.WriteString("departments:\n")
	for _, d := range e2eDepartments {
		fmt.Fprintf(&b, "  - id: %s\n    channel: \"#%s\"\n    approvers: [U0MANAGER]\n", d.id, d.name)
	}
	b.WriteString(e2eRoutes)
	b.WriteString("outbox:\n  workers: 8\n  max_backoff: 2s\n  lease: 5s\n")
	if o.bundles == "" {
		o.bundles = "  disabled: true\n"
	}
	b.WriteString("bundles:\n" + o.bundles)
	b.WriteString(o.extra)
	h.cfgSrc = b.String()
	path := filepath.Join(h.dir, "carebridge.yaml")
	if err := os.WriteFile(path, []byte(h.cfgSrc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.LevelServe)
	if err != nil {
		t.Fatalf("harness config:\n%v\n%s", err, h.cfgSrc)
	}
	h.cfg = cfg
	return h
}

// configPath is where the harness wrote its configuration.
func (h *harness) configPath() string { return filepath.Join(h.dir, "carebridge.yaml") }

// start runs carebridge in-process until the test ends or stop is called.
func (h *harness) start() (stop func()) {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if h.logs != nil {
		logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else if testing.Verbose() && os.Getenv("CAREBRIDGE_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, h.cfg, appOptions{Logger: logger, Listener: ln, PollInterval: 20 * time.Millisecond})
	if err != nil {
		cancel()
		h.t.Fatalf("newApp: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	if h.http {
		h.slack.DeliverHTTP("http://" + h.addr + "/slack/events")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				h.t.Errorf("carebridge stopped with %v", err)
			}
		})
	}
	h.t.Cleanup(stop)
	return stop
}

// replayPost is one generated post to publish on the fake X.
type replayPost struct {
	bridge.Post
	author string // the author's handle
	brand  bool   // written by an official account
}

// generatedPosts returns n customer-care posts in English, Japanese and
// Korean (adapters/x/xfake/traffic, seeded), oldest first: conversations
// that mention @SBCare or @SBCareWiFi or name the company, answers of
// those accounts, follow-ups.
func generatedPosts(n int, seed uint64) []replayPost {
	var out []replayPost
	for _, p := range traffic.Generate(traffic.Options{Seed: seed, Posts: n}) {
		out = append(out, replayPost{Post: bridge.Post{ExternalID: p.ID, Text: p.Text, InReplyTo: p.InReplyTo,
			CreatedAt: p.CreatedAt, AuthorID: p.Author, Lang: p.Lang}, author: p.Author, brand: p.Brand})
	}
	return out
}

// replaySearch is the one search that finds every generated post:
// mentions of the accounts, the company's name, the accounts' answers.
// companySearch leaves the mentions to the mentions pollers.
const (
	companySearch = "softbank OR ソフトバンク OR 소프트뱅크 OR from:SBCare OR from:SBCareWiFi"
	replaySearch  = "@SBCare OR @SBCareWiFi OR " + companySearch
)

// brandsOf lists the official accounts that wrote posts.
func brandsOf(posts []replayPost) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range posts {
		if p.brand && !seen[p.author] {
			seen[p.author] = true
			out = append(out, p.author)
		}
	}
	return out
}

// userID returns the fake user id of an author (a handle), creating the
// user.
func (h *harness) userID(author string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id, ok := h.users[author]; ok {
		return id
	}
	id := fmt.Sprintf("%d", 7000000+len(h.users))
	h.users[author] = id
	h.x.AddUser(xfake.User{ID: id, Username: author, Name: "Customer " + author})
	return id
}

// publish adds a post to the fake X, now, keeping its reply link
// when the parent was published. It returns the fake tweet id.
func (h *harness) publish(p replayPost) string {
	tw := xfake.Tweet{AuthorID: h.userID(p.author), Text: p.Text, Lang: p.Lang}
	h.mu.Lock()
	if parent, ok := h.ids[p.InReplyTo]; ok && p.InReplyTo != "" {
		tw.InReplyToTweetID = parent
	}
	h.mu.Unlock()
	added := h.x.AddTweet(tw)
	h.mu.Lock()
	h.ids[p.ExternalID] = added.ID
	if tw.InReplyToTweetID != "" {
		h.parents[added.ID] = tw.InReplyToTweetID
	}
	h.mu.Unlock()
	return added.ID
}

// mirrored is one carebridge message in the fake Slack that shows a post.
type mirrored struct {
	channel, ts, threadTS string
	fyi                   bool
	body                  string // section text, unescaped
}

var statusURL = regexp.MustCompile(`https://x\.com/[A-Za-z0-9_]+/status/([0-9]+)`)

// mirrors indexes the bot's messages in every channel by the tweet id
// they show.
func (h *harness) mirrors() map[string][]mirrored {
	out := map[string][]mirrored{}
	for _, d := range e2eDepartments {
		for _, m := range h.slack.Messages(d.channel) {
			if !m.FromBot() || len(m.Blocks) == 0 || isReport(h.t, m.Blocks) {
				continue
			}
			body := sectionText(h.t, m.Blocks)
			match := statusURL.FindStringSubmatch(body)
			if match == nil {
				continue
			}
			out[match[1]] = append(out[match[1]], mirrored{channel: d.channel, ts: m.TS, threadTS: m.ThreadTS,
				fyi: strings.HasPrefix(body, "FYI"), body: slackad.Unescape(body)})
		}
	}
	return out
}

// isReport tells a report (a digest, a spike alert: they open with a
// header block and may link customer posts) from a mirror.
func isReport(t *testing.T, raw json.RawMessage) bool {
	var blocks []struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatalf("blocks: %v", err)
	}
	return len(blocks) > 0 && blocks[0].Type == "header"
}

// sectionText joins the text of a message's section blocks.
func sectionText(t *testing.T, raw json.RawMessage) string {
	var blocks []struct {
		Type string `json:"type"`
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatalf("blocks: %v", err)
	}
	var parts []string
	for _, b := range blocks {
		if b.Type == "section" {
			parts = append(parts, b.Text.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, last)
}

// channelOf maps a department id to its fake channel id.
func channelOf(dept string) string {
	for _, d := range e2eDepartments {
		if d.id == dept {
			return d.channel
		}
	}
	return ""
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
