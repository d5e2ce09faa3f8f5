package feed

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/carebridge/carebridge/bridge"
)

// Platform is the core's name for posts read from feeds (blogs and
// forums).
const Platform bridge.Platform = "feed"

// Network is the rules of blogs and forums as the core needs them. They
// are listen-only: carebridge has no account there and no API to answer
// with, so every answer is written on the site itself; staff notes still
// work in the thread.
type Network struct{}

var _ bridge.Network = Network{}

// Platform implements bridge.Network.
func (Network) Platform() bridge.Platform { return Platform }

// Name implements bridge.Network.
func (Network) Name() string { return "a blog or forum" }

// AnswerOnTheSite is what staff are told when they write an answer to a
// feed item.
const AnswerOnTheSite = "This came from a blog or forum feed: carebridge can't answer there. " +
	"Answer on the site itself (open the post's link), then write note: what you did so the team knows."

// Answerable implements bridge.Network: a feed item can never be answered
// through carebridge.
func (Network) Answerable(*bridge.Post) (bridge.Eligibility, string) {
	return bridge.EligibleNone, AnswerOnTheSite
}

// Measure implements bridge.Network: characters, no limit (nothing is
// sent).
func (Network) Measure(text string, _ bridge.Visibility) bridge.TextLength {
	return bridge.TextLength{N: utf8.RuneCountInString(text), Of: "a site"}
}

// SameAnswer implements bridge.Network. Nothing is ever sent to a feed;
// the trimmed texts are compared.
func (Network) SameAnswer(sent, seen string) bool {
	return strings.TrimSpace(sent) == strings.TrimSpace(seen)
}

// Explain implements bridge.Network. Nothing is sent to feeds, so the only
// failure is the core finding no replier.
func (Network) Explain(err *bridge.SendError, _, _ string) string {
	if err.Code == "no_replier" {
		return AnswerOnTheSite
	}
	return fmt.Sprintf("a feed answered %s: %v", err.Code, err)
}
