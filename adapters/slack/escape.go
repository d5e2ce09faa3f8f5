package slack

import "strings"

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
