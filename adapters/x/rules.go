package x

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/carebridge/carebridge/bridge"
)

// Platform is X's name in the core: every post, ticket and account of X
// carries it.
const Platform bridge.Platform = "x"

// Name implements bridge.Network.
func (Network) Name() string { return "X" }

// Answerable implements bridge.Network. Since 2026-02-23 the X API lets an
// app reply to or quote a post only if its author mentioned or quoted the
// app's account; the normalizer marks the others dm_only. Enterprise apps
// are exempt and answer every post publicly.
func (n Network) Answerable(target *bridge.Post) (bridge.Eligibility, string) {
	if n.Enterprise && target.Eligibility == bridge.EligibleDMOnly {
		return bridge.EligiblePublic, ""
	}
	if target.Eligibility == bridge.EligibleDMOnly {
		return bridge.EligibleDMOnly, "X only lets us reply publicly to posts that mention or quote our account. " +
			"This post didn't, so answer by DM (start with dm:) or reply in the X app."
	}
	return target.Eligibility, ""
}

// Measure implements bridge.Network: a public post is limited to 280
// weighted characters (WeightedLength), a DM to 10,000 characters, counted
// as code points after NFC.
func (Network) Measure(text string, vis bridge.Visibility) bridge.TextLength {
	if vis == bridge.VisibilityDM {
		return bridge.TextLength{N: utf8.RuneCountInString(norm.NFC.String(text)), Limit: DMLimit, Of: "an X DM"}
	}
	return bridge.TextLength{N: WeightedLength(text), Limit: PublicLimit, Of: "X",
		How: "Japanese, Korean and emoji count double, links count 23"}
}

// Explain implements bridge.Network: X's refusals in plain words.
func (Network) Explain(err *bridge.SendError, account, dmHint string) string {
	switch err.Code {
	case "reply_not_allowed":
		return fmt.Sprintf("X refused a public reply because the customer didn't mention or quote @%s. %s, or answer in the X app.", account, dmHint)
	case "duplicate_content":
		return "X refused it as a duplicate of an earlier post. Edit the wording and have it approved again."
	case "dm_not_allowed":
		return fmt.Sprintf("the customer doesn't accept DMs from @%s. Reply publicly instead, or ask them to open their DMs.", account)
	case "429":
		return fmt.Sprintf("X is rate-limiting @%s.", account)
	case "401", "auth":
		return fmt.Sprintf("X refused @%s's credentials; an operator must renew them.", account)
	case "network":
		return "X could not be reached."
	}
	if strings.HasPrefix(err.Code, "5") {
		return "X is having trouble (HTTP " + err.Code + ")."
	}
	return "X answered " + err.Code + ": " + err.Error()
}
