package teams

import (
	"fmt"
	"html"
	"strings"
	"unicode/utf8"
)

// hiddenControl reports the characters that change how the text around
// them is shown without being seen themselves: the bidirectional controls
// (U+202E makes "evil.com\u202Efdp.exe" read "evil.comexe.pdf") and the
// invisible spaces and joiners that split a word or a domain unseen.
// U+200C and U+200D (ZWNJ, ZWJ) are kept: Persian, Indic scripts and emoji
// sequences need them. The same set as the Slack surface's.
func hiddenControl(r rune) bool {
	switch r {
	case 0x061C, 0x200B, 0x200E, 0x200F, 0x2060, 0xFEFF, 0x180E:
		return true
	}
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// ShowControls replaces each hidden control character of s with a visible
// "[U+202E]", so a post cannot reorder or hide parts of itself.
func ShowControls(s string) string {
	if !strings.ContainsFunc(s, hiddenControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if hiddenControl(r) {
			fmt.Fprintf(&b, "[U+%04X]", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// EscapeText makes text safe in the text of a Teams message sent with
// textFormat "xml" (Teams' HTML subset): &, <, >, quotes become entities,
// so "<at>x</at>", "<b>" or "&lt;" show as written and mention or format
// nothing; the markdown characters Teams may still interpret (* _ \ ` ~ #
// [ ] | and a leading - + or digit-dot are harmless once the others are
// gone) become numeric entities, which both an HTML and a markdown reading
// show as the character itself; line breaks become <br>; hidden controls
// are made visible (ShowControls). Teams documents neither the order in
// which it applies markdown and HTML nor backslash escapes (which render
// differently on desktop and mobile), hence entities rather than
// backslashes.
func EscapeText(s string) string {
	s = ShowControls(s)
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for i, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&#39;")
		case '*', '_', '\\', '`', '~', '#', '[', ']', '|', '{', '}':
			fmt.Fprintf(&b, "&#%d;", r)
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue
			}
			b.WriteString("<br>")
		case '\n':
			b.WriteString("<br>")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// truncate cuts s to n characters, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// cutBytes cuts s to at most n bytes at a character boundary, and says how
// many characters were left out.
func cutBytes(s string, n int) (string, int) {
	if len(s) <= n {
		return s, 0
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if nl := strings.LastIndexByte(s[:cut], '\n'); nl > cut*3/4 {
		cut = nl
	}
	return s[:cut], utf8.RuneCountInString(s[cut:])
}

// plainFromHTML turns the text of an inbound Teams message into what the
// person typed: tags dropped (<br>, </p> and </div> become line breaks;
// <at>Name</at> becomes "Name"), entities decoded. A "<" not followed by a
// letter, "/" or "!" is text ("a < b").
func plainFromHTML(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c == '<' && i+1 < len(s) && (isASCIILetter(s[i+1]) || s[i+1] == '/' || s[i+1] == '!') {
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				b.WriteString(s[i:])
				break
			}
			tag := strings.ToLower(strings.TrimLeft(s[i+1:i+end], "/"))
			if f := strings.FieldsFunc(tag, func(r rune) bool { return r == ' ' || r == '/' || r == '\t' || r == '\n' }); len(f) > 0 {
				tag = f[0]
			}
			closing := s[i+1] == '/'
			switch {
			case tag == "br", closing && (tag == "p" || tag == "div" || tag == "li"):
				b.WriteByte('\n')
			}
			i += end + 1
			continue
		}
		b.WriteByte(c)
		i++
	}
	return strings.TrimRight(decodeEntities(b.String()), "\n")
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// decodeEntities decodes HTML character references.
func decodeEntities(s string) string { return html.UnescapeString(s) }
