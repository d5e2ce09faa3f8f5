package x

import (
	"errors"
	"strings"
	"testing"

	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/bridge"
)

func TestSameAnswer(t *testing.T) {
	for _, c := range []struct {
		sent, seen string
		same       bool
	}{
		{"Thanks, fixed now", "Thanks, fixed now", true},
		{"Thanks, fixed now", "@kim Thanks, fixed now", true},
		{"Thanks, fixed now", "@kim @lee_2 Thanks, fixed now", true},
		{"@kim Thanks, fixed now", "@kim Thanks, fixed now", true},
		{"@kim Thanks, fixed now", "Thanks, fixed now", true},
		{"  Thanks, fixed now\n", "@kim Thanks, fixed now", true},
		{"Q&A <here>", "@kim Q&amp;A &lt;here&gt;", true},
		{"See https://support.example.com/battery?x=1 please", "@kim See https://t.co/AbC123 please", true},
		{"Cafe\u0301 open", "@kim Café open", true}, // X keeps NFC
		{"Thanks, fixed now", "@kim Thanks, fixed now!", false},
		{"Thanks, fixed now", "@kim Thanks", false},
		{"Thanks, fixed now", "@kim, Thanks, fixed now", false}, // not a run of handles
		{"Thanks", "Thanks @kim", false},
		{"@kim", "@lee", false}, // nothing but handles: compared whole
	} {
		if got := (Network{}).SameAnswer(c.sent, c.seen); got != c.same {
			t.Errorf("SameAnswer(%q, %q) = %v, want %v", c.sent, c.seen, got, c.same)
		}
	}
}

// X stores a reply with the customer's @handle in front. After a
// connection that dropped once X had created the reply, FindReply
// recognises it, so the relay records it as sent instead of posting again
// into X's duplicate 403.
func TestFindReplyAfterDroppedAnswer(t *testing.T) {
	w := newWorld(t)
	r := NewReplier(w.c, []Account{{Handle: ourHandle, UserID: ourID}}, map[string]Authorizer{ourHandle: Bearer("user-token")})
	root := w.tweet("42", "@SBCare @lee my router keeps rebooting")
	const answer = "Sorry about that! We're pushing a firmware fix tonight."

	w.fake.DropAnswerNext(xfake.EndpointCreateTweet, 1)
	_, err := r.Reply(t.Context(), ourHandle, root.ID, answer)
	if err == nil || bridge.IsPermanent(err) {
		t.Fatalf("a dropped answer: %v, want a retryable error", err)
	}
	stored := w.fake.SentTweets()
	if len(stored) != 1 {
		t.Fatalf("%d posts on X, want 1", len(stored))
	}
	if got, _ := w.fake.Tweet(stored[0].ID); got.Text != "@kim @lee "+answer {
		t.Fatalf("X stored %q", got.Text)
	}
	ref, found, err := r.FindReply(t.Context(), ourHandle, root.ID, answer)
	if err != nil || !found || ref.ID != stored[0].ID || ref.URL != "https://x.com/SBCare/status/"+stored[0].ID {
		t.Fatalf("FindReply = %+v, %v, %v; want %s", ref, found, err, stored[0].ID)
	}
	// Not a reply to another post, and not another text.
	other := w.tweet("43", "@SBCare same here")
	if _, found, _ := r.FindReply(t.Context(), ourHandle, other.ID, answer); found {
		t.Error("found as a reply to another post")
	}
	if _, found, _ := r.FindReply(t.Context(), ourHandle, root.ID, "Sorry about that!"); found {
		t.Error("found with another text")
	}
	// Sending again is what FindReply prevents: X refuses it.
	_, err = r.Reply(t.Context(), ourHandle, root.ID, answer)
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Code != CodeDuplicate {
		t.Errorf("second send: %v, want X's duplicate 403", err)
	}
}

// DMs are stored as sent; FindDM finds ours by text.
func TestFindDMAfterDroppedAnswer(t *testing.T) {
	w := newWorld(t)
	r := NewReplier(w.c, []Account{{Handle: ourHandle, UserID: ourID}}, map[string]Authorizer{ourHandle: Bearer("user-token")})
	w.fake.DropAnswerNext(xfake.EndpointSendDM, 1)
	if _, err := r.SendDM(t.Context(), ourHandle, "42", "Could you send us your account e-mail & order number?"); err == nil {
		t.Fatal("a dropped answer was a success")
	}
	ref, found, err := r.FindDM(t.Context(), ourHandle, "42", "Could you send us your account e-mail & order number?")
	if err != nil || !found || ref.ID != "dm:"+w.fake.SentDMs()[0].ID {
		t.Errorf("FindDM = %+v, %v, %v", ref, found, err)
	}
	if _, found, _ := r.FindDM(t.Context(), ourHandle, "42", "@kim Could you send us your account e-mail & order number?"); found {
		t.Error("a DM matched another text")
	}
}

// A post whose author limited replies (reply_settings) is answered with
// X's reply_settings 403: a permanent "not eligible" failure, not an auth
// or a retryable one. This post quotes ours, so the 2026 rule allows it.
func TestReplyRestrictedByReplySettings(t *testing.T) {
	w := newWorld(t)
	r := NewReplier(w.c, []Account{{Handle: ourHandle, UserID: ourID}}, map[string]Authorizer{ourHandle: Bearer("user-token")})
	ours, err := r.Post(t.Context(), ourHandle, "Maintenance tonight from 1 am")
	if err != nil {
		t.Fatal(err)
	}
	quote := w.tweet("42", "again?!", func(tw *xfake.Tweet) { tw.QuotedTweetID, tw.ReplySettings = ours.ID, xfake.ReplyMentionedUsers })
	_, err = r.Reply(t.Context(), ourHandle, quote.ID, "Sorry, it's needed for the new routers.")
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Code != CodeNotEligible || !se.Permanent {
		t.Fatalf("reply: %v, want a permanent %s", err, CodeNotEligible)
	}
	if !strings.Contains(err.Error(), "Reply to this conversation is not allowed") {
		t.Errorf("error %v does not say why", err)
	}
	if n := len(w.fake.SentTweets()); n != 1 {
		t.Errorf("%d posts on X, want only ours", n)
	}
}
