package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

const (
	staff     = "U0STAFF01"
	manager   = "U0MANAGER"
	executive = "U0EXEC001"
)

// replyWorld is carebridge with one official account, SBCare, and helpers
// to open a conversation and act in its Slack thread.
type replyWorld struct {
	*harness
	t      *testing.T
	n      int
	unsure *unsureProxy
	stop   func()
}

// unsureProxy sits in front of the fake X. When armed, it forwards the
// next POST /2/tweets and then drops the connection without an answer:
// the reply went out, but carebridge cannot know — as after a crash.
type unsureProxy struct {
	srv   *httptest.Server
	armed atomic.Bool
}

func newUnsureProxy(t *testing.T, target string) *unsureProxy {
	p := &unsureProxy{}
	u, _ := url.Parse(target)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		req.Host = u.Host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if r.Method == "POST" && r.URL.Path == "/2/tweets" && p.armed.CompareAndSwap(true, false) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func newReplyWorld(t *testing.T, storeURL string, httpEvents bool) *replyWorld {
	t.Helper()
	w := &replyWorld{t: t}
	// from:SBCare reads our own replies back, as a brand's search would.
	h := newHarness(t, storeURL, harnessOptions{http: httpEvents, brands: []string{"SBCare"},
		searches: []string{"from:ucustomer", "from:SBCare"}})
	w.harness = h
	w.unsure = newUnsureProxy(t, h.x.URL())
	// Point carebridge's X client at the proxy.
	h.cfg.X.APIBaseURL = w.unsure.srv.URL
	h.x.AddUser(xfake.User{ID: "7000001", Username: "ucustomer", Name: "Kim"})
	h.users["customer"] = "7000001"
	h.slack.AddUser(staff, "aiko", false)
	h.slack.AddUser(manager, "ken", false)
	h.slack.AddUser(executive, "ceo", false)
	w.stop = h.start()
	return w
}

// conversation publishes a customer post and returns the Slack thread it
// opened in #care-devices.
func (w *replyWorld) conversation(text string) (tweetID, threadTS string) {
	w.t.Helper()
	w.n++
	tw := w.x.AddTweet(xfake.Tweet{AuthorID: "7000001", Text: text})
	var channel string
	eventually(w.t, 20*time.Second, "the post mirrored", func() (bool, string) {
		for _, m := range w.mirrors()[tw.ID] {
			if !m.fyi && m.threadTS == "" {
				threadTS, channel = m.ts, m.channel
				return true, ""
			}
		}
		return false, "not yet"
	})
	if channel != "C0DEVICES" {
		w.t.Fatalf("test post %q went to %s; the reply tests use #care-devices", text, channel)
	}
	return tw.ID, threadTS
}

// say posts a staff reply in a thread and returns its ts.
func (w *replyWorld) say(user, thread, text string) string {
	w.t.Helper()
	ts, err := w.slack.UserPosts("C0DEVICES", user, thread, text)
	if err != nil {
		w.t.Fatal(err)
	}
	return ts
}

func (w *replyWorld) react(user, ts, emoji string) {
	w.t.Helper()
	if err := w.slack.UserReacts("C0DEVICES", ts, user, emoji); err != nil {
		w.t.Fatal(err)
	}
}

func (w *replyWorld) waitReaction(ts, name string) {
	w.t.Helper()
	eventually(w.t, 30*time.Second, "reaction :"+name+":", func() (bool, string) {
		for _, r := range w.slack.Reactions("C0DEVICES", ts) {
			if r == name {
				return true, ""
			}
		}
		return false, fmt.Sprint(w.slack.Reactions("C0DEVICES", ts))
	})
}

// waitNotice waits for a bot line in the thread containing want.
func (w *replyWorld) waitNotice(thread, want string) string {
	w.t.Helper()
	var got string
	eventually(w.t, 30*time.Second, "a thread notice with "+want, func() (bool, string) {
		var all []string
		for _, m := range w.slack.Thread("C0DEVICES", thread) {
			if m.FromBot() && strings.Contains(m.Text, want) {
				got = m.Text
				return true, ""
			}
			all = append(all, m.Text)
		}
		return false, strings.Join(all, " | ")
	})
	return got
}

func (w *replyWorld) waitEphemeral(user, want string) {
	w.t.Helper()
	eventually(w.t, 30*time.Second, "an ephemeral note to "+user, func() (bool, string) {
		for _, m := range w.slack.Ephemerals("C0DEVICES", user) {
			if strings.Contains(m.Text, want) {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(w.slack.Ephemerals("C0DEVICES", user)), " notes")
	})
}

func (w *replyWorld) repliesTo(tweetID string) []xfake.Tweet {
	var out []xfake.Tweet
	for _, t := range w.x.SentTweets() {
		if t.InReplyToTweetID == tweetID {
			out = append(out, t)
		}
	}
	return out
}

func (w *replyWorld) dmsWith(text string) []xfake.DMEvent {
	var out []xfake.DMEvent
	for _, d := range w.x.SentDMs() {
		if strings.Contains(d.Text, text) {
			out = append(out, d)
		}
	}
	return out
}

// quiet waits a moment and checks that nothing was sent for tweetID.
func (w *replyWorld) nothingSent(tweetID, dmText string) {
	w.t.Helper()
	time.Sleep(700 * time.Millisecond)
	if n := len(w.repliesTo(tweetID)); n != 0 {
		w.t.Errorf("%d public replies were sent, want none", n)
	}
	if dmText != "" && len(w.dmsWith(dmText)) != 0 {
		w.t.Errorf("a DM was sent, want none")
	}
}

// TestReplyWorkflow drives the answer workflow end to end through the
// Slack fake's event delivery (Socket Mode and signed HTTP) and the X fake.
func TestReplyWorkflow(t *testing.T) {
	t.Parallel() // with the other end-to-end tests; each world has its own fakes
	for name, storeURL := range storeKinds(t) {
		for _, mode := range []string{"socket", "http"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				testReplyWorkflow(t, storeURL(t), mode == "http")
			})
		}
	}
}

func testReplyWorkflow(t *testing.T, storeURL string, httpEvents bool) {
	w := newReplyWorld(t, storeURL, httpEvents)
	a := w.cfg.Approvals

	t.Run("public reply", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare my iphone battery dies by noon")
		draft := w.say(staff, thread, "Sorry to hear that! Settings › Battery shows what drains it — could you check?")
		w.waitReaction(draft, slackad.DraftMarks.Pending)
		w.react(manager, draft, a.ApproveEmoji)
		line := w.waitNotice(thread, "Sent publicly as @SBCare, approved by <@"+manager+">")
		if !strings.Contains(line, "https://x.com/SBCare/status/") {
			t.Errorf("no link in %q", line)
		}
		sent := w.repliesTo(tweet)
		if len(sent) != 1 || sent[0].Text != "Sorry to hear that! Settings › Battery shows what drains it — could you check?" {
			t.Fatalf("replies on X: %+v", sent)
		}
		w.waitReaction(draft, slackad.DraftMarks.Sent)
		eventually(t, 10*time.Second, "⏳ removed", func() (bool, string) {
			r := w.slack.Reactions("C0DEVICES", draft)
			return !strings.Contains(strings.Join(r, ","), slackad.DraftMarks.Pending), strings.Join(r, ",")
		})
	})

	t.Run("DM", func(t *testing.T) {
		w.t = t
		_, thread := w.conversation("@SBCare my app keeps crashing")
		draft := w.say(staff, thread, "DM: Could you send us your account e-mail by DM?")
		w.waitReaction(draft, slackad.DraftMarks.Pending)
		w.react(manager, draft, a.ApproveEmoji)
		w.waitNotice(thread, "Sent by DM as @SBCare")
		if d := w.dmsWith("Could you send us your account e-mail by DM?"); len(d) != 1 || d[0].RecipientID != "7000001" && !strings.Contains(d[0].DMConversationID, "7000001") {
			t.Errorf("DMs: %+v", d)
		}
	})

	t.Run("envelope turns a public draft into a DM", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare ios update broke my calls")
		draft := w.say(staff, thread, "We'd like to look at your line settings privately.")
		w.waitReaction(draft, slackad.DraftMarks.Pending)
		w.react(manager, draft, a.ApproveDMEmoji)
		w.waitNotice(thread, "Sent by DM")
		if len(w.dmsWith("We'd like to look at your line settings privately.")) != 1 {
			t.Error("no DM")
		}
		if len(w.repliesTo(tweet)) != 0 {
			t.Error("a public reply went out too")
		}
	})

	t.Run("rejection", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare your app is garbage")
		draft := w.say(staff, thread, "Well, maybe don't use it then.")
		w.waitReaction(draft, slackad.DraftMarks.Pending)
		w.react(manager, draft, a.RejectEmoji)
		w.waitNotice(thread, "Rejected by <@"+manager+">")
		w.nothingSent(tweet, "")
	})

	t.Run("self-approval refused", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare is the new ipad in stock?")
		draft := w.say(manager, thread, "Yes, in all stores from Friday.")
		w.waitReaction(draft, slackad.DraftMarks.Pending)
		w.react(manager, draft, a.ApproveEmoji)
		w.waitEphemeral(manager, "another approver has to approve it")
		w.nothingSent(tweet, "")
	})

	t.Run("non-approver ignored", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare mac won't update")
		draft := w.say(manager, thread, "Please try Software Update again after a restart.")
		w.waitReaction(draft, slackad.DraftMarks.Pending)
		w.react(staff, draft, a.ApproveEmoji)
		w.waitEphemeral(staff, "Only devices's approvers can approve")
		w.nothingSent(tweet, "")
	})

	t.Run("watcher refused", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare iphone screen cracked after a day")
		msg := w.say(executive, thread, "This is unacceptable, I'll handle it personally.")
		w.waitEphemeral(executive, "answers customers, so your reply stays internal")
		time.Sleep(300 * time.Millisecond)
		if r := w.slack.Reactions("C0DEVICES", msg); len(r) != 0 {
			t.Errorf("the watcher's reply became a draft: %v", r)
		}
		w.nothingSent(tweet, "")
	})

	t.Run("personal data blocked, then sent as DM", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare battery swollen on my iphone")
		draft := w.say(staff, thread, "Please call our repair desk at 090-1234-5678 today.")
		line := w.waitNotice(thread, "can't go out")
		if !strings.Contains(line, "phone number") || !strings.Contains(line, "dm:") || strings.Contains(line, "090-1234-5678") {
			t.Errorf("guard notice: %q", line)
		}
		w.waitReaction(draft, slackad.DraftMarks.Blocked)
		w.react(manager, draft, a.ApproveEmoji) // public approval of a blocked draft does nothing
		w.nothingSent(tweet, "repair desk")
		w.react(manager, draft, a.ApproveDMEmoji)
		w.waitNotice(thread, "Sent by DM")
		if len(w.dmsWith("Please call our repair desk at 090-1234-5678 today.")) != 1 {
			t.Error("the DM did not go out")
		}
		if len(w.repliesTo(tweet)) != 0 {
			t.Error("the phone number went out publicly")
		}
	})

	t.Run("ineligible public reply", func(t *testing.T) {
		w.t = t
		// A search hit that does not mention us: X refuses API replies.
		tweet, thread := w.conversation("my ipad app store is stuck on loading")
		w.say(staff, thread, "Try signing out of the App Store and back in.")
		line := w.waitNotice(thread, "only lets us reply publicly to posts that mention or quote our account")
		if !strings.Contains(line, "dm:") {
			t.Errorf("no DM suggestion in %q", line)
		}
		dm := w.say(staff, thread, "dm: Try signing out of the App Store and back in.")
		w.waitReaction(dm, slackad.DraftMarks.Pending)
		w.react(manager, dm, a.ApproveEmoji)
		w.waitNotice(thread, "Sent by DM")
		if len(w.repliesTo(tweet)) != 0 {
			t.Error("a public reply went out to a post that did not mention us")
		}
	})

	t.Run("edit after approval", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare xbox app login loop")
		// X fails for a while: the first answer retries, and the second
		// one waits behind it, approved but not sent.
		w.x.FailNext(xfake.EndpointCreateTweet, 503, 3)
		first := w.say(staff, thread, "We're checking the login service now.")
		w.waitReaction(first, slackad.DraftMarks.Pending)
		w.react(manager, first, a.ApproveEmoji)
		w.waitNotice(thread, "Not sent yet: X is having trouble")
		second := w.say(staff, thread, "Update: try again in ten minutes.")
		w.waitReaction(second, slackad.DraftMarks.Pending)
		w.react(manager, second, a.ApproveEmoji)
		if err := w.slack.UserEdits("C0DEVICES", second, "Update: it should work again in ten minutes."); err != nil {
			t.Fatal(err)
		}
		w.waitNotice(thread, "edited after it was approved")
		w.waitNotice(thread, "Sent publicly") // the first one, once X is back
		time.Sleep(time.Second)
		for _, s := range w.repliesTo(tweet) {
			if strings.Contains(s.Text, "Update") {
				t.Errorf("the edited draft went out without a new approval: %q", s.Text)
			}
		}
		// The reaction is still on the message: take it off and put it on again.
		if err := w.slack.UserUnreacts("C0DEVICES", second, manager, a.ApproveEmoji); err != nil {
			t.Fatal(err)
		}
		w.react(manager, second, a.ApproveEmoji)
		eventually(t, 20*time.Second, "the edited text sent", func() (bool, string) {
			for _, s := range w.repliesTo(tweet) {
				if s.Text == "Update: it should work again in ten minutes." {
					return true, ""
				}
			}
			return false, fmt.Sprint(len(w.repliesTo(tweet)), " replies")
		})
		// An edit after sending is not relayed.
		if err := w.slack.UserEdits("C0DEVICES", first, "We're checking the login service now (edited)."); err != nil {
			t.Fatal(err)
		}
		w.waitNotice(thread, "edits are not relayed")
		if n := len(w.repliesTo(tweet)); n != 2 {
			t.Errorf("%d replies, want 2", n)
		}
	})

	t.Run("delete cancels", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare playstation app crash")
		// A pending draft deleted: reacting is no longer possible and
		// nothing goes out.
		gone := w.say(staff, thread, "Oops, wrong thread.")
		w.waitReaction(gone, slackad.DraftMarks.Pending)
		if err := w.slack.UserDeletes("C0DEVICES", gone); err != nil {
			t.Fatal(err)
		}
		// An approved draft still waiting for X, deleted before it went out.
		w.x.FailNext(xfake.EndpointCreateTweet, 503, 3)
		first := w.say(staff, thread, "We're looking into the crash.")
		w.waitReaction(first, slackad.DraftMarks.Pending)
		w.react(manager, first, a.ApproveEmoji)
		w.waitNotice(thread, "Not sent yet")
		second := w.say(staff, thread, "Please reinstall the app.")
		w.waitReaction(second, slackad.DraftMarks.Pending)
		w.react(manager, second, a.ApproveEmoji)
		if err := w.slack.UserDeletes("C0DEVICES", second); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "the first answer sent", func() (bool, string) {
			return len(w.repliesTo(tweet)) == 1, fmt.Sprint(len(w.repliesTo(tweet)))
		})
		time.Sleep(time.Second)
		for _, r := range w.repliesTo(tweet) {
			if r.Text != "We're looking into the crash." {
				t.Errorf("a deleted draft went out: %q", r.Text)
			}
		}
	})

	t.Run("removing the approval before the send withdraws it", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare ipad charger broken")
		w.x.FailNext(xfake.EndpointCreateTweet, 503, 3)
		first := w.say(staff, thread, "We'll send a replacement charger.")
		w.waitReaction(first, slackad.DraftMarks.Pending)
		w.react(manager, first, a.ApproveEmoji)
		w.waitNotice(thread, "Not sent yet")
		second := w.say(staff, thread, "Also, here is a coupon code for your trouble.")
		w.waitReaction(second, slackad.DraftMarks.Pending)
		w.react(manager, second, a.ApproveEmoji)
		if err := w.slack.UserUnreacts("C0DEVICES", second, manager, a.ApproveEmoji); err != nil {
			t.Fatal(err)
		}
		w.waitNotice(thread, "withdrew the approval before it was sent")
		eventually(t, 20*time.Second, "the first answer sent", func() (bool, string) {
			return len(w.repliesTo(tweet)) == 1, fmt.Sprint(len(w.repliesTo(tweet)))
		})
		time.Sleep(time.Second)
		for _, r := range w.repliesTo(tweet) {
			if strings.Contains(r.Text, "coupon") {
				t.Errorf("a withdrawn approval was sent: %q", r.Text)
			}
		}
	})

	t.Run("same event delivered three times", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare iphone update stuck")
		draft := w.say(staff, thread, "Please keep it on the charger until it finishes.")
		w.waitReaction(draft, slackad.DraftMarks.Pending)
		w.react(manager, draft, a.ApproveEmoji)
		var evID string
		for _, e := range w.slack.Events() {
			if e.Type == "reaction_added" && strings.Contains(string(e.Payload), draft) && strings.Contains(string(e.Payload), a.ApproveEmoji) {
				evID = e.ID
			}
		}
		if evID == "" {
			t.Fatal("approval event not found")
		}
		if err := w.slack.Redeliver(evID, 2); err != nil {
			t.Fatal(err)
		}
		w.waitNotice(thread, "Sent publicly")
		time.Sleep(time.Second)
		if n := len(w.repliesTo(tweet)); n != 1 {
			t.Errorf("%d replies after a triple delivery, want 1", n)
		}
	})

	t.Run("unknown outcome: no double reply", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare ipad keyboard not pairing")
		w.unsure.armed.Store(true)
		defer w.unsure.armed.Store(false) // a failure here must not leak into the next case
		draft := w.say(staff, thread, "Hold the keyboard's power button for five seconds, then pair again.")
		w.waitReaction(draft, slackad.DraftMarks.Pending)
		w.react(manager, draft, a.ApproveEmoji)
		w.waitNotice(thread, "Sent publicly")
		time.Sleep(500 * time.Millisecond)
		if n := len(w.repliesTo(tweet)); n != 1 {
			t.Errorf("%d replies after an unknown outcome, want exactly 1", n)
		}
		// The from:SBCare search read the reply back while its send was
		// unrecorded: it is our answer, not a post to mirror.
		for _, ms := range w.mirrors() {
			for _, m := range ms {
				if strings.Contains(m.body, "Hold the keyboard's power button") {
					t.Errorf("our own reply was mirrored into %s: %q", m.channel, m.body)
				}
			}
		}
	})

	t.Run("X 429 then success", func(t *testing.T) {
		w.t = t
		tweet, thread := w.conversation("@SBCare iphone hotspot gone")
		w.x.SetRateLimit(xfake.EndpointCreateTweet, 0, 3*time.Second)
		draft := w.say(staff, thread, "Hotspot needs the latest carrier settings; we're pushing them now.")
		w.waitReaction(draft, slackad.DraftMarks.Pending)
		w.react(manager, draft, a.ApproveEmoji)
		w.waitNotice(thread, "X is rate-limiting @SBCare. Retrying at")
		w.x.SetRateLimit(xfake.EndpointCreateTweet, xLimits[xfake.EndpointCreateTweet], 15*time.Minute)
		w.waitNotice(thread, "Sent publicly")
		if n := len(w.repliesTo(tweet)); n != 1 {
			t.Errorf("%d replies, want 1", n)
		}
	})

	t.Run("inbox drained and visible on /metrics", func(t *testing.T) {
		w.t = t
		// Every event above went through the inbox: stored, acknowledged,
		// applied. None is left, none was given up.
		var last string
		eventually(t, 20*time.Second, "inbox empty on /metrics", func() (bool, string) {
			resp, err := http.Get("http://" + w.addr + "/metrics")
			if err != nil {
				return false, err.Error()
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			return strings.Contains(last, "\ncarebridge_inbox_depth 0\n"), "depth not 0"
		})
		for _, want := range []string{"\ncarebridge_inbox_dead 0\n", "\ncarebridge_inbox_oldest_age_seconds 0\n", `carebridge_inbox_processed_total{result="done"}`} {
			if !strings.Contains(last, want) {
				t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
			}
		}
		// Exported at 0 from the start (metrics_init.go); it must stay 0.
		if !strings.Contains(last, "\n"+`carebridge_inbox_processed_total{result="dead"} 0`+"\n") {
			t.Error("an inbox row was given up")
		}
	})

	w.t = t
	w.stop() // the audit is read offline, as an operator would
	// The audit trail verifies, and tampering is caught, naming the record.
	var out bytes.Buffer
	if code := run(context.Background(), []string{"audit", "verify", "-config", w.configPath()}, &out, &out); code != 0 || !strings.Contains(out.String(), "audit verify: OK") {
		t.Fatalf("audit verify: exit %d\n%s", code, out.String())
	}
	out.Reset()
	run(context.Background(), []string{"audit", "export", "-config", w.configPath(), "-format", "jsonl"}, &out, &out)
	for _, kind := range []string{"draft_created", "draft_blocked", "approved", "rejected", "unauthorized_reaction", "self_approval_refused",
		"watcher_refused", "approval_cancelled", "draft_cancelled", "send_attempted", "sent", "send_retrying", "sent_found_on_reconcile"} {
		if !strings.Contains(out.String(), `"kind":"`+kind+`"`) {
			t.Errorf("no %s record in the audit export", kind)
		}
	}
	for _, secret := range []string{w.slack.Identity().BotToken, w.slack.Identity().SigningSecret, "token-9000000"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("a secret is in the audit log")
		}
	}
	for _, k := range []string{"approval_revoked"} {
		if !strings.Contains(out.String(), `"kind":"`+k+`"`) {
			t.Errorf("no %s record in the audit export", k)
		}
	}
	tamper(t, w.harness, "UPDATE audit_log SET details = '{\"text\":\"forged\"}' WHERE seq = 5", "audit record 5: its contents do not match its hash")
	tamper(t, w.harness, "DELETE FROM audit_log WHERE seq = 3", "audit record 3: missing")
}

// TestAuditVerifyCatchesReordering swaps two records of a real chain.
func TestAuditVerifyCatchesReordering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cb.db")
	st, err := store.Open(context.Background(), path, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := st.Transactions().Relay.WithTx(context.Background(), func(tx bridge.RelayTx) error {
			return tx.AppendAudit(context.Background(), &bridge.AuditRecord{At: time.Now(), Kind: "test", Actor: fmt.Sprintf("U%d", i), Details: []byte("{}")})
		}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("store:\n  url: %q\ndepartments:\n  - id: t\n    channel: \"#t\"\n    approval: none\nroutes:\n  - department: t\n    keywords: [x]\ntriage: t\n", path)), 0o600)
	var out bytes.Buffer
	if code := run(context.Background(), []string{"audit", "verify", "-config", cfg}, &out, &out); code != 0 {
		t.Fatalf("untouched chain: %s", out.String())
	}
	h := &harness{store: path, dir: filepath.Dir(cfg)}
	// Swap records 2 and 3 (their contents, keeping the sequence numbers).
	tamperAt(t, h, cfg, `UPDATE audit_log SET seq = -seq WHERE seq IN (2, 3);
		UPDATE audit_log SET seq = 3 WHERE seq = -2; UPDATE audit_log SET seq = 2 WHERE seq = -3`, "audit record 2: does not link to the record before it")
}

// tamper changes the audit table directly and checks that verify fails
// naming the record.
func tamper(t *testing.T, h *harness, stmt, want string) {
	t.Helper()
	tamperAt(t, h, h.configPath(), stmt, want)
}

func tamperAt(t *testing.T, h *harness, cfgPath, stmt, want string) {
	t.Helper()
	db, err := sqlx.Open(dbDriver(h.store), dbDSN(h.store))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := run(context.Background(), []string{"audit", "verify", "-config", cfgPath}, &out, &out)
	if code != 1 || !strings.Contains(out.String(), want) {
		t.Errorf("after %q: exit %d, output %q; want exit 1 naming %q", stmt, code, out.String(), want)
	}
}
