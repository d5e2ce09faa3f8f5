package bsky

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/bsky/bskyfake"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/clocktest"
	"github.com/carebridge/carebridge/bridge/route"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// memState is State in memory (the store backs it in cmd/carebridge).
type memState struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *memState) Get(_ context.Context, k string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k], nil
}

func (s *memState) Set(_ context.Context, k, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
	return nil
}

// recordingSink is a bridge.Sink that keeps what it is given, with the
// Service's contract: posts and cursor together.
type recordingSink struct {
	mu      sync.Mutex
	posts   []bridge.Post
	ids     map[string]int
	cursors map[string]string
}

func newSink() *recordingSink {
	return &recordingSink{ids: map[string]int{}, cursors: map[string]string{}}
}

func (s *recordingSink) Ingest(_ context.Context, b bridge.Batch) (bridge.IngestResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r bridge.IngestResult
	for _, p := range b.Posts {
		s.ids[p.ExternalID]++
		if s.ids[p.ExternalID] > 1 {
			r.Duplicate++
			continue
		}
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
		out[id] = s.ids[id] > 0
	}
	return out, nil
}

func (s *recordingSink) post(uri string) (bridge.Post, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.posts {
		if p.ExternalID == uri {
			return p, true
		}
	}
	return bridge.Post{}, false
}

// world is the fake Bluesky with our account and a customer, and a client
// on the fake clock.
type world struct {
	fake     *bskyfake.Server
	clock    *clocktest.Clock
	state    *memState
	c        *Client
	us, cust string // DIDs
}

const ourHandle = "sbcare.bsky.social"

func newWorld(t *testing.T, opts ...bskyfake.Option) *world {
	t.Helper()
	clk := clocktest.New(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	fake := bskyfake.New(append([]bskyfake.Option{bskyfake.WithClock(clk)}, opts...)...)
	t.Cleanup(fake.Close)
	w := &world{fake: fake, clock: clk, state: &memState{m: map[string]string{}}}
	w.us = fake.AddAccount(ourHandle, "app-pass-1234", "SB Care")
	w.cust = fake.AddAccount("kim.bsky.social", "x", "Kim")
	w.c = w.client()
	return w
}

func (w *world) client() *Client {
	return NewClient([]Account{{Handle: ourHandle, AppPassword: "app-pass-1234", PDS: w.fake.URL()}},
		ClientOptions{Clock: w.clock, Logger: quiet, State: w.state})
}

func TestFacetsUseUTF8ByteOffsets(t *testing.T) {
	text := "電波が弱い 👩🏽‍💻 @Kim.bsky.social, see https://example.com/wifi. @nobody.example"
	known := map[string]string{"kim.bsky.social": "did:plc:kim"}
	fs := Facets(text, func(h string) string { return known[h] })
	if len(fs) != 2 {
		t.Fatalf("facets %+v, want a mention and a link", fs)
	}
	m, l := fs[0], fs[1]
	if got := text[m.Index.ByteStart:m.Index.ByteEnd]; got != "@Kim.bsky.social" || m.Features[0].DID != "did:plc:kim" {
		t.Errorf("mention covers %q (%+v)", got, m)
	}
	// 電波が弱い is 15 bytes, the emoji with skin tone and ZWJ 15: the
	// mention starts at byte 32, not at rune 8.
	if m.Index.ByteStart != 32 {
		t.Errorf("mention starts at byte %d, want 32", m.Index.ByteStart)
	}
	if got := text[l.Index.ByteStart:l.Index.ByteEnd]; got != "https://example.com/wifi" || l.Features[0].URI != got {
		t.Errorf("link covers %q, want the URL without the full stop", got)
	}
}

func TestMeasureCountsGraphemesAndBytes(t *testing.T) {
	n := Network{}
	ok := strings.Repeat("👍🏽", 300) // 300 graphemes, 2,400 bytes
	if m := n.Measure(ok, bridge.VisibilityPublic); m.N != 300 || m.Limit != 300 {
		t.Errorf("300 emoji with skin tone: %+v, want 300 of 300", m)
	}
	if m := n.Measure(ok+"!", bridge.VisibilityPublic); m.N != 301 {
		t.Errorf("301 graphemes counted %d", m.N)
	}
	family := strings.Repeat("👨‍👩‍👧‍👦", 150) // 150 graphemes, 3,750 bytes
	if m := n.Measure(family, bridge.VisibilityPublic); m.N != 3750 || m.Limit != 3000 || !strings.Contains(m.How, "bytes") {
		t.Errorf("150 family emoji: %+v, want the byte limit broken", m)
	}
	if m := n.Measure(strings.Repeat("信", 1000), bridge.VisibilityDM); m.N != 1000 || m.Limit != 1000 {
		t.Errorf("DM: %+v", m)
	}
}

func TestReplyLinksRootAndParentAndMentions(t *testing.T) {
	w := newWorld(t)
	root := w.fake.AddPost(w.cust, "anyone else without signal in Shibuya?", bskyfake.PostOptions{})
	parent := w.fake.AddPost(w.cust, "still no signal, 3 hours now", bskyfake.PostOptions{ReplyTo: root, Langs: []string{"en"}})
	r := NewReplier(w.c)
	text := "@kim.bsky.social sorry! A base station is being repaired 🙏"
	ref, err := r.Reply(t.Context(), ourHandle, parent, text)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := w.fake.Post(ref.ID)
	if !ok {
		t.Fatalf("reply %s not on the fake", ref.ID)
	}
	var rec PostRecord
	if err := json.Unmarshal(got.Record, &rec); err != nil {
		t.Fatal(err)
	}
	rp, _ := w.fake.Post(root)
	pp, _ := w.fake.Post(parent)
	if rec.Reply == nil || rec.Reply.Root != (StrongRef{rp.URI, rp.CID}) || rec.Reply.Parent != (StrongRef{pp.URI, pp.CID}) {
		t.Errorf("reply refs %+v, want root %s and parent %s with their CIDs", rec.Reply, root, parent)
	}
	if len(rec.Facets) != 1 || rec.Facets[0].Features[0].DID != w.cust || text[rec.Facets[0].Index.ByteStart:rec.Facets[0].Index.ByteEnd] != "@kim.bsky.social" {
		t.Errorf("facets %+v", rec.Facets)
	}
	_, _, rkey, _ := ParseURI(ref.ID)
	if !ValidTID(rkey) {
		t.Errorf("record key %q is not a TID", rkey)
	}
	if saved, _ := w.state.Get(t.Context(), replyKeyName(w.c.order[0], parent, text)); saved != rkey {
		t.Errorf("saved key %q, record key %q", saved, rkey)
	}
	if ref.URL != "https://bsky.app/profile/"+ourHandle+"/post/"+rkey {
		t.Errorf("URL %s", ref.URL)
	}
}

func TestReplyAfterUnknownOutcomeIsFoundNotSentAgain(t *testing.T) {
	w := newWorld(t)
	post := w.fake.AddPost(w.cust, "my bill doubled", bskyfake.PostOptions{})
	r := NewReplier(w.c)
	const text = "We're looking into your bill now."
	// Not tried yet: nothing to find.
	if _, found, err := r.FindReply(t.Context(), ourHandle, post, text); err != nil || found {
		t.Fatalf("before any attempt: found=%v err=%v", found, err)
	}
	w.fake.DropAnswerNext("com.atproto.repo.createRecord")
	_, err := r.Reply(t.Context(), ourHandle, post, text)
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Code != CodeNetwork || se.Permanent {
		t.Fatalf("dropped answer: %v, want a temporary network error", err)
	}
	ref, found, err := r.FindReply(t.Context(), ourHandle, post, text)
	if err != nil || !found {
		t.Fatalf("FindReply after the drop: found=%v err=%v", found, err)
	}
	// A blind second attempt (what the core never does) reuses the key:
	// the PDS refuses it with a 500, which is checked, not retried.
	ref2, err := r.Reply(t.Context(), ourHandle, post, text)
	if err != nil || ref2.ID != ref.ID {
		t.Fatalf("second attempt: %v %v, want the first reply %s", ref2, err, ref.ID)
	}
	if n := len(w.fake.RepliesTo(post)); n != 1 {
		t.Errorf("%d replies on Bluesky, want 1", n)
	}
	if n := w.fake.Calls("com.atproto.repo.createRecord"); n != 2 {
		t.Errorf("createRecord called %d times, want 2 (the dropped one and the refused reuse)", n)
	}
}

func TestReplyGateKnownUpFront(t *testing.T) {
	w := newWorld(t)
	post := w.fake.AddPost(w.cust, "no replies please, just venting about my bill", bskyfake.PostOptions{Gated: true})
	p, err := NewFetcher(w.c).FetchPost(t.Context(), post)
	if err != nil {
		t.Fatal(err)
	}
	if el, why := (Network{}).Answerable(p); el != bridge.EligibleDMOnly || !strings.Contains(why, "limits who can reply") {
		t.Errorf("gated post answerable as %s (%q)", el, why)
	}
	_, err = NewReplier(w.c).Reply(t.Context(), ourHandle, post, "Sorry about that!")
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Code != CodeReplyDisabled || !se.Permanent {
		t.Fatalf("reply into a gated thread: %v", err)
	}
	if why := (Network{}).Explain(se, ourHandle, "Resend it with dm:"); !strings.Contains(why, "limits who can reply") {
		t.Errorf("explained as %q", why)
	}
	if n := w.fake.Calls("com.atproto.repo.createRecord"); n != 0 {
		t.Errorf("createRecord called %d times for a gated thread", n)
	}
}

func TestSessionRefreshedOnExpiryAndKept(t *testing.T) {
	w := newWorld(t, bskyfake.WithAccessTTL(time.Hour))
	post := w.fake.AddPost(w.cust, "hello", bskyfake.PostOptions{})
	if _, err := NewFetcher(w.c).FetchPost(t.Context(), post); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(2 * time.Hour)
	if _, err := NewFetcher(w.c).FetchPost(t.Context(), post); err != nil {
		t.Fatalf("after the access token expired: %v", err)
	}
	if s, r := w.fake.Calls("com.atproto.server.createSession"), w.fake.Calls("com.atproto.server.refreshSession"); s != 1 || r != 1 {
		t.Errorf("createSession %d, refreshSession %d; want 1 and 1", s, r)
	}
	// A restart reads the saved session: no sign-in.
	if _, err := NewFetcher(w.client()).FetchPost(t.Context(), post); err != nil {
		t.Fatal(err)
	}
	if s := w.fake.Calls("com.atproto.server.createSession"); s != 1 {
		t.Errorf("createSession called %d times after a restart, want still 1", s)
	}
}

func TestRefusedSignInIsNotRetriedInALoop(t *testing.T) {
	w := newWorld(t)
	c := NewClient([]Account{{Handle: ourHandle, AppPassword: "wrong", PDS: w.fake.URL()}}, ClientOptions{Clock: w.clock, Logger: quiet, State: w.state})
	for i := 0; i < 5; i++ {
		_, err := c.Session(t.Context(), ourHandle)
		var se *bridge.SendError
		if !errors.As(err, &se) || se.Code != CodeAuth {
			t.Fatalf("attempt %d: %v, want an auth error", i, err)
		}
	}
	if n := w.fake.Calls("com.atproto.server.createSession"); n != 1 {
		t.Errorf("createSession called %d times, want 1", n)
	}
	w.clock.Advance(5 * time.Minute)
	c.Session(t.Context(), ourHandle)
	if n := w.fake.Calls("com.atproto.server.createSession"); n != 2 {
		t.Errorf("after 5 minutes: createSession called %d times, want 2", n)
	}
}

func TestWriteBudget(t *testing.T) {
	w := newWorld(t)
	a := w.c.order[0]
	for i := 0; i < 1666; i++ {
		if err := w.c.spend(a, createPoints); err != nil {
			t.Fatalf("create %d: %v", i+1, err)
		}
	}
	err := w.c.spend(a, createPoints)
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Code != CodeRateLimited || se.RetryAfter < 59*time.Minute {
		t.Fatalf("create 1,667 in an hour: %v, want a 429 for an hour", err)
	}
	w.clock.Advance(time.Hour)
	if err := w.c.spend(a, createPoints); err != nil {
		t.Errorf("an hour later: %v", err)
	}
}

func TestDMRefusalsInPlainWords(t *testing.T) {
	w := newWorld(t)
	r := NewReplier(w.c)
	for _, c := range []struct{ allow, code, words string }{
		{"none", "MessagesDisabled", "turned off direct messages"},
		{"following", "NotFollowedBySender", "don't follow @" + ourHandle},
	} {
		w.fake.SetChat(w.cust, c.allow)
		_, err := r.SendDM(t.Context(), ourHandle, w.cust, "Can you DM us your account number?")
		var se *bridge.SendError
		if !errors.As(err, &se) || se.Code != c.code || !se.Permanent {
			t.Fatalf("chat %s: %v, want permanent %s", c.allow, err, c.code)
		}
		if why := (Network{}).Explain(se, ourHandle, ""); !strings.Contains(why, c.words) {
			t.Errorf("%s explained as %q", c.code, why)
		}
	}
	w.fake.Follow(w.cust, w.us)
	ref, err := r.SendDM(t.Context(), ourHandle, w.cust, "Can you DM us your account number?")
	if err != nil {
		t.Fatal(err)
	}
	got, found, err := r.FindDM(t.Context(), ourHandle, w.cust, "Can you DM us your account number?")
	if err != nil || !found || got.ID != ref.ID {
		t.Errorf("FindDM: %v %v %v, want %s", got, found, err, ref.ID)
	}
	if n := len(w.fake.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestNotificationsPollIngestsMentionsWithCursor(t *testing.T) {
	w := newWorld(t)
	ours := w.fake.AddPost(w.us, "Planned maintenance tonight.", bskyfake.PostOptions{})
	w.clock.Advance(time.Second)
	reply := w.fake.AddPost(w.cust, "will my wifi be down too?", bskyfake.PostOptions{ReplyTo: ours})
	w.clock.Advance(time.Second)
	mention := w.fake.AddPost(w.cust, "@"+ourHandle+" my bill is wrong", bskyfake.PostOptions{Mentions: []string{w.us}})
	n := NewNotifications(w.c, ourHandle, time.Minute, w.clock, quiet)
	sink := newSink()
	if err := n.Poll(t.Context(), sink); err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{reply, mention} {
		p, ok := sink.post(uri)
		if !ok {
			t.Fatalf("%s not ingested", uri)
		}
		if p.Source != bridge.SourceMention || p.AuthorHandle != "kim.bsky.social" || len(p.Mentions) == 0 || p.Mentions[0] != ourHandle {
			t.Errorf("post %+v", p)
		}
	}
	if p, _ := sink.post(reply); p.ConversationKey != ours || p.InReplyTo != ours {
		t.Errorf("reply's conversation %q, in reply to %q; want %s", p.ConversationKey, p.InReplyTo, ours)
	}
	if sink.cursors[n.CursorKey()] == "" {
		t.Fatal("no cursor saved with the batch")
	}
	w.clock.Advance(time.Second)
	later := w.fake.AddPost(w.cust, "@"+ourHandle+" thanks!", bskyfake.PostOptions{Mentions: []string{w.us}})
	if err := n.Poll(t.Context(), sink); err != nil {
		t.Fatal(err)
	}
	if _, ok := sink.post(later); !ok || len(sink.posts) != 3 {
		t.Errorf("second poll: %d posts, want 3", len(sink.posts))
	}
}

// jetWorld runs a Jetstream source over two fake instances.
type jetWorld struct {
	*world
	js   [2]*bskyfake.Jetstream
	src  *Jetstream
	sink *recordingSink
	done chan error
}

func newJetWorld(t *testing.T) *jetWorld {
	w := &jetWorld{world: newWorld(t), sink: newSink(), done: make(chan error, 1)}
	w.js[0], w.js[1] = w.fake.NewJetstream(), w.fake.NewJetstream()
	router, err := route.New([]route.Rule{{Department: "network", Keywords: []string{"signal", "電波"}}}, "triage")
	if err != nil {
		t.Fatal(err)
	}
	w.src = NewJetstream(w.c, JetstreamOptions{Instances: []string{w.js[0].URL(), w.js[1].URL()}, Silence: 30 * time.Second, Rewind: 5 * time.Second,
		Match: func(p *bridge.Post) bool { return router.Route(route.Input{Text: p.Text}).Rule >= 0 }, Clock: w.clock, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { w.done <- w.src.Run(ctx, w.sink) }()
	t.Cleanup(func() { cancel(); <-w.done })
	w.waitConnected(t, 0)
	return w
}

func (w *jetWorld) waitConnected(t *testing.T, inst int) {
	t.Helper()
	waitFor(t, "a socket on instance "+strconv.Itoa(inst), func() bool { return w.js[inst].Connections() == 1 })
	// The watchdog is armed once connected.
	if err := w.clock.WaitForTimers(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestJetstreamMatchesLocallyAndRewindsOnReconnect(t *testing.T) {
	w := newJetWorld(t)
	w.fake.AddPost(w.cust, "lovely weather", bskyfake.PostOptions{})
	hit := w.fake.AddPost(w.cust, "no signal in Shibuya again", bskyfake.PostOptions{})
	waitFor(t, "the keyword post", func() bool { _, ok := w.sink.post(hit); return ok })
	if st := w.src.Stats(); st.Posts != 2 || st.Matched != 1 {
		t.Errorf("stats %+v, want 2 posts seen and 1 matched", st)
	}
	// A follow-up in the conversation is ingested without a keyword.
	follow := w.fake.AddPost(w.cust, "any news?", bskyfake.PostOptions{ReplyTo: hit})
	waitFor(t, "the follow-up", func() bool { _, ok := w.sink.post(follow); return ok })
	saved, _ := strconv.ParseInt(w.sink.cursors["bsky:jetstream"], 10, 64)
	if saved == 0 {
		t.Fatal("no cursor saved with the batch")
	}

	w.js[0].Disconnect()
	w.waitConnected(t, 1)
	q := w.js[1].Queries()
	want := "cursor=" + strconv.FormatInt(saved-(5*time.Second).Microseconds(), 10)
	if len(q) != 1 || !strings.Contains(q[0], want) || !strings.Contains(q[0], "wantedCollections=app.bsky.feed.post") {
		t.Errorf("reconnect query %q, want %s (the saved cursor rewound 5 s)", q, want)
	}
	// Identity and account events pass the collection filter; a delete
	// of an ingested post is noticed.
	w.fake.IdentityEvent(w.cust, "kim.example.com")
	w.fake.AccountEvent(w.cust, true, "")
	w.fake.DeletePost(follow)
	again := w.fake.AddPost(w.cust, "電波が入らない", bskyfake.PostOptions{})
	waitFor(t, "the post after the reconnect", func() bool { _, ok := w.sink.post(again); return ok })
	st := w.src.Stats()
	if st.Identity != 1 || st.Account != 1 || st.DeletesOfIngested != 1 {
		t.Errorf("stats %+v, want one identity, one account event, one delete of an ingested post", st)
	}
	for uri, n := range w.sink.ids {
		if n > 1 && uri != hit && uri != follow {
			t.Errorf("%s ingested %d times", uri, n)
		}
	}
}

func TestJetstreamWatchdogFailsOverFromASilentSocket(t *testing.T) {
	w := newJetWorld(t)
	first := w.fake.AddPost(w.cust, "signal gone", bskyfake.PostOptions{})
	waitFor(t, "the first post", func() bool { _, ok := w.sink.post(first); return ok })
	w.js[0].SetSilent(true)
	lost := w.fake.AddPost(w.cust, "still no signal", bskyfake.PostOptions{})
	time.Sleep(50 * time.Millisecond)
	if _, ok := w.sink.post(lost); ok {
		t.Fatal("the silent instance delivered")
	}
	w.clock.Advance(29 * time.Second)
	time.Sleep(50 * time.Millisecond)
	if w.js[1].Connections() != 0 {
		t.Fatal("failed over before the silence limit")
	}
	w.clock.Advance(time.Second)
	w.waitConnected(t, 1)
	waitFor(t, "the post the silent socket swallowed", func() bool { _, ok := w.sink.post(lost); return ok })
	if st := w.src.Stats(); st.Silent != 1 {
		t.Errorf("stats %+v, want one silent socket", st)
	}
}

func TestRateLimitedWriteWaitsForTheReset(t *testing.T) {
	w := newWorld(t)
	post := w.fake.AddPost(w.cust, "refund please", bskyfake.PostOptions{})
	w.fake.FailNext("com.atproto.repo.createRecord", 429, "RateLimitExceeded")
	_, err := NewReplier(w.c).Reply(t.Context(), ourHandle, post, "On it.")
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Code != CodeRateLimited || se.Permanent || se.RetryAfter < time.Minute || se.RetryAfter > 62*time.Second {
		t.Fatalf("429: %v (retry after %v), want a temporary 429 until ratelimit-reset", err, se.RetryAfter)
	}
	if why := (Network{}).Explain(se, ourHandle, ""); !strings.Contains(why, "rate-limiting") {
		t.Errorf("explained as %q", why)
	}
}

// Two replicas share the store: after one refreshed the session (spending
// the refresh token), the other takes the saved session instead of
// refreshing with the spent token and signing in again.
func TestSessionRefreshedByAnotherReplica(t *testing.T) {
	w := newWorld(t, bskyfake.WithAccessTTL(time.Hour))
	post := w.fake.AddPost(w.cust, "hello", bskyfake.PostOptions{})
	a, b := w.client(), w.client()
	for _, c := range []*Client{a, b} {
		if _, err := NewFetcher(c).FetchPost(t.Context(), post); err != nil {
			t.Fatal(err)
		}
	}
	w.clock.Advance(2 * time.Hour)
	for _, c := range []*Client{a, b} {
		if _, err := NewFetcher(c).FetchPost(t.Context(), post); err != nil {
			t.Fatal(err)
		}
	}
	if s, r := w.fake.Calls("com.atproto.server.createSession"), w.fake.Calls("com.atproto.server.refreshSession"); s != 1 || r != 1 {
		t.Errorf("createSession %d, refreshSession %d; want 1 and 1", s, r)
	}
}

// A restart resumes from the saved cursor (rewound), not from the live
// tail: posts made while carebridge was down are read.
func TestJetstreamResumesFromTheSavedCursor(t *testing.T) {
	w := newWorld(t)
	js := w.fake.NewJetstream()
	while := w.fake.AddPost(w.cust, "no signal while you were down", bskyfake.PostOptions{})
	ev := w.fake.Events()
	saved := ev[len(ev)-1].TimeUS - 1 // the process stopped just before that post
	w.clock.Advance(time.Hour)
	sink := newSink()
	sink.cursors["bsky:jetstream"] = strconv.FormatInt(saved, 10)
	src := NewJetstream(w.c, JetstreamOptions{Instances: []string{js.URL()}, Rewind: 5 * time.Second, Clock: w.clock, Logger: quiet,
		Match: func(p *bridge.Post) bool { return strings.Contains(p.Text, "signal") }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the post made while down", func() bool { _, ok := sink.post(while); return ok })
	if q := js.Queries(); len(q) != 1 || !strings.Contains(q[0], "cursor="+strconv.FormatInt(saved-5_000_000, 10)) {
		t.Errorf("query %q, want the saved cursor less 5 s", q)
	}
}
