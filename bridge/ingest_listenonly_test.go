package bridge_test

import (
	"testing"

	"github.com/carebridge/carebridge/bridge"
)

// A listen-only network's items (a blog or forum read through its feed):
// routed on their title too, taken by the source's department when no
// rule matches, and a source's own notice reaches the triage channel in
// its batch's transaction.
func TestIngestListenOnlyItems(t *testing.T) {
	h := newHarness(t)
	item := func(title, text, dept string) bridge.Post {
		p := h.newPost(text)
		p.Platform, p.Source, p.Eligibility, p.Mentions = bridge.Platform("blog"), bridge.SourceFeed, bridge.EligibleNone, nil
		p.Title, p.DefaultDepartment, p.AuthorHandle = title, dept, ""
		return p
	}
	byTitle := item("My iphone battery is dying", "Nothing to match down here.", "")
	fallback := item("A review", "Nothing to match.", "voices")
	unmatched := item("Another review", "Nothing to match.", "")
	h.ingest(&bridge.Cursor{Key: "feed:https://blog.example/feed", Value: `{"etag":"x"}`}, byTitle, fallback, unmatched)
	want := map[string]string{byTitle.ExternalID: chDevices, fallback.ExternalID: chVoices, unmatched.ExternalID: chTriage}
	for id, ch := range want {
		if got := h.parentOf(id).Channel; got != ch {
			t.Errorf("post %s went to %s, want %s", id, got, ch)
		}
	}

	res, err := h.svc.Ingest(t.Context(), bridge.Batch{Notice: &bridge.Report{Title: "A feed is gone: forum"},
		Cursor: &bridge.Cursor{Key: "feed:https://forum.example/rss", Value: `{"disabled":true}`}})
	if err != nil || res.New != 0 {
		t.Fatalf("notice batch: %+v %v", res, err)
	}
	h.afterAction()
	h.waitFor("the notice in triage", func() (bool, string) {
		for _, m := range h.posted() {
			if m.Kind == bridge.MessageReport && m.Ref.Channel == chTriage {
				return true, ""
			}
		}
		return false, "no report in triage yet"
	})
	if v, err := h.svc.Cursor(t.Context(), "feed:https://forum.example/rss"); err != nil || v != `{"disabled":true}` {
		t.Errorf("cursor saved with the notice = %q, %v", v, err)
	}
}
