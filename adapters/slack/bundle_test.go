package slack

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/bridge"
)

// A bundle shows every post escaped, each with an Answer button carrying
// its value, and carries every entry's outbox id: after a crash each row
// is found in it (Find and PostedPage), marked as a bundle. Its buttons
// can be clicked (the fake delivers block_actions) and a click becomes
// an EventAction with the button's value.
func TestBundleRenderFindAndClick(t *testing.T) {
	clk := &manualClock{t: time.Now()}
	f, p := newFake(t, slackfake.WithClock(clk))
	ctx := context.Background()
	msg := bridge.ChatMessage{Kind: bridge.MessageBundle, Channel: "#care-network", DeptName: "Network <team>"}
	for i := range 3 {
		post := hostilePost()
		post.ExternalID = fmt.Sprintf("18580000000000000%02d", i)
		post.URL = "https://x.com/kim/status/" + post.ExternalID
		msg.Bundle = append(msg.Bundle, bridge.BundleEntry{OutboxID: int64(40 + i), Ticket: &bridge.Ticket{ID: int64(7 + i), Matched: []string{"電波"}},
			Post: post, Value: fmt.Sprintf("t%d.p%d.o%d", 7+i, 1+i, 40+i)})
	}
	msg.OutboxID = 40
	ref, err := p.Publish(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	got := f.Messages("C0NETWORK")
	if len(got) != 1 {
		t.Fatalf("%d messages, want 1 bundle", len(got))
	}
	text := blockText(t, got[0].Blocks)
	if strings.Contains(text, "<!channel>") || strings.Contains(text, "<@U123>") || strings.Count(text, "&lt;!channel&gt;") != 3 {
		t.Errorf("bundle text not escaped once per post:\n%s", text)
	}
	if !strings.Contains(text, "3 new posts") || !strings.Contains(text, "Network &lt;team&gt;") || strings.Count(text, "`電波`") != 3 {
		t.Errorf("bundle header or keywords missing:\n%s", text)
	}
	fresh := NewPublisher(slack.New(f.Identity().BotToken, slack.OptionAPIURL(f.APIURL())), time.UTC)
	found, ok, err := fresh.Find(ctx, "#care-network", "", 41, time.Time{})
	if err != nil || !ok || found.TS != ref.TS || !found.Bundle {
		t.Fatalf("Find of the second entry = %+v %v %v, want the bundle %s marked as one", found, ok, err, ref.TS)
	}
	clk.Advance(time.Minute)
	page, _, err := fresh.PostedPage(ctx, "#care-network", clk.Now().Add(-time.Hour), clk.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	for id := int64(40); id < 43; id++ {
		if r := page[id]; r.TS != ref.TS || !r.Bundle {
			t.Errorf("PostedPage[%d] = %+v, want the bundle", id, r)
		}
	}

	// A click, delivered over HTTP to the interactivity handler.
	events := &chatRecorder{}
	ts := httptest.NewServer(NewInteractionsHandler(f.Identity().SigningSecret, events, nil, WithEventsClock(clk)))
	t.Cleanup(ts.Close)
	srv := ts.URL
	f.DeliverInteractionsHTTP(srv)
	if err := f.UserClicks("C0NETWORK", ref.TS, "U0STAFF01", bridge.ActionAnswer, "t8.p2.o41"); err != nil {
		t.Fatal(err)
	}
	events.mu.Lock()
	evs := append([]bridge.ChatEvent(nil), events.handled...)
	events.mu.Unlock()
	if len(evs) != 1 || evs[0].Kind != bridge.EventAction || evs[0].Action != bridge.ActionAnswer || evs[0].Value != "t8.p2.o41" ||
		evs[0].ItemTS != ref.TS || evs[0].Channel != "C0NETWORK" || evs[0].User != "U0STAFF01" || evs[0].ID == "" {
		t.Fatalf("events = %+v", evs)
	}
	if err := f.UserClicks("C0NETWORK", ref.TS, "U0STAFF01", bridge.ActionAnswer, "t99.p1.o1"); err == nil {
		t.Error("a click on a button the message does not have was delivered")
	}
	form, err := f.InteractionForm("C0NETWORK", ref.TS, "U0STAFF01", bridge.ActionAnswer, "t7.p1.o40")
	if err != nil {
		t.Fatal(err)
	}
	if status, err := f.PostInteraction(ctx, srv, form, false); err != nil || status != 401 {
		t.Errorf("badly signed interaction = %d, %v; want 401", status, err)
	}
	events.mu.Lock()
	n := len(events.calls)
	events.mu.Unlock()
	if n != 1 {
		t.Errorf("%d events after a badly signed click, want still 1", n)
	}
}
