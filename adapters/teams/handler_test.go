package teams

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/carebridge/carebridge/adapters/teams/teamsfake"
	"github.com/carebridge/carebridge/bridge"
)

func (e *env) last() bridge.ChatEvent {
	e.t.Helper()
	evs := e.core.all()
	if len(evs) == 0 {
		e.t.Fatal("no event reached the core")
	}
	return evs[len(evs)-1]
}

func TestHandlerTranslatesMessagesEditsAndDeletes(t *testing.T) {
	e := newEnv(t)
	root := e.parent("my wifi is down")

	// A thread reply that @mentions the bot: the mention is dropped, the
	// HTML is made plain text again.
	d, err := e.fake.UserReplies(e.ctx, e.ana, e.channel, root, "reply: a < b & *c* <at>x</at>", true)
	if err != nil {
		t.Fatal(err)
	}
	ev := e.last()
	want := bridge.ChatEvent{ID: d.ActivityID, Kind: bridge.EventMessage, Channel: e.channel, User: e.ana.AADObjectID,
		TS: d.ActivityID, ThreadTS: root, Text: "reply: a < b & *c* <at>x</at>", At: ev.At}
	if ev != want {
		t.Fatalf("reply:\n got %+v\nwant %+v", ev, want)
	}
	// Several lines, no mention (the RSC permission delivers it).
	d2, err := e.fake.UserReplies(e.ctx, e.ana, e.channel, root, "note: first\nsecond", false)
	if err != nil {
		t.Fatal(err)
	}
	if ev := e.last(); ev.Text != "note: first\nsecond" || ev.TS != d2.ActivityID {
		t.Fatalf("multi-line: %+v", ev)
	}
	// A top-level post has no thread.
	d3, err := e.fake.UserPosts(e.ctx, e.ana, e.channel, "hello team", false)
	if err != nil {
		t.Fatal(err)
	}
	if ev := e.last(); ev.ThreadTS != "" || ev.TS != d3.ActivityID || ev.Kind != bridge.EventMessage {
		t.Fatalf("top-level: %+v", ev)
	}

	// Edits: the edited message is ItemTS; two edits of one message are
	// two events, a redelivered edit is the same event.
	ed1, err := e.fake.UserEdits(e.ctx, e.ana, d.ActivityID, "reply: fixed")
	if err != nil {
		t.Fatal(err)
	}
	first := e.last()
	if first.Kind != bridge.EventMessageChanged || first.ItemTS != d.ActivityID || first.Text != "reply: fixed" || first.ThreadTS != root {
		t.Fatalf("edit: %+v", first)
	}
	if _, err := e.fake.UserEdits(e.ctx, e.ana, d.ActivityID, "reply: fixed again"); err != nil {
		t.Fatal(err)
	}
	if second := e.last(); second.ID == first.ID {
		t.Fatalf("two edits share the event id %q", first.ID)
	}
	if _, err := e.fake.Redeliver(e.ctx, ed1); err != nil {
		t.Fatal(err)
	}
	if again := e.last(); again.ID != first.ID {
		t.Fatalf("a redelivered edit has id %q, the first had %q", again.ID, first.ID)
	}

	// Soft delete, as messageDelete and as messageUpdate.
	if _, err := e.fake.UserDeletes(e.ctx, e.ana, d2.ActivityID); err != nil {
		t.Fatal(err)
	}
	if ev := e.last(); ev.Kind != bridge.EventMessageDeleted || ev.ItemTS != d2.ActivityID || ev.ThreadTS != root {
		t.Fatalf("delete: %+v", ev)
	}
	act := e.rawActivity("messageUpdate", d.ActivityID, root)
	act["channelData"].(map[string]any)["eventType"] = "softDeleteMessage"
	e.deliverRaw(act)
	if ev := e.last(); ev.Kind != bridge.EventMessageDeleted || ev.ItemTS != d.ActivityID {
		t.Fatalf("messageUpdate softDeleteMessage: %+v", ev)
	}

	// A redelivered message carries the same event id.
	n := len(e.core.all())
	if _, err := e.fake.Redeliver(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	evs := e.core.all()
	if len(evs) != n+1 || evs[n].ID != d.ActivityID {
		t.Fatalf("redelivery: %+v", evs[n:])
	}
}

// rawActivity builds an activity the fake's injector does not make.
func (e *env) rawActivity(typ, id, root string) map[string]any {
	var act map[string]any
	_ = json.Unmarshal(e.activityJSON(id), &act)
	act["type"] = typ
	act["conversation"].(map[string]any)["id"] = e.channel + ";messageid=" + root
	return act
}

func (e *env) deliverRaw(act map[string]any) teamsfake.Delivery {
	e.t.Helper()
	raw, _ := json.Marshal(act)
	d, err := e.fake.Deliver(e.ctx, raw, teamsfake.DeliveryOptions{})
	if err != nil || d.Status != http.StatusOK {
		e.t.Fatalf("deliver %s: %d %v %s", act["type"], d.Status, err, d.Body)
	}
	return d
}

func TestHandlerReactionsOnlyOnBotMessages(t *testing.T) {
	e := newEnv(t)
	root := e.parent("signal is bad")
	if _, err := e.fake.UserReacts(e.ctx, e.ana, root, "like"); err != nil {
		t.Fatal(err)
	}
	ev := e.last()
	if ev.Kind != bridge.EventReactionAdded || ev.ItemTS != root || ev.Reaction != "like" || ev.User != e.ana.AADObjectID || ev.Channel != e.channel {
		t.Fatalf("reaction: %+v", ev)
	}
	if _, err := e.fake.UserUnreacts(e.ctx, e.ana, root, "like"); err != nil {
		t.Fatal(err)
	}
	if ev2 := e.last(); ev2.Kind != bridge.EventReactionRemoved || ev2.ItemTS != root || ev2.ID == ev.ID {
		t.Fatalf("unreaction: %+v", ev2)
	}
	// Teams does not tell the bot about reactions on people's messages.
	d, err := e.fake.UserReplies(e.ctx, e.ana, e.channel, root, "reply: hi", false)
	if err != nil {
		t.Fatal(err)
	}
	n := len(e.core.all())
	rd, err := e.fake.UserReacts(e.ctx, e.ana, d.ActivityID, "heart")
	if err != nil || !rd.Skipped || len(e.core.all()) != n {
		t.Fatalf("reaction on a person's message reached the bot: %+v %v", rd, err)
	}
}

// Each draft card button is the reaction its gesture names, on the card.
func TestHandlerCardButtonsBecomeGestures(t *testing.T) {
	e := newEnv(t)
	root := e.parent("bill too high")
	for _, c := range []struct{ button, gesture, action string }{
		{"Approve", "like", ActionApprove}, {"Send as DM", "approve_dm", ActionApproveDM}, {"Reject", "reject", ActionReject},
	} {
		card, err := e.pub.Publish(e.ctx, bridge.ChatMessage{Kind: bridge.MessageDraft, Channel: e.channel, ThreadTS: root,
			Draft: &bridge.DraftCard{DraftID: 42, Author: e.ana.AADObjectID, Text: "Sorry! We're on it.", Platform: "x", Account: "SBCare"}})
		if err != nil {
			t.Fatal(err)
		}
		d, err := e.fake.UserClicks(e.ctx, e.ana, card.TS, c.button)
		if err != nil {
			t.Fatal(err)
		}
		ev := e.last()
		if ev.Kind != bridge.EventReactionAdded || ev.ItemTS != card.TS || ev.Reaction != c.gesture || ev.Action != c.action ||
			ev.Value != "42" || ev.ID != d.ActivityID || ev.User != e.ana.AADObjectID || ev.ThreadTS != root {
			t.Fatalf("%s: %+v", c.button, ev)
		}
	}
	// Action.Execute arrives as an invoke and gets an invoke response.
	act := e.rawActivity("invoke", "1764752499999", root)
	act["name"] = "adaptiveCard/action"
	act["replyToId"] = "1764752400001"
	act["value"] = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "approve", "data": map[string]any{"carebridge": "reject", "draft": "7"}}, "trigger": "manual"}
	d := e.deliverRaw(act)
	if ev := e.last(); ev.Reaction != "reject" || ev.ItemTS != "1764752400001" || ev.Value != "7" {
		t.Fatalf("invoke: %+v", ev)
	}
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Type       string `json:"type"`
	}
	if json.Unmarshal([]byte(d.Body), &resp) != nil || resp.StatusCode != 200 || resp.Type != "application/vnd.microsoft.activity.message" {
		t.Fatalf("invoke response %q", d.Body)
	}
}

func TestHandlerIgnoresOwnMessagesAndLearnsServiceURL(t *testing.T) {
	e := newEnv(t)
	id := e.fake.Identity()
	act := e.rawActivity("message", "1764752411111", "1764752411111")
	act["from"] = map[string]any{"id": id.BotID, "name": id.BotName}
	e.deliverRaw(act)
	if n := len(e.core.all()); n != 0 {
		t.Fatalf("our own message reached the core: %+v", e.core.all())
	}
	e.client.SetServiceURL(DefaultServiceURL)
	d, err := e.fake.InstallApp(e.ctx, e.ana)
	if err != nil || d.Status != http.StatusOK {
		t.Fatalf("installationUpdate: %v %+v", err, d)
	}
	if got := e.client.ServiceURL(); got != e.fake.ServiceURL() {
		t.Fatalf("service url %q, want the inbound %q", got, e.fake.ServiceURL())
	}
	if n := len(e.core.all()); n != 0 {
		t.Fatalf("installationUpdate made events: %+v", e.core.all())
	}
}

// Without the RSC permission only @mentions reach the bot.
func TestHandlerWithoutRSCSeesOnlyMentions(t *testing.T) {
	e := newEnv(t, teamsfake.WithRSC(false))
	root := e.parent("hello")
	d, err := e.fake.UserReplies(e.ctx, e.ana, e.channel, root, "reply: unseen", false)
	if err != nil || !d.Skipped {
		t.Fatalf("unmentioned reply delivered without RSC: %+v %v", d, err)
	}
	if _, err := e.fake.UserReplies(e.ctx, e.ana, e.channel, root, "reply: seen", true); err != nil {
		t.Fatal(err)
	}
	if evs := e.core.all(); len(evs) != 1 || evs[0].Text != "reply: seen" {
		t.Fatalf("events %+v", evs)
	}
}

// A core failure is a 500, so that Teams may deliver again.
func TestHandlerCoreFailureIs500(t *testing.T) {
	e := newEnv(t)
	root := e.parent("x")
	e.core.failWith(errors.New("store down"))
	_, err := e.fake.UserReplies(e.ctx, e.ana, e.channel, root, "reply: hi", false)
	if !errors.Is(err, teamsfake.ErrRefused) || !strings.Contains(err.Error(), "500") {
		t.Fatalf("got %v, want a 500 refusal", err)
	}
}
