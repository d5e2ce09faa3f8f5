package bridge_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// The relay: every side effect goes through the durable outbox, is
// retried when the platform fails for a while, given up (and shown) when
// it fails for good, and sent effectively once when the outcome of an
// attempt is unknown.

// TestCrashBetweenSendingAndResult: the answer reached the customer but
// carebridge never learned it. Before trying again, the relay asks the
// platform (FindReply, FindDM), so the customer gets it once.
func TestCrashBetweenSendingAndResult(t *testing.T) {
	t.Run("connection dropped after a public reply went out", func(t *testing.T) {
		h := newHarness(t)
		c := h.customerPost("@SBCare ipad keyboard not pairing")
		const answer = "Hold the keyboard's power button for five seconds, then pair again."
		draft := h.staffReply(staff, c, answer)
		h.dropAfterSend()
		h.approve(manager, draft)
		h.waitNotice(c, "Not sent yet: X could not be reached. Retrying at 10:00.")
		h.wantDraft(draft, bridge.DraftSending, bridge.VisibilityPublic)
		if n := len(h.repliesTo(c)); n != 1 {
			t.Fatalf("%d replies reached the customer, want 1", n)
		}

		h.advance(time.Minute) // the retry falls due
		h.settle()

		replies := h.repliesTo(c)
		if len(replies) != 1 || h.sendCalls() != 1 {
			t.Fatalf("after the retry: %d replies, %d send calls; want 1 and 1: %+v", len(replies), h.sendCalls(), replies)
		}
		if h.lookups() != 1 {
			t.Errorf("the platform was asked %d times whether the answer went out, want 1", h.lookups())
		}
		if d := h.wantDraft(draft, bridge.DraftSent, bridge.VisibilityPublic); d.SentID != replies[0].ID {
			t.Errorf("the draft records %q as sent, the platform has %q", d.SentID, replies[0].ID)
		}
		h.wantNotice(c, "Sent publicly as @SBCare")
		h.wantReactions(draft, marks.Sent)
		h.wantAudit(draft, bridge.AuditDraftCreated, bridge.AuditApproved, bridge.AuditSendAttempted,
			bridge.AuditSendRetrying, bridge.AuditSendAttempted, bridge.AuditSentAlreadyOnCheck)
	})

	t.Run("connection dropped after a DM went out", func(t *testing.T) {
		h := newHarness(t)
		c := h.customerPost("@SBCare my app keeps logging me out")
		draft := h.staffReply(staff, c, "dm: Could you tell us your app version?")
		h.dropAfterSend()
		h.approve(manager, draft)
		h.waitNotice(c, "Not sent yet")
		h.advance(time.Minute)
		h.settle()
		if dms := h.dmsTo(c); len(dms) != 1 || h.sendCalls() != 1 {
			t.Fatalf("%d DMs, %d send calls; want 1 and 1", len(dms), h.sendCalls())
		}
		h.wantDraft(draft, bridge.DraftSent, bridge.VisibilityDM)
		h.wantNotice(c, "Sent by DM")
	})

	t.Run("the send's lease expires while the call hangs", func(t *testing.T) {
		for _, outcome := range []struct {
			name string
			err  error
		}{{"the stalled call then fails", errDropped}, {"the stalled call then succeeds", nil}} {
			t.Run(outcome.name, func(t *testing.T) {
				h := newHarness(t)
				c := h.customerPost("@SBCare iphone hotspot gone")
				draft := h.staffReply(staff, c, "Hotspot needs the latest carrier settings; we're pushing them now.")
				// The platform accepts the reply; the worker that sent it
				// hangs (a process that froze or died) and its lease runs out.
				release := h.hold(true)
				h.approve(manager, draft)
				h.waitHeld()
				h.advance(61 * time.Second)
				h.waitNotice(c, "Sent publicly")
				if n := len(h.repliesTo(c)); n != 1 || h.sendCalls() != 1 {
					t.Fatalf("%d replies, %d send calls after the lease expired; want 1 and 1", n, h.sendCalls())
				}
				// The stalled attempt comes back: its outcome changes nothing.
				release(outcome.err)
				h.waitSendAttempts(2)
				h.settle()
				if n := len(h.repliesTo(c)); n != 1 {
					t.Errorf("%d replies, want 1", n)
				}
				h.wantNotice(c, "Sent publicly")
				h.noNotice(c, "Not sent")
				if d := h.wantDraft(draft, bridge.DraftSent, bridge.VisibilityPublic); d.Error != "" {
					t.Errorf("the sent draft shows an error: %q", d.Error)
				}
				h.wantReactions(draft, marks.Sent)
				h.wantAudit(draft, bridge.AuditDraftCreated, bridge.AuditApproved, bridge.AuditSendAttempted,
					bridge.AuditSendAttempted, bridge.AuditSentAlreadyOnCheck)
			})
		}
	})
}

func TestSendRetriedAfterRateLimit(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare iphone hotspot gone")
	draft := h.staffReply(staff, c, "Hotspot needs the latest carrier settings.")
	h.failSends(&bridge.SendError{Platform: "x", Code: "429", RetryAfter: 5 * time.Minute, Err: errors.New("Too Many Requests")})
	h.approve(manager, draft)
	h.waitNotice(c, "Not sent yet: X is rate-limiting @SBCare. Retrying at 10:05.")
	if len(h.sent()) != 0 {
		t.Fatalf("sent: %+v", h.sent())
	}
	h.wantDraft(draft, bridge.DraftSending, bridge.VisibilityPublic)
	h.advance(5 * time.Minute)
	h.settle()
	if r := h.repliesTo(c); len(r) != 1 || h.sendCalls() != 2 {
		t.Fatalf("%d send calls (want the refused one and one more), replies: %+v", h.sendCalls(), r)
	}
	h.wantNotice(c, "Sent publicly")
	h.wantNotice(c, "Not sent yet") // said once, not at every attempt
}

func TestSendRefusedForGood(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare my ipad app crashes")
	draft := h.staffReply(staff, c, "Please reinstall it from the App Store.")
	// The customer's mention did not count for X after all.
	h.failSends(&bridge.SendError{Platform: "x", Code: "reply_not_allowed", Permanent: true, Err: errors.New("403")})
	h.approve(manager, draft)
	h.settle()

	line := h.wantNotice(c, "Not sent: X refused a public reply because the customer didn't mention or quote @SBCare.")
	if !strings.Contains(line, h.dmGesture()) {
		t.Errorf("the notice does not say how to send it as a DM: %q", line)
	}
	h.wantDraft(draft, bridge.DraftFailed, bridge.VisibilityPublic)
	h.wantReactions(draft, marks.Failed)
	if len(h.sent()) != 0 {
		t.Fatalf("sent: %+v", h.sent())
	}
	// The envelope sends the failed draft as a DM.
	h.approveDM(manager, draft)
	if dms := h.dmsTo(c); len(dms) != 1 || dms[0].Text != "Please reinstall it from the App Store." {
		t.Fatalf("DMs: %+v", dms)
	}
	h.wantDraft(draft, bridge.DraftSent, bridge.VisibilityDM)
	h.wantReactions(draft, marks.Sent)
	h.wantAudit(draft, bridge.AuditDraftCreated, bridge.AuditApproved, bridge.AuditSendAttempted, bridge.AuditSendFailed,
		bridge.AuditApproved, bridge.AuditSendAttempted, bridge.AuditSent)
}

func TestMirrorRetriedInOrder(t *testing.T) {
	h := newHarness(t)
	h.failChat(&bridge.SendError{Platform: "slack", Code: "internal_error"})
	root := h.newPost("@SBCare iphone stuck on the apple logo")
	reply := h.newPost("still stuck, tried everything", replyingTo(root))
	h.ingest(nil, reply, root) // a source may deliver them in any order
	h.waitChatAttempts(1)
	if p := h.posted(); len(p) != 0 {
		t.Fatalf("posted while the parent waits for its retry: %+v", p)
	}

	// The retry falls due (its backoff is about a second); less than the
	// lease (a minute), so that the first attempt's claim cannot expire
	// while that worker is still recording its failure (see the note on
	// per-process claim owners in docs/RELIABILITY.md).
	h.advance(30 * time.Second)
	h.settle()
	p := h.posted()
	if len(p) != 2 {
		t.Fatalf("posted: %+v", p)
	}
	if p[0].Kind != bridge.MessageParent || p[0].PostID != root.ExternalID || p[0].Ref.Channel != chDevices {
		t.Errorf("first message: %+v", p[0])
	}
	if p[1].Kind != bridge.MessageReply || p[1].PostID != reply.ExternalID || p[1].ThreadTS != p[0].Ref.TS {
		t.Errorf("the follow-up is not in the parent's thread: %+v", p[1])
	}
}

func TestMirrorGivenUp(t *testing.T) {
	h := newHarness(t)
	h.failChat(&bridge.SendError{Platform: "slack", Code: "channel_not_found", Permanent: true})
	root := h.newPost("@SBCare my iphone battery is at 80% health already")
	h.ingest(nil, root)
	h.settle()
	if p := h.posted(); len(p) != 0 {
		t.Fatalf("posted: %+v", p)
	}
	failed := h.auditByKind(bridge.AuditDeliveryFailed)
	if len(failed) != 1 || !strings.Contains(string(failed[0].Details), "channel_not_found") || failed[0].TicketID == 0 {
		t.Fatalf("delivery failures in the audit: %+v", failed)
	}

	// Once the channel is back, the conversation's next post opens the
	// thread, and an answer goes to that latest post.
	c := &conv{post: root}
	later := h.followUp(c, "hello? anyone?")
	c.thread = h.parentOf(later.ExternalID)
	draft := h.staffReply(staff, c, "Sorry for the wait — 80% after two years is normal.")
	h.approve(manager, draft)
	if s := h.sent(); len(s) != 1 || s[0].To != later.ExternalID {
		t.Fatalf("sent: %+v", s)
	}
}

// TestMirrorCrashAfterPosting: the chat surface took the parent message,
// but the worker hung before recording it and its lease ran out. The
// relay looks for the message (it carries its outbox id) before posting
// again, so the channel shows the post once.
func TestMirrorCrashAfterPosting(t *testing.T) {
	h := newHarness(t)
	release := h.holdChat(true)
	p := h.newPost("@SBCare my ipad screen has a green line")
	h.ingest(nil, p)
	h.waitChatHeld()
	h.advance(61 * time.Second)
	h.waitFor("the taken-over row is recorded", func() (bool, string) {
		return h.ticketThreadOf(p).TS != "", "no thread yet"
	})
	release(&bridge.SendError{Platform: "slack", Code: "network", Err: errors.New("connection reset by peer")})
	h.waitChatAttempts(2)
	h.settle()

	posted := h.posted()
	if len(posted) != 1 {
		t.Fatalf("%d messages for one post: %+v", len(posted), posted)
	}
	c := &conv{post: p, thread: posted[0].Ref}
	if got := h.ticket(c); got.SlackTS != posted[0].Ref.TS {
		t.Errorf("the ticket's thread is %q, the message is %q", got.SlackTS, posted[0].Ref.TS)
	}
	// The thread works: an answer written there goes out.
	draft := h.staffReply(staff, c, "Please send us a photo by DM.")
	h.approve(manager, draft)
	if len(h.repliesTo(c)) != 1 {
		t.Errorf("sent: %+v", h.sent())
	}
}
