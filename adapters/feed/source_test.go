package feed

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/feed/feedfake"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/clocktest"
)

// recordingSink is a bridge.Sink that keeps each batch whole (posts,
// cursor, notice together, as the core's transaction does) in memory.
type recordingSink struct {
	mu      sync.Mutex
	posts   []bridge.Post
	ids     map[string]bool
	cursors map[string]string
	notices []bridge.Report
	batches int
}

func newSink() *recordingSink {
	return &recordingSink{ids: map[string]bool{}, cursors: map[string]string{}}
}

func (s *recordingSink) Ingest(_ context.Context, b bridge.Batch) (bridge.IngestResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	var res bridge.IngestResult
	for _, p := range b.Posts {
		if s.ids[p.ExternalID] {
			res.Duplicate++
			continue
		}
		s.ids[p.ExternalID] = true
		s.posts = append(s.posts, p)
		res.New++
	}
	if b.Cursor != nil {
		s.cursors[b.Cursor.Key] = b.Cursor.Value
	}
	if b.Notice != nil {
		s.notices = append(s.notices, *b.Notice)
	}
	return res, nil
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

func (s *recordingSink) titles() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.posts {
		out = append(out, p.Title)
	}
	return out
}

func (s *recordingSink) state(t *testing.T, feedURL string) state {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var st state
	if raw := s.cursors[CursorKey(feedURL)]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// countingMetrics records what the Source reports.
type countingMetrics struct {
	mu      sync.Mutex
	results map[string]int
	errors  map[string]int
}

func (m *countingMetrics) FeedChecked(feed, result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.results[feed+"/"+result]++
}

func (m *countingMetrics) FeedErrors(feed string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errors[feed] = n
}

func (m *countingMetrics) get(feed string) (map[string]int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for k, v := range m.results {
		if name, res, _ := strings.Cut(k, "/"); name == feed {
			out[res] = v
		}
	}
	return out, m.errors[feed]
}

// t0 is the tests' starting time.
var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// rig runs a Source against the fake on a fake clock.
type rig struct {
	t    *testing.T
	clk  *clocktest.Clock
	fake *feedfake.Server
	sink *recordingSink
	m    *countingMetrics
	src  *Source
	idle chan [2]time.Time
	last [2]time.Time // the latest idle report: now, next
}

func newRig(t *testing.T) *rig {
	clk := clocktest.New(t0)
	fake := feedfake.New(clk)
	t.Cleanup(fake.Close)
	return &rig{t: t, clk: clk, fake: fake, sink: newSink(), m: &countingMetrics{results: map[string]int{}, errors: map[string]int{}},
		idle: make(chan [2]time.Time, 64)}
}

// start runs the Source over feeds until the test ends, and waits until
// its first round of checks is done.
func (r *rig) start(feeds []Feed, opt Options) {
	r.t.Helper()
	opt.Client = r.fake.Client()
	if opt.UserAgent == "" {
		opt.UserAgent = "carebridge-test/1"
	}
	r.src = NewSource(feeds, opt, r.clk, slog.New(slog.NewTextHandler(io.Discard, nil)), r.m)
	r.src.idle = func(now, next time.Time) { r.idle <- [2]time.Time{now, next} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.src.Run(ctx, r.sink) }()
	r.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			r.t.Errorf("Run: %v", err)
		}
	})
	r.waitIdle(t0)
}

// waitIdle waits until the scheduler waits with nothing running, having
// read the clock at `at` or later.
func (r *rig) waitIdle(at time.Time) {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-r.idle:
			r.last = s
			if !s[0].Before(at) {
				return
			}
		case <-deadline:
			r.t.Fatalf("the source did not settle at %s (last idle report %v)", at, r.last)
		}
	}
}

// runUntil moves the clock to end, stopping at every time the scheduler
// waits for, so that each check happens at its own time.
func (r *rig) runUntil(end time.Time) {
	r.t.Helper()
	for {
		next := r.last[1]
		if next.IsZero() || next.After(end) {
			r.clk.Set(end) // nothing is due before: the scheduler sleeps on
			return
		}
		r.clk.Set(next)
		r.waitIdle(next)
	}
}

func item(n int, published time.Time) feedfake.Item {
	return feedfake.Item{GUID: "post-" + string(rune('a'+n)), Link: "https://forum.example/t/" + string(rune('a'+n)),
		Title: "Topic " + string(rune('A'+n)), Author: "mika", HTML: "<p>The <b>router</b> drops</p>", Published: published}
}

// A feed is fetched with conditional requests: a 304 mirrors nothing and
// costs no body; a changed feed gives its new item only; the validators of
// the last answer are sent each time.
func TestConditionalGet(t *testing.T) {
	r := newRig(t)
	r.fake.Publish("forum.example", "/latest.rss", feedfake.Feed{Format: feedfake.RSS, Title: "Forum",
		Items: []feedfake.Item{item(1, t0.Add(-time.Hour)), item(0, t0.Add(-2*time.Hour))}})
	url := "http://forum.example/latest.rss"
	r.start([]Feed{{URL: url, Name: "forum", Interval: 10 * time.Minute}}, Options{})
	if got := r.sink.titles(); len(got) != 2 {
		t.Fatalf("first check mirrored %v, want both recent items", got)
	}
	r.runUntil(t0.Add(10 * time.Minute))
	reqs := r.fake.Requests("forum.example")
	if len(reqs) != 2 || reqs[1].Status != http.StatusNotModified || reqs[1].IfNoneMatch == "" || reqs[1].IfModifiedSince == "" {
		t.Fatalf("second request = %+v, want a conditional request answered 304", reqs)
	}
	if reqs[0].UserAgent != "carebridge-test/1" {
		t.Errorf("User-Agent = %q", reqs[0].UserAgent)
	}
	if got := r.sink.titles(); len(got) != 2 {
		t.Errorf("a 304 mirrored something: %v", got)
	}
	r.fake.AddItem("forum.example", "/latest.rss", item(2, t0.Add(15*time.Minute)))
	r.runUntil(t0.Add(20 * time.Minute))
	if got := r.sink.titles(); len(got) != 3 || got[2] != "Topic C" {
		t.Errorf("after a new item: %v, want the new one added once", got)
	}
	reqs = r.fake.Requests("forum.example")
	if len(reqs) != 3 || reqs[2].Status != http.StatusOK || reqs[2].At != t0.Add(20*time.Minute) {
		t.Errorf("third request = %+v, want a 200 at the interval", reqs[len(reqs)-1])
	}
	res, errs := r.m.get("forum")
	if res["new"] != 2 || res["not_modified"] != 1 || errs != 0 {
		t.Errorf("metrics = %v, errors %d", res, errs)
	}
	if st := r.sink.state(t, url); st.ETag == "" || st.LastModified == "" || !st.NextCheck.Equal(t0.Add(30*time.Minute)) {
		t.Errorf("saved state = %+v", st)
	}
}

// A 429 pushes the next check out by its Retry-After, in seconds or as an
// HTTP date, beyond the interval; the error shows in the metrics until a
// check succeeds.
func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
	}{
		{"seconds", "3600"},
		{"http-date", feedfake.RetryAfterDate(t0.Add(time.Hour))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.fake.Publish("forum.example", "/f", feedfake.Feed{Format: feedfake.Atom, Title: "Forum", Items: []feedfake.Item{item(0, t0)}})
			r.fake.Script("forum.example", "/f", feedfake.Response{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {tc.value}}})
			r.start([]Feed{{URL: "http://forum.example/f", Name: "forum", Interval: time.Minute}}, Options{})
			if res, errs := r.m.get("forum"); res["rate_limited"] != 1 || errs != 1 {
				t.Fatalf("after a 429: metrics %v, consecutive errors %d", res, errs)
			}
			r.runUntil(t0.Add(2 * time.Hour))
			reqs := r.fake.Requests("forum.example")
			if len(reqs) < 2 || reqs[1].At.Before(t0.Add(time.Hour)) {
				t.Fatalf("requests = %+v, want the second no sooner than Retry-After (an hour)", reqs)
			}
			if reqs[1].At != t0.Add(time.Hour) {
				t.Errorf("second request at %s, want right at Retry-After", reqs[1].At)
			}
			if got := r.sink.titles(); len(got) != 1 {
				t.Errorf("mirrored %v after the wait", got)
			}
			if _, errs := r.m.get("forum"); errs != 0 {
				t.Errorf("consecutive errors after a success = %d", errs)
			}
		})
	}
}

// One request at a time per host, at least a second apart; another host
// is not held up.
func TestPerHostSpacing(t *testing.T) {
	r := newRig(t)
	var feeds []Feed
	for _, p := range []string{"/a", "/b", "/c"} {
		r.fake.Publish("forum.example", p, feedfake.Feed{Format: feedfake.RSS, Title: "Forum " + p})
		feeds = append(feeds, Feed{URL: "http://forum.example" + p, Name: "forum" + p[1:], Interval: time.Minute})
	}
	r.fake.Publish("blog.example", "/feed", feedfake.Feed{Format: feedfake.Atom, Title: "Blog"})
	feeds = append(feeds, Feed{URL: "http://blog.example/feed", Name: "blog", Interval: time.Minute})
	r.start(feeds, Options{})
	r.runUntil(t0.Add(3 * time.Minute))
	forum := r.fake.Requests("forum.example")
	if len(forum) < 9 {
		t.Fatalf("forum requests = %d, want each feed checked every minute", len(forum))
	}
	if gap, _ := r.fake.MinGap("forum.example"); gap < time.Second {
		t.Errorf("shortest gap between two requests to one host = %s, want at least 1s", gap)
	}
	if forum[0].At != t0 || forum[1].At != t0.Add(time.Second) || forum[2].At != t0.Add(2*time.Second) {
		t.Errorf("first forum requests at %s, %s, %s, want t0, +1s, +2s", forum[0].At, forum[1].At, forum[2].At)
	}
	if blog := r.fake.Requests("blog.example"); len(blog) == 0 || blog[0].At != t0 {
		t.Errorf("the blog waited behind the forum: %+v", blog)
	}
	if n := r.fake.Overlaps(); n != 0 {
		t.Errorf("%d requests overlapped another to the same host", n)
	}
}

// 301 and 308 move the feed for good (kept in the state, asked at once,
// as the new host allows); a 302 is followed for that check only.
func TestRedirects(t *testing.T) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			r := newRig(t)
			r.fake.Move("old.example", "/rss", status, "http://new.example/feed.xml")
			r.fake.Publish("new.example", "/feed.xml", feedfake.Feed{Format: feedfake.RSS, Title: "Moved", Items: []feedfake.Item{item(0, t0)}})
			url := "http://old.example/rss"
			r.start([]Feed{{URL: url, Name: "moved", Interval: 5 * time.Minute}}, Options{})
			r.runUntil(t0.Add(11 * time.Minute))
			if old := r.fake.Requests("old.example"); len(old) != 1 {
				t.Errorf("old address asked %d times, want once", len(old))
			}
			nw := r.fake.Requests("new.example")
			if len(nw) != 3 || nw[0].At != t0 || nw[1].At != t0.Add(5*time.Minute) {
				t.Errorf("new address requests = %+v", nw)
			}
			if st := r.sink.state(t, url); st.URL != "http://new.example/feed.xml" {
				t.Errorf("saved URL = %q", st.URL)
			}
			if got := r.sink.titles(); len(got) != 1 {
				t.Errorf("mirrored %v", got)
			}
		})
	}
	t.Run("Found", func(t *testing.T) {
		r := newRig(t)
		r.fake.Script("home.example", "/rss", feedfake.Response{Status: http.StatusFound, Header: http.Header{"Location": {"/mirror.rss"}}})
		r.fake.Publish("home.example", "/rss", feedfake.Feed{Format: feedfake.RSS, Title: "Home"})
		r.fake.Publish("home.example", "/mirror.rss", feedfake.Feed{Format: feedfake.RSS, Title: "Mirror", Items: []feedfake.Item{item(0, t0)}})
		url := "http://home.example/rss"
		r.start([]Feed{{URL: url, Name: "home", Interval: 5 * time.Minute}}, Options{})
		r.runUntil(t0.Add(6 * time.Minute))
		var paths []string
		for _, q := range r.fake.Requests("home.example") {
			paths = append(paths, q.Path)
		}
		if strings.Join(paths, " ") != "/rss /mirror.rss /rss" {
			t.Errorf("paths = %v, want the temporary target once, then the feed's own address", paths)
		}
		if st := r.sink.state(t, url); st.URL != "" || st.TempURL != "" {
			t.Errorf("a temporary redirect changed the address: %+v", st)
		}
	})
}

// 410 Gone disables the feed, says so once in the triage channel (in the
// same batch as the state), and the feed is never asked again.
func TestGoneDisables(t *testing.T) {
	r := newRig(t)
	r.fake.Gone("forum.example", "/old")
	url := "http://forum.example/old"
	r.start([]Feed{{URL: url, Name: "old-forum", Interval: time.Minute}}, Options{})
	r.runUntil(t0.Add(time.Hour))
	if n := len(r.fake.Requests("forum.example")); n != 1 {
		t.Errorf("a gone feed was asked %d times", n)
	}
	if len(r.sink.notices) != 1 || !strings.Contains(r.sink.notices[0].Title, "old-forum") ||
		!strings.Contains(r.sink.notices[0].Sections[0].Text, "410 Gone") {
		t.Errorf("notices = %+v", r.sink.notices)
	}
	if st := r.sink.state(t, url); !st.Disabled {
		t.Errorf("state = %+v, want disabled", st)
	}
	// A restart reads the state and leaves the feed alone.
	r2 := &rig{t: t, clk: r.clk, fake: r.fake, sink: r.sink, m: r.m, idle: make(chan [2]time.Time, 64)}
	r2.start([]Feed{{URL: url, Name: "old-forum", Interval: time.Minute}}, Options{})
	if n := len(r.fake.Requests("forum.example")); n != 1 {
		t.Errorf("after a restart the gone feed was asked again")
	}
}

// Items are keyed by GUID, GUID and link when a GUID repeats, link
// without a GUID, and a hash of title and content without either; the
// same item listed twice is one post; a feed re-sent without validators
// mirrors nothing twice.
func TestDedupe(t *testing.T) {
	r := newRig(t)
	recent := t0.Add(-time.Minute)
	items := []feedfake.Item{
		{GUID: "g1", Link: "https://f.example/1", Title: "one", Published: recent},
		{GUID: "g1", Link: "https://f.example/1", Title: "one again", Published: recent}, // the same item listed twice
		{GUID: "dup", Link: "https://f.example/2", Title: "two", Published: recent},
		{GUID: "dup", Link: "https://f.example/3", Title: "three", Published: recent}, // a GUID reused for another post
		{Link: "https://f.example/4", Title: "four", Published: recent},               // no GUID
		{Title: "five", HTML: "no link, no guid", Published: recent},
	}
	r.fake.Publish("f.example", "/feed", feedfake.Feed{Format: feedfake.RSS, Title: "F", Items: items, NoValidators: true})
	r.start([]Feed{{URL: "http://f.example/feed", Name: "f", Interval: time.Minute}}, Options{})
	r.runUntil(t0.Add(3 * time.Minute))
	got := r.sink.titles()
	if strings.Join(got, ",") != "one,two,three,four,five" {
		t.Errorf("mirrored %v, want each item once", got)
	}
	if n := len(r.fake.Requests("f.example")); n != 4 {
		t.Errorf("requests = %d", n)
	}
	if res, _ := r.m.get("f"); res["unchanged"] != 3 {
		t.Errorf("metrics = %v", res)
	}
}

// The first check of a new feed mirrors only items newer than the
// horizon (undated ones count as old); the archive stays unmirrored at
// later checks; an item that appears later is mirrored whatever its date.
func TestHorizon(t *testing.T) {
	r := newRig(t)
	r.fake.Publish("blog.example", "/atom", feedfake.Feed{Format: feedfake.Atom, Title: "Blog", Items: []feedfake.Item{
		item(0, t0.Add(-2*time.Hour)), item(1, t0.Add(-3*24*time.Hour)), item(2, time.Time{}), item(3, t0.Add(-25*time.Hour)),
	}})
	r.start([]Feed{{URL: "http://blog.example/atom", Name: "blog", Interval: time.Minute}}, Options{})
	if got := r.sink.titles(); strings.Join(got, ",") != "Topic A" {
		t.Fatalf("first check mirrored %v, want only the item of the last 24 h", got)
	}
	late := item(4, t0.Add(-48*time.Hour)) // published long ago, listed now
	r.fake.AddItem("blog.example", "/atom", late)
	r.runUntil(t0.Add(2 * time.Minute))
	if got := r.sink.titles(); strings.Join(got, ",") != "Topic A,Topic E" {
		t.Errorf("later checks mirrored %v, want the new item only", got)
	}
}

// Feeds in ISO-8859-1 or Shift_JIS, declared in the prolog or the
// header, or declared wrongly, and with stray control characters, read
// as the text they are.
func TestCharsets(t *testing.T) {
	cases := []struct {
		name  string
		feed  feedfake.Feed
		title string
	}{
		{"latin1-prolog", feedfake.Feed{Encoding: "ISO-8859-1"}, "Café ñandú"},
		{"latin1-header-only", feedfake.Feed{Encoding: "ISO-8859-1", Declare: "-", HeaderCharset: "iso-8859-1"}, "Café ñandú"},
		{"latin1-labelled-utf8", feedfake.Feed{Encoding: "ISO-8859-1", Declare: "UTF-8"}, "Café ñandú"},
		{"utf8-labelled-latin1", feedfake.Feed{Declare: "ISO-8859-1", HeaderCharset: "ISO-8859-1"}, "Café ñandú"},
		{"shift-jis", feedfake.Feed{Encoding: "Shift_JIS"}, "電波がつながらない"},
		{"shift-jis-header", feedfake.Feed{Encoding: "Shift_JIS", Declare: "-", HeaderCharset: "Shift_JIS"}, "電波がつながらない"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			f := tc.feed
			f.Format, f.Title = feedfake.RSS, "F"
			f.Items = []feedfake.Item{{GUID: "1", Title: tc.title, HTML: tc.title + " \x1c\x08 ok", Published: t0}}
			r.fake.Publish("f.example", "/rss", f)
			r.start([]Feed{{URL: "http://f.example/rss", Name: "f", Interval: time.Minute}}, Options{})
			r.sink.mu.Lock()
			defer r.sink.mu.Unlock()
			if len(r.sink.posts) != 1 || r.sink.posts[0].Title != tc.title || r.sink.posts[0].Text != tc.title+" ok" {
				t.Errorf("posts = %+v, want title %q", r.sink.posts, tc.title)
			}
		})
	}
}

// An oversize document is an error, never cut; consecutive errors back off
// exponentially from the interval and show in the metrics; a success
// resets them.
func TestOversizeAndBackoff(t *testing.T) {
	r := newRig(t)
	r.fake.Publish("f.example", "/big", feedfake.Feed{Format: feedfake.RSS, Title: "Big", Pad: 4096, Items: []feedfake.Item{item(0, t0)}})
	r.start([]Feed{{URL: "http://f.example/big", Name: "big", Interval: time.Minute}}, Options{MaxBodyBytes: 2048})
	if _, errs := r.m.get("big"); errs != 1 {
		t.Fatalf("consecutive errors = %d after an oversize body", errs)
	}
	r.runUntil(t0.Add(6*time.Minute + 30*time.Second))
	reqs := r.fake.Requests("f.example")
	var at []time.Duration
	for _, q := range reqs {
		at = append(at, q.At.Sub(t0))
	}
	if len(at) != 3 || at[1] != 2*time.Minute || at[2] != 6*time.Minute {
		t.Errorf("requests at %v, want 0, 2m, 6m (backing off 2×, 4× the interval); last idle %v", at, r.last)
	}
	if len(r.sink.titles()) != 0 {
		t.Errorf("an oversize document was mirrored")
	}
	if _, errs := r.m.get("big"); errs != 3 {
		t.Errorf("consecutive errors = %d, want 3", errs)
	}
	r.fake.Publish("f.example", "/big", feedfake.Feed{Format: feedfake.RSS, Title: "Big", Items: []feedfake.Item{item(0, t0)}})
	r.runUntil(t0.Add(15 * time.Minute))
	if _, errs := r.m.get("big"); errs != 0 || len(r.sink.titles()) != 1 {
		t.Errorf("after a good document: errors %d, posts %v", errs, r.sink.titles())
	}
}

// The next check waits for the longest of the interval, <ttl>,
// Cache-Control max-age and Expires.
func TestCacheHints(t *testing.T) {
	for _, tc := range []struct {
		name string
		feed feedfake.Feed
		want time.Duration
	}{
		{"ttl", feedfake.Feed{TTL: 90}, 90 * time.Minute},
		{"max-age", feedfake.Feed{CacheControl: "public, max-age=3000"}, 50 * time.Minute},
		{"expires", feedfake.Feed{Expires: t0.Add(40 * time.Minute).Format(http.TimeFormat)}, 40 * time.Minute},
		{"interval", feedfake.Feed{CacheControl: "max-age=60"}, 30 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			f := tc.feed
			f.Format, f.Title = feedfake.RSS, "F"
			r.fake.Publish("f.example", "/rss", f)
			r.start([]Feed{{URL: "http://f.example/rss", Name: "f", Interval: 30 * time.Minute}}, Options{})
			r.runUntil(t0.Add(2 * time.Hour))
			reqs := r.fake.Requests("f.example")
			if len(reqs) < 2 || reqs[1].At.Sub(t0) != tc.want {
				t.Errorf("requests = %+v, want the second at +%s", reqs, tc.want)
			}
		})
	}
}
