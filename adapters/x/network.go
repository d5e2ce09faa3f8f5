package x

import (
	"regexp"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/carebridge/carebridge/bridge"
)

// Network is X's rules as the core needs them (rules.go has the rest).
type Network struct {
	// Enterprise: the app has X's Enterprise access, which may reply to
	// every post.
	Enterprise bool
}

var _ bridge.Network = Network{}

// Platform implements bridge.Network.
func (Network) Platform() bridge.Platform { return Platform }

// SameAnswer implements bridge.Network. X stores a reply with the @handles
// of the conversation in front of the text that was sent (the replied-to
// author, and others of the thread): "Thanks, fixed now" sent to @kim is
// read back as "@kim Thanks, fixed now". Whether X's v2 read-back of an
// API-created reply always has that prefix is not verified, so both forms
// are accepted: the texts are the same once the leading run of @handles is
// taken off either side. Texts are also compared as X keeps them: NFC,
// with &amp; &lt; &gt; as X escapes them in post text, and every link as
// the t.co link X replaces it with.
func (Network) SameAnswer(sent, seen string) bool {
	a, b := canonicalText(sent), canonicalText(seen)
	if a == b {
		return true
	}
	ab, bb := afterLeadingMentions(a), afterLeadingMentions(b)
	return ab != "" && ab == bb
}

// sameDMText reports whether seen, a DM of ours read back, is sent. DMs
// are not replies: X puts no @handles in front of them.
func sameDMText(sent, seen string) bool { return canonicalText(sent) == canonicalText(seen) }

var (
	// linkRE finds links as X's twitter-text does for explicit schemes;
	// each is read back as a t.co link, so only its place counts.
	linkRE = regexp.MustCompile(`(?i)\bhttps?://\S+`)
	// leadingMentionsRE is the run of @handles at the start of a text
	// (an X handle is 1–15 letters, digits or underscores).
	leadingMentionsRE = regexp.MustCompile(`^(?:@[A-Za-z0-9_]{1,15}(?:\s+|$))+`)
	htmlEscapes       = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")
)

func canonicalText(s string) string {
	s = norm.NFC.String(strings.TrimSpace(s))
	s = htmlEscapes.Replace(s)
	return linkRE.ReplaceAllString(s, "https://t.co/")
}

func afterLeadingMentions(s string) string {
	return strings.TrimSpace(leadingMentionsRE.ReplaceAllString(s, ""))
}
