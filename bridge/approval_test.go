package bridge_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// The approval state machine: thread replies become drafts, the guards
// check them, approvers' reactions release or stop them, and the relay
// sends them. Each test asserts what people see: what reached the
// customer, the lines and reactions in the thread, the notes only one
// person saw, the drafts' states and the audit trail.

func TestPublicReply(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare my iphone battery dies by noon")
	const answer = "Sorry to hear that! Settings › Battery shows what drains it — could you check?"
	draft := h.staffReply(staff, c, answer)
	h.wantDraft(draft, bridge.DraftPending, bridge.VisibilityPublic)
	h.wantReactions(draft, marks.Pending)
	if tk := h.ticket(c); tk.State != bridge.TicketAwaitingApproval {
		t.Errorf("ticket with a pending draft: %s", tk.State)
	}
	if len(h.sent()) != 0 {
		t.Fatalf("sent before approval: %+v", h.sent())
	}

	h.approve(manager, draft)

	replies := h.repliesTo(c)
	if len(replies) != 1 || replies[0].Text != answer || replies[0].Account != account {
		t.Fatalf("public replies: %+v", replies)
	}
	if len(h.sent()) != 1 {
		t.Errorf("sent: %+v", h.sent())
	}
	line := h.wantNotice(c, "Sent publicly as @SBCare, approved by <@"+manager+">")
	if !strings.Contains(line, "https://x.com/SBCare/status/"+replies[0].ID) {
		t.Errorf("no link to the reply in %q", line)
	}
	h.wantReactions(draft, marks.Sent)
	d := h.wantDraft(draft, bridge.DraftSent, bridge.VisibilityPublic)
	if d.ApprovedBy != manager || d.Author != staff || d.SentID != replies[0].ID {
		t.Errorf("draft: author %q, approved by %q, sent id %q", d.Author, d.ApprovedBy, d.SentID)
	}
	if tk := h.ticket(c); tk.State != bridge.TicketAnswered || tk.FirstResponseAt.IsZero() {
		t.Errorf("ticket: %s, first response %v", tk.State, tk.FirstResponseAt)
	}
	h.wantAudit(draft, bridge.AuditDraftCreated, bridge.AuditApproved, bridge.AuditSendAttempted, bridge.AuditSent)
	sent := h.auditRecord(draft, bridge.AuditSent)
	var details map[string]any
	if err := json.Unmarshal(sent.Details, &details); err != nil {
		t.Fatal(err)
	}
	if details["approved_by"] != manager || details["author"] != staff || details["text"] != answer || details["platform_id"] != replies[0].ID || details["visibility"] != "public" {
		t.Errorf("the audit record of the send does not say who wrote, who approved, what went out where: %s", sent.Details)
	}
}

func TestDMReply(t *testing.T) {
	t.Run("dm: prefix on a public conversation", func(t *testing.T) {
		h := newHarness(t)
		c := h.customerPost("@SBCare my app keeps crashing")
		draft := h.staffReply(staff, c, "DM: Could you send us your account e-mail by DM?")
		h.wantDraft(draft, bridge.DraftPending, bridge.VisibilityDM)
		h.approve(manager, draft)
		dms := h.dmsTo(c)
		if len(dms) != 1 || dms[0].Text != "Could you send us your account e-mail by DM?" || dms[0].Account != account {
			t.Fatalf("DMs: %+v", dms)
		}
		if n := len(h.repliesTo(c)); n != 0 {
			t.Errorf("%d public replies as well", n)
		}
		line := h.wantNotice(c, "Sent by DM as @SBCare, approved by <@"+manager+">")
		if strings.Contains(line, "x.com") {
			t.Errorf("a DM's notice links to it: %q", line)
		}
		h.wantDraft(draft, bridge.DraftSent, bridge.VisibilityDM)
		h.wantReactions(draft, marks.Sent)
	})

	t.Run("a conversation that is a DM", func(t *testing.T) {
		h := newHarness(t)
		c := h.customerPost("my ipad won't charge, can you help?", byDM)
		// A public reply to a DM is impossible: the guard says so at once.
		public := h.staffReply(staff, c, "Try another cable, please.")
		h.wantDraft(public, bridge.DraftBlocked, bridge.VisibilityPublic)
		h.wantNotice(c, "This conversation is a DM, so a public reply isn't possible")
		h.approve(manager, public)
		if len(h.sent()) != 0 {
			t.Fatalf("a public reply to a DM went out: %+v", h.sent())
		}
		dm := h.staffReply(staff, c, "dm: Try another cable, please.")
		h.approve(manager, dm)
		if dms := h.dmsTo(c); len(dms) != 1 || dms[0].Text != "Try another cable, please." {
			t.Fatalf("DMs: %+v", dms)
		}
		if len(h.sent()) != 1 {
			t.Errorf("sent: %+v", h.sent())
		}
	})
}

func TestEnvelopeTurnsPublicDraftIntoDM(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare ios update broke my iphone calls")
	draft := h.staffReply(staff, c, "We'd like to look at your line settings privately.")
	h.wantDraft(draft, bridge.DraftPending, bridge.VisibilityPublic)

	h.approveDM(manager, draft)

	if dms := h.dmsTo(c); len(dms) != 1 || dms[0].Text != "We'd like to look at your line settings privately." {
		t.Fatalf("DMs: %+v", dms)
	}
	if n := len(h.repliesTo(c)); n != 0 {
		t.Errorf("%d public replies as well", n)
	}
	h.wantNotice(c, "Sent by DM as @SBCare")
	h.wantDraft(draft, bridge.DraftSent, bridge.VisibilityDM)
	approved := h.auditRecord(draft, bridge.AuditApproved)
	if !strings.Contains(string(approved.Details), `"visibility":"dm"`) || !strings.Contains(string(approved.Details), strings.Trim(h.dmGesture(), ":")) {
		t.Errorf("approval record: %s", approved.Details)
	}
}

func TestReject(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare your app is garbage")
	draft := h.staffReply(staff, c, "Well, maybe don't use it then.")
	h.reject(manager, draft)

	h.wantNotice(c, "Rejected by <@"+manager+">; nothing was sent.")
	h.wantDraft(draft, bridge.DraftRejected, bridge.VisibilityPublic)
	h.wantReactions(draft) // the pending mark is gone
	// A later approval of a rejected draft sends nothing.
	h.approve(manager2, draft)
	if len(h.sent()) != 0 {
		t.Fatalf("a rejected draft went out: %+v", h.sent())
	}
	h.wantAudit(draft, bridge.AuditDraftCreated, bridge.AuditRejected)
}

func TestSelfApprovalRefused(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare is the new ipad in stock?")
	draft := h.staffReply(manager, c, "Yes, in all stores from Friday.")
	h.approve(manager, draft)

	if len(h.sent()) != 0 {
		t.Fatalf("a self-approved draft went out: %+v", h.sent())
	}
	if e := h.ephemerals(manager); len(e) != 1 || !strings.Contains(e[0], "another approver has to approve it") {
		t.Errorf("the author was not told: %q", e)
	}
	h.wantDraft(draft, bridge.DraftPending, bridge.VisibilityPublic)
	h.wantAudit(draft, bridge.AuditDraftCreated, bridge.AuditSelfApproval)

	// Another approver may.
	h.approve(manager2, draft)
	if r := h.repliesTo(c); len(r) != 1 || r[0].Text != "Yes, in all stores from Friday." {
		t.Fatalf("replies after a second approver: %+v", r)
	}
	h.wantNotice(c, "approved by <@"+manager2+">")
}

func TestNonApproverIgnored(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare my app won't update")
	draft := h.staffReply(manager, c, "Please try the update again after a restart.")
	h.approve(staff, draft)
	h.reject(staff, draft)

	if len(h.sent()) != 0 {
		t.Fatalf("a non-approver's reaction sent the draft: %+v", h.sent())
	}
	e := h.ephemerals(staff)
	if len(e) != 2 || !strings.Contains(e[0], "Only Devices's approvers can approve or reject answers") {
		t.Errorf("the non-approver was not told (twice): %q", e)
	}
	h.wantDraft(draft, bridge.DraftPending, bridge.VisibilityPublic)
	h.wantAudit(draft, bridge.AuditDraftCreated, bridge.AuditUnauthorized, bridge.AuditUnauthorized)
	if n := len(h.notices(c)); n != 0 {
		t.Errorf("the thread shows %d notices about it: %q", n, h.notices(c))
	}
}

func TestApproverThroughUserGroup(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare battery swelling on my ipad")
	draft := h.staffReply(staff, c, "Please stop using it and visit a shop today.")
	h.approve(lead, draft) // a member of S0LEADS01, one of the approvers
	if r := h.repliesTo(c); len(r) != 1 {
		t.Fatalf("replies: %+v", r)
	}
	if d := h.draft(draft); d.ApprovedBy != lead {
		t.Errorf("approved by %q", d.ApprovedBy)
	}
}

func TestWatcher(t *testing.T) {
	t.Run("cannot approve, even when listed as an approver", func(t *testing.T) {
		h := newHarness(t)
		c := h.customerPost("@SBCare iphone screen cracked after a day")
		draft := h.staffReply(staff, c, "We're sorry — please bring it to any shop for a free check.")
		h.approve(executive, draft)
		h.reject(executive, draft)
		if len(h.sent()) != 0 {
			t.Fatalf("a watcher's reaction sent the draft: %+v", h.sent())
		}
		h.wantDraft(draft, bridge.DraftPending, bridge.VisibilityPublic)
		e := h.ephemerals(executive)
		if len(e) != 2 || !strings.Contains(e[0], "You're watching this conversation") || !strings.Contains(e[0], "Devices's approvers decide") {
			t.Errorf("the watcher was not told: %q", e)
		}
		h.wantAudit(draft, bridge.AuditDraftCreated, bridge.AuditWatcherRefused, bridge.AuditWatcherRefused)
		h.approve(manager, draft)
		if len(h.repliesTo(c)) != 1 {
			t.Errorf("the approver's approval did not send: %+v", h.sent())
		}
	})

	t.Run("a watcher's thread reply stays internal", func(t *testing.T) {
		h := newHarness(t)
		c := h.customerPost("@SBCare iphone screen cracked after a day")
		msg := h.staffReply(executive, c, "This is unacceptable, I'll handle it personally.")
		h.noDraft(msg)
		h.wantReactions(msg)
		if e := h.ephemerals(executive); len(e) != 1 || !strings.Contains(e[0], "Devices answers customers, so your reply stays internal") {
			t.Errorf("the watcher was not told: %q", e)
		}
		if len(h.auditByKind(bridge.AuditWatcherRefused)) != 1 {
			t.Error("no audit record of the watcher's reply")
		}
		h.approve(manager, msg)
		if len(h.sent()) != 0 {
			t.Fatalf("sent: %+v", h.sent())
		}
	})
}

func TestPersonalDataBlockedThenDM(t *testing.T) {
	const text = "Please call our repair desk at 090-1234-5678 today."
	// blockedDraft opens a conversation whose public draft the PII guard
	// blocks, and checks what the thread shows.
	blockedDraft := func(t *testing.T, h *harness) (*conv, bridge.ChatRef) {
		c := h.customerPost("@SBCare battery swollen on my iphone")
		draft := h.staffReply(staff, c, text)
		d := h.wantDraft(draft, bridge.DraftBlocked, bridge.VisibilityPublic)
		if d.GuardReason != "pii:phone" {
			t.Errorf("guard reason %q", d.GuardReason)
		}
		line := h.wantNotice(c, "this answer can't go out as it is")
		if !strings.Contains(line, "phone number") || !strings.Contains(line, "dm:") || strings.Contains(line, "090-1234-5678") || !strings.Contains(line, "<@"+staff+">") {
			t.Errorf("guard notice: %q", line)
		}
		h.wantReactions(draft, marks.Blocked)
		// Approving the public answer does nothing: it is still blocked.
		h.approve(manager, draft)
		h.wantDraft(draft, bridge.DraftBlocked, bridge.VisibilityPublic)
		if len(h.sent()) != 0 {
			t.Fatalf("the phone number went out: %+v", h.sent())
		}
		return c, draft
	}

	t.Run("a new dm: draft", func(t *testing.T) {
		h := newHarness(t)
		c, _ := blockedDraft(t, h)
		dm := h.staffReply(staff, c, "dm: "+text)
		h.wantDraft(dm, bridge.DraftPending, bridge.VisibilityDM)
		h.approve(manager, dm)
		if d := h.dmsTo(c); len(d) != 1 || d[0].Text != text {
			t.Fatalf("DMs: %+v", d)
		}
		if len(h.repliesTo(c)) != 0 {
			t.Error("the phone number went out publicly")
		}
		h.wantNotice(c, "Sent by DM")
	})

	t.Run("the blocked draft edited into dm:", func(t *testing.T) {
		h := newHarness(t)
		c, draft := blockedDraft(t, h)
		h.edit(staff, draft, "dm: "+text)
		h.wantDraft(draft, bridge.DraftPending, bridge.VisibilityDM)
		h.wantNotice(c, "The edited draft passes the checks and waits for an approver")
		h.wantReactions(draft, marks.Pending)
		h.approve(manager, draft)
		if d := h.dmsTo(c); len(d) != 1 || d[0].Text != text {
			t.Fatalf("DMs: %+v", d)
		}
		if len(h.sent()) != 1 {
			t.Errorf("sent: %+v", h.sent())
		}
	})

	t.Run("the envelope on the blocked draft", func(t *testing.T) {
		h := newHarness(t)
		c, draft := blockedDraft(t, h)
		h.approveDM(manager, draft)
		if d := h.dmsTo(c); len(d) != 1 || d[0].Text != text {
			t.Fatalf("DMs: %+v", d)
		}
		h.wantDraft(draft, bridge.DraftSent, bridge.VisibilityDM)
		h.wantReactions(draft, marks.Sent)
	})
}

func TestIneligiblePublicReply(t *testing.T) {
	h := newHarness(t)
	// A search hit that does not mention us: X refuses API replies to it.
	c := h.customerPost("my ipad app store is stuck on loading", keywordHit)
	draft := h.staffReply(staff, c, "Try signing out of the App Store and back in.")

	d := h.wantDraft(draft, bridge.DraftBlocked, bridge.VisibilityPublic)
	if d.GuardReason != "eligibility:dm_only" {
		t.Errorf("guard reason %q", d.GuardReason)
	}
	line := h.wantNotice(c, "X only lets us reply publicly to posts that mention or quote our account")
	if !strings.Contains(line, "dm:") {
		t.Errorf("no DM suggestion in %q", line)
	}
	h.wantReactions(draft, marks.Blocked)
	h.approve(manager, draft)
	if len(h.sent()) != 0 {
		t.Fatalf("a public reply went out to a post that did not mention us: %+v", h.sent())
	}
	h.wantAudit(draft, bridge.AuditDraftCreated, bridge.AuditDraftBlocked)

	dm := h.staffReply(staff, c, "dm: Try signing out of the App Store and back in.")
	h.approve(manager, dm)
	if got := h.dmsTo(c); len(got) != 1 || got[0].Text != "Try signing out of the App Store and back in." {
		t.Fatalf("DMs: %+v", got)
	}
	if len(h.repliesTo(c)) != 0 {
		t.Error("a public reply went out")
	}
}

func TestEditAfterApproval(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare xbox app login loop")
	// The platform is slow with the first answer: the second one waits
	// behind it, approved but not sent.
	release := h.hold(false)
	first := h.staffReply(staff, c, "We're checking the login service now.")
	h.approve(manager, first)
	h.waitHeld()
	second := h.staffReply(staff, c, "Update: try again in ten minutes.")
	h.approve(manager, second)
	h.wantDraft(second, bridge.DraftApproved, bridge.VisibilityPublic)

	h.edit(staff, second, "Update: it should work again in ten minutes.")
	h.waitNotice(c, "edited after it was approved")
	d := h.wantDraft(second, bridge.DraftPending, bridge.VisibilityPublic)
	if d.ApprovedBy != "" || d.Text != "Update: it should work again in ten minutes." {
		t.Errorf("edited draft: approved by %q, text %q", d.ApprovedBy, d.Text)
	}

	release(nil)
	h.settle()
	if r := h.repliesTo(c); len(r) != 1 || r[0].Text != "We're checking the login service now." {
		t.Fatalf("the edited draft went out without a new approval: %+v", r)
	}
	h.wantDraft(second, bridge.DraftPending, bridge.VisibilityPublic)
	h.wantAudit(second, bridge.AuditDraftCreated, bridge.AuditApproved, bridge.AuditDraftEdited, bridge.AuditApprovalCancelled)

	// The reaction is still on the message: take it off and put it on again.
	h.withdraw(manager, second)
	h.approve(manager, second)
	r := h.repliesTo(c)
	if len(r) != 2 || r[1].Text != "Update: it should work again in ten minutes." {
		t.Fatalf("replies after the new approval: %+v", r)
	}

	// An edit after sending is not relayed.
	h.edit(staff, first, "We're checking the login service now (edited).")
	h.wantNotice(c, "edits are not relayed")
	if n := len(h.sent()); n != 2 {
		t.Errorf("%d answers sent, want 2", n)
	}
	if d := h.draft(first); d.Text != "We're checking the login service now." || d.State != bridge.DraftSent {
		t.Errorf("sent draft changed by the edit: %q %s", d.Text, d.State)
	}
	if len(h.auditByKind(bridge.AuditEditAfterSend)) != 1 {
		t.Error("the edit after sending is not audited")
	}
}

func TestDeleteDraft(t *testing.T) {
	t.Run("pending", func(t *testing.T) {
		h := newHarness(t)
		c := h.customerPost("@SBCare playstation app crash")
		gone := h.staffReply(staff, c, "Oops, wrong thread.")
		h.remove(staff, gone)
		h.wantDraft(gone, bridge.DraftCancelled, bridge.VisibilityPublic)
		h.approve(manager, gone)
		if len(h.sent()) != 0 {
			t.Fatalf("a deleted draft went out: %+v", h.sent())
		}
		h.wantAudit(gone, bridge.AuditDraftCreated, bridge.AuditDraftCancelled)
		if rec := h.auditRecord(gone, bridge.AuditDraftCancelled); !strings.Contains(string(rec.Details), "message deleted") {
			t.Errorf("cancel record: %s", rec.Details)
		}
	})

	t.Run("approved, waiting for the send", func(t *testing.T) {
		h := newHarness(t)
		c := h.customerPost("@SBCare playstation app crash")
		release := h.hold(false)
		first := h.staffReply(staff, c, "We're looking into the crash.")
		h.approve(manager, first)
		h.waitHeld()
		second := h.staffReply(staff, c, "Please reinstall the app.")
		h.approve(manager, second)
		h.remove(staff, second)
		h.wantDraft(second, bridge.DraftCancelled, bridge.VisibilityPublic)
		release(nil)
		h.settle()
		if r := h.sent(); len(r) != 1 || r[0].Text != "We're looking into the crash." {
			t.Fatalf("sent: %+v", r)
		}
		h.wantDraft(second, bridge.DraftCancelled, bridge.VisibilityPublic)
	})
}

func TestApprovalRemovedBeforeSend(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare ipad charger broken")
	release := h.hold(false)
	first := h.staffReply(staff, c, "We'll send a replacement charger.")
	h.approve(manager, first)
	h.waitHeld()
	second := h.staffReply(staff, c, "Also, here is a coupon code for your trouble.")
	h.approve(manager, second)

	h.withdraw(manager, second)
	h.waitNotice(c, "<@"+manager+"> withdrew the approval before it was sent; the draft waits again.")
	h.wantDraft(second, bridge.DraftPending, bridge.VisibilityPublic)

	release(nil)
	h.settle()
	if r := h.sent(); len(r) != 1 || r[0].Text != "We'll send a replacement charger." {
		t.Fatalf("a withdrawn approval was sent: %+v", r)
	}
	h.wantDraft(second, bridge.DraftPending, bridge.VisibilityPublic)
	h.wantAudit(second, bridge.AuditDraftCreated, bridge.AuditApproved, bridge.AuditApprovalRevoked)

	// Someone else's removed reaction withdraws nothing.
	h.approve(manager, second)
	h.wantDraft(second, bridge.DraftSent, bridge.VisibilityPublic)
	h.withdraw(manager2, first)
	if n := len(h.sent()); n != 2 {
		t.Errorf("%d answers sent, want 2", n)
	}
}

func TestSameEventDeliveredThreeTimes(t *testing.T) {
	for _, path := range []string{"inbox", "direct"} {
		t.Run(path, func(t *testing.T) {
			h := newHarness(t)
			direct := path == "direct"
			c := h.customerPost("@SBCare iphone update stuck")
			draft := h.staffReply(staff, c, "Please keep it on the charger until it finishes.")

			// A non-approver's reaction: every application would show
			// another note and write another record.
			var refused string
			if direct {
				refused = h.approveDirect(staff, draft)
			} else {
				refused = h.approve(staff, draft)
			}
			h.redeliver(refused, direct)
			h.redeliver(refused, direct)
			if e := h.ephemerals(staff); len(e) != 1 {
				t.Errorf("%d notes for one event delivered three times: %q", len(e), e)
			}

			var approved string
			if direct {
				approved = h.approveDirect(manager, draft)
			} else {
				approved = h.approve(manager, draft)
			}
			h.redeliver(approved, direct)
			h.redeliver(approved, direct)
			if n := len(h.sent()); n != 1 {
				t.Errorf("%d answers sent after a triple delivery, want 1", n)
			}
			if n := len(h.noticesWith(c, "Sent publicly")); n != 1 {
				t.Errorf("%d sent notices", n)
			}
			h.wantAudit(draft, bridge.AuditDraftCreated, bridge.AuditUnauthorized, bridge.AuditApproved, bridge.AuditSendAttempted, bridge.AuditSent)
		})
	}
}

func TestInternalNotes(t *testing.T) {
	t.Run("note: stays in the thread", func(t *testing.T) {
		h := newHarness(t)
		c := h.customerPost("@SBCare iphone won't turn on")
		msg := h.staffReply(staff, c, "note: looks like the battery recall, checking with the shop team")
		h.noDraft(msg)
		h.wantReactions(msg)
		h.approve(manager, msg)
		if len(h.sent()) != 0 {
			t.Fatalf("an internal note went out: %+v", h.sent())
		}
	})

	t.Run("a draft edited into a note is cancelled", func(t *testing.T) {
		h := newHarness(t)
		c := h.customerPost("@SBCare iphone won't turn on")
		draft := h.staffReply(staff, c, "Hold both buttons for ten seconds.")
		h.edit(staff, draft, "note: never mind, the shop is calling them")
		h.wantDraft(draft, bridge.DraftCancelled, bridge.VisibilityPublic)
		h.approve(manager, draft)
		if len(h.sent()) != 0 {
			t.Fatalf("sent: %+v", h.sent())
		}
	})
}

func TestDepartmentWithoutApproval(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare thanks, love the new plan!")
	if c.thread.Channel != chVoices {
		t.Fatalf("routed to %s", c.thread.Channel)
	}
	chat := h.staffReply(staff, c, "what a nice one")
	h.noDraft(chat) // without approval only prefixed replies go out
	h.staffReply(staff, c, "reply: Thank you — we're glad you like it!")
	r := h.repliesTo(c)
	if len(r) != 1 || r[0].Text != "Thank you — we're glad you like it!" {
		t.Fatalf("replies: %+v", r)
	}
	h.wantNotice(c, "Sent publicly as @SBCare")
	rec := h.auditByKind(bridge.AuditApproved)
	if len(rec) != 1 || !strings.Contains(string(rec[0].Details), "auto") {
		t.Errorf("the automatic release is not audited as such: %+v", rec)
	}
}

func TestCloseReaction(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare ipad charger broken")

	// A watcher may not close a department's conversation.
	h.closeThread(observer, c)
	if tk := h.ticket(c); tk.State != bridge.TicketOpen {
		t.Fatalf("a watcher closed the ticket: %s", tk.State)
	}
	if e := h.ephemerals(observer); len(e) != 1 || !strings.Contains(e[0], "Only members of Devices can close its conversations") {
		t.Errorf("the watcher was not told: %q", e)
	}

	h.closeThread(staff, c)
	if tk := h.ticket(c); tk.State != bridge.TicketClosed {
		t.Fatalf("ticket after the close reaction: %s", tk.State)
	}
	h.wantNotice(c, "Closed by <@"+staff+">. A new post from the customer reopens it.")
	if n := len(h.auditByKind(bridge.AuditTicketClosed)); n != 1 {
		t.Errorf("%d close records", n)
	}

	h.followUp(c, "the new charger is broken too")
	if tk := h.ticket(c); tk.State != bridge.TicketOpen {
		t.Errorf("ticket after the customer's follow-up: %s, want open", tk.State)
	}
	if n := len(h.auditByKind(bridge.AuditTicketReopened)); n != 1 {
		t.Errorf("%d reopen records", n)
	}
}

// TestReplyBeforeTheThreadIsRecorded: staff answer a mirrored post the
// moment it appears, before carebridge has committed which thread it
// opened. The event waits in the inbox and becomes a draft once the
// thread is known.
func TestReplyBeforeTheThreadIsRecorded(t *testing.T) {
	h := newHarness(t)
	release := h.holdChat(true) // posted, not yet recorded
	p := h.newPost("@SBCare my iphone won't charge")
	h.ingest(nil, p)
	h.waitChatHeld()
	parent := h.posted()[0].Ref
	draft := h.staffReplyEarly(staff, parent, "Please try another cable.")
	if len(h.reactions(draft)) != 0 {
		t.Fatal("a draft in an unknown thread")
	}

	release(nil)
	h.waitFor("the thread is recorded", func() (bool, string) { return h.ticketThreadOf(p) == parent, "" })
	h.advance(time.Second) // the event's next attempt falls due
	h.wantDraft(draft, bridge.DraftPending, bridge.VisibilityPublic)
	h.wantReactions(draft, marks.Pending)
	h.approve(manager, draft)
	if s := h.sent(); len(s) != 1 || s[0].To != p.ExternalID {
		t.Errorf("sent: %+v", s)
	}
}
