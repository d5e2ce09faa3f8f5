package x

import (
	"testing"
)

// A greeting is an original post (no reply), counted by X; FindPost finds
// it again after an unknown outcome, and X refuses the same text twice.
func TestPosterPostsAndFinds(t *testing.T) {
	w := newWorld(t)
	r := NewReplier(w.c, []Account{{Handle: ourHandle, UserID: ourID}}, map[string]Authorizer{ourHandle: Bearer("user-token")})
	if _, found, err := r.FindPost(t.Context(), ourHandle, "Good morning (2026-03-09)"); err != nil || found {
		t.Fatalf("before posting: found=%v err=%v", found, err)
	}
	ref, err := r.Post(t.Context(), ourHandle, "Good morning (2026-03-09)")
	if err != nil {
		t.Fatal(err)
	}
	sent := w.fake.SentTweets()
	if len(sent) != 1 || sent[0].Text != "Good morning (2026-03-09)" || sent[0].InReplyToTweetID != "" || sent[0].ID != ref.ID {
		t.Fatalf("sent = %+v, ref %+v", sent, ref)
	}
	if ref.URL != "https://x.com/SBCare/status/"+ref.ID {
		t.Errorf("url = %s", ref.URL)
	}
	got, found, err := r.FindPost(t.Context(), ourHandle, "Good morning (2026-03-09)")
	if err != nil || !found || got.ID != ref.ID {
		t.Errorf("FindPost = %+v, %v, %v; want %s", got, found, err, ref.ID)
	}
	if _, err := r.Post(t.Context(), ourHandle, "Good morning (2026-03-09)"); err == nil {
		t.Error("the same text twice was accepted")
	}
}
