package bridge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// Ingest: posts from the sources become tickets, one chat thread per
// conversation in the channel of the department that owns the topic,
// idempotently, with the source's cursor saved in the same transaction.

func TestIngestRoutesEachConversationToItsDepartment(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare my iphone battery dies by noon")
	if c.thread.Channel != chDevices {
		t.Errorf("an iphone post went to %s, want %s", c.thread.Channel, chDevices)
	}
	parent := h.posted()[0]
	if parent.Text != "@SBCare my iphone battery dies by noon" || parent.History != "first contact" {
		t.Errorf("parent message: %+v", parent)
	}
	tk := h.ticket(c)
	if tk.Department != "devices" || tk.State != bridge.TicketOpen || tk.Account != account || tk.SlackTS != c.thread.TS {
		t.Errorf("ticket: %+v", tk)
	}
	if !strings.Contains(strings.Join(tk.Matched, ","), "iphone") {
		t.Errorf("matched keywords: %v", tk.Matched)
	}

	other := h.customerPost("@SBCare hello, is anyone there?")
	if other.thread.Channel != chTriage {
		t.Errorf("an unmatched post went to %s, want the triage channel %s", other.thread.Channel, chTriage)
	}
	if n := len(h.posted()); n != 2 {
		t.Errorf("%d messages for two posts", n)
	}
}

func TestIngestSamePostOnce(t *testing.T) {
	h := newHarness(t)
	p := h.newPost("@SBCare my ipad won't charge")
	first := h.ingest(nil, p)
	// The mentions poller sees it too, and a webhook retry brings it twice
	// in one batch.
	again := p
	again.Source = bridge.SourceSearch
	second := h.ingest(nil, again, again)
	if first.New != 1 || first.Tickets != 1 || second.New != 0 || second.Duplicate != 2 {
		t.Errorf("results: first %+v, second %+v", first, second)
	}
	if n := len(h.posted()); n != 1 {
		t.Errorf("%d messages for one post: %+v", n, h.posted())
	}
	seen := h.seen(p.ExternalID, "1999999999999999999")
	if !seen[p.ExternalID] || seen["1999999999999999999"] {
		t.Errorf("Seen: %v", seen)
	}
}

func TestIngestConversationInOneThread(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare iphone stuck on the apple logo")
	later := h.followUp(c, "still stuck after a restart")
	msgs := h.threadMessages(c)
	if len(msgs) != 1 || msgs[0].PostID != later.ExternalID || msgs[0].Ref.Channel != chDevices {
		t.Fatalf("thread: %+v", msgs)
	}
	// A follow-up with no keyword stays with the conversation's owner.
	h.followUp(c, "hello??")
	if n := len(h.threadMessages(c)); n != 2 {
		t.Errorf("%d posts in the thread, want 2", n)
	}
	if n := len(h.posted()); n != 3 {
		t.Errorf("%d messages in all, want 3 (one parent, two in its thread)", n)
	}
}

func TestIngestCursorSavedWithTheBatch(t *testing.T) {
	h := newHarness(t)
	if got := h.cursor("search:brand-en"); got != "" {
		t.Fatalf("fresh cursor %q", got)
	}
	p := h.newPost("my iphone screen flickers", keywordHit)
	h.ingest(&bridge.Cursor{Key: "search:brand-en", Value: p.ExternalID}, p)
	if got := h.cursor("search:brand-en"); got != p.ExternalID {
		t.Errorf("cursor %q, want %q", got, p.ExternalID)
	}
	// A batch of duplicates still moves the cursor.
	h.ingest(&bridge.Cursor{Key: "search:brand-en", Value: "1900000000009999999"}, p)
	if got := h.cursor("search:brand-en"); got != "1900000000009999999" {
		t.Errorf("cursor %q after a batch of duplicates", got)
	}
}

func TestIngestReturningCustomer(t *testing.T) {
	h := newHarness(t)
	first := h.customerPost("@SBCare my iphone battery dies by noon")
	h.advance(24 * time.Hour)
	second := h.customerPost("@SBCare now my ipad battery too", sameCustomer(first))
	if second.thread.TS == first.thread.TS {
		t.Fatal("a new conversation went into the old thread")
	}
	var parent chatMessage
	for _, m := range h.posted() {
		if m.Ref == second.thread {
			parent = m
		}
	}
	if parent.History != "1 earlier conversation, last 2026-03-09 in C0DEVICES" {
		t.Errorf("history shown to staff: %q", parent.History)
	}
}

func TestIngestFollowUpReopensAnsweredTicket(t *testing.T) {
	h := newHarness(t)
	c := h.customerPost("@SBCare my ipad won't charge")
	draft := h.staffReply(staff, c, "Please try another cable.")
	h.approve(manager, draft)
	if tk := h.ticket(c); tk.State != bridge.TicketAnswered {
		t.Fatalf("ticket after the answer: %s", tk.State)
	}
	h.followUp(c, "tried another cable, still nothing")
	if tk := h.ticket(c); tk.State != bridge.TicketOpen {
		t.Errorf("ticket after the customer's follow-up: %s, want open", tk.State)
	}
	if n := len(h.threadMessages(c)); n != 1 {
		t.Errorf("%d posts in the thread after the parent, want 1", n)
	}
	// The next answer goes to the follow-up, the customer's latest post.
	next := h.staffReply(staff, c, "Then it's the port: please visit a shop.")
	h.approve(manager, next)
	if s := h.sent(); len(s) != 2 || s[1].To == c.post.ExternalID {
		t.Errorf("the second answer replies to the first post, not the latest: %+v", s)
	}
}

func TestIngestOurOwnPosts(t *testing.T) {
	t.Run("our sent reply read back is not mirrored", func(t *testing.T) {
		h := newHarness(t)
		c := h.customerPost("@SBCare my ipad won't charge")
		draft := h.staffReply(staff, c, "Please try another cable.")
		h.approve(manager, draft)
		sent := h.repliesTo(c)[0]
		// A brand search finds our reply, as X stores it.
		own := h.newPost("@"+c.post.AuthorHandle+" Please try another cable.", replyingTo(c.post), fromUs, withID(sent.ID))
		if res := h.ingest(nil, own); res.New != 0 || res.Duplicate != 1 {
			t.Errorf("ingest of our own reply: %+v", res)
		}
		if n := len(h.threadMessages(c)); n != 0 {
			t.Errorf("our reply was mirrored into the thread: %+v", h.threadMessages(c))
		}
	})

	t.Run("our reply read back before its send was recorded is not mirrored", func(t *testing.T) {
		h := newHarness(t)
		c := h.customerPost("@SBCare my ipad won't charge")
		draft := h.staffReply(staff, c, "Please try another cable.")
		release := h.hold(true) // the reply is out, carebridge does not know yet
		h.approve(manager, draft)
		h.waitHeld()
		sent := h.repliesTo(c)[0]
		own := h.newPost("@"+c.post.AuthorHandle+" Please try another cable.", replyingTo(c.post), fromUs, withID(sent.ID))
		if res := h.ingest(nil, own); res.New != 1 {
			t.Errorf("ingest of our own reply: %+v", res)
		}
		h.waitChatIdle()
		if n := len(h.threadMessages(c)); n != 0 {
			t.Errorf("our in-flight reply was mirrored into the thread: %+v", h.threadMessages(c))
		}
		release(nil)
		h.settle()
		if n := len(h.repliesTo(c)); n != 1 {
			t.Errorf("%d replies, want 1", n)
		}
		h.wantNotice(c, "Sent publicly")
		if n := len(h.threadMessages(c)); n != 0 {
			t.Errorf("our reply was mirrored into the thread: %+v", h.threadMessages(c))
		}
	})

	t.Run("a conversation we began opens an answered ticket", func(t *testing.T) {
		h := newHarness(t)
		notice := h.newPost("Planned maintenance tonight: the iphone app may be slow from 01:00 to 03:00.", fromUs)
		h.ingest(nil, notice)
		c := &conv{post: notice, thread: h.parentOf(notice.ExternalID)}
		if tk := h.ticket(c); tk.State != bridge.TicketAnswered {
			t.Errorf("ticket of our own post: %s, want answered (nobody is asked to answer us)", tk.State)
		}
		if p := h.posted(); p[0].History != "our own post" {
			t.Errorf("history: %q", p[0].History)
		}
		// A customer's reply to it lands in the same thread and asks for an
		// answer.
		reply := h.newPost("@SBCare will the iphone app work at 02:00 at all?", replyingTo(notice), by("7777777"))
		h.ingest(nil, reply)
		if msgs := h.threadMessages(c); len(msgs) != 1 || msgs[0].PostID != reply.ExternalID {
			t.Errorf("thread: %+v", msgs)
		}
		if tk := h.ticket(c); tk.State != bridge.TicketOpen {
			t.Errorf("ticket after the customer's reply: %s, want open", tk.State)
		}
	})
}

func TestIngestHostileText(t *testing.T) {
	h := newHarness(t)
	// Invalid UTF-8 and NUL characters must not fail the batch (PostgreSQL
	// refuses NUL in text); the rest of the text is kept as written.
	bad := h.newPost("@SBCare iphone \xff\xfe broken\x00 <!channel>")
	good := h.newPost("@SBCare ipad fine, iphone not")
	if res := h.ingest(nil, bad, good); res.New != 2 {
		t.Fatalf("result: %+v", res)
	}
	var shown string
	for _, m := range h.posted() {
		if m.PostID == bad.ExternalID {
			shown = m.Text
		}
	}
	if shown != "@SBCare iphone \uFFFD broken <!channel>" { // a run of bad bytes becomes one U+FFFD
		t.Errorf("shown text %q", shown)
	}
}
