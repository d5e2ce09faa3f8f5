// Package route is the keyword router: it decides which department's Slack
// channel a social-media post goes to, from hundreds to thousands of
// keywords in English, Japanese and Korean. It is pure (no I/O) and a Router
// is safe for concurrent use.
//
//	r, err := route.New([]route.Rule{
//		{Department: "network", Keywords: []string{"wifi", "no signal", "電波", "신호"}, Exclude: []string{"wifi calling"}},
//		{Department: "billing", Keywords: []string{"bill", "refund", "料金", "요금"}},
//	}, "triage")
//	res := r.Route(route.Input{Text: "ＷｉＦｉが遅い"}) // res.Department == "network"
//
// # Normalization
//
// Keywords, exclude entries and post text go through the same Normalize:
// zero-width characters (U+200B–U+200D, U+2060, U+FEFF) are removed first
// (so "wi\u200bfi" is "wifi" and "e\u200b\u0301" composes to "é"), invalid
// UTF-8 becomes U+FFFD, then Unicode NFKC (full-width "ＷｉＦｉ" → "WiFi",
// half-width "ﾃﾞﾝﾊﾟ" → "デンパ", "①" → "1", "…" → "..."), then full Unicode
// case folding (golang.org/x/text/cases.Fold: "STRASSE" and "straße" are
// both "strasse"), and every run of white space (unicode.IsSpace, after
// NFKC, so U+3000 too) becomes one space, trimmed at both ends. Accents are
// kept: "cafe" does not match "café".
//
// # Matching
//
// Word characters are the Latin letters and digits: ASCII letters and
// digits, every letter of the Latin script (Latin-1 Supplement, Latin
// Extended-A to -G, IPA extensions, Latin Extended Additional: é, ß, ø, ł,
// ə, …), and the combining diacritical marks that can follow them
// (U+0300–U+036F, U+1AB0–U+1AFF, U+1DC0–U+1DFF). Anything else is an edge:
// space, punctuation (including _ - ' # @), symbols, emoji, CJK, Hangul, and
// also Greek, Cyrillic and other scripts.
//
//   - A keyword containing a Han, Hiragana, Katakana or Hangul character
//     matches as a substring anywhere ("電波" in "電波が悪い", "신호" in
//     "신호가").
//   - Otherwise, if the keyword's first character is a word character, the
//     character before the match must be an edge or the start of the text;
//     if its last character is a word character, the character after must be
//     an edge or the end of the text. So "bill" matches "my bill!", "#bill"
//     and "bill😡" but not "billion" or "rebill", "5g" does not match "5gb",
//     and "wifi" matches "WiFiが遅い" and "와이파이wifi". Where a keyword
//     starts or ends with a non-word character, that end is not checked:
//     "c++" matches "c++x" (while "#bill" still does not match "#billing",
//     its last character being a word character). Keywords in other scripts
//     ("сигнал") therefore match as substrings ("сигнала"), which suits
//     inflected languages.
//   - Inside a keyword, word/non-word switches must match exactly as written
//     ("wi-fi" matches "Wi-Fi", not "wifi"); a space matches any run of white
//     space, including newlines and tabs, because white space is collapsed.
//   - Exclude entries are matched the same way and veto their own rule only.
//
// # Rules
//
// Rules are tried in order and the first matching rule owns the post. A rule
// matches when one of its keywords matches or the post mentions one of its
// accounts (Input.Mentions; compared after removing leading @ and case
// folding), and none of its exclude entries matches. As in Alertmanager's
// routing tree, a matching rule with Continue lets evaluation go on: each
// later matching rule adds its department as an FYI copy (deduplicated,
// never the owner's department), and evaluation stops after the first
// matching rule without Continue. The owner and these FYI rules form the
// chain; Result.Matched lists the chain's matched keywords in order of first
// occurrence in the text (one entry per normalized keyword, spelled as in the
// first chain rule that has it), then its matched accounts as "@handle" in
// mention order; Result.Tags lists the chain's tags, owner first. When no rule
// matches, the post goes to the triage department with Rule -1.
//
// # Implementation
//
// Matching is one pass over the text with an Aho-Corasick automaton written
// for this package (see automaton.go): a byte-level DFA over byte classes
// with word edges compiled into the automaton as a virtual symbol, so
// matching does the same work per byte whatever the number of keywords and
// needs no verification pass (the table grows, and with it cache misses: see
// docs/BENCHMARKS.md). A home-grown automaton was chosen over a library
// because the edge symbol, white-space collapsing and ASCII case folding are
// folded into the transition table itself, which no general-purpose
// Aho-Corasick package offers. The shallow, hot states have dense rows; deep
// states are stored sparsely, which bounds memory (about 1.7 MB for 1,000
// keywords, 8.7 MB for 10,000). Rule evaluation after the scan uses bitsets
// over the matched keywords only.
//
// Posts made of ASCII, zero-width characters and "simple" characters (most
// CJK, Hangul, punctuation, emoji and lower-case accented letters, which
// normalization cannot change in such company) are scanned directly from the
// input, folding ASCII case and collapsing white space on the fly; others are
// normalized into a pooled buffer first. Route allocates only the Result
// slices (one allocation, none when no rule matches). See docs/BENCHMARKS.md
// for throughput figures.
package route
