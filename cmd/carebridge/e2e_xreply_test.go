package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/x/xfake"
)

// newDirectReplyWorld is a replyWorld whose carebridge talks to the fake X
// directly (no proxy): the fake's own answer faults stand for the network.
func newDirectReplyWorld(t *testing.T, storeURL string) *replyWorld {
	t.Helper()
	// from:SBCare reads our own replies back, as a brand's search would.
	h := newHarness(t, storeURL, harnessOptions{brands: []string{"SBCare"}, searches: []string{"from:ucustomer", "from:SBCare"}})
	h.x.AddUser(xfake.User{ID: "7000001", Username: "ucustomer", Name: "Kim"})
	h.users["customer"] = "7000001"
	h.slack.AddUser(staff, "aiko", false)
	h.slack.AddUser(manager, "ken", false)
	w := &replyWorld{harness: h, t: t}
	w.stop = h.start()
	return w
}

// threadLines returns the bot's lines in a thread that contain want.
func (w *replyWorld) threadLines(thread, want string) []string {
	var out []string
	for _, m := range w.slack.Thread("C0DEVICES", thread) {
		if m.FromBot() && strings.Contains(m.Text, want) {
			out = append(out, m.Text)
		}
	}
	return out
}

// mirroredText reports a mirror of a post containing text, in any channel.
func (w *replyWorld) mirroredText(text string) string {
	for _, ms := range w.mirrors() {
		for _, m := range ms {
			if strings.Contains(m.body, text) {
				return m.channel + ": " + m.body
			}
		}
	}
	return ""
}

// TestXReplyAsXStoresIt drives the two cases where carebridge meets its
// own reply as X stores it, "@customer " in front of the text sent,
// through the real core, the X replier and pollers, a real store and the
// fake Slack.
func TestXReplyAsXStoresIt(t *testing.T) {
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			w := newDirectReplyWorld(t, storeURL(t))
			a := w.cfg.Approvals

			// The connection drops after X created the reply: the retry
			// finds the reply on the account's timeline and records it, so
			// the thread says sent, once, and X has one reply.
			t.Run("answer lost after X created the reply", func(t *testing.T) {
				w.t = t
				tweet, thread := w.conversation("@SBCare ipad keyboard not pairing")
				const text = "Hold the keyboard's power button for five seconds, then pair again."
				w.x.DropAnswerNext(xfake.EndpointCreateTweet, 1)
				draft := w.say(staff, thread, text)
				w.waitReaction(draft, slackad.DraftMarks.Pending)
				w.react(manager, draft, a.ApproveEmoji)
				w.waitNotice(thread, "Sent publicly")
				time.Sleep(time.Second)
				sent := w.repliesTo(tweet)
				if len(sent) != 1 || sent[0].Text != text {
					t.Fatalf("replies on X: %+v, want one", sent)
				}
				if stored, _ := w.x.Tweet(sent[0].ID); stored.Text != "@ucustomer "+text {
					t.Fatalf("the fake X stored %q; the test needs X's form", stored.Text)
				}
				if got := w.threadLines(thread, "Sent publicly"); len(got) != 1 || !strings.Contains(got[0], "/status/"+sent[0].ID) {
					t.Errorf("sent notices %q, want one linking %s", got, sent[0].ID)
				}
				if got := w.threadLines(thread, "Not sent:"); len(got) != 0 {
					t.Errorf("the thread says it failed: %q", got)
				}
				if m := w.mirroredText("power button"); m != "" {
					t.Errorf("our own reply was mirrored: %s", m)
				}
			})

			// X shows the reply to search before it answers the POST: the
			// search poller ingests it while the draft is being sent, and
			// it is recognised as our answer, not mirrored.
			t.Run("own answer read back before the POST answers", func(t *testing.T) {
				w.t = t
				tweet, thread := w.conversation("@SBCare ios mail app keeps crashing")
				const text = "Please update to the latest iOS, then restart Mail."
				release := make(chan struct{})
				w.x.HoldAnswerNext(xfake.EndpointCreateTweet, release)
				draft := w.say(staff, thread, text)
				w.waitReaction(draft, slackad.DraftMarks.Pending)
				w.react(manager, draft, a.ApproveEmoji)
				var replyID uint64
				eventually(t, 20*time.Second, "the reply created on X", func() (bool, string) {
					if s := w.repliesTo(tweet); len(s) == 1 {
						replyID, _ = strconv.ParseUint(s[0].ID, 10, 64)
						return true, ""
					}
					return false, "no reply yet"
				})
				// The from:SBCare poller stores its cursor with the posts it
				// ingested: a search since our reply means it was ingested.
				eventually(t, 20*time.Second, "the reply ingested by search", func() (bool, string) {
					for _, r := range w.x.Requests() {
						if r.Endpoint != xfake.EndpointSearchRecent || !strings.Contains(r.Query.Get("query"), "from:SBCare") {
							continue
						}
						if since, _ := strconv.ParseUint(r.Query.Get("since_id"), 10, 64); since >= replyID {
							return true, ""
						}
					}
					return false, "not yet"
				})
				if got := w.threadLines(thread, "Sent publicly"); len(got) != 0 {
					t.Fatalf("sent before X answered: %q", got)
				}
				close(release)
				w.waitNotice(thread, "Sent publicly")
				time.Sleep(time.Second)
				if n := len(w.repliesTo(tweet)); n != 1 {
					t.Errorf("%d replies on X, want 1", n)
				}
				if got := w.threadLines(thread, "Sent publicly"); len(got) != 1 {
					t.Errorf("sent notices %q, want one", got)
				}
				if m := w.mirroredText("restart Mail"); m != "" {
					t.Errorf("our own reply was mirrored: %s", m)
				}
				if got := w.threadLines(thread, "Reply from"); len(got) != 0 {
					t.Errorf("our own reply was mirrored into the thread: %q", got)
				}
			})
			w.t = t
		})
	}
}
