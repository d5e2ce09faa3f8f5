package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/bridge"
)

func newFake(t *testing.T, opts ...slackfake.Option) (*slackfake.Server, *Publisher) {
	t.Helper()
	f := slackfake.New(opts...)
	t.Cleanup(f.Close)
	f.AddChannel("C0NETWORK", "care-network")
	f.AddChannel("C0TRIAGE", "care-triage")
	return f, NewPublisher(NewClient(f.Identity().BotToken, nil, slack.OptionAPIURL(f.APIURL())), time.UTC)
}

// blockText joins the text of every section block of a message.
func blockText(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var blocks []struct {
		Type string `json:"type"`
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
		Elements []struct {
			Text string `json:"text"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatalf("blocks: %v\n%s", err, raw)
	}
	var parts []string
	for _, b := range blocks {
		if b.Type == "section" {
			parts = append(parts, b.Text.Text)
		}
		for _, e := range b.Elements {
			parts = append(parts, e.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func hostilePost() *bridge.Post {
	return &bridge.Post{
		Platform: bridge.Platform("x"), ExternalID: "1858000000000000001", AuthorHandle: "kim", AuthorName: "Kim <!here>",
		Text:        "<!channel> call <@U123> now & check <https://evil.example|https://bank.example> *bold* 電波",
		URL:         "https://x.com/kim/status/1858000000000000001",
		CreatedAt:   time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC),
		Eligibility: bridge.EligibleDMOnly, Source: bridge.SourceSearch,
	}
}

func TestPublishEscapesAndThreads(t *testing.T) {
	f, p := newFake(t)
	ctx := context.Background()
	post := hostilePost()
	ticket := &bridge.Ticket{ID: 7, Department: "network", Matched: []string{"電波"}, Account: "SBCare"}
	ref, err := p.Publish(ctx, bridge.ChatMessage{Kind: bridge.MessageParent, OutboxID: 41, Channel: "#care-network", Ticket: ticket, Post: post, History: "first contact"})
	if err != nil {
		t.Fatal(err)
	}
	if ref.Channel != "C0NETWORK" || ref.TS == "" {
		t.Fatalf("ref = %+v", ref)
	}
	msgs := f.Messages("C0NETWORK")
	if len(msgs) != 1 {
		t.Fatalf("messages = %d", len(msgs))
	}
	m := msgs[0]
	body := blockText(t, m.Blocks)
	for _, bad := range []string{"<!channel>", "<@U123>", "<https://evil.example|", "<!here>"} {
		if strings.Contains(body, bad) || strings.Contains(m.Text, bad) {
			t.Errorf("message contains live markup %q:\n%s\nfallback: %s", bad, body, m.Text)
		}
	}
	if !strings.Contains(Unescape(body), post.Text) {
		t.Errorf("post text does not round-trip:\n%s", body)
	}
	for _, want := range []string{"Matched: `電波`", "DM only", "Customer: first contact", "<https://x.com/kim|@kim>", "2026-11-20 09:30"} {
		if !strings.Contains(body, want) {
			t.Errorf("message lacks %q:\n%s", want, body)
		}
	}
	if !strings.Contains(string(m.Metadata), `"outbox_id":"41"`) {
		t.Errorf("metadata = %s", m.Metadata)
	}
	// A follow-up goes into the thread.
	reply := *post
	reply.ExternalID, reply.Text = "1858000000000000002", "still broken"
	r2, err := p.Publish(ctx, bridge.ChatMessage{Kind: bridge.MessageReply, OutboxID: 42, Channel: ref.Channel, ThreadTS: ref.TS, Ticket: ticket, Post: &reply})
	if err != nil {
		t.Fatal(err)
	}
	th := f.Thread("C0NETWORK", ref.TS)
	if len(th) != 2 || th[1].TS != r2.TS || th[1].ThreadTS != ref.TS {
		t.Errorf("thread = %+v", th)
	}
	// Long posts are split into blocks Slack accepts and still round-trip.
	long := *post
	long.ExternalID, long.Text = "1858000000000000003", strings.Repeat("<&> 전파 ", 1500)
	if _, err := p.Publish(ctx, bridge.ChatMessage{Kind: bridge.MessageParent, OutboxID: 43, Channel: "#care-triage", Ticket: ticket, Post: &long}); err != nil {
		t.Fatalf("10,000-character post: %v", err)
	}
	tm := f.Messages("C0TRIAGE")[0]
	if got := Unescape(blockText(t, tm.Blocks)); !strings.Contains(strings.ReplaceAll(got, "\n", ""), strings.ReplaceAll(long.Text, "\n", "")) {
		t.Errorf("long text does not round-trip (%d chars back)", len(got))
	}
}

// manualClock is a clock a test moves by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestFindReconcilesByMetadata: a message is found by its outbox id in
// the channel's history or in its thread, at the limits of the unlisted
// app (one history call a minute: the fake clock moves a minute between
// the calls; 15 messages a page).
func TestFindReconcilesByMetadata(t *testing.T) {
	clk := &manualClock{t: time.Now()}
	f, p := newFake(t, slackfake.WithClock(clk))
	ctx := context.Background()
	post := hostilePost()
	ticket := &bridge.Ticket{ID: 7}
	ref, err := p.Publish(ctx, bridge.ChatMessage{Kind: bridge.MessageParent, OutboxID: 99, Channel: "#care-network", Ticket: ticket, Post: post})
	if err != nil {
		t.Fatal(err)
	}
	// A fresh publisher (a restarted process) finds it by channel name.
	api := slack.New(f.Identity().BotToken, slack.OptionAPIURL(f.APIURL()))
	fresh := NewPublisher(api, time.UTC)
	got, ok, err := fresh.Find(ctx, "#care-network", "", 99, time.Time{})
	if err != nil || !ok || got != ref {
		t.Fatalf("Find = %+v %v %v, want %+v", got, ok, err, ref)
	}
	clk.Advance(time.Minute)
	if _, ok, err := fresh.Find(ctx, "#care-network", "", 100, time.Time{}); ok || err != nil {
		t.Errorf("Find of a row never posted = %v %v", ok, err)
	}
	var se *bridge.SendError
	if _, _, err := fresh.Find(ctx, "#care-network", "", 99, time.Time{}); !errors.As(err, &se) || se.Code != "ratelimited" || se.RetryAfter != time.Minute {
		t.Errorf("a second history read within the minute = %v, want ratelimited, retry after a minute", err)
	}
	r2, err := p.Publish(ctx, bridge.ChatMessage{Kind: bridge.MessageReply, OutboxID: 101, Channel: ref.Channel, ThreadTS: ref.TS, Ticket: ticket, Post: post})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := fresh.Find(ctx, ref.Channel, ref.TS, 101, time.Time{}); err != nil || !ok || got.TS != r2.TS {
		t.Errorf("Find in thread = %+v %v %v", got, ok, err)
	}
}

// TestFindPagesThroughBusyChannel: while a crashed process restarts,
// other tickets' messages keep arriving; the lost message is far from the
// newest page and must still be found (it was re-posted before).
func TestFindPagesThroughBusyChannel(t *testing.T) {
	// The Marketplace app's history limits: at the unlisted app's (one
	// page of 15 a minute) this one Find would need 30 pages, which only
	// the relay's pacing of reconciliations can space out. 451 posts in
	// a row: pacing is not under test.
	f, p := newFake(t, slackfake.WithMarketplaceHistory(), slackfake.WithRateLimit(false))
	ctx := context.Background()
	before := time.Now()
	ticket := &bridge.Ticket{ID: 7}
	ref, err := p.Publish(ctx, bridge.ChatMessage{Kind: bridge.MessageParent, OutboxID: 5, Channel: "#care-network", Ticket: ticket, Post: hostilePost()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 450 {
		if _, err := p.Publish(ctx, bridge.ChatMessage{Kind: bridge.MessageParent, OutboxID: int64(1000 + i), Channel: "#care-network", Ticket: ticket, Post: hostilePost()}); err != nil {
			t.Fatal(err)
		}
	}
	api := slack.New(f.Identity().BotToken, slack.OptionAPIURL(f.APIURL()))
	fresh := NewPublisher(api, time.UTC)
	got, ok, err := fresh.Find(ctx, "#care-network", "", 5, before)
	if err != nil || !ok || got != ref {
		t.Fatalf("Find behind 450 newer messages = %+v %v %v, want %+v", got, ok, err, ref)
	}
	// since bounds the search: a row written after the message cannot
	// have posted it.
	if _, ok, err := fresh.Find(ctx, "#care-network", "", 5, time.Now().Add(time.Hour)); ok || err != nil {
		t.Errorf("Find after the message's time = %v %v, want not found", ok, err)
	}
	if n := f.Calls("conversations.history"); n < 3 {
		t.Errorf("%d history calls: the search did not page", n)
	}
}

func TestClassify(t *testing.T) {
	f, p := newFake(t)
	ctx := context.Background()
	msg := bridge.ChatMessage{Kind: bridge.MessageParent, Channel: "#nowhere", Ticket: &bridge.Ticket{}, Post: hostilePost()}
	_, err := p.Publish(ctx, msg)
	var se *bridge.SendError
	if !errors.As(err, &se) || !se.Permanent || se.Code != "channel_not_found" {
		t.Errorf("unknown channel: %v", err)
	}
	f.AddChannel("C0PRIVATE", "care-private")
	f.SetBotMember("C0PRIVATE", false)
	msg.Channel = "C0PRIVATE"
	if _, err := p.Publish(ctx, msg); !bridge.IsPermanent(err) || !strings.Contains(err.Error(), "not_in_channel") {
		t.Errorf("not in channel: %v", err)
	}
	msg.Channel = "#care-network"
	f.RateLimitStorm("chat.postMessage", 1, 3*time.Second)
	_, err = p.Publish(ctx, msg)
	if !errors.As(err, &se) || se.Permanent || se.RetryAfter != 3*time.Second {
		t.Errorf("429: %v", err)
	}
	f.SetOutage(true)
	_, err = p.Publish(ctx, msg)
	if !errors.As(err, &se) || se.Permanent {
		t.Errorf("outage must be retryable: %v", err)
	}
	f.SetOutage(false)
	f.FailNext("chat.postMessage", 200, "invalid_auth", 1)
	if _, err := p.Publish(ctx, msg); !bridge.IsPermanent(err) {
		t.Errorf("invalid_auth must be permanent: %v", err)
	}
}

func TestEscapeAndChunks(t *testing.T) {
	if got := Escape("a & <b> &amp;"); got != "a &amp; &lt;b&gt; &amp;amp;" {
		t.Errorf("Escape = %q", got)
	}
	s := Escape(strings.Repeat("ab&<é電", 1000))
	parts := chunks(s, 2900)
	if strings.Join(parts, "") != s {
		t.Fatal("chunks lose text")
	}
	for _, c := range parts {
		if len(c) > 2900 {
			t.Errorf("chunk of %d bytes", len(c))
		}
		if strings.HasSuffix(c, "&") || strings.HasSuffix(c, "&l") || strings.HasSuffix(c, "&am") {
			t.Errorf("chunk cuts an entity: ...%q", c[len(c)-5:])
		}
	}
}

func TestShowControls(t *testing.T) {
	for in, want := range map[string]string{
		"plain 電波":                      "plain 電波",
		"invoice\u202Efdp.exe":          "invoice[U+202E]fdp.exe",
		"\u2066iso\u2069 \u200Fx\u200E": "[U+2066]iso[U+2069] [U+200F]x[U+200E]",
		"pay\u200Bpal.com\u2060\uFEFF":  "pay[U+200B]pal.com[U+2060][U+FEFF]",
		"👨\u200D👩\u200D👧 می\u200Cخواهم": "👨\u200D👩\u200D👧 می\u200Cخواهم", // ZWJ and ZWNJ are kept
	} {
		if got := ShowControls(in); got != want {
			t.Errorf("ShowControls(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Shown("<!here>\u202E"); got != "&lt;!here&gt;[U+202E]" {
		t.Errorf("Shown = %q", got)
	}
}

// A post too long for one Slack message (over 45 sections of text) is
// published with its beginning and a visible note of how much is left
// out, instead of being refused by Slack (invalid_blocks) and lost.
func TestPublishOverlongPost(t *testing.T) {
	f, p := newFake(t)
	post := hostilePost()
	// Escaped, "&" takes 5 bytes: 30,000 of them need 52 sections.
	post.Text = strings.Repeat("&", 30000)
	ticket := &bridge.Ticket{ID: 7, Department: "network"}
	if _, err := p.Publish(context.Background(), bridge.ChatMessage{Kind: bridge.MessageParent, OutboxID: 1, Channel: "#care-network", Ticket: ticket, Post: post}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	m := f.Messages("C0NETWORK")[0]
	var blocks []json.RawMessage
	json.Unmarshal(m.Blocks, &blocks)
	if len(blocks) > 50 {
		t.Errorf("%d blocks", len(blocks))
	}
	body := blockText(t, m.Blocks)
	shown := strings.Count(Unescape(body), "&")
	if !strings.Contains(body, fmt.Sprintf("… %d more characters not shown here", 30000-shown)) || shown < 25000 {
		t.Errorf("%d of 30000 characters shown, note missing or wrong:\n…%s", shown, body[len(body)-200:])
	}
	// The fake enforces Slack's limits: the untruncated body is refused.
	api := slack.New(f.Identity().BotToken, slack.OptionAPIURL(f.APIURL()))
	var many []slack.Block
	for _, c := range chunks(Escape(post.Text), bodyChunkBytes) {
		many = append(many, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, c, false, false), nil, nil))
	}
	if _, _, err := api.PostMessage("C0NETWORK", slack.MsgOptionBlocks(many...)); err == nil || !strings.Contains(err.Error(), "invalid_blocks") {
		t.Errorf("%d blocks accepted by the fake: %v", len(many), err)
	}
}

// A feed item (a post with a title, listen-only) is shown as an article:
// its title linked to the site, the author, an excerpt (not the whole
// text) and the line that says to answer on the site.
func TestPublishArticle(t *testing.T) {
	f, p := newFake(t)
	post := &bridge.Post{
		Platform: bridge.Platform("feed"), ExternalID: "f1", AuthorName: "mika <!here>", Title: "Router <b>drops</b> every evening",
		Text: strings.Repeat("The signal goes at seven. ", 60) + "THE-END-MARK",
		URL:  "http://forum.example/t/42", CreatedAt: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC),
		Eligibility: bridge.EligibleNone, Source: bridge.SourceFeed,
	}
	if _, err := p.Publish(context.Background(), bridge.ChatMessage{Kind: bridge.MessageParent, OutboxID: 1, Channel: "#care-network",
		Ticket: &bridge.Ticket{ID: 1, Department: "network"}, Post: post}); err != nil {
		t.Fatal(err)
	}
	m := f.Messages("C0NETWORK")[0]
	body := blockText(t, m.Blocks)
	for _, want := range []string{"*<http://forum.example/t/42|Router &lt;b&gt;drops&lt;/b&gt; every evening>*", "*mika &lt;!here&gt;*",
		"The signal goes at seven.", "more characters on the site", "answer on the site"} {
		if !strings.Contains(body, want) {
			t.Errorf("message lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "THE-END-MARK") || strings.Contains(body, "<!here>") {
		t.Errorf("message shows the whole article or live markup:\n%s", body)
	}
	if !strings.Contains(m.Text, "Router") {
		t.Errorf("fallback %q lacks the title", m.Text)
	}
}
