package bridge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge/clocktest"
)

// historyStub is a channel's history as a PostedLister sees it: messages
// carrying outbox ids at given times, read newest first, pageSize at a
// time, and at most one read per minute of the stub's clock (Slack's
// limit for apps outside its Marketplace).
type historyStub struct {
	clock    *clocktest.Clock
	pageSize int
	posted   map[int64]time.Time // outbox id → when its message was posted
	last     time.Time           // the last read let through
	reads    []historyRead
}

type historyRead struct {
	oldest, latest time.Time
	cursor         string
	refused        bool
}

func (h *historyStub) PostedPage(_ context.Context, _ string, oldest, latest time.Time, cursor string) (map[int64]ChatRef, string, error) {
	now := h.clock.Now()
	if !h.last.IsZero() && now.Sub(h.last) < time.Minute {
		h.reads = append(h.reads, historyRead{oldest, latest, cursor, true})
		return nil, "", &SendError{Platform: "stub", Code: "ratelimited", RetryAfter: time.Minute - now.Sub(h.last)}
	}
	h.last = now
	h.reads = append(h.reads, historyRead{oldest, latest, cursor, false})
	var ids []int64
	for id, at := range h.posted {
		if !at.Before(oldest) && !at.After(latest) {
			ids = append(ids, id)
		}
	}
	// Newest first; the cursor is the index of the next message.
	sort.Slice(ids, func(i, j int) bool { return h.posted[ids[i]].After(h.posted[ids[j]]) })
	start := 0
	if cursor != "" {
		start = int(cursor[0] - 'a')
	}
	found := map[int64]ChatRef{}
	end := min(start+h.pageSize, len(ids))
	for _, id := range ids[start:end] {
		found[id] = ChatRef{Channel: "C1", TS: h.posted[id].Format(time.StampMicro)}
	}
	next := ""
	if end < len(ids) {
		next = string(rune('a' + end))
	}
	return found, next, nil
}

func quietService(clk Clock) *relay {
	return &relay{env: &env{clock: clk, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, checks: &outcomeChecks{}}
}

// One walk through a channel's history, resumed page by page after each
// Retry-After, answers every row of the channel unknown since a crash:
// the ones posted before it and the ones not posted.
func TestScanChannelSettlesManyRowsWithOneWalk(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0.Add(10 * time.Minute))
	h := &historyStub{clock: clk, pageSize: 15, posted: map[int64]time.Time{}}
	// 40 messages of ours, one every 10 s from t0; rows 5, 17 and 33 are
	// among them, rows 41 and 42 never made it.
	for id := int64(1); id <= 40; id++ {
		h.posted[id] = t0.Add(time.Duration(id) * 10 * time.Second)
	}
	s := quietService(clk)
	crash := t0.Add(7 * time.Minute)
	rows := []*OutboxItem{
		{ID: 5, CreatedAt: t0, UnknownAt: crash},
		{ID: 17, CreatedAt: t0.Add(2 * time.Minute), UnknownAt: crash},
		{ID: 33, CreatedAt: t0.Add(4 * time.Minute), UnknownAt: crash},
		{ID: 41, CreatedAt: t0.Add(6 * time.Minute), UnknownAt: crash},
		{ID: 42, CreatedAt: t0.Add(6 * time.Minute), UnknownAt: crash},
	}
	want := map[int64]bool{5: true, 17: true, 33: true, 41: false, 42: false}
	settled := map[int64]bool{}
	deferrals := 0
	for round := 0; len(settled) < len(rows) && round < 20; round++ {
		for _, it := range rows {
			if _, done := settled[it.ID]; done {
				continue
			}
			_, found, err := s.scanChannel(t.Context(), h, "#care", it)
			var dc *deferredCheck
			switch {
			case errors.As(err, &dc):
				deferrals++
				if !dc.until.After(clk.Now()) {
					t.Fatalf("row %d deferred until %v, not after now %v", it.ID, dc.until, clk.Now())
				}
			case err != nil:
				t.Fatalf("row %d: %v", it.ID, err)
			default:
				settled[it.ID] = found
			}
		}
		clk.Advance(time.Minute + time.Second)
	}
	for id, w := range want {
		if got, ok := settled[id]; !ok || got != w {
			t.Errorf("row %d: settled %v, found %v; want found %v", id, ok, got, w)
		}
	}
	// 40 messages, 15 a page: three pages, each read once.
	var ok []historyRead
	for _, r := range h.reads {
		if !r.refused {
			ok = append(ok, r)
		}
	}
	if len(ok) != 3 || ok[0].cursor != "" || ok[1].cursor == "" || ok[2].cursor == "" || ok[1].cursor == ok[2].cursor {
		t.Errorf("reads let through = %+v; want three pages, each once", ok)
	}
	if deferrals == 0 {
		t.Error("no check was deferred; the limit was not exercised")
	}
	// The walk reads from the oldest row's creation to the crash, both
	// widened by clockSkew, and not the history after the crash.
	if r := ok[0]; !r.oldest.Equal(t0.Add(-clockSkew)) || !r.latest.Equal(crash.Add(clockSkew)) {
		t.Errorf("first read from %v to %v; want %v to %v", r.oldest, r.latest, t0.Add(-clockSkew), crash.Add(clockSkew))
	}
}

// A row that became unknown after a walk began extends the walk by the
// new part only; a row answered by a finished walk costs no read.
func TestScanChannelWidensOnlyByWhatIsNew(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0.Add(10 * time.Minute))
	h := &historyStub{clock: clk, pageSize: 15, posted: map[int64]time.Time{1: t0.Add(time.Second), 2: t0.Add(9 * time.Minute)}}
	s := quietService(clk)
	crash := t0.Add(5 * time.Minute)
	if _, found, err := s.scanChannel(t.Context(), h, "#care", &OutboxItem{ID: 1, CreatedAt: t0, UnknownAt: crash}); err != nil || !found {
		t.Fatalf("row 1: found %v, %v; want found", found, err)
	}
	if _, found, err := s.scanChannel(t.Context(), h, "#care", &OutboxItem{ID: 3, CreatedAt: t0.Add(time.Minute), UnknownAt: crash}); err != nil || found {
		t.Fatalf("row 3: found %v, %v; want not found, from the same read", found, err)
	}
	if len(h.reads) != 1 {
		t.Fatalf("%d reads; want 1", len(h.reads))
	}
	// Row 2 became unknown at a second crash, later: only the history
	// since the first walk's end is read.
	clk.Advance(2 * time.Minute)
	later := t0.Add(9*time.Minute + 30*time.Second)
	if _, found, err := s.scanChannel(t.Context(), h, "#care", &OutboxItem{ID: 2, CreatedAt: t0.Add(8 * time.Minute), UnknownAt: later}); err != nil || !found {
		t.Fatalf("row 2: found %v, %v; want found", found, err)
	}
	if len(h.reads) != 2 || !h.reads[1].oldest.Equal(crash.Add(clockSkew)) || !h.reads[1].latest.Equal(later.Add(clockSkew)) {
		t.Errorf("reads = %+v; want a second one from %v to %v", h.reads, crash.Add(clockSkew), later.Add(clockSkew))
	}
}

// A check refused with Retry-After holds the checks of its kind without
// calling the platform again until then.
func TestPacedCheckHoldsItsKind(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	s := quietService(clk)
	calls := 0
	limited := func(context.Context) error {
		calls++
		return &SendError{Platform: "stub", Code: "429", RetryAfter: 15 * time.Minute}
	}
	err := s.paced(t.Context(), checkReply+"acme", limited)
	var dc *deferredCheck
	if !errors.As(err, &dc) || !dc.until.Equal(clk.Now().Add(15*time.Minute)) {
		t.Fatalf("err = %v; want a check deferred until %v", err, clk.Now().Add(15*time.Minute))
	}
	clk.Advance(14 * time.Minute)
	if err := s.paced(t.Context(), checkReply+"acme", limited); !errors.As(err, &dc) || calls != 1 {
		t.Errorf("during the hold: err %v, %d calls; want deferred, 1 call", err, calls)
	}
	if err := s.paced(t.Context(), checkReply+"other", func(context.Context) error { return nil }); err != nil {
		t.Errorf("another account's check: %v; want it run", err)
	}
	clk.Advance(time.Minute)
	if err := s.paced(t.Context(), checkReply+"acme", func(context.Context) error { return nil }); err != nil || calls != 1 {
		t.Errorf("after the hold: %v; want the check run", err)
	}
	plain := errors.New("boom")
	if err := s.paced(t.Context(), checkReply+"acme", func(context.Context) error { return plain }); !errors.Is(err, plain) || errors.As(err, &dc) {
		t.Errorf("a failing check: %v; want the error itself, not deferred", err)
	}
}

// Only a transport failure after the connection was made may have
// reached the platform.
func TestMayHaveArrived(t *testing.T) {
	network := func(err error) error { return &SendError{Platform: "stub", Code: "network", Err: err} }
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection reset after the request", network(&url.Error{Op: "Post", URL: "https://slack.test", Err: &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}}), true},
		{"EOF instead of an answer", network(&url.Error{Op: "Post", URL: "https://slack.test", Err: io.EOF}), true},
		{"timeout", network(context.DeadlineExceeded), true},
		{"connection refused", network(&url.Error{Op: "Post", URL: "https://slack.test", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}), false},
		{"unknown host", network(&net.DNSError{Err: "no such host", Name: "slack.test"}), false},
		{"rate limited", &SendError{Platform: "stub", Code: "ratelimited", RetryAfter: time.Second}, false},
		{"refused by the platform", &SendError{Platform: "stub", Code: "channel_not_found", Permanent: true}, false},
		{"not a platform error", errors.New("database locked"), false},
	} {
		if got := mayHaveArrived(c.err); got != c.want {
			t.Errorf("%s: %v; want %v", c.name, got, c.want)
		}
	}
}
