package bsky

import (
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/carebridge/carebridge/bridge"
)

// Platform is Bluesky's name in the core.
const Platform bridge.Platform = "bluesky"

// Network is Bluesky's rules as the core needs them.
type Network struct{}

var _ bridge.Network = Network{}

// Platform implements bridge.Network.
func (Network) Platform() bridge.Platform { return Platform }

// Name implements bridge.Network.
func (Network) Name() string { return "Bluesky" }

// SameAnswer implements bridge.Network. Bluesky stores a post's text as
// sent (no handles are put in front of a reply), so the texts are compared
// after NFC and trimming only.
func (Network) SameAnswer(sent, seen string) bool {
	return norm.NFC.String(strings.TrimSpace(sent)) == norm.NFC.String(strings.TrimSpace(seen))
}

// replyGateHint is what staff read on a post whose thread's reply gate
// (threadgate) leaves our account out.
const replyGateHint = "The author of this Bluesky thread limits who can reply, and our account isn't allowed. " +
	"Answer by DM (start with dm:) if they accept messages, or not at all."

// Answerable implements bridge.Network: a post whose thread gate leaves
// us out (viewer.replyDisabled, read when the post was ingested) can only
// be answered by DM.
func (Network) Answerable(target *bridge.Post) (bridge.Eligibility, string) {
	if target.Eligibility == bridge.EligibleDMOnly {
		return bridge.EligibleDMOnly, replyGateHint
	}
	return target.Eligibility, ""
}

// Measure implements bridge.Network: a post holds 300 graphemes and 3,000
// bytes of UTF-8, a DM 1,000 graphemes and 10,000 bytes. The byte limit is
// reported only when it is the one a text breaks.
func (Network) Measure(text string, vis bridge.Visibility) bridge.TextLength {
	if vis == bridge.VisibilityDM {
		return measure(text, DMGraphemes, DMBytes, "a Bluesky DM")
	}
	return measure(text, PostGraphemes, PostBytes, "a Bluesky post")
}

// Error codes of classified Bluesky failures, as they appear in
// SendError.Code (besides the XRPC error names, e.g. MessagesDisabled).
const (
	CodeReplyDisabled = "reply_disabled" // the thread gate leaves us out
	CodePostGone      = "post_deleted"   // the post answered no longer exists
	CodeRateLimited   = "429"
	CodeAuth          = "auth"
	CodeNetwork       = "network"
)

// Explain implements bridge.Network: Bluesky's refusals in plain words.
func (Network) Explain(err *bridge.SendError, account, dmHint string) string {
	switch err.Code {
	case CodeReplyDisabled:
		return fmt.Sprintf("the author of this Bluesky thread limits who can reply, and @%s isn't allowed. %s, if they accept messages.", account, dmHint)
	case CodePostGone:
		return fmt.Sprintf("the post is gone from Bluesky (the customer deleted it, or it is no longer visible to @%s), so there is nothing to reply to. %s if it still needs an answer.", account, dmHint)
	case "MessagesDisabled":
		return fmt.Sprintf("the customer has turned off direct messages on Bluesky, so @%s can't write to them. Reply publicly instead.", account)
	case "NotFollowedBySender":
		return fmt.Sprintf("the customer accepts Bluesky messages only from people they follow, and they don't follow @%s. Reply publicly instead, or ask them to follow us.", account)
	case "BlockedActor":
		return fmt.Sprintf("the customer has blocked @%s on Bluesky (or we blocked them), so nothing can be sent.", account)
	case "RecipientNotFound", "AccountSuspended":
		return "the customer's Bluesky account can't receive messages (suspended, deleted or unknown)."
	case CodeRateLimited, "RateLimitExceeded":
		return fmt.Sprintf("Bluesky is rate-limiting @%s (5,000 write points an hour).", account)
	case CodeAuth, "AuthenticationRequired", "InvalidToken", "AccountTakedown":
		return fmt.Sprintf("Bluesky refused @%s's sign-in; an operator must check its app password.", account)
	case CodeNetwork:
		return "Bluesky could not be reached."
	}
	if strings.HasPrefix(err.Code, "5") || err.Code == "InternalServerError" {
		return "Bluesky is having trouble (" + err.Code + ")."
	}
	return "Bluesky answered " + err.Code + ": " + err.Error()
}
