package teams

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/teams/teamsfake"
	"github.com/carebridge/carebridge/bridge"
)

func TestPublishThreadsRepliesNoticesAndCards(t *testing.T) {
	e := newEnv(t)
	root := e.parent("my wifi is down since 9")
	posts := e.fake.Posts(e.channel)
	if len(posts) != 1 || posts[0].ID != root || !posts[0].FromBot {
		t.Fatalf("posts: %+v", posts)
	}
	plain := posts[0].Plain()
	for _, want := range []string{"Kenta", "@kenta", "on X", "my wifi is down since 9", "Matched: wifi", "Public reply possible as @SBCare", "[View the post on X]"} {
		if !strings.Contains(plain, want) {
			t.Errorf("parent lacks %q:\n%s", want, plain)
		}
	}
	reply, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageReply, Channel: e.channel, ThreadTS: root,
		Post: &bridge.Post{Platform: "x", AuthorHandle: "kenta", Text: "still down"}})
	if err != nil {
		t.Fatal(err)
	}
	notice, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageNotice, Channel: e.channel, ThreadTS: root,
		Text: ":x: Rejected by <@" + e.ana.AADObjectID + ">; nothing was sent. *Bold* &lt;3"})
	if err != nil {
		t.Fatal(err)
	}
	thread := e.fake.Thread(e.channel, root)
	if len(thread) != 3 || thread[1].ID != reply.TS || thread[2].ID != notice.TS || reply.Channel != e.channel {
		t.Fatalf("thread: %+v", thread)
	}
	n := thread[2]
	if n.Text != "❌ Rejected by <at>Ana Lima</at>; nothing was sent. <b>Bold</b> &lt;3" || n.TextFormat != "xml" {
		t.Fatalf("notice text %q (%s)", n.Text, n.TextFormat)
	}
	if len(n.Entities) != 1 || n.Entities[0].ID != e.ana.AADObjectID || n.Entities[0].Name != "Ana Lima" || n.Entities[0].Text != "<at>Ana Lima</at>" {
		t.Fatalf("notice mentions %+v", n.Entities)
	}

	// A draft card, then its outcome in place, without buttons.
	draft := bridge.ChatMessage{Kind: bridge.MessageDraft, Channel: e.channel, ThreadTS: root,
		Draft: &bridge.DraftCard{DraftID: 9, Author: e.ana.AADObjectID, Text: "We're *on* it <at>x</at>", Platform: "x", Account: "SBCare"}}
	card, err := e.pub.Publish(e.ctx, draft)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := e.fake.Message(card.TS)
	if got := strings.Join(m.Buttons(), ","); got != "Approve,Send as DM,Reject" {
		t.Fatalf("buttons %q", got)
	}
	if p := m.Plain(); !strings.Contains(p, "Draft #9 by Ana Lima") || !strings.Contains(p, "Public reply as @SBCare on X") || !strings.Contains(p, "We're *on* it <at>x</at>") {
		t.Fatalf("card:\n%s", p)
	}
	if len(m.Entities) != 0 {
		t.Fatalf("the draft card mentions %+v", m.Entities)
	}
	boss := e.fake.AddUser("Bo Manager")
	draft.Draft.Outcome, draft.Draft.DecidedBy = "✅ Sent publicly", boss.AADObjectID
	if err := e.pub.Update(e.ctx, card, draft); err != nil {
		t.Fatal(err)
	}
	m, _ = e.fake.Message(card.TS)
	if len(m.Buttons()) != 0 || m.Updates != 1 || !strings.Contains(m.Plain(), "✅ Sent publicly — decided by Bo Manager") {
		t.Fatalf("updated card (%d buttons, %d updates):\n%s", len(m.Buttons()), m.Updates, m.Plain())
	}
	if _, err := e.fake.UserClicks(e.ctx, e.ana, card.TS, "Approve"); err == nil {
		t.Fatal("a decided card still has its Approve button")
	}

	link, err := e.pub.Permalink(e.ctx, card)
	if err != nil || !strings.HasPrefix(link, "https://teams.microsoft.com/l/message/") || !strings.Contains(link, "parentMessageId="+root) {
		t.Fatalf("permalink %q %v", link, err)
	}
	if err := e.pub.React(e.ctx, card, "white_check_mark", true); err != nil {
		t.Fatalf("React is a no-op, got %v", err)
	}
}

// The core's group mention becomes a tag mention for a configured tag,
// and a plain name otherwise.
func TestReportMentionsAndFYI(t *testing.T) {
	e := newEnv(t)
	e.pub.cfg.Tags = map[string]string{"tag-oncall": "On call"}
	_, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageReport, Channel: e.channel, Report: &bridge.Report{
		Title: "Spike: wifi", Mention: "tag-oncall", Subtitle: "last 15 minutes",
		Sections: []bridge.ReportSection{{Heading: "Posts", Fields: []bridge.ReportField{{Label: "New", Value: "12"}},
			Items: []bridge.ReportItem{{Text: ":rotating_light: 3 breached"}},
			Posts: []bridge.Post{{Platform: "x", AuthorName: "<at>Boss</at>", Text: "**down** <b>again</b>"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	posts := e.fake.Posts(e.channel)
	m := posts[len(posts)-1]
	if len(m.Entities) != 1 || m.Entities[0].Type != "tag" || m.Entities[0].ID != "tag-oncall" || m.Entities[0].Name != "On call" {
		t.Fatalf("report mention %+v", m.Entities)
	}
	for _, want := range []string{"Spike: wifi", "@On call", "New: 12", "🚨 3 breached", "<at>Boss</at>", "**down** <b>again</b>"} {
		if !strings.Contains(m.Plain(), want) {
			t.Errorf("report lacks %q:\n%s", want, m.Plain())
		}
	}
	// An untagged group is a plain name, without a mention.
	_, err = e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageNotice, Channel: e.channel, ThreadTS: posts[0].ID,
		Text: ":warning: <!subteam^S0GROUP|@network-leads> SLA warning"})
	if err != nil {
		t.Fatal(err)
	}
	th := e.fake.Thread(e.channel, posts[0].ID)
	if last := th[len(th)-1]; last.Text != "⚠️ @network-leads SLA warning" || len(last.Entities) != 0 {
		t.Fatalf("untagged group: %q %+v", last.Text, last.Entities)
	}
	fyi, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageFYI, Channel: e.channel, OwnerName: "Billing", OwnerLink: "https://teams.microsoft.com/l/message/x/1",
		Post: &bridge.Post{Platform: "x", AuthorHandle: "kenta", Text: "bill and wifi"}})
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := e.fake.Message(fyi.TS); !m.IsRoot() || !strings.Contains(m.Plain(), "FYI — owned by Billing") || !strings.Contains(m.Plain(), "[Open the thread]") {
		t.Fatalf("fyi:\n%s", m.Plain())
	}
}

// The token is fetched once and shared; an expired token is refused
// with 401, dropped, and the call made once more with a new one.
func TestClientTokenCachedAndRefreshedAfter401(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageNotice, Channel: e.channel, Text: "hello"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := e.fake.TokensIssued(); n != 1 {
		t.Fatalf("%d tokens for concurrent callers, want 1", n)
	}
	// The fake's tokens expire; the client's cache thinks it still has
	// time (the connector's view wins).
	e.fake.ExpireTokens()
	if _, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageNotice, Channel: e.channel, Text: "after expiry"}); err != nil {
		t.Fatal(err)
	}
	if n, r := e.fake.TokensIssued(), e.fake.Count("401"); n != 2 || r != 1 {
		t.Fatalf("tokens %d, 401s %d; want 2 and 1", n, r)
	}
	// Near its expiry on our clock, the client renews before sending.
	e.clock.Advance(56 * time.Minute)
	if _, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageNotice, Channel: e.channel, Text: "renewed"}); err != nil {
		t.Fatal(err)
	}
	if n, r := e.fake.TokensIssued(), e.fake.Count("401"); n != 3 || r != 1 {
		t.Fatalf("tokens %d, 401s %d; want 3 and 1", n, r)
	}
}

func TestClientTokenRefusedIsPermanent(t *testing.T) {
	e := newEnv(t)
	id := e.fake.Identity()
	c, _ := NewClient(ClientConfig{AppID: id.AppID, TenantID: id.TenantID, ClientSecret: "wrong", ServiceURL: e.fake.ServiceURL(), TokenURL: e.fake.TokenURL(), Clock: e.clock, Logger: quiet})
	_, err := NewPublisher(c, PublisherConfig{}).Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageNotice, Channel: e.channel, Text: "x"})
	if se := sendErr(t, err); !se.Permanent || se.Code != "token_invalid_client" {
		t.Fatalf("wrong secret: %+v", se)
	}
	if e.fake.Count("create") != 0 {
		t.Fatal("the connector was called without a token")
	}
}

func TestClientClassifiesConnectorErrors(t *testing.T) {
	e := newEnv(t)
	root := e.parent("hi")
	notice := func() error {
		_, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageNotice, Channel: e.channel, ThreadTS: root, Text: "n"})
		return err
	}
	// The per-thread limit: 7 a second, then 429 with Retry-After.
	var err error
	sent := 1 // the parent
	for ; sent < 20; sent++ {
		if err = notice(); err != nil {
			break
		}
	}
	se := sendErr(t, err)
	if sent != 7 || se.Permanent || se.Code != "TooManyRequests" || se.RetryAfter != time.Second {
		t.Fatalf("after %d sends: %+v", sent, se)
	}
	e.clock.Advance(2 * time.Second)
	for _, c := range []struct {
		status    int
		code      string
		permanent bool
	}{
		{http.StatusPreconditionFailed, "PreconditionFailed", false},
		{http.StatusBadGateway, "BadGateway", false},
		{http.StatusGatewayTimeout, "GatewayTimeout", false},
		{http.StatusForbidden, "BotNotInConversationRoster", true},
		{http.StatusNotFound, "ConversationNotFound", true},
	} {
		e.fake.FailNext("send", c.status, c.code, 3*time.Second)
		se := sendErr(t, notice())
		if se.Permanent != c.permanent || se.Code != c.code || se.Platform != "teams" || (!c.permanent && se.RetryAfter != 3*time.Second) {
			t.Errorf("%d: %+v", c.status, se)
		}
		e.clock.Advance(time.Second)
	}
	// A channel the bot is not in, and a message over Teams' size limit.
	_, err = e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageNotice, Channel: "19:nowhere@thread.tacv2", Text: "x"})
	if se := sendErr(t, err); !se.Permanent || se.Code != "BotNotInConversationRoster" {
		t.Fatalf("unknown channel: %+v", se)
	}
	_, err = e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageNotice, Channel: e.channel, ThreadTS: root, Text: strings.Repeat("long words ", 3000)})
	if se := sendErr(t, err); !se.Permanent || se.Code != "MessageSizeTooBig" {
		t.Fatalf("oversize: %+v", se)
	}
	// Teams may send no Retry-After: the error is still temporary.
	se2 := classify(http.StatusTooManyRequests, http.Header{}, []byte(`{"error":{"code":"TooManyRequests"}}`), e.clock)
	if se2.Permanent || se2.RetryAfter != 0 {
		t.Fatalf("429 without Retry-After: %+v", se2)
	}
}

// A customer's long post is cut to fit one Teams message, with a note.
func TestPublishCutsLongPostsToFit(t *testing.T) {
	e := newEnv(t)
	text := strings.Repeat("WiFiが遅い\"\\ ", 2500) // ~40 KB of UTF-8, more once JSON-escaped
	ref, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageParent, Channel: e.channel,
		Post: &bridge.Post{Platform: "x", AuthorHandle: "k", Text: text, URL: "https://x.com/k/status/2"}})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := e.fake.Message(ref.TS)
	if len(m.Activity) > teamsfake.DefaultMaxMessageBytes || !strings.Contains(m.Plain(), "more characters not shown here") {
		t.Fatalf("%d bytes:\n%.300s", len(m.Activity), m.Plain())
	}
}

// Customer text goes into cards only as TextRuns, with hidden controls
// made visible, and never as a mention.
func TestCustomerTextIsInertInCards(t *testing.T) {
	e := newEnv(t)
	hostile := "<at>Ana Lima</at> *bold* _it_ \\ &lt; <b>x</b> [link](https://evil.example) evil\u202Efdp.exe zero\u200Bwidth שלום"
	p := &Publisher{c: e.client, cfg: PublisherConfig{Location: time.UTC}, roots: map[string]string{}, members: map[string]nameEntry{}}
	act, err := p.render(context.Background(), bridge.ChatMessage{Kind: bridge.MessageParent, Channel: e.channel,
		History: hostile, Ticket: &bridge.Ticket{Matched: []string{hostile}},
		Post: &bridge.Post{Platform: "x", AuthorName: hostile, AuthorHandle: "a<b", Text: hostile}})
	if err != nil {
		t.Fatal(err)
	}
	if act.Text != "" || len(act.Entities) != 0 || strings.Contains(act.Summary, "<") {
		t.Fatalf("outside text leaked into the activity: text %q entities %v summary %q", act.Text, act.Entities, act.Summary)
	}
	raw, _ := json.Marshal(act.Attachments[0].Content)
	var card struct {
		Body []struct {
			Type    string `json:"type"`
			Text    string `json:"text"`
			Inlines []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"inlines"`
		} `json:"body"`
		MSTeams map[string]any `json:"msteams"`
	}
	if err := json.Unmarshal(raw, &card); err != nil {
		t.Fatal(err)
	}
	if _, ok := card.MSTeams["entities"]; ok {
		t.Fatal("the card carries mention entities")
	}
	found := 0
	for _, b := range card.Body {
		if b.Type != "RichTextBlock" {
			t.Fatalf("block %s: outside text must be in RichTextBlocks", b.Type)
		}
		for _, in := range b.Inlines {
			if in.Type != "TextRun" {
				t.Fatalf("inline %s", in.Type)
			}
			if strings.Contains(in.Text, "\u202E") || strings.Contains(in.Text, "\u200B") {
				t.Fatalf("hidden control kept in %q", in.Text)
			}
			if strings.Contains(in.Text, "evil[U+202E]fdp.exe zero[U+200B]width שלום") {
				found++
			}
		}
	}
	if found < 3 { // name, body, history, matched
		t.Fatalf("customer text shown %d times, want it as written in each place", found)
	}
}

// Report strings are carebridge's words: their shortcodes become emoji
// everywhere (the executive digest's field values carry one).
func TestReportTranslatesShortcodesButNotPosts(t *testing.T) {
	e := newEnv(t)
	ref, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageReport, Channel: e.channel, Report: &bridge.Report{
		Title: ":sunrise: Morning digest", Subtitle: "Nothing waiting. :tada:",
		Sections: []bridge.ReportSection{{Heading: ":memo: Departments", Fields: []bridge.ReportField{{Label: "Network", Value: "3 new · :chart_with_upwards_trend: 1 spike"}},
			Posts: []bridge.Post{{Platform: "x", AuthorName: "k", Text: "customer says :tada:"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := e.fake.Message(ref.TS)
	for _, want := range []string{"🌅 Morning digest", "Nothing waiting. 🎉", "📝 Departments", "Network: 3 new · 📈 1 spike", "customer says :tada:"} {
		if !strings.Contains(m.Plain(), want) {
			t.Errorf("report lacks %q:\n%s", want, m.Plain())
		}
	}
}
