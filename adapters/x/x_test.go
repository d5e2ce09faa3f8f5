package x

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/bridge"
)

// recordingSink is a bridge.Sink that keeps what it is given, in memory,
// with the same contract as the Service: posts and cursor together.
type recordingSink struct {
	mu      sync.Mutex
	posts   []bridge.Post
	ids     map[string]bool
	cursors map[string]string
	batches int
	fail    error
}

func newSink() *recordingSink {
	return &recordingSink{ids: map[string]bool{}, cursors: map[string]string{}}
}

func (s *recordingSink) Ingest(_ context.Context, b bridge.Batch) (bridge.IngestResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return bridge.IngestResult{}, s.fail
	}
	s.batches++
	var r bridge.IngestResult
	for _, p := range b.Posts {
		if s.ids[p.ExternalID] {
			r.Duplicate++
			continue
		}
		s.ids[p.ExternalID] = true
		s.posts = append(s.posts, p)
		r.New++
	}
	if b.Cursor != nil {
		s.cursors[b.Cursor.Key] = b.Cursor.Value
	}
	return r, nil
}

func (s *recordingSink) Cursor(_ context.Context, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursors[key], nil
}

func (s *recordingSink) Seen(_ context.Context, _ bridge.Platform, ids []string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, id := range ids {
		if s.ids[id] {
			out[id] = true
		}
	}
	return out, nil
}

func (s *recordingSink) snapshot() []bridge.Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bridge.Post(nil), s.posts...)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const (
	ourID     = "1000000000000000001"
	ourHandle = "SBCare"
)

type world struct {
	fake  *xfake.Server
	c     *Client
	norm  *Normalizer
	now   time.Time
	clock sync.Mutex
}

func newWorld(t *testing.T, opts ...xfake.Option) *world {
	t.Helper()
	w := &world{now: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}
	w.fake = xfake.New(append(opts, xfake.WithUserToken("user-token", ourID))...)
	t.Cleanup(w.fake.Close)
	w.fake.SetNow(w.Now)
	w.fake.AddUser(xfake.User{ID: ourID, Username: ourHandle, Name: "SB Care"})
	w.fake.AddUser(xfake.User{ID: "42", Username: "kim", Name: "Kim"})
	w.fake.AddUser(xfake.User{ID: "43", Username: "lee", Name: "Lee"})
	w.c = NewClient(w.fake.URL(), Bearer(xfake.DefaultAppToken), WithLogger(quiet),
		WithClock(w.Now, func(ctx context.Context, d time.Duration) error { w.Advance(d); return ctx.Err() }))
	w.norm = NewNormalizer([]Account{{Handle: ourHandle, UserID: ourID}}, false)
	return w
}

func (w *world) Now() time.Time {
	w.clock.Lock()
	defer w.clock.Unlock()
	return w.now
}

func (w *world) Advance(d time.Duration) {
	w.clock.Lock()
	w.now = w.now.Add(d)
	w.clock.Unlock()
}

func (w *world) tweet(author, text string, opts ...func(*xfake.Tweet)) xfake.Tweet {
	w.Advance(time.Second)
	t := xfake.Tweet{AuthorID: author, Text: text, CreatedAt: w.Now()}
	for _, o := range opts {
		o(&t)
	}
	return w.fake.AddTweet(t)
}

func pollOnce(t *testing.T, src bridge.Source, sink bridge.Sink) error {
	t.Helper()
	return src.(*poller).poll(context.Background(), sink)
}

func TestSearchPollerPagesAndMovesCursorWithPosts(t *testing.T) {
	w := newWorld(t)
	var want []string
	for i := 0; i < 25; i++ {
		want = append(want, w.tweet("42", fmt.Sprintf("my wifi is down %d", i)).ID)
	}
	w.tweet("43", "nothing relevant here")
	src := NewSearchPoller(w.c, w.norm, "wifi", "wifi", time.Minute, 10, quiet)
	sink := newSink()
	if err := pollOnce(t, src, sink); err != nil {
		t.Fatal(err)
	}
	// A first poll without a cursor reads at most maxFirstPages pages.
	if got := len(sink.snapshot()); got != 25 {
		t.Fatalf("first poll stored %d posts, want 25", got)
	}
	if c := sink.cursors["x:search:wifi"]; c != want[len(want)-1] {
		t.Errorf("cursor = %s, want newest id %s", c, want[len(want)-1])
	}
	// New posts since the cursor: all of them, across pages, once each.
	var more []string
	for i := 0; i < 23; i++ {
		more = append(more, w.tweet("43", fmt.Sprintf("wifi again %d", i)).ID)
	}
	if err := pollOnce(t, src, sink); err != nil {
		t.Fatal(err)
	}
	posts := sink.snapshot()
	if len(posts) != 48 {
		t.Fatalf("stored %d posts, want 48", len(posts))
	}
	if c := sink.cursors["x:search:wifi"]; c != more[len(more)-1] {
		t.Errorf("cursor = %s, want %s", c, more[len(more)-1])
	}
	p := posts[0]
	if p.Platform != Platform || p.Source != bridge.SourceSearch || p.AuthorHandle != "kim" || p.AuthorName != "Kim" ||
		p.ConversationKey != p.ExternalID || !strings.HasPrefix(p.URL, "https://x.com/kim/status/") || p.CreatedAt.IsZero() {
		t.Errorf("normalized post = %+v", p)
	}
	if p.Eligibility != bridge.EligibleDMOnly {
		t.Errorf("a keyword hit that did not mention us must be DM-only, got %s", p.Eligibility)
	}
	// Nothing new: no ingest, cursor unchanged.
	batches := sink.batches
	if err := pollOnce(t, src, sink); err != nil {
		t.Fatal(err)
	}
	if sink.batches != batches {
		t.Errorf("an empty poll ingested a batch")
	}
}

func TestSearchPollerFailureKeepsCursor(t *testing.T) {
	w := newWorld(t)
	w.tweet("42", "wifi one")
	src := NewSearchPoller(w.c, w.norm, "wifi", "wifi", time.Minute, 10, quiet)
	sink := newSink()
	if err := pollOnce(t, src, sink); err != nil {
		t.Fatal(err)
	}
	before := sink.cursors["x:search:wifi"]
	w.tweet("42", "wifi two")
	w.fake.FailNext(xfake.EndpointSearchRecent, 503, 1)
	err := pollOnce(t, src, sink)
	if err == nil || bridge.IsPermanent(err) {
		t.Fatalf("503 should be a temporary error, got %v", err)
	}
	if sink.cursors["x:search:wifi"] != before {
		t.Errorf("cursor moved although the poll failed")
	}
	// The store refusing the batch also leaves the cursor alone.
	sink.fail = fmt.Errorf("database is down")
	if err := pollOnce(t, src, sink); err == nil {
		t.Fatal("ingest failure not reported")
	}
	sink.fail = nil
	if err := pollOnce(t, src, sink); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.snapshot()); n != 2 {
		t.Errorf("after recovery %d posts, want 2", n)
	}
}

func TestStaleSinceIDResetsCursor(t *testing.T) {
	w := newWorld(t)
	old := w.tweet("42", "wifi long ago")
	w.Advance(8 * 24 * time.Hour)
	fresh := w.tweet("42", "wifi today")
	src := NewSearchPoller(w.c, w.norm, "wifi", "wifi", time.Minute, 10, quiet)
	sink := newSink()
	sink.cursors["x:search:wifi"] = old.ID
	if err := pollOnce(t, src, sink); err != nil {
		t.Fatalf("stale cursor not recovered: %v", err)
	}
	if sink.cursors["x:search:wifi"] != fresh.ID || len(sink.snapshot()) != 1 {
		t.Errorf("cursor %s posts %d", sink.cursors["x:search:wifi"], len(sink.snapshot()))
	}
}

func TestRateLimitHonoursReset(t *testing.T) {
	w := newWorld(t)
	w.tweet("42", "wifi")
	w.fake.SetRateLimit(xfake.EndpointSearchRecent, 1, 15*time.Minute)
	src := NewSearchPoller(w.c, w.norm, "wifi", "wifi", time.Minute, 10, quiet)
	sink := newSink()
	if err := pollOnce(t, src, sink); err != nil {
		t.Fatal(err)
	}
	calls := len(w.fake.Requests())
	err := pollOnce(t, src, sink)
	if ra := retryAfter(err); ra < 10*time.Minute || ra > 16*time.Minute {
		t.Fatalf("second poll in the window: err %v, retry after %v; want about 15 minutes", err, ra)
	}
	if got := len(w.fake.Requests()); got != calls {
		t.Errorf("the client called X %d more times although remaining was 0", got-calls)
	}
	w.Advance(16 * time.Minute)
	w.tweet("42", "wifi later")
	if err := pollOnce(t, src, sink); err != nil {
		t.Fatalf("after the reset: %v", err)
	}
	if len(sink.snapshot()) != 2 {
		t.Errorf("posts %d, want 2", len(sink.snapshot()))
	}
}

func TestMentionsAreEligibleAndQuotesCount(t *testing.T) {
	w := newWorld(t)
	ours := w.tweet(ourID, "We are investigating slow wifi in Tokyo.")
	m := w.tweet("42", "@SBCare my signal is gone")
	q := w.tweet("43", "is this true?", func(t *xfake.Tweet) { t.QuotedTweetID = ours.ID })
	src := NewMentionsPoller(w.c, w.norm, Account{Handle: ourHandle, UserID: ourID}, time.Minute, 100, quiet)
	sink := newSink()
	if err := pollOnce(t, src, sink); err != nil {
		t.Fatal(err)
	}
	posts := sink.snapshot()
	if len(posts) != 1 || posts[0].ExternalID != m.ID {
		t.Fatalf("mentions = %+v", posts)
	}
	if posts[0].Eligibility != bridge.EligiblePublic || strings.Join(posts[0].Mentions, ",") != "sbcare" || posts[0].Source != bridge.SourceMention {
		t.Errorf("mention normalized as %+v", posts[0])
	}
	// A quote of our post makes the quoter answerable in public.
	f := NewFetcher(w.c, w.norm)
	qp, err := f.FetchPost(context.Background(), q.ID)
	if err != nil {
		t.Fatal(err)
	}
	if qp.Eligibility != bridge.EligiblePublic || qp.Source != bridge.SourceLookup {
		t.Errorf("quote of our post: %+v", qp)
	}
	if _, err := f.FetchPost(context.Background(), "1234567890123"); err == nil {
		t.Error("fetching a missing tweet succeeded")
	}
	// Enterprise apps may answer anything.
	ent := NewNormalizer([]Account{{Handle: ourHandle, UserID: ourID}}, true)
	plain := w.tweet("42", "wifi is slow")
	pp, err := NewFetcher(w.c, ent).FetchPost(context.Background(), plain.ID)
	if err != nil || pp.Eligibility != bridge.EligiblePublic {
		t.Errorf("enterprise: %v %+v", err, pp)
	}
}

func TestRepliesKeepConversation(t *testing.T) {
	w := newWorld(t)
	root := w.tweet("42", "@SBCare no signal since morning")
	reply := w.tweet("42", "@SBCare still nothing", func(t *xfake.Tweet) { t.InReplyToTweetID = root.ID })
	p, err := NewFetcher(w.c, w.norm).FetchPost(context.Background(), reply.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.ConversationKey != root.ID || p.InReplyTo != root.ID {
		t.Errorf("conversation %s in reply to %s; want %s", p.ConversationKey, p.InReplyTo, root.ID)
	}
}

func TestDMPollerSkipsOwnMessagesAndDedupes(t *testing.T) {
	w := newWorld(t)
	w.Advance(time.Second)
	w.fake.AddDM(xfake.DMEvent{SenderID: "42", RecipientID: ourID, Text: "my contract number is 1234", CreatedAt: w.Now()})
	w.Advance(time.Second)
	w.fake.AddDM(xfake.DMEvent{SenderID: ourID, RecipientID: "42", Text: "Thanks, checking.", CreatedAt: w.Now()})
	src := NewDMPoller(w.c, w.norm, Account{Handle: ourHandle, UserID: ourID}, Bearer("user-token"), time.Minute, quiet)
	sink := newSink()
	if err := pollOnce(t, src, sink); err != nil {
		t.Fatal(err)
	}
	posts := sink.snapshot()
	if len(posts) != 1 {
		t.Fatalf("DMs stored: %+v", posts)
	}
	p := posts[0]
	if !strings.HasPrefix(p.ExternalID, "dm:") || p.Eligibility != bridge.EligibleDM || !p.IsDM() || p.AuthorHandle != "kim" ||
		!strings.HasPrefix(p.ConversationKey, "dm:") || strings.Join(p.Mentions, ",") != "sbcare" {
		t.Errorf("DM normalized as %+v", p)
	}
	w.Advance(time.Second)
	w.fake.AddDM(xfake.DMEvent{SenderID: "42", RecipientID: ourID, Text: "any news?", CreatedAt: w.Now()})
	if err := pollOnce(t, src, sink); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.snapshot()); n != 2 {
		t.Errorf("after a new DM: %d stored, want 2", n)
	}
	// App-only tokens cannot read DMs: a permanent error, clearly.
	bad := NewDMPoller(w.c, w.norm, Account{Handle: ourHandle, UserID: ourID}, Bearer(xfake.DefaultAppToken), time.Minute, quiet)
	if err := pollOnce(t, bad, sink); !bridge.IsPermanent(err) {
		t.Errorf("app token on DMs: %v", err)
	}
}

func TestStreamSyncsRulesDeliversAndReconnects(t *testing.T) {
	w := newWorld(t, xfake.WithKeepAlive(20*time.Millisecond))
	rules := RulesFromRoutes([]RouteKeywords{
		{Department: "network", Keywords: []string{"signal", "no service", "電波"}, Exclude: []string{"signal processing"}},
		{Department: "wifi", Keywords: []string{"wifi"}, Accounts: []string{"SBCareWiFi"}},
	}, 512)
	if len(rules) != 2 || rules[0].Value != `(signal OR "no service" OR 電波) -"signal processing" -is:retweet` || rules[0].Tag != "network#0" {
		t.Fatalf("rules = %+v", rules)
	}
	// A stale rule on the account is removed by the sync.
	stale := NewStream(w.c, w.norm, []StreamRule{{Value: "old rule", Tag: "old"}}, StreamOptions{}, quiet)
	if err := stale.SyncRules(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := NewStream(w.c, w.norm, rules, StreamOptions{KeepAliveTimeout: 200 * time.Millisecond, NetworkStep: 10 * time.Millisecond, HTTPBase: 10 * time.Millisecond, RateBase: 10 * time.Millisecond}, quiet)
	sink := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, sink) }()
	defer func() { cancel(); <-done }()
	if err := w.fake.WaitStreamConnected(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range w.fake.StreamRules() {
		got[r.Tag] = r.Value
	}
	if len(got) != 2 || got["old"] != "" {
		t.Fatalf("rules on X after sync: %v", got)
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for len(sink.snapshot()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("stream delivered %d posts, want %d", len(sink.snapshot()), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	w.tweet("42", "no signal at home")
	w.tweet("42", "my signal processing homework") // excluded by the rule
	w.tweet("43", "電波が悪い")
	waitFor(2)
	connects := w.fake.StreamConnects()
	w.fake.DisconnectStream("Operational disconnect")
	for w.fake.StreamConnects() == connects {
		time.Sleep(5 * time.Millisecond)
	}
	if err := w.fake.WaitStreamConnected(ctx); err != nil {
		t.Fatal(err)
	}
	w.tweet("42", "wifi dead again")
	waitFor(3)
	// A silent stream is dropped and reopened by the watchdog.
	connects = w.fake.StreamConnects()
	w.fake.StallStream()
	deadline := time.Now().Add(5 * time.Second)
	for w.fake.StreamConnects() == connects {
		if time.Now().After(deadline) {
			t.Fatal("a silent stream was not reconnected")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, p := range sink.snapshot() {
		if p.Source != bridge.SourceStream {
			t.Errorf("post %s source %s", p.ExternalID, p.Source)
		}
		if strings.Contains(p.Text, "processing") {
			t.Errorf("excluded post delivered: %q", p.Text)
		}
	}
}

func TestClassify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cases := []struct {
		status  int
		detail  string
		code    string
		perm    bool
		retryIn time.Duration
	}{
		{403, "You are not allowed to create a Tweet with duplicate content.", CodeDuplicate, true, 0},
		{403, "You can only reply to or quote posts where you are mentioned or are the author.", CodeNotEligible, true, 0},
		{429, "Too Many Requests", CodeRateLimited, false, 61 * time.Second},
		{503, "Service Unavailable", "503", false, 0},
		{401, "Unauthorized", "401", true, 0},
	}
	for _, c := range cases {
		e := classify(&APIError{Status: c.status, Problem: Problem{Detail: c.detail}, Reset: now.Add(time.Minute)}, now)
		if e.Code != c.code || e.Permanent != c.perm || e.RetryAfter != c.retryIn {
			t.Errorf("%d %q → %+v", c.status, c.detail, e)
		}
	}
}

// A poller whose calls keep failing (a revoked token: 401 on every call)
// backs off like X's published backoff, 5 s doubling, capped at 2 minutes, instead of calling X at
// its polling interval; the first success brings the interval back.
func TestPollerBacksOffWhileFailing(t *testing.T) {
	w := newWorld(t)
	w.tweet("42", "wifi one")
	w.fake.FailNext(xfake.EndpointSearchRecent, 401, 9)
	var waits []time.Duration
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := newSink()
	c := NewClient(w.fake.URL(), Bearer(xfake.DefaultAppToken), WithLogger(quiet),
		WithClock(w.Now, func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			w.Advance(d)
			if len(waits) == 11 {
				cancel()
			}
			return ctx.Err()
		}))
	src := NewSearchPoller(c, w.norm, "wifi", "wifi", time.Second, 10, quiet)
	if err := src.Run(ctx, sink); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run ended with %v", err)
	}
	s := time.Second
	want := []time.Duration{5 * s, 10 * s, 20 * s, 40 * s, 80 * s, 120 * s, 120 * s, 120 * s, 120 * s, s, s}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("waits between polls\n got %v\nwant %v", waits, want)
	}
	if n := len(sink.snapshot()); n != 1 {
		t.Errorf("after the token works again %d posts stored, want 1", n)
	}
	calls := 0
	for _, r := range w.fake.Requests() {
		if r.Endpoint == xfake.EndpointSearchRecent {
			calls++
		}
	}
	if calls != 11 {
		t.Errorf("%d search calls over %v of simulated time, want 11", calls, w.Now().Sub(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)))
	}
}

func TestPollWaitHonoursRateLimitAndInterval(t *testing.T) {
	m := time.Minute
	for _, c := range []struct {
		interval, ra time.Duration
		failures     int
		want         time.Duration
	}{
		{m, 0, 0, m},                 // success: the interval
		{m, 0, 1, m},                 // interval longer than the first backoff
		{m, 10 * m, 1, 10 * m},       // the rate-limit reset wins
		{time.Second, 0, 100, 2 * m}, // capped, no overflow
	} {
		if got := pollWait(c.interval, c.ra, c.failures); got != c.want {
			t.Errorf("pollWait(%v, %v, %d) = %v, want %v", c.interval, c.ra, c.failures, got, c.want)
		}
	}
}
