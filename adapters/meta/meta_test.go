package meta_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/meta"
	"github.com/carebridge/carebridge/adapters/meta/metafake"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/clocktest"
)

var start = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC) // a Thursday

var testPage = meta.Page{Name: "acme", ID: "111", Token: "page-token", AppSecret: "app-secret", VerifyToken: "verify-me", InstagramID: "999"}

func TestSignature(t *testing.T) {
	body := []byte(`{"object":"page","entry":[]}`)
	good := metafake.Signature(body, "app-secret")
	if good != meta.Sign(body, "app-secret") {
		t.Fatal("the fake and the adapter sign differently")
	}
	for _, tt := range []struct {
		name, header string
		body         []byte
		want         bool
	}{
		{"valid", good, body, true},
		{"another secret", metafake.Signature(body, "other"), body, false},
		{"body changed by one byte", good, []byte(`{"object":"page","entry":[ ]}`), false},
		{"no prefix", strings.TrimPrefix(good, "sha256="), body, false},
		{"sha1 header form", "sha1=" + strings.TrimPrefix(good, "sha256="), body, false},
		{"not hex", "sha256=zz", body, false},
		{"truncated", good[:40], body, false},
		{"empty", "", body, false},
	} {
		if got := meta.SignatureValid(tt.body, tt.header, []string{"", "other-app", "app-secret"}); got != tt.want {
			t.Errorf("%s: SignatureValid = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	h := http.Header{}
	h.Set("X-Business-Use-Case-Usage", `{"111":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":7},{"type":"pages_messaging","estimated_time_to_regain_access":12}]}`)
	for _, tt := range []struct {
		code, status int
		header       http.Header
		permanent    bool
		retryAfter   time.Duration
	}{
		{190, 400, nil, true, 0},
		{10900, 400, nil, true, 0},
		{10903, 400, nil, true, 0},
		{10, 400, nil, true, 0},
		{100, 400, nil, true, 0},
		{551, 400, nil, true, 0},
		{613, 400, h, false, 12 * time.Minute},
		{32, 400, h, false, 12 * time.Minute},
		{4, 400, nil, false, time.Minute}, // no header: a minute
		{17, 400, http.Header{}, false, time.Minute},
		{2, 500, nil, false, 0},
		{0, 503, nil, false, 0},
		{0, 404, nil, true, 0},
	} {
		se := meta.Classify(meta.Facebook, &meta.APIError{Code: tt.code, Status: tt.status}, tt.header)
		if se.Permanent != tt.permanent || se.RetryAfter != tt.retryAfter || se.Platform != "facebook" {
			t.Errorf("code %d/HTTP %d: %+v, want permanent %v, retry after %s", tt.code, tt.status, se, tt.permanent, tt.retryAfter)
		}
	}
}

func TestWindows(t *testing.T) {
	clk := clocktest.New(start)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	comment := &bridge.Post{ID: 7, Platform: meta.Facebook, ExternalID: "1_2", CreatedAt: start, Eligibility: bridge.EligiblePublic}
	dm := &bridge.Post{ID: 8, Platform: meta.Facebook, ExternalID: "m_1", Source: bridge.SourceDM, CreatedAt: start, Eligibility: bridge.EligibleDM}
	plain := meta.NewNetwork(meta.Facebook, clk, tokyo, false)
	agent := meta.NewNetwork(meta.Facebook, clk, tokyo, true)

	check := func(n meta.Network, p *bridge.Post, want bridge.Eligibility, whyHas string) {
		t.Helper()
		got, why := n.Answerable(p)
		if got != want || !strings.Contains(why, whyHas) {
			t.Errorf("at %s: Answerable = %s %q, want %s containing %q", clk.Now().Sub(start), got, why, want, whyHas)
		}
	}
	check(plain, comment, bridge.EligiblePublic, "")
	if got := plain.AnswerOptions(comment); got != "Public reply, or one private reply (dm:) until Thu 10 Dec 19:00" {
		t.Errorf("options = %q", got)
	}
	check(plain, dm, bridge.EligibleDM, "")
	if got := plain.AnswerOptions(dm); got != "Messenger DM — answer (dm:) until Fri 19:00" {
		t.Errorf("DM options = %q", got)
	}

	clk.Set(start.Add(25 * time.Hour))
	check(plain, dm, bridge.EligibleNone, "24-hour window for answering this customer closed Fri 19:00")
	check(agent, dm, bridge.EligibleDM, "")
	if got := plain.AnswerOptions(dm); !strings.HasPrefix(got, "DM window closed") {
		t.Errorf("closed DM options = %q", got)
	}

	clk.Set(start.Add(7*24*time.Hour + time.Second))
	check(agent, dm, bridge.EligibleNone, "7 days of the human agent tag")
	check(plain, comment, bridge.EligiblePublicOnly, "The 7 days for a private reply to this comment ended")

	// One private reply per comment: a second DM draft is refused while
	// the first is on its way or sent; public replies stay possible.
	clk.Set(start.Add(time.Hour))
	for _, st := range []bridge.DraftState{bridge.DraftApproved, bridge.DraftSending, bridge.DraftSent} {
		others := []bridge.Draft{{ReplyTo: 7, Visibility: bridge.VisibilityDM, State: st, SentAt: start}}
		if got, why := plain.AnswerableAfter(comment, others); got != bridge.EligiblePublicOnly || why == "" {
			t.Errorf("after a private reply %s: %s %q, want public_only", st, got, why)
		}
	}
	for _, d := range []bridge.Draft{
		{ReplyTo: 7, Visibility: bridge.VisibilityDM, State: bridge.DraftRejected},
		{ReplyTo: 7, Visibility: bridge.VisibilityPublic, State: bridge.DraftSent},
		{ReplyTo: 6, Visibility: bridge.VisibilityDM, State: bridge.DraftSent}, // another comment of the thread
	} {
		if got, _ := plain.AnswerableAfter(comment, []bridge.Draft{d}); got != bridge.EligiblePublic {
			t.Errorf("after %+v: %s, want public", d, got)
		}
	}
}

func TestParse(t *testing.T) {
	fake := metafake.New(clocktest.New(start))
	defer fake.Close()
	fake.AddPage(metafake.Page{ID: "111", Name: "acme", Token: "page-token", AppSecret: "app-secret", InstagramID: "999"})
	c := fake.AddComment(metafake.Comment{PageID: "111", PostID: "111_5", FromID: "u1", FromName: "Kim", Text: "my bill is wrong"})
	ig := fake.AddComment(metafake.Comment{PageID: "111", Instagram: true, PostID: "m9", FromID: "ig1", FromName: "lee", Text: "wifi down"})
	own := fake.AddComment(metafake.Comment{PageID: "111", PostID: "111_5", FromID: "111", FromName: "acme", Text: "we're on it"})
	dm := fake.AddMessage(metafake.Message{PageID: "111", From: "psid1", Text: "hello?"})
	echo := metafake.Message{ID: "m_echo", PageID: "111", From: "111", To: "psid1", Text: "hi", At: start}
	for _, tt := range []struct {
		name     string
		updates  []metafake.Update
		posts    []string
		removals int
		skipped  int
	}{
		{"comment, edit, own reply", []metafake.Update{fake.CommentUpdate(c, "add"), fake.CommentUpdate(c, "edited"), fake.CommentUpdate(own, "add")},
			[]string{c.ID, c.ID + "#edit-" + strconv.FormatInt(start.Unix(), 10)}, 0, 1},
		{"removal", []metafake.Update{fake.CommentUpdate(c, "remove")}, nil, 1, 0},
		{"instagram comment", []metafake.Update{fake.CommentUpdate(ig, "add")}, []string{ig.ID}, 0, 0},
		{"DM and echo", []metafake.Update{fake.MessageUpdate(dm), fake.MessageUpdate(echo)}, []string{dm.ID}, 0, 1},
	} {
		got, err := meta.Parse(fake.Body(tt.updates...), []meta.Page{testPage})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var ids []string
		for _, p := range got.Posts {
			ids = append(ids, p.ExternalID)
		}
		if strings.Join(ids, ",") != strings.Join(tt.posts, ",") || len(got.Removals) != tt.removals || got.Skipped != tt.skipped {
			t.Errorf("%s: posts %v removals %d skipped %d; want %v, %d, %d", tt.name, ids, len(got.Removals), got.Skipped, tt.posts, tt.removals, tt.skipped)
		}
	}
	for body, want := range map[string]error{
		`{"object":"user","entry":[]}`: meta.ErrUnknownObject,
		`{"object":"page","entry":{}}`: meta.ErrMalformed,
		`not json`:                     meta.ErrMalformed,
		`{"entry":[]}`:                 meta.ErrMalformed,
	} {
		if _, err := meta.Parse([]byte(body), []meta.Page{testPage}); !errors.Is(err, want) {
			t.Errorf("Parse(%s) = %v, want %v", body, err, want)
		}
	}
}

// The replier against the fake: Meta's rules as the fake enforces them.
func TestReplier(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(start)
	fake := metafake.New(clk, "v25.0")
	defer fake.Close()
	fake.AddPage(metafake.Page{ID: "111", Name: "acme", Token: "page-token", InstagramID: "999", HumanAgent: true})
	health := meta.NewHealth()
	g := meta.NewGraph(fake.URL(), "v25.0", nil, clk, health, nil)
	fb := meta.NewReplier(meta.Facebook, g, []meta.Page{testPage}, true)
	c := fake.AddComment(metafake.Comment{PageID: "111", PostID: "111_5", FromID: "u1", FromName: "Kim", Text: "help"})

	// Public reply, found again after an answer lost on the way.
	fake.DropAnswers(1)
	if _, err := fb.Reply(ctx, "acme", c.ID, "On it!"); err == nil {
		t.Fatal("a cut connection should fail the call")
	}
	ref, found, err := fb.FindReply(ctx, "acme", c.ID, "On it!")
	if err != nil || !found || ref.ID == "" || len(fake.Replies()) != 1 {
		t.Fatalf("FindReply = %+v %v %v; replies %d", ref, found, err, len(fake.Replies()))
	}

	// Private reply: once; the second is refused by Meta with 10900,
	// which is the comment's private reply existing: taken as sent.
	if _, err := fb.PrivateReply(ctx, "acme", c.ID, "Sent you the details"); err != nil {
		t.Fatal(err)
	}
	if ref, err := fb.PrivateReply(ctx, "acme", c.ID, "Sent you the details"); err != nil || ref.ID == "" {
		t.Fatalf("second private reply: %+v %v, want it recognised as sent", ref, err)
	}
	if n := len(fake.Sent()); n != 1 {
		t.Fatalf("%d messages sent, want 1", n)
	}

	// DMs: RESPONSE inside 24 hours, HUMAN_AGENT after, nothing after 7 days.
	fake.AddMessage(metafake.Message{PageID: "111", From: "psid1", Text: "hello?"})
	clk.Advance(30 * time.Hour)
	if _, err := fb.SendDM(ctx, "acme", "psid1", "Sorry for the wait"); err != nil {
		t.Fatal(err)
	}
	sent := fake.Sent()
	if last := sent[len(sent)-1]; last.Type != "MESSAGE_TAG" || last.Tag != "HUMAN_AGENT" {
		t.Errorf("after 30 hours: sent as %s/%s, want MESSAGE_TAG/HUMAN_AGENT", last.Type, last.Tag)
	}
	if _, found, err := fb.FindDM(ctx, "acme", "psid1", "Sorry for the wait"); !found || err != nil {
		t.Errorf("FindDM: %v %v", found, err)
	}
	clk.Advance(7 * 24 * time.Hour)
	_, err = fb.SendDM(ctx, "acme", "psid1", "Still there?")
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Code != "10" || !se.Permanent {
		t.Errorf("after 7 days: %v, want permanent 10", err)
	}

	// Throttling paced by the usage header; a revoked token breaks the page.
	fake.Throttle(1, 613, 9)
	_, err = fb.Reply(ctx, "acme", c.ID, "again")
	if !errors.As(err, &se) || se.Permanent || se.RetryAfter != 9*time.Minute {
		t.Errorf("throttled: %+v", err)
	}
	fake.RevokeToken("page-token")
	_, err = fb.Reply(ctx, "acme", c.ID, "again")
	if !errors.As(err, &se) || se.Code != "190" || !se.Permanent {
		t.Errorf("revoked: %v", err)
	}
	if b := health.Broken(); b["acme"].Since.IsZero() {
		t.Errorf("health = %+v, want acme broken", b)
	}

	// The version is pinned: another one is refused by the fake.
	other := meta.NewReplier(meta.Facebook, meta.NewGraph(fake.URL(), "v19.0", nil, clk, nil, nil), []meta.Page{testPage}, false)
	if _, err := other.Reply(ctx, "acme", c.ID, "x"); !errors.As(err, &se) || se.Code != "2500" {
		t.Errorf("unknown version: %v", err)
	}
}
