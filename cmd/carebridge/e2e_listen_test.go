package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/file"
	"github.com/carebridge/carebridge/bridge/route"
)

// e2eOutage is how long the Slack outage of the listening test lasts
// (CAREBRIDGE_E2E_OUTAGE shortens it while developing).
func e2eOutage() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("CAREBRIDGE_E2E_OUTAGE")); err == nil {
		return d
	}
	return 30 * time.Second
}

// TestListenAndMirror serves 300 generated posts (English, Japanese,
// Korean; conversations with answers and follow-ups) through search,
// mentions and the stream at once, with a Slack 429 storm and a Slack
// outage in the middle, at the platforms' limits (harness), and checks
// that every post appears exactly once, in the right channel, threaded by
// conversation, parent before reply, with its text intact.
func TestListenAndMirror(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute and a half of replay at Slack's pace; skipped with -short")
	}
	t.Parallel() // with the other end-to-end tests
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each store has its own fakes; most of the time is Slack's pacing
			testListenAndMirror(t, storeURL(t))
		})
	}
}

func testListenAndMirror(t *testing.T, storeURL string) {
	posts := generatedPosts(300, 1)
	// The search finds the posts that name the company and the accounts'
	// answers, the mentions pollers those that mention an account, the
	// stream (every search is a rule) the first kind again: many posts
	// come through two sources at once, and every source delivers some.
	searches := []string{companySearch, "from:hostile_1"} // the hostile post below
	h := newHarness(t, storeURL, harnessOptions{brands: []string{"SBCare", "SBCareWiFi"}, searches: searches, stream: true})
	brands := h.brands
	stop := h.start()
	defer stop()
	if err := h.x.WaitStreamConnected(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The same hostile post, seen by search, mentions and the stream.
	hostile := replayPost{author: "hostile_1"}
	hostile.ExternalID, hostile.Text = "hostile-1", "@AppleSupport <!channel> my iphone <@U0MANAGER> is dead <https://evil.example|https://apple.com/reset> & more"
	posts = append(posts, hostile)

	outage := e2eOutage()
	phase := func(from, to int) {
		for _, p := range posts[from:to] {
			h.publish(p)
			time.Sleep(2 * time.Millisecond)
		}
	}
	phase(0, 120)
	h.slack.RateLimitStorm("chat.postMessage", 60, time.Second)
	phase(120, 210)
	h.slack.SetOutage(true)
	outageEnd := time.Now().Add(outage)
	phase(210, len(posts))
	time.Sleep(time.Until(outageEnd))
	h.slack.SetOutage(false)

	want := len(posts)
	eventually(t, 2*time.Minute, "every post mirrored", func() (bool, string) {
		got := 0
		for _, ms := range h.mirrors() {
			for _, m := range ms {
				if !m.fyi {
					got++
					break
				}
			}
		}
		return got >= want, fmt.Sprintf("%d of %d posts mirrored", got, want)
	})
	time.Sleep(500 * time.Millisecond) // anything doubled would land now

	router, err := h.cfg.Router()
	if err != nil {
		t.Fatal(err)
	}
	m := h.mirrors()
	byFake := map[string]replayPost{}
	for _, p := range posts {
		byFake[h.ids[p.ExternalID]] = p
	}
	parentOf := h.parents
	rootOf := func(id string) string {
		for parentOf[id] != "" {
			id = parentOf[id]
		}
		return id
	}
	wrongChannel := 0
	for fakeID, p := range byFake {
		var own []mirrored
		for _, x := range m[fakeID] {
			if !x.fyi {
				own = append(own, x)
			}
		}
		if len(own) != 1 {
			t.Errorf("post %s (%q) mirrored %d times", p.ExternalID, p.Text, len(own))
			continue
		}
		msg := own[0]
		if !strings.Contains(msg.body, p.Text) {
			t.Errorf("post %s text does not round-trip:\nwant %q\nin   %q", p.ExternalID, p.Text, msg.body)
		}
		root := byFake[rootOf(fakeID)]
		res := router.Route(route.Input{Text: root.Text, Mentions: officialMentions(root.Text, brands)})
		if msg.channel != channelOf(res.Department) {
			wrongChannel++
			t.Errorf("post %s in %s, want %s (conversation root %q)", p.ExternalID, msg.channel, channelOf(res.Department), root.Text)
		}
		rootMsg := m[rootOf(fakeID)]
		if rootOf(fakeID) != fakeID {
			if len(rootMsg) == 0 {
				t.Errorf("root of %s not mirrored", p.ExternalID)
				continue
			}
			var rootTS string
			for _, r := range rootMsg {
				if !r.fyi {
					rootTS = r.ts
				}
			}
			if msg.threadTS != rootTS {
				t.Errorf("post %s not in its conversation's thread (thread %q, root message %q)", p.ExternalID, msg.threadTS, rootTS)
			}
			if parent := parentOf[fakeID]; parent != "" {
				for _, pm := range m[parent] {
					if !pm.fyi && pm.ts >= msg.ts {
						t.Errorf("reply %s posted before the post it answers", p.ExternalID)
					}
				}
			}
		} else if msg.threadTS != "" {
			t.Errorf("conversation root %s posted inside a thread", p.ExternalID)
		}
	}
	// FYI copies: every post whose route continues to another department.
	fyi := 0
	for _, ms := range m {
		for _, x := range ms {
			if x.fyi {
				fyi++
			}
		}
	}
	t.Logf("%d posts mirrored exactly once (%d FYI copies), %d channels", len(byFake), fyi, len(e2eDepartments))
	if fyi == 0 {
		t.Error("no FYI copies although some posts match a continue rule")
	}
	// The hostile post pings nobody: nothing but the bot wrote, and the
	// markup is escaped in the stored message.
	for _, d := range e2eDepartments {
		for _, msg := range h.slack.Messages(d.channel) {
			if strings.Contains(string(msg.Blocks), "<!channel>") || strings.Contains(msg.Text, "<!channel>") || strings.Contains(string(msg.Blocks), "<@U0MANAGER>") {
				t.Errorf("live mention in %s: %s", d.channel, msg.Text)
			}
		}
	}
	// The backlog, the sources, the errors of the storm and the latency are
	// all visible to Prometheus.
	resp, err := http.Get("http://" + h.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`carebridge_posts_ingested_total{platform="x",source="search"}`,
		`carebridge_posts_ingested_total{platform="x",source="mention"}`,
		`carebridge_posts_ingested_total{platform="x",source="stream"}`,
		`carebridge_tickets_opened_total{department="devices"}`,
		`carebridge_outbox_depth{kind="chat.post"} 0`,
		`carebridge_outbox_oldest_age_seconds{kind="chat.post"}`,
		`carebridge_api_errors_total{code="ratelimited",platform="slack"}`,
		`carebridge_post_to_chat_seconds_count`,
		`carebridge_store_up 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The series above exist from the start (at 0, metrics_init.go): the
	// storm and the outage must have counted.
	slackErrors := 0.0
	for _, m := range regexp.MustCompile(`(?m)^carebridge_api_errors_total\{code="[^"]*",platform="slack"\} (\S+)$`).FindAllStringSubmatch(string(metrics), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		slackErrors += v
	}
	if slackErrors == 0 {
		t.Error("/metrics counted no Slack error during the storm and the outage")
	}
	// Several sources saw the same posts.
	bySource := map[string]int{}
	for _, r := range h.x.Requests() {
		bySource[string(r.Endpoint)]++
	}
	if bySource[string("GET /2/tweets/search/recent")] == 0 || bySource[string("GET /2/users/:id/mentions")] == 0 || h.x.StreamConnects() == 0 {
		t.Errorf("not every source ran: %v, stream connects %d", bySource, h.x.StreamConnects())
	}
}

// officialMentions lists the brands a text mentions, as the normalizer does.
func officialMentions(text string, brands []string) []string {
	var out []string
	for _, m := range file.Mentions(text) {
		for _, b := range brands {
			if strings.EqualFold(b, m) {
				out = append(out, strings.ToLower(b))
			}
		}
	}
	sort.Strings(out)
	return out
}
