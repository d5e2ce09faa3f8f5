package meta

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carebridge/carebridge/bridge"
)

// Meta's windows.
const (
	// PrivateReplyWindow: a comment can get one private reply within 7
	// days of being posted.
	PrivateReplyWindow = 7 * 24 * time.Hour
	// StandardWindow: a DM may answer a person's message for 24 hours
	// (messaging_type RESPONSE).
	StandardWindow = 24 * time.Hour
	// HumanAgentWindow: with the HUMAN_AGENT tag, up to 7 days.
	HumanAgentWindow = 7 * 24 * time.Hour
)

// Text limits. Messenger takes 2,000 characters (Salesforce documents
// 1,994; secondary source); the others are Meta's published field limits
// as commonly quoted (not verified against a primary page): a Facebook
// comment 8,000, an Instagram comment 2,200, an Instagram message 1,000.
const (
	FacebookCommentLimit  = 8000
	MessengerLimit        = 2000
	InstagramCommentLimit = 2200
	InstagramDMLimit      = 1000
)

// Network is the rules of Facebook or Instagram for the core: the
// windows (read on the process's clock), the one private reply per
// comment, the text limits, Meta's errors in plain words.
type Network struct {
	platform   bridge.Platform
	clock      bridge.Clock
	loc        *time.Location
	humanAgent bool
}

var (
	_ bridge.Network       = Network{}
	_ bridge.AnswerHistory = Network{}
	_ bridge.AnswerOptions = Network{}
)

// NewNetwork returns the rules of platform (Facebook or Instagram); times
// shown to staff are in loc; humanAgent is meta.human_agent.
func NewNetwork(platform bridge.Platform, clock bridge.Clock, loc *time.Location, humanAgent bool) Network {
	if clock == nil {
		clock = bridge.SystemClock{}
	}
	if loc == nil {
		loc = time.UTC
	}
	return Network{platform: platform, clock: clock, loc: loc, humanAgent: humanAgent}
}

// Platform implements bridge.Network.
func (n Network) Platform() bridge.Platform { return n.platform }

// Name implements bridge.Network.
func (n Network) Name() string {
	if n.platform == Instagram {
		return "Instagram"
	}
	return "Facebook"
}

func (n Network) inbox() string {
	if n.platform == Instagram {
		return "Instagram"
	}
	return "Messenger"
}

// when shows t to staff: "Thu 15:00", with the date when it is not this
// week.
func (n Network) when(t time.Time) string {
	t = t.In(n.loc)
	if d := t.Sub(n.clock.Now()); d > 6*24*time.Hour || d < -6*24*time.Hour {
		return t.Format("Mon 2 Jan 15:04")
	}
	return t.Format("Mon 15:04")
}

// dmWindow says until when a DM may answer target, a person's message,
// and how: RESPONSE until the 24 hours end, then HUMAN_AGENT when
// allowed. ok is false when neither is open.
func (n Network) dmWindow(target *bridge.Post) (until time.Time, tagged, ok bool) {
	now := n.clock.Now()
	if std := target.CreatedAt.Add(StandardWindow); now.Before(std) {
		return std, false, true
	}
	if ha := target.CreatedAt.Add(HumanAgentWindow); n.humanAgent && now.Before(ha) {
		return ha, true, true
	}
	return time.Time{}, false, false
}

// Answerable implements bridge.Network. A comment can always be answered
// publicly, and privately (dm:) within 7 days of being posted; a DM only
// inside the messaging window (24 hours from the customer's last message,
// 7 days with the HUMAN_AGENT tag when meta.human_agent allows it); a
// removed comment not at all.
func (n Network) Answerable(target *bridge.Post) (bridge.Eligibility, string) {
	now := n.clock.Now()
	switch {
	case isRemoval(target):
		return bridge.EligibleNone, fmt.Sprintf("The customer removed this comment, so %s has nothing to answer. Wait for them to write again.", n.Name())
	case target.IsDM():
		if _, _, ok := n.dmWindow(target); ok {
			return bridge.EligibleDM, ""
		}
		why := fmt.Sprintf("%s's 24-hour window for answering this customer closed %s", n.inbox(), n.when(target.CreatedAt.Add(StandardWindow)))
		if n.humanAgent {
			why += fmt.Sprintf(", and the 7 days of the human agent tag %s", n.when(target.CreatedAt.Add(HumanAgentWindow)))
		}
		return bridge.EligibleNone, why + ". Meta refuses any message until they write again."
	case !now.Before(target.CreatedAt.Add(PrivateReplyWindow)):
		return bridge.EligiblePublicOnly, fmt.Sprintf("The 7 days for a private reply to this comment ended %s: reply publicly (without dm:).",
			n.when(target.CreatedAt.Add(PrivateReplyWindow)))
	}
	return bridge.EligiblePublic, ""
}

// AnswerableAfter implements bridge.AnswerHistory: a comment gets one
// private reply, so a second DM draft on it is refused while the first
// is approved, being sent or sent.
func (n Network) AnswerableAfter(target *bridge.Post, others []bridge.Draft) (bridge.Eligibility, string) {
	elig, why := n.Answerable(target)
	if elig != bridge.EligiblePublic || target.IsDM() {
		return elig, why
	}
	for _, d := range others {
		if d.ReplyTo != target.ID || d.Visibility != bridge.VisibilityDM {
			continue
		}
		switch d.State {
		case bridge.DraftSent:
			return bridge.EligiblePublicOnly, fmt.Sprintf("This comment already got its one private reply (sent %s); Meta allows no second. Reply publicly, or wait for the customer's answer in %s.", n.when(d.SentAt), n.inbox())
		case bridge.DraftApproved, bridge.DraftSending:
			return bridge.EligiblePublicOnly, "A private reply to this comment is already on its way, and Meta allows one per comment. Reply publicly instead."
		}
	}
	return elig, why
}

// AnswerOptions implements bridge.AnswerOptions: what the staff can do
// with p now, and until when.
func (n Network) AnswerOptions(p *bridge.Post) string {
	switch elig, _ := n.Answerable(p); {
	case isRemoval(p):
		return "Comment removed by its author — nothing to answer"
	case p.IsDM() && elig == bridge.EligibleNone:
		return "DM window closed — Meta refuses messages until the customer writes again"
	case p.IsDM():
		line := fmt.Sprintf("%s DM — answer (dm:) until %s", n.inbox(), n.when(p.CreatedAt.Add(StandardWindow)))
		if n.humanAgent {
			line += fmt.Sprintf(", as a human agent until %s", n.when(p.CreatedAt.Add(HumanAgentWindow)))
		}
		return line
	case elig == bridge.EligiblePublicOnly:
		return "Public reply only — the 7 days for a private reply are over"
	}
	return fmt.Sprintf("Public reply, or one private reply (dm:) until %s", n.when(p.CreatedAt.Add(PrivateReplyWindow)))
}

// Measure implements bridge.Network: characters (code points) against the
// limit of a comment or a message.
func (n Network) Measure(text string, vis bridge.Visibility) bridge.TextLength {
	l := bridge.TextLength{N: utf8.RuneCountInString(text)}
	switch {
	case n.platform == Instagram && vis == bridge.VisibilityDM:
		l.Limit, l.Of = InstagramDMLimit, "an Instagram message"
	case n.platform == Instagram:
		l.Limit, l.Of = InstagramCommentLimit, "an Instagram comment"
	case vis == bridge.VisibilityDM:
		l.Limit, l.Of = MessengerLimit, "a Messenger message"
	default:
		l.Limit, l.Of = FacebookCommentLimit, "a Facebook comment"
	}
	return l
}

// SameAnswer implements bridge.Network: Meta keeps the text as sent.
func (Network) SameAnswer(sent, seen string) bool { return sameText(sent, seen) }

// Explain implements bridge.Network: Meta's refusals in plain words.
func (n Network) Explain(err *bridge.SendError, account, dmHint string) string {
	switch err.Code {
	case "190":
		return fmt.Sprintf("Meta refused the Page token of %s (error 190: expired or revoked). The page is shown as broken until an operator renews meta.pages[].page_token.", account)
	case "10900":
		return "This comment already has its private reply (Meta allows one)."
	case "10903":
		return "Meta says this person can't get a private reply to this comment (error 10903). Reply publicly instead."
	case "10":
		return fmt.Sprintf("Meta refused the message as outside %s's window (error 10): the customer's last message is too old. Answer publicly if you can, or wait for them to write again.", n.inbox())
	case "100":
		return "Meta refused a parameter (error 100) — since April 2026 also the retired message tags. Nothing was sent; tell an operator."
	case "551":
		return "This person isn't available right now (error 551): they blocked the page or turned messages off. Reply publicly instead."
	case "200", "230":
		return fmt.Sprintf("Meta says %s lacks a permission for this (error %s); an operator must check the app's permissions.", account, err.Code)
	case "4", "17", "32", "613", "80001":
		return fmt.Sprintf("Meta is rate-limiting %s (error %s).", account, err.Code)
	case "unknown_account":
		return fmt.Sprintf("%s is not one of meta.pages; an operator must add it.", account)
	case "network":
		return "Meta could not be reached."
	}
	if strings.HasPrefix(err.Code, "5") {
		return "Meta is having trouble (HTTP " + err.Code + ")."
	}
	return "Meta answered error " + err.Code + ": " + err.Error()
}
