package x

import (
	"sort"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/carebridge/carebridge/bridge/guard"
)

// Limits on X.
const (
	// PublicLimit is the weighted length limit of a public X post.
	PublicLimit = 280
	// DMLimit is the length limit of an X DM, in characters (code points
	// after NFC).
	DMLimit = 10000
	// URLWeight is what every URL weighs in a public X post, however long.
	URLWeight = 23
)

// WeightedLength returns the length of text as X counts it for a public
// post (twitter-text v3 configuration): the text is NFC-normalized; every
// URL counts URLWeight (23); every emoji sequence (ZWJ sequences, skin tone
// modifiers, variation selectors, flags, keycaps, tag sequences) counts 2
// in total; any other code point counts 1 if it lies in U+0000–U+10FF,
// U+2000–U+200D, U+2010–U+201F or U+2032–U+2037, and 2 otherwise.
//
// URLs are those the guards recognize (guard.URLSpans: http(s) URLs,
// www. domains and bare domains under common TLDs).
//
// The rest follows twitter-text v3 (the configuration X documents): NFC,
// 1 for U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F and U+2032–U+2037, 2
// for everything else, 23 per URL and 2 per emoji sequence. Emoji
// sequences are recognized with a built-in copy of Unicode's
// Extended_Pictographic table and a simplified UTS #51 grammar: up to four
// elements joined by ZWJ (the most any recommended sequence has, so a long
// chain of joined emoji is not counted as 2), each with its variation
// selectors, skin tones and tag sequences, plus keycaps and flag pairs. A
// lone text-default pictograph keeps its own code point weight, so "©"
// still counts 1 while "©️" (with U+FE0F) counts 2. Leading @mentions are
// counted like any text: X leaves out only the mentions it adds itself,
// which are not part of a draft.
func WeightedLength(text string) int {
	t := norm.NFC.String(text)
	urls := guard.URLSpans(t)
	w, u := 0, 0
	for i := 0; i < len(t); {
		if u < len(urls) && i == urls[u][0] {
			w += URLWeight
			i = urls[u][1]
			u++
			continue
		}
		if n := emojiSeq(t, i); n > 0 {
			r, size := utf8.DecodeRuneInString(t[i:])
			if size == n {
				// A lone pictograph weighs what its code point weighs (©
				// and ® stay 1, like the rest of Latin-1); every real
				// sequence counts 2.
				w += runeWeight(r)
			} else {
				w += 2
			}
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(t[i:])
		w += runeWeight(r)
		i += size
	}
	return w
}

// runeWeight is twitter-text v3's per-code-point weight.
func runeWeight(r rune) int {
	switch {
	case r <= 0x10FF,
		0x2000 <= r && r <= 0x200D,
		0x2010 <= r && r <= 0x201F,
		0x2032 <= r && r <= 0x2037:
		return 1
	}
	return 2
}

const (
	zwj        = 0x200D // ZERO WIDTH JOINER
	vs15       = 0xFE0E // text presentation selector
	vs16       = 0xFE0F // emoji presentation selector
	keycapMark = 0x20E3
)

// maxZWJElements caps the elements of one ZWJ sequence. The longest
// recommended sequences (families, couples with heart, kiss) have four;
// capping keeps a long chain of joined emoji from counting as 2 in total.
const maxZWJElements = 4

// emojiSeq returns the byte length of the emoji sequence (UTS #51, in a
// simplified grammar) that starts at s[i], or 0 if none starts there:
//
//	sequence := element (ZWJ element){0,3}
//	element  := RI RI? extenders | [0-9#*] VS16? U+20E3 | pictograph extenders
//	extenders:= (VS15 | VS16 | skin tone | tag U+E0020–U+E007F | U+20E3)*
func emojiSeq(s string, i int) int {
	j := emojiElement(s, i)
	if j == 0 {
		return 0
	}
	for elems := 1; elems < maxZWJElements; elems++ {
		r, n := utf8.DecodeRuneInString(s[j:])
		if r != zwj {
			break
		}
		k := emojiElement(s, j+n)
		if k == 0 {
			break
		}
		j = k
	}
	return j - i
}

// emojiElement returns the end offset of the emoji element starting at
// s[i], or 0.
func emojiElement(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	j := i + n
	switch {
	case isRegionalIndicator(r):
		if r2, n2 := utf8.DecodeRuneInString(s[j:]); isRegionalIndicator(r2) {
			j += n2
		}
		return extendEmoji(s, j)
	case r == '#' || r == '*' || ('0' <= r && r <= '9'):
		r2, n2 := utf8.DecodeRuneInString(s[j:])
		if r2 == vs16 {
			j += n2
			r2, n2 = utf8.DecodeRuneInString(s[j:])
		}
		if r2 != keycapMark {
			return 0
		}
		return extendEmoji(s, j+n2)
	case isPictographic(r) || isSkinTone(r):
		return extendEmoji(s, j)
	}
	return 0
}

// extendEmoji skips the extenders that may follow an emoji element.
func extendEmoji(s string, j int) int {
	for j < len(s) {
		r, n := utf8.DecodeRuneInString(s[j:])
		if r == vs15 || r == vs16 || r == keycapMark || isSkinTone(r) || (0xE0020 <= r && r <= 0xE007F) {
			j += n
			continue
		}
		break
	}
	return j
}

func isRegionalIndicator(r rune) bool { return 0x1F1E6 <= r && r <= 0x1F1FF }
func isSkinTone(r rune) bool          { return 0x1F3FB <= r && r <= 0x1F3FF }

// pictographic is Unicode's Extended_Pictographic property (emoji-data
// 15.1), without the regional indicators and skin tone modifiers, which
// emojiElement handles on their own.
var pictographic = [...][2]rune{
	{0x00A9, 0x00A9}, {0x00AE, 0x00AE}, {0x203C, 0x203C}, {0x2049, 0x2049},
	{0x2122, 0x2122}, {0x2139, 0x2139}, {0x2194, 0x2199}, {0x21A9, 0x21AA},
	{0x231A, 0x231B}, {0x2328, 0x2328}, {0x2388, 0x2388}, {0x23CF, 0x23CF},
	{0x23E9, 0x23F3}, {0x23F8, 0x23FA}, {0x24C2, 0x24C2}, {0x25AA, 0x25AB},
	{0x25B6, 0x25B6}, {0x25C0, 0x25C0}, {0x25FB, 0x25FE}, {0x2600, 0x2605},
	{0x2607, 0x2612}, {0x2614, 0x2685}, {0x2690, 0x2705}, {0x2708, 0x2712},
	{0x2714, 0x2714}, {0x2716, 0x2716}, {0x271D, 0x271D}, {0x2721, 0x2721},
	{0x2728, 0x2728}, {0x2733, 0x2734}, {0x2744, 0x2744}, {0x2747, 0x2747},
	{0x274C, 0x274C}, {0x274E, 0x274E}, {0x2753, 0x2755}, {0x2757, 0x2757},
	{0x2763, 0x2767}, {0x2795, 0x2797}, {0x27A1, 0x27A1}, {0x27B0, 0x27B0},
	{0x27BF, 0x27BF}, {0x2934, 0x2935}, {0x2B05, 0x2B07}, {0x2B1B, 0x2B1C},
	{0x2B50, 0x2B50}, {0x2B55, 0x2B55}, {0x3030, 0x3030}, {0x303D, 0x303D},
	{0x3297, 0x3297}, {0x3299, 0x3299}, {0x1F000, 0x1F0FF}, {0x1F10D, 0x1F10F},
	{0x1F12F, 0x1F12F}, {0x1F16C, 0x1F171}, {0x1F17E, 0x1F17F}, {0x1F18E, 0x1F18E},
	{0x1F191, 0x1F19A}, {0x1F1AD, 0x1F1E5}, {0x1F201, 0x1F20F}, {0x1F21A, 0x1F21A},
	{0x1F22F, 0x1F22F}, {0x1F232, 0x1F23A}, {0x1F23C, 0x1F23F}, {0x1F249, 0x1F3FA},
	{0x1F400, 0x1F53D}, {0x1F546, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F774, 0x1F77F},
	{0x1F7D5, 0x1F7FF}, {0x1F80C, 0x1F80F}, {0x1F848, 0x1F84F}, {0x1F85A, 0x1F85F},
	{0x1F888, 0x1F88F}, {0x1F8AE, 0x1F8FF}, {0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945},
	{0x1F947, 0x1FAFF}, {0x1FC00, 0x1FFFD},
}

func isPictographic(r rune) bool {
	if r < 0x00A9 {
		return false
	}
	k := sort.Search(len(pictographic), func(k int) bool { return pictographic[k][1] >= r })
	return k < len(pictographic) && pictographic[k][0] <= r
}
