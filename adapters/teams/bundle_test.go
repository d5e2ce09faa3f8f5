package teams

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/carebridge/carebridge/adapters/teams/teamsfake"
	"github.com/carebridge/carebridge/bridge"
)

// bundleOf is a bundle of posts by the given authors with the given texts.
func bundleOf(channel string, texts ...string) bridge.ChatMessage {
	msg := bridge.ChatMessage{Kind: bridge.MessageBundle, Channel: channel, Department: "network", DeptName: "Network"}
	for i, text := range texts {
		id := int64(i + 1)
		msg.Bundle = append(msg.Bundle, bridge.BundleEntry{
			OutboxID: 100 + id,
			Ticket:   &bridge.Ticket{ID: id, Account: "SBCare", Matched: []string{"wifi", "down"}},
			Post: &bridge.Post{ID: 10 + id, Platform: "x", AuthorHandle: fmt.Sprintf("user%d", id), AuthorName: fmt.Sprintf("User %d", id),
				Text: text, URL: fmt.Sprintf("https://x.com/user%d/status/%d", id, id), Eligibility: bridge.EligiblePublic},
			Value: fmt.Sprintf("t%d.p%d.o%d", id, 10+id, 100+id),
		})
	}
	return msg
}

// A bundle is one card listing every post with its author, text, link,
// keywords and eligibility, and an Answer button per post (none on our
// own account's post); pressing one is the core's EventAction "answer"
// with that post's value, on the bundle's message, by the person who
// pressed it.
func TestBundleShowsEveryPostWithAnAnswerButton(t *testing.T) {
	e := newEnv(t)
	msg := bundleOf(e.channel, "wifi down in Osaka", "router keeps rebooting", "we are looking into outages", "no signal since 8")
	msg.Bundle[1].Answers = "DM only: they do not follow us"
	msg.Bundle[2].Official = true
	ref, err := e.pub.Publish(e.ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	posts := e.fake.Posts(e.channel)
	if len(posts) != 1 || posts[0].ID != ref.TS || ref.Channel != e.channel {
		t.Fatalf("a bundle is one message; posts %+v, ref %+v", posts, ref)
	}
	m := posts[0]
	plain := m.Plain()
	for _, want := range []string{
		"📦 4 new posts for Network", "Press Answer on a post",
		"User 1 @user1 · on X", "wifi down in Osaka", "Matched: wifi, down · 💬 Public reply possible as @SBCare",
		"User 2 @user2", "router keeps rebooting", "💬 DM only: they do not follow us",
		"🏢 Official account User 3", "User 4 @user4", "no signal since 8",
		"[Answer] [View on X]",
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("bundle lacks %q:\n%s", want, plain)
		}
	}
	if n := strings.Count(plain, "Public reply possible as @SBCare"); n != 3 {
		t.Errorf("entry 2 must show the network's own words, not the generic line:\n%s", plain)
	}
	if got := m.Buttons(); len(got) != 3 {
		t.Fatalf("buttons %v: want an Answer button on each customer's post", got)
	}

	// The second Answer button is User 2's.
	boss := e.fake.AddUser("Bo Manager")
	d, err := e.fake.UserClicksNth(e.ctx, boss, ref.TS, "Answer", 1)
	if err != nil {
		t.Fatal(err)
	}
	ev := e.last()
	if ev.Kind != bridge.EventAction || ev.Action != bridge.ActionAnswer || ev.Value != "t2.p12.o102" || ev.ItemTS != ref.TS ||
		ev.User != boss.AADObjectID || ev.Channel != e.channel || ev.ID != d.ActivityID {
		t.Fatalf("answer event %+v", ev)
	}
	// The third is User 4's: our own account's post has none.
	if _, err := e.fake.UserClicksNth(e.ctx, e.ana, ref.TS, "Answer", 2); err != nil {
		t.Fatal(err)
	}
	if ev := e.last(); ev.Value != "t4.p14.o104" || ev.User != e.ana.AADObjectID {
		t.Fatalf("answer event %+v", ev)
	}
	// The draft buttons still become their gestures (the handler test
	// covers them fully); an Answer without a value is no event.
	act := e.rawActivity("message", "1764752499998", ref.TS)
	act["replyToId"] = ref.TS
	act["value"] = map[string]any{"carebridge": "answer"}
	n := len(e.core.all())
	e.deliverRaw(act)
	if len(e.core.all()) != n {
		t.Fatalf("an Answer without a value became %+v", e.last())
	}
}

// Customer text in a bundle is TextRuns only — never a TextBlock, a
// mention or markup — with hidden controls made visible, and it cannot
// change an entry's Answer value.
func TestBundleCustomerTextIsInert(t *testing.T) {
	e := newEnv(t)
	hostile := `<at>Ana Lima</at> *bold* _it_ \ &lt; <b>x</b> [link](https://evil.example) evil` + "\u202Efdp.exe" + `", "value": "t9.p9.o9"} zero` + "\u200Bwidth"
	msg := bundleOf(e.channel, hostile, hostile)
	msg.DeptName = hostile
	msg.Bundle[0].Post.AuthorName, msg.Bundle[0].Post.AuthorHandle = hostile, "a<b"
	msg.Bundle[0].Ticket.Matched = []string{hostile}
	msg.Bundle[0].History, msg.Bundle[0].AfterHours, msg.Bundle[1].Answers = hostile, hostile, hostile
	act, err := e.pub.render(e.ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if act.Text != "" || len(act.Entities) != 0 || strings.Contains(act.Summary, "<") {
		t.Fatalf("outside text leaked into the activity: text %q entities %v summary %q", act.Text, act.Entities, act.Summary)
	}
	raw, _ := json.Marshal(act.Attachments[0].Content)
	var card struct {
		Body    []json.RawMessage `json:"body"`
		MSTeams map[string]any    `json:"msteams"`
	}
	if err := json.Unmarshal(raw, &card); err != nil {
		t.Fatal(err)
	}
	if _, ok := card.MSTeams["entities"]; ok {
		t.Fatal("the card carries mention entities")
	}
	shown := 0
	var values []string
	var walk func(els []json.RawMessage)
	walk = func(els []json.RawMessage) {
		for _, r := range els {
			var el struct {
				Type    string `json:"type"`
				Inlines []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"inlines"`
				Items   []json.RawMessage `json:"items"`
				Actions []struct {
					Type string         `json:"type"`
					Data map[string]any `json:"data"`
				} `json:"actions"`
			}
			if err := json.Unmarshal(r, &el); err != nil {
				t.Fatal(err)
			}
			switch el.Type {
			case "Container":
				walk(el.Items)
			case "ActionSet":
				for _, a := range el.Actions {
					if a.Type == "Action.Submit" {
						values = append(values, fmt.Sprint(a.Data["value"]))
					}
				}
			case "RichTextBlock":
				for _, in := range el.Inlines {
					if in.Type != "TextRun" {
						t.Fatalf("inline %s", in.Type)
					}
					if strings.ContainsAny(in.Text, "\u202E\u200B") {
						t.Fatalf("hidden control kept in %q", in.Text)
					}
					if strings.Contains(in.Text, "evil[U+202E]fdp.exe") {
						shown++
					}
				}
			default:
				t.Fatalf("block %s: outside text must be in RichTextBlocks", el.Type)
			}
		}
	}
	walk(card.Body)
	// The compact layout of the largest bundles is as inert.
	raw, _ = json.Marshal(e.pub.bundleCard(msg, 40, true).Attachments[0].Content)
	var compact struct {
		Body []json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(raw, &compact); err != nil {
		t.Fatal(err)
	}
	shown, values = 0, nil
	walk(compact.Body)
	if shown < 1 || strings.Join(values, ",") != "t1.p11.o101,t2.p12.o102" { // the department (the rest is cut before it)
		t.Fatalf("compact: customer text shown %d times; answer values %v", shown, values)
	}
	shown, values = 0, nil
	walk(card.Body)
	if shown < 8 { // department, name, 2 texts, matched, history, after hours, answers
		t.Fatalf("customer text shown %d times, want it as written in each place", shown)
	}
	if strings.Join(values, ",") != "t1.p11.o101,t2.p12.o102" {
		t.Fatalf("answer values %v", values)
	}
}

// Bundles of long posts fit in one Teams message (the fake refuses
// larger ones, as Teams does): texts are cut, no post is left out, each
// keeps its Answer button. A bundle of the default size keeps the full
// layout; the largest, with the longest names, handles and links X
// allows, is compact.
func TestBundleOfLongPostsFits(t *testing.T) {
	e := newEnv(t)
	for _, n := range []int{10, 45} { // config's default size and MaxBundleSize
		texts := make([]string, n)
		for i := range texts {
			texts[i] = strings.Repeat("WiFiが遅い\"\\ ", 400) // ~8 KB, more once JSON-escaped
		}
		msg := bundleOf(e.channel, texts...)
		for i := range msg.Bundle {
			b := &msg.Bundle[i]
			b.Post.AuthorName = strings.Repeat("名", 50)
			b.Post.AuthorHandle = fmt.Sprintf("handle_%08d", i)
			b.Post.URL = fmt.Sprintf("https://x.com/%s/status/18640123456789%05d", b.Post.AuthorHandle, i)
			b.Ticket.Matched = []string{"wifi", "router", "outage", "refund"}
			b.Value = fmt.Sprintf("t%d.p%d.o%d", 1000000+i, 2000000+i, 3000000+i)
			b.History = "3 earlier conversations, last on 2026-11-30"
		}
		ref, err := e.pub.Publish(e.ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := e.fake.Message(ref.TS)
		if len(m.Activity) > teamsfake.DefaultMaxMessageBytes || len(m.Buttons()) != n {
			t.Fatalf("%d posts: %d bytes, %d buttons", n, len(m.Activity), len(m.Buttons()))
		}
		plain := m.Plain()
		last := fmt.Sprintf("@handle_%08d", n-1)
		if !strings.Contains(plain, last) || !strings.Contains(plain, "WiFiが遅い") || strings.Count(plain, "Public reply possible as @SBCare") != n {
			t.Fatalf("%d posts, %d bytes:\n%.600s", n, len(m.Activity), plain)
		}
		if full := strings.Contains(plain, "more characters not shown here") && strings.Contains(plain, "Customer: 3 earlier"); full != (n == 10) {
			t.Errorf("%d posts: full layout %v:\n%.600s", n, full, plain)
		}
		t.Logf("%d posts: %d bytes", n, len(m.Activity))
	}
}

// The traffic status is carebridge's notice markup as a message, then
// rewritten in place.
func TestStatusIsUpdatedInPlace(t *testing.T) {
	e := newEnv(t)
	ref, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageStatus, Channel: e.channel, Department: "network", DeptName: "Network",
		Text: ":rotating_light: *Heavy traffic*: 1,240 posts in 10 min — shown in bundles of 10; mentions and DMs first."})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := e.fake.Message(ref.TS)
	if m.Text != "🚨 <b>Heavy traffic</b>: 1,240 posts in 10 min — shown in bundles of 10; mentions and DMs first." || m.TextFormat != "xml" {
		t.Fatalf("status %q (%s)", m.Text, m.TextFormat)
	}
	if err := e.pub.Update(e.ctx, ref, bridge.ChatMessage{Kind: bridge.MessageStatus, Channel: e.channel,
		Text: ":white_check_mark: Traffic back to normal: 1,240 posts were shown in 124 bundles since 09:00 UTC."}); err != nil {
		t.Fatal(err)
	}
	m, _ = e.fake.Message(ref.TS)
	if m.Updates != 1 || !strings.HasPrefix(m.Plain(), "✅ Traffic back to normal") || len(e.fake.Posts(e.channel)) != 1 {
		t.Fatalf("status after update (%d updates): %s", m.Updates, m.Plain())
	}
}

// A thread opened from a bundle says who opened it; one a follow-up
// opened names the first post, shown in a bundle.
func TestParentOpenedFromABundle(t *testing.T) {
	e := newEnv(t)
	ref, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageParent, Channel: e.channel, OpenedBy: e.ana.AADObjectID,
		Earlier: &bridge.Post{AuthorHandle: "kenta", Text: "wifi down <at>x</at>", URL: "https://x.com/kenta/status/1"},
		Post:    &bridge.Post{Platform: "x", AuthorHandle: "kenta", Text: "still down", URL: "https://x.com/kenta/status/2"}})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := e.fake.Message(ref.TS)
	for _, want := range []string{"Opened from a bundle by Ana Lima to answer it", "Follow-up: @kenta's first post was shown in a bundle — “wifi down <at>x</at>”"} {
		if !strings.Contains(m.Plain(), want) {
			t.Errorf("parent lacks %q:\n%s", want, m.Plain())
		}
	}
	if len(m.Entities) != 0 {
		t.Errorf("the parent mentions %+v", m.Entities)
	}
}
