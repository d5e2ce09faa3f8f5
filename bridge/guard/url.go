package guard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// URLSpans returns the byte ranges [start, end) of the URLs in s, in
// order, as the guards recognize them (see findURLs). Platforms that
// count a URL as a fixed length (X) measure text with it.
func URLSpans(s string) [][2]int {
	var out [][2]int
	for _, sp := range findURLs(s) {
		out = append(out, [2]int{sp.start, sp.end})
	}
	return out
}

// span is a half-open byte range [start, end).
type span struct{ start, end int }

// findURLs returns the byte spans of the URLs in s, in order and not
// overlapping, following twitter-text's extractor closely enough for
// length counting and for keeping a URL's digits out of the PII scan:
//
//   - http:// and https:// URLs (any case) with a host whose last label is
//     alphabetic (ASCII or not) or with an IPv4 address;
//   - www.<domain>.<alphabetic TLD> without a scheme;
//   - bare ASCII domains whose TLD is a 2-letter country code or one of a
//     list of common generic TLDs; as in twitter-text, <name>.<cc> with no
//     path (e.g. "readme.md") is not a URL, except .co and .tv.
//
// A URL must not follow a letter, digit, @, $ or #; one without a scheme
// must not follow - _ . or / either. Paths and queries use twitter-text's
// character sets, so trailing punctuation (".", ",", "!", an unbalanced
// ")") is not part of the URL. Host labels are at most 63 characters.
func findURLs(s string) []span {
	var out []span
	for i := 0; i < len(s); {
		if end := urlAt(s, i); end > i {
			out = append(out, span{i, end})
			i = end
			continue
		}
		if s[i] < utf8.RuneSelf {
			i++
		} else {
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n
		}
	}
	return out
}

// urlAt returns the end of the URL starting at s[i], or 0.
func urlAt(s string, i int) int {
	if !isASCIIAlnum(s[i]) {
		return 0
	}
	prev, _ := utf8.DecodeLastRuneInString(s[:i])
	if i > 0 && (prev < utf8.RuneSelf && isASCIIAlnum(byte(prev)) ||
		prev == '@' || prev == '$' || prev == '#' || prev == '＠' || prev == '＃') {
		return 0
	}
	if n := schemeLen(s[i:]); n > 0 {
		h, ok := scanHost(s, i+n, true)
		if !ok {
			return 0
		}
		end, _ := scanRest(s, h.end)
		return end
	}
	if i > 0 && (prev == '-' || prev == '_' || prev == '.' || prev == '/') {
		return 0
	}
	h, ok := scanHost(s, i, false)
	if !ok || h.ipv4 {
		return 0
	}
	tld := strings.ToLower(h.tld)
	www := h.labels >= 3 && strings.EqualFold(s[i:i+4], "www.")
	cc := len(tld) == 2
	if !www && !cc && !genericTLD[tld] {
		return 0
	}
	end, hasPath := scanRest(s, h.end)
	if !www && cc && h.labels == 2 && !hasPath && tld != "co" && tld != "tv" {
		return 0
	}
	return end
}

// schemeLen returns the length of an http:// or https:// prefix of s (any
// case), or 0.
func schemeLen(s string) int {
	if len(s) >= 8 && strings.EqualFold(s[:8], "https://") {
		return 8
	}
	if len(s) >= 7 && strings.EqualFold(s[:7], "http://") {
		return 7
	}
	return 0
}

type host struct {
	end    int
	labels int
	tld    string
	ipv4   bool
}

// scanHost reads a host name starting at s[i]. With unicodeOK, labels may
// hold non-ASCII letters, digits and marks (internationalized domains after
// a scheme); without it they are ASCII only.
func scanHost(s string, i int, unicodeOK bool) (host, bool) {
	var labels []span
	j := i
	for {
		ls := j
		for j < len(s) {
			c := s[j]
			if c < utf8.RuneSelf {
				if isASCIIAlnum(c) || c == '-' || c == '_' {
					j++
					continue
				}
				break
			}
			if !unicodeOK {
				break
			}
			r, n := utf8.DecodeRuneInString(s[j:])
			if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) {
				j += n
				continue
			}
			break
		}
		if j == ls {
			break
		}
		labels = append(labels, span{ls, j})
		if j+1 < len(s) && s[j] == '.' && isHostStart(s[j+1:], unicodeOK) {
			j++
			continue
		}
		break
	}
	if len(labels) < 2 {
		return host{}, false
	}
	if isIPv4(s, labels) {
		if !unicodeOK {
			return host{}, false
		}
		return host{end: labels[3].end, labels: 4, ipv4: true}, true
	}
	// The last label is the TLD. After a scheme it may run into text with
	// no space ("https://example.comです"): keep its ASCII letters only.
	last := &labels[len(labels)-1]
	lbl := s[last.start:last.end]
	if k := firstNonASCII(lbl); k > 0 && k < len(lbl) {
		last.end = last.start + k
		lbl = lbl[:k]
	}
	if !isAlphaLabel(lbl) {
		return host{}, false
	}
	for n, l := range labels {
		lb := s[l.start:l.end]
		if utf8.RuneCountInString(lb) > 63 || lb[0] == '-' || lb[len(lb)-1] == '-' {
			return host{}, false
		}
		// Underscores are allowed in subdomains only.
		if n >= len(labels)-2 && strings.IndexByte(lb, '_') >= 0 {
			return host{}, false
		}
	}
	end := last.end
	if end < len(s) && (s[end] == '@' || s[end] == '-' || s[end] == '_') {
		return host{}, false
	}
	return host{end: end, labels: len(labels), tld: lbl}, true
}

func isHostStart(s string, unicodeOK bool) bool {
	if s == "" {
		return false
	}
	if s[0] < utf8.RuneSelf {
		return isASCIIAlnum(s[0])
	}
	if !unicodeOK {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isIPv4(s string, labels []span) bool {
	if len(labels) != 4 {
		return false
	}
	for _, l := range labels {
		lb := s[l.start:l.end]
		if len(lb) > 3 {
			return false
		}
		v := 0
		for k := 0; k < len(lb); k++ {
			if !isDigit(lb[k]) {
				return false
			}
			v = v*10 + int(lb[k]-'0')
		}
		if v > 255 {
			return false
		}
	}
	return true
}

// isAlphaLabel reports whether a TLD candidate is valid: two or more ASCII
// letters, a punycode label (xn--…), or non-ASCII letters and marks only.
func isAlphaLabel(l string) bool {
	if len(l) >= 5 && strings.EqualFold(l[:4], "xn--") {
		return true
	}
	if firstNonASCII(l) < 0 {
		if len(l) < 2 {
			return false
		}
		for k := 0; k < len(l); k++ {
			if !isASCIILetter(l[k]) {
				return false
			}
		}
		return true
	}
	for _, r := range l {
		if r < utf8.RuneSelf || !(unicode.IsLetter(r) || unicode.IsMark(r)) {
			return false
		}
	}
	return true
}

func firstNonASCII(s string) int {
	for k := 0; k < len(s); k++ {
		if s[k] >= utf8.RuneSelf {
			return k
		}
	}
	return -1
}

// scanRest reads an optional :port, /path and ?query after a host and
// returns where the URL ends and whether it has a path.
func scanRest(s string, j int) (end int, hasPath bool) {
	if j < len(s) && s[j] == ':' {
		k := j + 1
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if n := k - j - 1; n >= 1 && n <= 5 {
			j = k
		}
	}
	if j < len(s) && s[j] == '/' {
		j = scanPath(s, j)
		hasPath = true
	}
	if j < len(s) && s[j] == '?' {
		j = scanQuery(s, j)
	}
	return j, hasPath
}

// scanPath reads a path starting with the '/' at s[j]. Parentheses must
// balance; the path ends on its last valid ending character.
func scanPath(s string, j int) int {
	good := j + 1 // "/" alone is a valid path
	depth := 0
	k := j + 1
	for k < len(s) {
		r, n := utf8.DecodeRuneInString(s[k:])
		switch {
		case r == '(':
			depth++
		case r == ')':
			if depth == 0 {
				return good
			}
			depth--
			if depth == 0 {
				good = k + n
			}
		case isPathChar(r):
			if depth == 0 && isPathEnd(r) {
				good = k + n
			}
		default:
			return good
		}
		k += n
	}
	return good
}

// scanQuery reads a query starting with the '?' at s[j]; without a valid
// ending character the '?' is not part of the URL.
func scanQuery(s string, j int) int {
	good := j
	for k := j + 1; k < len(s) && s[k] < utf8.RuneSelf && isQueryChar(s[k]); k++ {
		if isQueryEnd(s[k]) {
			good = k + 1
		}
	}
	return good
}

func isPathChar(r rune) bool {
	if r < utf8.RuneSelf {
		c := byte(r)
		return isASCIIAlnum(c) || strings.IndexByte("!*';:=+,.$/%#[]-_~&|@", c) >= 0
	}
	return r == 0x2013 || isCyrillic(r) || isLatinAccent(r)
}

func isPathEnd(r rune) bool {
	if r < utf8.RuneSelf {
		c := byte(r)
		return isASCIIAlnum(c) || strings.IndexByte("+-=_#/", c) >= 0
	}
	return isCyrillic(r) || isLatinAccent(r)
}

func isQueryChar(c byte) bool {
	return isASCIIAlnum(c) || strings.IndexByte("!?*'@();:&=+$/%#[]-_.,~|", c) >= 0
}

func isQueryEnd(c byte) bool {
	return isASCIIAlnum(c) || strings.IndexByte("-_&=#/", c) >= 0
}

func isCyrillic(r rune) bool { return 0x0400 <= r && r <= 0x04FF }

func isLatinAccent(r rune) bool {
	return (0x00C0 <= r && r <= 0x024F && r != 0xD7 && r != 0xF7) ||
		(0x0300 <= r && r <= 0x036F) || (0x1E00 <= r && r <= 0x1EFF)
}

func isDigit(c byte) bool       { return '0' <= c && c <= '9' }
func isASCIILetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isASCIIAlnum(c byte) bool  { return isDigit(c) || isASCIILetter(c) }

// genericTLD lists the generic TLDs recognized in bare domains (without
// scheme or www.). Two-letter country codes are always recognized. The list
// is deliberately short: twitter-text knows every IANA TLD, so a bare
// domain under an exotic TLD is counted here as plain text.
var genericTLD = map[string]bool{
	"com": true, "net": true, "org": true, "info": true, "biz": true, "edu": true,
	"gov": true, "mil": true, "int": true, "name": true, "pro": true, "mobi": true,
	"asia": true, "jobs": true, "tel": true, "travel": true, "aero": true, "coop": true,
	"museum": true, "app": true, "dev": true, "page": true, "xyz": true, "online": true,
	"site": true, "store": true, "shop": true, "tech": true, "cloud": true, "blog": true,
	"news": true, "link": true, "club": true, "live": true, "life": true, "world": true,
	"today": true, "email": true, "help": true, "support": true, "center": true,
	"agency": true, "company": true, "business": true, "network": true, "digital": true,
	"media": true, "social": true, "space": true, "website": true, "wiki": true,
	"solutions": true, "services": true, "systems": true, "global": true, "group": true,
	"top": true, "vip": true, "work": true, "tokyo": true, "osaka": true, "nagoya": true,
	"yokohama": true, "kyoto": true, "okinawa": true, "seoul": true, "google": true,
	"apple": true, "amazon": true, "microsoft": true, "softbank": true, "samsung": true,
}
