package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/slack/slackfake"

	"github.com/carebridge/carebridge/adapters/feed/feedfake"
	"github.com/carebridge/carebridge/bridge/clocktest"
)

// Blogs and forums end to end, on both stores, on one fake clock shared
// by carebridge, the fake Slack and the fake sites: each feed's new items
// are mirrored once to their department as articles (title, author,
// excerpt, link), the archive stays out, a 429 holds the feed for its
// Retry-After, a 304 mirrors nothing, requests to one host never overlap
// and are at least a second apart, a 410 puts a notice in the triage
// channel, a staff reply is told to answer on the site while note: stays
// silent, and after a restart the saved state (validators, schedule)
// carries on without mirroring anything twice.
func TestFeedsEndToEnd(t *testing.T) {
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			// 13:00 in Tokyo: the test's hour crosses no digest time.
			clk := clocktest.New(time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC))
			t0 := clk.Now()
			sites := feedfake.New(clk)
			t.Cleanup(sites.Close)
			hostA := sites.Addr()                                        // 127.0.0.1:port
			hostB := strings.Replace(hostA, "127.0.0.1", "localhost", 1) // the same fake, another host
			sites.Publish(hostA, "/forum.rss", feedfake.Feed{Format: feedfake.RSS, Title: "Community", Items: []feedfake.Item{
				{GUID: "t-2", Link: "https://community.example/t/2", Title: "Router drops wifi every evening", Author: "mika",
					HTML: "<p>Since the update my <b>router</b> drops every evening.</p>", Published: t0.Add(-time.Hour)},
				{GUID: "t-1", Link: "https://community.example/t/1", Title: "Old archive post about wifi", Author: "old",
					HTML: "<p>wifi from last year</p>", Published: t0.Add(-400 * 24 * time.Hour)},
			}})
			sites.Publish(hostA, "/blog.atom", feedfake.Feed{Format: feedfake.Atom, Title: "Gadget blog", Items: []feedfake.Item{
				{GUID: "urn:b1", Link: "https://blog.example/b1", Title: "Our review of the new handset", Author: "Sam",
					HTML: "<p>Nothing any rule knows.</p>", Published: t0.Add(-10 * time.Minute)},
			}})
			sites.Script(hostA, "/busy.rss", feedfake.Response{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"300"}}})
			sites.Publish(hostA, "/busy.rss", feedfake.Feed{Format: feedfake.RSS, Title: "Busy forum", Items: []feedfake.Item{
				{GUID: "z1", Link: "https://busy.example/z1", Title: "Billing page shows a double charge", HTML: "charged twice", Published: t0},
			}})
			sites.Gone(hostB, "/gone.rss")
			extra := fmt.Sprintf(`feeds:
  user_agent: "carebridge-e2e/1"
  subscriptions:
    - url: http://%[1]s/forum.rss
      name: forum
      interval: 1m
    - url: http://%[1]s/blog.atom
      name: blog
      interval: 1m
      department: devices
    - url: http://%[1]s/busy.rss
      name: busy
      interval: 1m
    - url: http://%[2]s/gone.rss
      name: gone-forum
      interval: 1m
`, hostA, hostB)
			h := newHarness(t, storeURL(t), harnessOptions{extra: extra, slack: []slackfake.Option{slackfake.WithClock(clk)}})
			stop := startOnClock(t, h, clk)

			// t0: the forum, then a second later the blog, then the busy
			// forum (429) on host A; host B's gone feed at once.
			advanceUntil(t, clk, time.Second, 5*time.Second, "the first round of checks", func() (bool, string) {
				return len(sites.Requests(hostA)) >= 3 && len(sites.Requests(hostB)) >= 1, fmt.Sprintf("%d and %d requests", len(sites.Requests(hostA)), len(sites.Requests(hostB)))
			})
			forum := waitArticle(t, h, clk, "C0WIFI", "Router drops wifi every evening")
			for _, want := range []string{"*mika*", "Since the update my router drops every evening.", "<https://community.example/t/2|", "answer on the site"} {
				if !strings.Contains(forum.body, want) {
					t.Errorf("the forum post's message lacks %q:\n%s", want, forum.body)
				}
			}
			waitArticle(t, h, clk, "C0DEVICES", "Our review of the new handset") // no rule matched: the feed's department
			advanceUntil(t, clk, time.Second, 10*time.Second, "the gone notice in triage", func() (bool, string) {
				return channelHas(t, h, "C0TRIAGE", "A feed is gone: gone-forum"), "not yet"
			})

			// A reply to the forum post: told to answer on the site; a
			// note stays a note.
			if _, err := h.slack.UserPosts("C0WIFI", "U0STAFF01", forum.ts, "note: asked the firmware team"); err != nil {
				t.Fatal(err)
			}
			if _, err := h.slack.UserPosts("C0WIFI", "U0STAFF01", forum.ts, "We are on it, sorry!"); err != nil {
				t.Fatal(err)
			}
			advanceUntil(t, clk, 0, 10*time.Second, "the answer-on-the-site notice", func() (bool, string) {
				return threadCount(h, "C0WIFI", forum.ts, "can't answer there") == 1, "not yet"
			})

			// The busy forum waits out its Retry-After (300 s; the backoff alone would be 120 s), then its
			// item is mirrored; meanwhile the forum answers 304s.
			advanceUntil(t, clk, 15*time.Second, 20*time.Second, "the busy forum after Retry-After", func() (bool, string) {
				return channelHas(t, h, "C0BILLING", "Billing page shows a double charge"), clk.Now().Sub(t0).String()
			})
			var busy []feedfake.Request
			for _, r := range sites.Requests(hostA) {
				if r.Path == "/busy.rss" {
					busy = append(busy, r)
				}
			}
			if len(busy) < 2 || busy[0].Status != http.StatusTooManyRequests || busy[1].At.Sub(busy[0].At) < 300*time.Second {
				t.Errorf("busy forum requests = %+v, want the second 300 s or more after the 429", busy)
			}
			notModified := 0
			for _, r := range sites.Requests(hostA) {
				if r.Path == "/forum.rss" && r.Status == http.StatusNotModified {
					notModified++
					if r.IfNoneMatch == "" || r.UserAgent != "carebridge-e2e/1" {
						t.Errorf("a 304 without validators or with another agent: %+v", r)
					}
				}
			}
			if notModified == 0 {
				t.Errorf("the forum was never asked conditionally: %+v", sites.Requests(hostA))
			}
			if gap, _ := sites.MinGap(hostA); gap < time.Second || sites.Overlaps() != 0 {
				t.Errorf("host spacing: shortest gap %s, %d overlaps", gap, sites.Overlaps())
			}
			if n := len(sites.Requests(hostB)); n != 1 {
				t.Errorf("the gone feed was asked %d times", n)
			}

			// Restart: the state comes from the store; a new item is
			// mirrored, nothing twice, and the first request is
			// conditional.
			stop()
			before := len(sites.Requests(hostA))
			sites.AddItem(hostA, "/forum.rss", feedfake.Item{GUID: "t-3", Link: "https://community.example/t/3", Title: "Hotspot will not connect",
				Author: "ren", HTML: "hotspot", Published: clk.Now()})
			startOnClock(t, h, clk)
			waitArticle(t, h, clk, "C0WIFI", "Hotspot will not connect")
			if r := sites.Requests(hostA)[before]; r.Path == "/forum.rss" && r.IfNoneMatch == "" {
				t.Errorf("after a restart the forum was asked without its saved validators: %+v", r)
			}
			for title, want := range map[string]int{"Router drops wifi every evening": 1, "Old archive post": 0, "Hotspot will not connect": 1} {
				if n := articles(t, h, title); n != want {
					t.Errorf("%q shown %d times, want %d", title, n, want)
				}
			}
		})
	}
}

// startOnClock runs carebridge in-process on clk until the test ends or
// stop is called.
func startOnClock(t *testing.T, h *harness, clk *clocktest.Clock) (stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() && os.Getenv("CAREBRIDGE_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, h.cfg, appOptions{Logger: logger, Listener: ln, PollInterval: 20 * time.Millisecond, Clock: clk, LeaderCheck: 50 * time.Millisecond})
	if err != nil {
		cancel()
		t.Fatalf("newApp: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("carebridge stopped with %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// advanceUntil moves clk by step every 50 ms of wall time until cond
// holds, for at most timeout of wall time.
func advanceUntil(t *testing.T, clk *clocktest.Clock, step, timeout time.Duration, what string, cond func() (bool, string)) {
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
		clk.Advance(step)
	}
	t.Fatalf("timed out waiting for %s: %s", what, last)
}

type article struct{ ts, body string }

// waitArticle waits for the parent message in channel that shows title.
func waitArticle(t *testing.T, h *harness, clk *clocktest.Clock, channel, title string) article {
	t.Helper()
	var a article
	advanceUntil(t, clk, time.Second, 15*time.Second, "an article "+title+" in "+channel, func() (bool, string) {
		for _, m := range h.slack.Messages(channel) {
			if body := sectionText(t, m.Blocks); m.FromBot() && m.ThreadTS == "" && strings.Contains(slackad.Unescape(body), title) {
				a = article{ts: m.TS, body: body + "\n" + m.Text + "\n" + string(m.Blocks)}
				return true, ""
			}
		}
		return false, "not there"
	})
	return a
}

// articles counts the parent messages of every channel that show title.
func articles(t *testing.T, h *harness, title string) int {
	n := 0
	for _, d := range e2eDepartments {
		for _, m := range h.slack.Messages(d.channel) {
			if m.FromBot() && m.ThreadTS == "" && !isReport(t, m.Blocks) && strings.Contains(slackad.Unescape(sectionText(t, m.Blocks)), title) {
				n++
			}
		}
	}
	return n
}

// channelHas reports whether a bot message in channel contains text.
func channelHas(t *testing.T, h *harness, channel, text string) bool {
	for _, m := range h.slack.Messages(channel) {
		if m.FromBot() && (strings.Contains(slackad.Unescape(m.Text), text) || strings.Contains(slackad.Unescape(string(m.Blocks)), text)) {
			return true
		}
	}
	return false
}

// threadCount counts the bot's messages in a thread that contain text.
func threadCount(h *harness, channel, ts, text string) int {
	n := 0
	for _, m := range h.slack.Thread(channel, ts) {
		if m.FromBot() && strings.Contains(m.Text, text) {
			n++
		}
	}
	return n
}
