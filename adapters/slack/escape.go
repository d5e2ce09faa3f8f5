package slack

import (
	"fmt"
	"strings"
)

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape makes text safe inside Slack mrkdwn: &, < and > become entities,
// so "<!channel>", "<@U123>" and "<https://evil|https://bank.example>" are
// shown as written and ping or disguise nothing.
func Escape(text string) string { return mrkdwnEscaper.Replace(text) }

var mrkdwnUnescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// Unescape reverses Escape.
func Unescape(text string) string { return mrkdwnUnescaper.Replace(text) }

// chunks splits s into pieces of at most n bytes without cutting a UTF-8
// character or an entity (&amp; &lt; &gt;), preferring line breaks.
func chunks(s string, n int) []string {
	var out []string
	for len(s) > n {
		cut := n
		for cut > 0 && !startsRune(s[cut]) {
			cut--
		}
		if amp := strings.LastIndexByte(s[:cut], '&'); amp >= 0 && amp > cut-5 && !strings.Contains(s[amp:cut], ";") {
			cut = amp
		}
		if nl := strings.LastIndexByte(s[:cut], '\n'); nl > cut/2 {
			cut = nl + 1
		}
		if cut == 0 {
			cut = n
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}

func startsRune(b byte) bool { return b&0xC0 != 0x80 }

// hiddenControls are the characters that change how text around them is
// shown without being seen themselves: the bidirectional controls (an
// U+202E RIGHT-TO-LEFT OVERRIDE makes "evil.com\u202Efdp.exe" read as
// "evil.comexe.pdf") and the invisible joiners and spaces that can split a
// word or a domain unseen. U+200C and U+200D (ZWNJ, ZWJ) are not among
// them: Persian, Indic scripts and emoji sequences need them.
func hiddenControl(r rune) bool {
	switch r {
	case 0x061C, 0x200B, 0x200E, 0x200F, 0x2060, 0xFEFF, 0x180E:
		return true
	}
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// ShowControls replaces every hidden control character of s (see
// hiddenControl) with a visible "[U+202E]", so that a post cannot reorder
// or hide parts of itself in Slack. Everything else is kept as written.
func ShowControls(s string) string {
	if !strings.ContainsFunc(s, hiddenControl) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		if hiddenControl(r) {
			fmt.Fprintf(&b, "[U+%04X]", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Shown is what a customer's text becomes in a Slack message: hidden
// controls made visible (ShowControls), then escaped (Escape).
func Shown(s string) string { return Escape(ShowControls(s)) }
