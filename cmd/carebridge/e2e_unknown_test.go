package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
	"github.com/carebridge/carebridge/store/storetest"
)

// TestKillAtUnlistedHistoryLimits: a process dies while its chat posts
// are in flight, some of them already posted by Slack, and a new process
// takes the rows over under the history limits Slack puts on apps outside
// its Marketplace (conversations.history and .replies: one call a minute,
// 15 messages a call). Every post must end up in Slack exactly once: the
// rows whose outcome is unknown wait for their history check, however
// long the limit makes it take, and are never posted unchecked.
//
// Every limit is Slack's real one (slackfake's defaults: history as
// above, chat.postMessage about 1 a second per channel with bursts of 3),
// and carebridge runs with its default pacing and outbox settings but
// one. Time runs faster: Slack, carebridge and the outbox share a clock
// that runs `speed` times faster than the wall clock, so the minutes the
// history limit costs pass in seconds. The one setting changed is the
// outbox lease: 10 minutes of that clock (the default is 1 minute), 20 s
// of wall time. A worker that holds a row past its lease is taken over
// while it may still post (the hazard the lease exists to bound), and on
// two busy cores a send can take more than the 2 s of wall time a
// 1-minute lease would be here. The restart jumps the clock past the
// lease, so the longer lease costs no time.
func TestKillAtUnlistedHistoryLimits(t *testing.T) {
	// Knobs for measuring: more workers leave more rows unknown; a slower
	// clock counts less of the CPU's time as Slack's.
	speed := envInt("CAREBRIDGE_E2E_UNKNOWN_SPEED", 30)
	posts := envInt("CAREBRIDGE_E2E_UNKNOWN_POSTS", 60) // across three departments' channels
	workers := envInt("CAREBRIDGE_E2E_UNKNOWN_WORKERS", 8)
	clk := newFastClock(int64(speed))
	fakeOpts := []slackfake.Option{slackfake.WithClock(clk)}
	if os.Getenv("CAREBRIDGE_E2E_UNKNOWN_HISTORY") == "unlimited" {
		// For comparison only: history reads as a Marketplace app gets
		// them, or better (the fake then has no history limit at all).
		fakeOpts = append(fakeOpts, slackfake.WithUnlimitedHistory())
	}
	fake := slackfake.New(fakeOpts...)
	t.Cleanup(fake.Close)
	channels := map[string]string{"network": "C0NETWORK", "billing": "C0BILLING", "travel": "C0TRAVEL", "triage": "C0TRIAGE"}
	for dept, id := range channels {
		fake.AddChannel(id, "care-"+dept, "U0STAFF01")
	}
	dir := t.TempDir()
	yaml := fmt.Sprintf(`timezone: UTC
store:
  url: %q
departments:
  - {id: network, channel: "#care-network", approvers: [U0MANAGER]}
  - {id: billing, channel: "#care-billing", approvers: [U0MANAGER]}
  - {id: travel, channel: "#care-travel", approvers: [U0MANAGER]}
  - {id: triage, channel: "#care-triage", approvers: [U0MANAGER]}
routes:
  - {department: network, keywords: [signal]}
  - {department: billing, keywords: [bill]}
  - {department: travel, keywords: [flight]}
triage: triage
outbox:
  workers: %d
  lease: 10m
`, filepath.Join(dir, "carebridge.db"), workers)
	cfg, err := config.Parse([]byte(yaml), filepath.Join(dir, "carebridge.yaml"), config.LevelStore, config.Options{})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	router, err := cfg.Router()
	if err != nil {
		t.Fatal(err)
	}
	logw := io.Discard
	if testing.Verbose() && os.Getenv("CAREBRIDGE_TEST_LOG") != "" {
		logw = os.Stderr
	}
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := t.Context()

	// start runs one carebridge process's core over its own store handle
	// and HTTP transport.
	start := func(name string, rt http.RoundTripper) (*bridge.Service, *store.Store) {
		st, err := store.Open(ctx, cfg.Store.URL.Reveal(), store.WithLogger(logger))
		if err != nil {
			t.Fatal(err)
		}
		api := slackapi.New(fake.Identity().BotToken, slackapi.OptionAPIURL(fake.APIURL()),
			slackapi.OptionHTTPClient(&http.Client{Transport: rt}))
		svc, err := bridge.New(bridge.Options{
			Store: st, Config: cfg, Router: router, Publisher: slackad.NewPublisher(api, time.UTC),
			Clock: clk, Logger: logger.With("process", name), Identity: name, PollInterval: 20 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return svc, st
	}

	// The first process: its first posts go through; after them every
	// chat.postMessage hangs, half of them after Slack posted the message
	// (the answer is lost), half before the request left.
	lossy := &lossyTransport{next: http.DefaultTransport, keep: 12}
	first, firstStore := start("first", lossy)
	topics := []string{"signal", "bill", "flight"}
	var batch bridge.Batch
	now := clk.Now()
	for i := range posts {
		batch.Posts = append(batch.Posts, bridge.Post{
			Platform: bridge.Platform("x"), ExternalID: fmt.Sprintf("%d", 1000+i), Source: bridge.SourceSearch,
			AuthorID: fmt.Sprintf("u%d", i), AuthorHandle: fmt.Sprintf("customer%d", i),
			Text: fmt.Sprintf("my %s is broken again (%d)", topics[i%len(topics)], i), CreatedAt: now, ReceivedAt: now,
			ConversationKey: fmt.Sprintf("%d", 1000+i), Eligibility: bridge.EligiblePublic,
		})
	}
	if _, err := first.Ingest(ctx, batch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the first process's posts to hang", func() (bool, string) {
		return lossy.hung.Load() >= int64(workers*3/4), fmt.Sprintf("%d hung", lossy.hung.Load())
	})
	time.Sleep(100 * time.Millisecond) // let the other workers hang too
	// The kill: in-flight calls are cancelled, nothing more is recorded.
	stopCtx, cancel := context.WithCancel(ctx)
	cancel()
	first.Stop(stopCtx) //nolint:errcheck // in-flight work is cancelled on purpose
	firstStore.Close()
	posted, lost := lossy.posted.Load(), lossy.hung.Load()
	t.Logf("first process: %d posted normally, %d hung (%d of them posted by Slack)", lossy.ok.Load(), lost, posted)
	if posted == 0 {
		t.Fatal("no message was posted with its answer lost; the test proves nothing")
	}

	// The second process starts once the leases ran out.
	clk.jump(cfg.Outbox.Lease.D() + time.Second)
	restart := clk.Now()
	second, secondStore := start("second", http.DefaultTransport)
	t.Cleanup(func() {
		second.Stop(context.Background()) //nolint:errcheck
		secondStore.Close()
	})
	byOutbox := func() (map[string]int, int) {
		seen := map[string]int{}
		total := 0
		for _, id := range channels {
			for _, m := range fake.Messages(id) {
				if m.ThreadTS != "" || !m.FromBot() {
					continue
				}
				var md struct {
					EventPayload map[string]any `json:"event_payload"`
				}
				_ = json.Unmarshal(m.Metadata, &md)
				seen[fmt.Sprint(md.EventPayload["outbox_id"])]++
				total++
			}
		}
		return seen, total
	}
	lossy.mu.Lock()
	unknown := slices.Clone(lossy.ids)
	lossy.mu.Unlock()
	if len(unknown) != int(lost) {
		t.Fatalf("%d outbox ids read from %d hung calls", len(unknown), lost)
	}
	eventually(t, time.Duration(3600/speed)*time.Second, "the rows left unknown settled", func() (bool, string) {
		open := 0
		for _, id := range unknown {
			it, err := storetest.OutboxRow(t, secondStore, id)
			if err != nil {
				return false, err.Error()
			}
			if it.State != bridge.OutboxDone {
				open++
			}
		}
		return open == 0, fmt.Sprintf("%d of %d not done", open, len(unknown))
	})
	settled := clk.Now().Sub(restart)
	eventually(t, time.Duration(3600/speed)*time.Second, "every post mirrored", func() (bool, string) {
		seen, total := byOutbox()
		stats, err := secondStore.OutboxStats(ctx, clk.Now())
		if err != nil {
			return false, err.Error()
		}
		pending := 0
		for _, s := range stats {
			pending += s.Pending
		}
		return len(seen) >= posts && pending == 0, fmt.Sprintf("%d outbox rows in %d messages, %d rows pending", len(seen), total, pending)
	})
	took := clk.Now().Sub(restart)
	seen, total := byOutbox()
	for id, n := range seen {
		if n > 1 {
			t.Errorf("outbox row %s mirrored %d times", id, n)
		}
	}
	if len(seen) != posts || total != posts {
		t.Errorf("%d messages for %d outbox rows; want %d posts, each once", total, len(seen), posts)
	}
	stats, err := secondStore.OutboxStats(ctx, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		if s.Dead > 0 {
			t.Errorf("%d %s rows dead; want none", s.Dead, s.Kind)
		}
	}
	t.Logf("after the restart, %d rows with an unknown outcome (%d of them posted) were settled in %s of Slack's time, and every post mirrored in %s; %d conversations.history calls (refused ones included)",
		lost, posted, settled.Round(time.Second), took.Round(time.Second), fake.Calls("conversations.history"))
}

// lossyTransport lets the first `keep` chat.postMessage calls through;
// every later one hangs until its context ends, every other one after
// Slack got it (the message is posted, the answer is lost).
type lossyTransport struct {
	next             http.RoundTripper
	keep             int64
	calls            atomic.Int64
	ok, hung, posted atomic.Int64

	mu  sync.Mutex
	ids []int64 // outbox ids of the hung calls
}

func (l *lossyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/chat.postMessage") {
		return l.next.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	n := l.calls.Add(1)
	if n <= l.keep {
		l.ok.Add(1)
		return l.next.RoundTrip(r)
	}
	if n%2 == 0 {
		resp, err := l.next.RoundTrip(r)
		if err == nil {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck
			resp.Body.Close()
			l.posted.Add(1)
		}
	}
	l.hung.Add(1)
	form, _ := url.ParseQuery(string(body))
	var md struct {
		EventPayload map[string]any `json:"event_payload"`
	}
	if json.Unmarshal([]byte(form.Get("metadata")), &md) == nil {
		if id, err := strconv.ParseInt(fmt.Sprint(md.EventPayload["outbox_id"]), 10, 64); err == nil {
			l.mu.Lock()
			l.ids = append(l.ids, id)
			l.mu.Unlock()
		}
	}
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// fastClock runs speed times faster than the wall clock, from the wall
// clock's time at its creation, plus what jump added.
type fastClock struct {
	base  time.Time
	speed int64
	extra atomic.Int64 // nanoseconds added by jump
}

func newFastClock(speed int64) *fastClock { return &fastClock{base: time.Now(), speed: speed} }

func (c *fastClock) Now() time.Time {
	return c.base.Add(time.Since(c.base)*time.Duration(c.speed) + time.Duration(c.extra.Load()))
}

func (c *fastClock) jump(d time.Duration) { c.extra.Add(int64(d)) }
