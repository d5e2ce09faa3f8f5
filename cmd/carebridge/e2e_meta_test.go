package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/meta"
	"github.com/carebridge/carebridge/adapters/meta/metafake"
	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/clocktest"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
)

// metaStart is a Thursday, 10:00 in Tokyo (the harness's time zone).
var metaStart = time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)

// metaWorld is carebridge with a Facebook Page (and its Instagram
// account) on the fake Meta, one fake clock for both.
type metaWorld struct {
	*harness
	t    *testing.T
	clk  *clocktest.Clock
	meta *metafake.Server
	ctx  context.Context
	// stored reports whether a post is in the store.
	stored func(platform bridge.Platform, id string) bool
}

// postLookup is the one store method the test reads with.
type postLookup interface {
	PostIDs(ctx context.Context, platform bridge.Platform, externalIDs []string) (map[string]int64, error)
}

const (
	metaPage   = "111"
	metaIG     = "999"
	metaToken  = "page-token-111"
	metaSecret = "app-secret-111"
	metaVerify = "verify-me"
)

func newMetaWorld(t *testing.T, storeURL string) *metaWorld {
	clk := clocktest.New(metaStart)
	fake := metafake.New(clk, "v25.0")
	t.Cleanup(fake.Close)
	fake.AddPage(metafake.Page{ID: metaPage, Name: "acmecare", Token: metaToken, AppSecret: metaSecret, VerifyToken: metaVerify, InstagramID: metaIG})
	extra := fmt.Sprintf("meta:\n  graph_api_base_url: %s\n  graph_api_version: v25.0\n  pages:\n    - name: acmecare\n      page_id: %q\n      page_token: %s\n      app_secret: %s\n      verify_token: %s\n      instagram_id: %q\n",
		fake.URL(), metaPage, metaToken, metaSecret, metaVerify, metaIG)
	// The fake clock runs ten times faster than the wall clock (below),
	// so the per-channel pacing it drives would post faster than the fake
	// Slack's wall-clock limit allows; these few messages are not about
	// Slack's limits (the other end-to-end tests hold them).
	h := newHarness(t, storeURL, harnessOptions{extra: extra, slack: []slackfake.Option{slackfake.WithChannelRateLimit(100, 100)}})
	// A lease of a minute of fake time (six seconds of wall time): the
	// harness's 5 s would expire under a busy CPU.
	h.cfg.Outbox.Lease = config.Duration(time.Minute)
	w := &metaWorld{harness: h, t: t, clk: clk, meta: fake, ctx: context.Background()}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, h.cfg, appOptions{Logger: slog.New(slog.DiscardHandler), Listener: ln, PollInterval: 20 * time.Millisecond, Clock: clk})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // time flows: 100 ms of fake time every 10 ms
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				clk.Advance(100 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err := <-done; err != nil {
			t.Errorf("carebridge stopped with %v", err)
		}
	})
	fake.SetWebhook("http://" + h.addr + "/meta/webhook")
	posts, err := store.Runner[postLookup](a.store)
	if err != nil {
		t.Fatal(err)
	}
	w.stored = func(platform bridge.Platform, id string) bool {
		var found map[string]int64
		if err := posts.WithTx(w.ctx, func(tx postLookup) error {
			var err error
			found, err = tx.PostIDs(w.ctx, platform, []string{id})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return found[id] != 0
	}
	return w
}

func TestMetaEndToEnd(t *testing.T) {
	for name, mk := range storeKinds(t) {
		t.Run(name, func(t *testing.T) { runMetaEndToEnd(t, mk(t)) })
	}
}

func runMetaEndToEnd(t *testing.T, storeURL string) {
	w := newMetaWorld(t, storeURL)
	ctx := w.ctx

	// Meta's subscription check.
	if code, body, err := w.meta.Verify(ctx, "subscribe", metaVerify, "1158201444"); err != nil || code != 200 || body != "1158201444" {
		t.Fatalf("verification: %d %q %v", code, body, err)
	}
	if code, _, _ := w.meta.Verify(ctx, "subscribe", "wrong", "1"); code != http.StatusForbidden {
		t.Errorf("verification with a wrong token: %d, want 403", code)
	}

	// Hostile deliveries leave no row.
	bait := w.meta.AddComment(metafake.Comment{PageID: metaPage, PostID: metaPage + "_1", FromID: "u666", FromName: "Mallory", Text: "my bill"})
	body := w.meta.Body(w.meta.CommentUpdate(bait, "add"))
	big := append(bytes.Repeat([]byte(" "), meta.MaxDeliveryBytes), body...)
	for _, tt := range []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"bad signature", body, metafake.Signature(body, "not-the-secret"), http.StatusForbidden},
		{"no signature", body, "", http.StatusUnauthorized},
		{"oversize", big, metafake.Signature(big, metaSecret), http.StatusRequestEntityTooLarge},
		{"malformed", []byte(`{"object":"page","entry":[{`), metafake.Signature([]byte(`{"object":"page","entry":[{`), metaSecret), http.StatusBadRequest},
		{"unknown object", []byte(`{"object":"user","entry":[]}`), metafake.Signature([]byte(`{"object":"user","entry":[]}`), metaSecret), http.StatusBadRequest},
	} {
		code, err := w.meta.DeliverRaw(ctx, tt.body, tt.sig)
		if err != nil || code != tt.want {
			t.Errorf("%s: %d %v, want %d", tt.name, code, err, tt.want)
		}
	}
	if w.stored(meta.Facebook, bait.ID) {
		t.Fatal("a refused delivery left its comment in the store")
	}

	// A Facebook comment, delivered twice with an echo of our own comment
	// in the batch: one ticket in #care-billing, saying what is possible.
	kim := w.meta.AddComment(metafake.Comment{PageID: metaPage, PostID: metaPage + "_42", FromID: "u1", FromName: "Kim", Text: "My bill doubled this month??"})
	own := w.meta.AddComment(metafake.Comment{PageID: metaPage, PostID: metaPage + "_42", FromID: metaPage, FromName: "acmecare", Text: "We're looking at your bill"})
	w.deliver(w.meta.CommentUpdate(kim, "add"), w.meta.CommentUpdate(own, "add"))
	w.deliver(w.meta.CommentUpdate(kim, "add"))
	thread := w.mirror("C0BILLING", "My bill doubled", "Public reply, or one private reply (dm:) until Thu 10 Dec 10:00")
	if w.stored(meta.Facebook, own.ID) {
		t.Error("our own comment was stored as a customer's")
	}

	// Public reply, approved and sent.
	w.approve("C0BILLING", thread, "Sorry Kim, we're checking your bill now.")
	w.notice("C0BILLING", thread, "Sent publicly as @acmecare")
	if r := w.meta.Replies(); len(r) != 2 || r[1].ParentID != kim.ID || r[1].Text != "Sorry Kim, we're checking your bill now." {
		t.Fatalf("replies on Meta: %+v", r)
	}
	w.deliver(w.meta.Echoes()...) // our reply comes back: no new ticket, no mirror
	w.noMirror("C0BILLING", "checking your bill now")

	// Private reply once; a second is refused before anyone approves it.
	w.approve("C0BILLING", thread, "dm: Kim, I've sent the details of the refund here.")
	w.notice("C0BILLING", thread, "Sent by DM as @acmecare")
	if s := w.meta.Sent(); len(s) != 1 || s[0].CommentID != kim.ID {
		t.Fatalf("private replies on Meta: %+v", s)
	}
	w.say("C0BILLING", thread, "dm: one more thing")
	w.notice("C0BILLING", thread, "already got its one private reply")

	// Out of order, edited, removed: Ann's two comments arrive newest
	// first in one batch (the first still opens the thread), then her
	// edit and, after she removed the first, its removal, which leaves
	// nothing to answer.
	ann1 := w.meta.AddComment(metafake.Comment{PageID: metaPage, PostID: metaPage + "_42", FromID: "u2", FromName: "Ann", Text: "Why was I charged twice?", At: metaStart})
	ann2 := w.meta.AddComment(metafake.Comment{PageID: metaPage, PostID: metaPage + "_42", FromID: "u2", FromName: "Ann", Text: "Hello??", At: metaStart.Add(time.Minute)})
	w.deliver(w.meta.CommentUpdate(ann2, "add"), w.meta.CommentUpdate(ann1, "add"))
	annThread := w.mirror("C0BILLING", "charged twice", "one private reply")
	ann1.Text = "Why was I charged twice this month?"
	w.deliver(w.meta.CommentUpdate(ann1, "edited"))
	w.meta.RemoveComment(ann1.ID)
	w.deliver(w.meta.CommentUpdate(ann1, "remove"))
	for _, want := range []string{"Hello??", "Ann (edited the comment)", "(removed the comment)"} {
		eventually(t, 20*time.Second, want+" in the thread", func() (bool, string) {
			for _, m := range w.slack.Thread("C0BILLING", annThread) {
				if strings.Contains(string(m.Blocks), want) {
					return true, ""
				}
			}
			return false, "not yet"
		})
	}
	w.say("C0BILLING", annThread, "Sorry Ann, checking now.")
	w.notice("C0BILLING", annThread, "The customer removed this comment")

	// Instagram: a crash after the public reply went out (the answer is
	// lost on the way) does not send it twice; a private reply whose
	// answer was lost is recognised by Meta's 10900 on the retry.
	lee := w.meta.AddComment(metafake.Comment{PageID: metaPage, Instagram: true, PostID: "media9", FromID: "ig7", FromName: "lee.k", Text: "wifi keeps dropping at home"})
	w.deliver(w.meta.CommentUpdate(lee, "add"))
	igThread := w.mirror("C0WIFI", "wifi keeps dropping", "one private reply")
	w.meta.DropAnswers(1)
	w.approve("C0WIFI", igThread, "Sorry Lee! Restarting the router usually helps.")
	w.notice("C0WIFI", igThread, "Sent publicly")
	n := 0
	for _, r := range w.meta.Replies() {
		if r.ParentID == lee.ID {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d replies under the Instagram comment after a lost answer, want 1", n)
	}
	calls := func() (n int) {
		for _, c := range w.meta.Calls() {
			if c == "POST /"+metaPage+"/messages" {
				n++
			}
		}
		return n
	}
	before := calls()
	w.meta.DropAnswers(1)
	w.approve("C0WIFI", igThread, "dm: Lee, send us your account number here.")
	w.notice("C0WIFI", igThread, "Sent by DM")
	if s := w.meta.Sent(); len(s) != 2 || s[1].CommentID != lee.ID {
		t.Fatalf("messages on Meta after a lost private reply: %+v", s)
	}
	if n := calls() - before; n != 2 {
		t.Errorf("%d private reply calls, want 2: the lost one and the retry Meta refused with 10900", n)
	}

	// Messenger: inside 24 hours a DM goes out (RESPONSE); after, it is
	// refused up front.
	dm := w.meta.AddMessage(metafake.Message{PageID: metaPage, From: "psid5", Text: "my router has a red light"})
	w.deliver(w.meta.MessageUpdate(dm))
	dmThread := w.mirror("C0WIFI", "red light", "Messenger DM — answer (dm:) until")
	w.approve("C0WIFI", dmThread, "dm: Please hold the reset button for 10 seconds.")
	w.notice("C0WIFI", dmThread, "Sent by DM")
	if s := w.meta.Sent(); s[len(s)-1].Type != "RESPONSE" || s[len(s)-1].To != "psid5" {
		t.Fatalf("DM on Meta: %+v", s[len(s)-1])
	}
	w.deliver(w.meta.Echoes()...)
	w.clk.Advance(25 * time.Hour)
	w.say("C0WIFI", dmThread, "dm: Did it help?")
	w.notice("C0WIFI", dmThread, "24-hour window for answering this customer closed")

	// A revoked token: the send fails for good, the thread says why, the
	// page shows as broken in /readyz and the metrics.
	w.meta.RevokeToken(metaToken)
	w.approve("C0BILLING", thread, "Kim, the refund is on its way.")
	w.notice("C0BILLING", thread, "Meta refused the Page token of acmecare (error 190")
	for path, want := range map[string]string{"/readyz": "meta page acmecare: token refused by Meta (error 190)", "/metrics": `carebridge_meta_page_broken{page="acmecare"} 1`} {
		resp, err := http.Get("http://" + w.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, want %q in:\n%s", path, resp.StatusCode, want, b)
		}
	}
}

func (w *metaWorld) deliver(updates ...metafake.Update) {
	w.t.Helper()
	if code, err := w.meta.Deliver(w.ctx, updates...); err != nil || code != 200 {
		w.t.Fatalf("delivery: %d %v", code, err)
	}
}

// mirror waits for the one parent message showing text in channel, with
// the answer line want, and returns its ts.
func (w *metaWorld) mirror(channel, text, want string) string {
	w.t.Helper()
	var ts string
	eventually(w.t, 20*time.Second, "the mirror of "+text, func() (bool, string) {
		var found []string
		for _, m := range w.slack.Messages(channel) {
			if m.FromBot() && m.ThreadTS == "" && strings.Contains(string(m.Blocks), text) {
				found = append(found, m.TS)
				if !strings.Contains(string(m.Blocks), want) {
					return false, "no " + want + " in " + string(m.Blocks)
				}
			}
		}
		if len(found) > 1 {
			w.t.Fatalf("%q mirrored %d times", text, len(found))
		}
		if len(found) == 1 {
			ts = found[0]
			return true, ""
		}
		return false, "not yet"
	})
	return ts
}

func (w *metaWorld) noMirror(channel, text string) {
	w.t.Helper()
	time.Sleep(300 * time.Millisecond)
	for _, m := range w.slack.Messages(channel) {
		if m.FromBot() && m.ThreadTS == "" && strings.Contains(string(m.Blocks), text) {
			w.t.Errorf("our own %q was mirrored as a customer's post", text)
		}
	}
}

func (w *metaWorld) say(channel, thread, text string) string {
	w.t.Helper()
	ts, err := w.slack.UserPosts(channel, "U0STAFF01", thread, text)
	if err != nil {
		w.t.Fatal(err)
	}
	return ts
}

// approve writes a draft and has the manager approve it once it waits.
func (w *metaWorld) approve(channel, thread, text string) {
	w.t.Helper()
	ts := w.say(channel, thread, text)
	eventually(w.t, 20*time.Second, "the draft waiting for approval", func() (bool, string) {
		for _, r := range w.slack.Reactions(channel, ts) {
			if r == slackad.DraftMarks.Pending {
				return true, ""
			}
		}
		return false, fmt.Sprint(w.slack.Reactions(channel, ts))
	})
	if err := w.slack.UserReacts(channel, ts, "U0MANAGER", w.cfg.Approvals.ApproveEmoji); err != nil {
		w.t.Fatal(err)
	}
}

func (w *metaWorld) notice(channel, thread, want string) {
	w.t.Helper()
	eventually(w.t, 20*time.Second, "a thread notice with "+want, func() (bool, string) {
		var all []string
		for _, m := range w.slack.Thread(channel, thread) {
			if m.FromBot() && strings.Contains(m.Text, want) {
				return true, ""
			}
			all = append(all, m.Text)
		}
		return false, strings.Join(all, " | ")
	})
}
