package bridge_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/clocktest"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
	"github.com/carebridge/carebridge/store/storetest"
)

// limitedPublisher is a chat surface whose look-ups are rate-limited: the
// first Find is refused with a Retry-After of a minute. It records what
// is posted.
type limitedPublisher struct {
	mu     sync.Mutex
	finds  int
	posted []bridge.ChatMessage
}

func (p *limitedPublisher) Publish(_ context.Context, msg bridge.ChatMessage) (bridge.ChatRef, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.posted = append(p.posted, msg)
	return bridge.ChatRef{Channel: "C1", TS: fmt.Sprintf("1.%06d", len(p.posted))}, nil
}

func (p *limitedPublisher) Permalink(context.Context, bridge.ChatRef) (string, error) { return "", nil }

func (p *limitedPublisher) Find(context.Context, string, string, int64, time.Time) (bridge.ChatRef, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finds++
	if p.finds == 1 {
		return bridge.ChatRef{}, false, &bridge.SendError{Platform: "stub", Code: "ratelimited", RetryAfter: time.Minute}
	}
	return bridge.ChatRef{}, false, nil
}

func (p *limitedPublisher) counts() (finds, posted int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.finds, len(p.posted)
}

// A row taken over after a crash whose check is rate-limited waits for
// the Retry-After without counting a failed attempt and without holding
// its channel's other messages, and is checked again (not posted
// unchecked) when it comes back.
// newRelay returns a Service over a fresh SQLite store with one
// department, #care, and pub as its chat surface.
func newRelay(t *testing.T, pub bridge.Publisher, clk bridge.Clock) (*bridge.Service, *store.Store) {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`store:
  url: %q
departments:
  - {id: care, channel: "#care", approvers: [U0MANAGER]}
routes:
  - {department: care, keywords: [wifi]}
triage: care
`, filepath.Join(dir, "cb.db"))), filepath.Join(dir, "cb.yaml"), config.LevelStore, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	router, err := cfg.Router()
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, cfg.Store.URL.Reveal(), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := bridge.New(bridge.Options{Store: st, Config: cfg, Router: router, Publisher: pub, Clock: clk,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Identity: "second", PollInterval: 5 * time.Millisecond,
		// The clock stands still between the test's steps: Slack's pace
		// (a message a second per channel) would hold the second message
		// for ever. What is tested is that a deferred check does not hold
		// the channel, not the pace.
		ChatPacing: bridge.Pacing{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st
}

func TestRateLimitedCheckIsDeferredNotSkipped(t *testing.T) {
	ctx := t.Context()
	clk := clocktest.New(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	pub := &limitedPublisher{}
	svc, st := newRelay(t, pub, clk)
	// Two posts for one channel; a process that died had claimed the
	// first one's row.
	var b bridge.Batch
	for i := range 2 {
		b.Posts = append(b.Posts, bridge.Post{Platform: bridge.Platform("x"), ExternalID: fmt.Sprint(100 + i), Source: bridge.SourceSearch,
			AuthorID: fmt.Sprint(i), AuthorHandle: fmt.Sprint("c", i), Text: "wifi down", CreatedAt: clk.Now(), ReceivedAt: clk.Now(),
			ConversationKey: fmt.Sprint(100 + i), Eligibility: bridge.EligiblePublic})
	}
	if _, err := svc.Ingest(ctx, b); err != nil {
		t.Fatal(err)
	}
	dead, err := st.ClaimOutbox(ctx, bridge.ClaimParams{Now: clk.Now(), Limit: 1, Lease: time.Minute, Owner: "first"})
	if err != nil || len(dead) != 1 {
		t.Fatalf("claim by the first process: %v, %v", dead, err)
	}
	row := dead[0].ID
	clk.Advance(2 * time.Minute) // the first process's lease runs out

	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop(context.Background()) }) //nolint:errcheck
	// The other post's message goes out at once: the refused check does
	// not hold the channel.
	waitUntil(t, "the check refused and the other message posted", func() bool {
		finds, posted := pub.counts()
		return finds == 1 && posted == 1
	})
	read := func() *bridge.OutboxItem {
		it, err := storetest.OutboxRow(t, st, row)
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	waitUntil(t, "the row deferred", func() bool { return read().State == bridge.OutboxPending })
	it := read()
	if it.Attempts != 1 || !it.Recovered || it.UnknownAt.IsZero() || !it.NextAttemptAt.After(clk.Now().Add(59*time.Second)) {
		t.Errorf("deferred row: attempts %d, recovered %v, unknown at %v, next %v; want 1 attempt (the takeover's not counted), still unknown, in a minute",
			it.Attempts, it.Recovered, it.UnknownAt, it.NextAttemptAt)
	}
	if _, posted := pub.counts(); posted != 1 {
		t.Fatalf("%d messages posted while the check waits; want 1 (not the unknown row)", posted)
	}
	clk.Advance(time.Minute + time.Second)
	waitUntil(t, "the row checked again and posted", func() bool { return read().State == bridge.OutboxDone })
	if finds, posted := pub.counts(); finds != 2 || posted != 2 {
		t.Errorf("%d checks, %d messages; want 2 checks, 2 messages", finds, posted)
	}
	if it := read(); it.Attempts != 2 || it.Recovered {
		t.Errorf("done row: attempts %d, recovered %v; want 2, settled", it.Attempts, it.Recovered)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// droppingPublisher posts every message, but the connection of the first
// call drops before its answer arrives.
type droppingPublisher struct {
	limitedPublisher
	byOutbox map[int64]bridge.ChatRef
}

func (p *droppingPublisher) Publish(ctx context.Context, msg bridge.ChatMessage) (bridge.ChatRef, error) {
	ref, _ := p.limitedPublisher.Publish(ctx, msg)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byOutbox[msg.OutboxID] = ref
	if len(p.posted) == 1 {
		return bridge.ChatRef{}, &bridge.SendError{Platform: "stub", Code: "network", Err: io.ErrUnexpectedEOF}
	}
	return ref, nil
}

func (p *droppingPublisher) Find(_ context.Context, _, _ string, outboxID int64, _ time.Time) (bridge.ChatRef, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finds++
	ref, ok := p.byOutbox[outboxID]
	return ref, ok, nil
}

// A message whose connection dropped after the request was sent is looked
// for before it is sent again, and found: it is in the channel once.
func TestLostAnswerIsCheckedBeforeRetry(t *testing.T) {
	ctx := t.Context()
	clk := clocktest.New(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	pub := &droppingPublisher{byOutbox: map[int64]bridge.ChatRef{}}
	svc, st := newRelay(t, pub, clk)
	post := bridge.Post{Platform: bridge.Platform("x"), ExternalID: "100", Source: bridge.SourceSearch, AuthorID: "1", AuthorHandle: "c1",
		Text: "wifi down", CreatedAt: clk.Now(), ReceivedAt: clk.Now(), ConversationKey: "100", Eligibility: bridge.EligiblePublic}
	if _, err := svc.Ingest(ctx, bridge.Batch{Posts: []bridge.Post{post}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop(context.Background()) }) //nolint:errcheck
	waitUntil(t, "the first attempt", func() bool { _, posted := pub.counts(); return posted == 1 })
	// The retry waits for its backoff (about a second); the clock moves on
	// while the test waits, whenever the retry was scheduled.
	waitUntil(t, "the outbox empty", func() bool {
		clk.Advance(time.Second)
		stats, err := st.OutboxStats(ctx, clk.Now())
		if err != nil {
			return false
		}
		for _, s := range stats {
			if s.Pending > 0 {
				return false
			}
		}
		return true
	})
	if finds, posted := pub.counts(); finds != 1 || posted != 1 {
		t.Errorf("%d checks, %d messages; want the lost answer checked once and the message posted once", finds, posted)
	}
}
