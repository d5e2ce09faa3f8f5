package xfake

import (
	"regexp"
	"unicode"
)

// maxWeightedLength is X's limit for a post's weighted length.
const maxWeightedLength = 280

// urlWeight is what every URL counts, whatever its length (t.co wrapping).
const urlWeight = 23

// urlRE finds URLs with an explicit scheme, and www. hosts. X's twitter-text
// also recognises bare domains ("example.com"); the fake does not.
var urlRE = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s]+`)

// leadingMentionsRE matches the @mentions at the very start of a reply, which
// X does not count.
var leadingMentionsRE = regexp.MustCompile(`^(?:\s*@[A-Za-z0-9_]{1,15})+\s*`)

func findURLs(s string) [][]int { return urlRE.FindAllStringIndex(s, -1) }

// weightedLength returns the length X counts for a post's text, following the
// twitter-text v3 configuration: code points in U+0000–U+10FF, U+2000–U+200D,
// U+2010–U+201F and U+2032–U+2037 weigh 1, everything else (CJK, most symbols)
// weighs 2, an emoji sequence (ZWJ sequences, skin tones, flags, keycaps)
// weighs 2 in total, and every URL weighs 23. The text is not NFC-normalised
// first (X does that): callers should send NFC text, as Go strings from
// keyboards and JSON usually are.
func weightedLength(text string) int {
	n := 0
	last := 0
	for _, loc := range findURLs(text) {
		n += runesWeight(text[last:loc[0]]) + urlWeight
		last = loc[1]
	}
	return n + runesWeight(text[last:])
}

// replyWeightedLength is weightedLength without the leading @mentions that X
// does not count in replies.
func replyWeightedLength(text string) int {
	return weightedLength(leadingMentionsRE.ReplaceAllString(text, ""))
}

func runesWeight(s string) int {
	rs := []rune(s)
	n := 0
	for i := 0; i < len(rs); {
		if j := emojiClusterEnd(rs, i); j > i {
			n += 2
			i = j
			continue
		}
		n += runeWeight(rs[i])
		i++
	}
	return n
}

func runeWeight(r rune) int {
	switch {
	case r <= 0x10FF,
		r >= 0x2000 && r <= 0x200D,
		r >= 0x2010 && r <= 0x201F,
		r >= 0x2032 && r <= 0x2037:
		return 1
	}
	return 2
}

func isRegionalIndicator(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

// isEmojiModifier reports runes that extend an emoji: variation selectors,
// skin tones, tag characters and the keycap mark.
func isEmojiModifier(r rune) bool {
	return r == 0xFE0E || r == 0xFE0F || r == 0x20E3 ||
		(r >= 0x1F3FB && r <= 0x1F3FF) || (r >= 0xE0020 && r <= 0xE007F)
}

// isEmojiBase reports runes that are emoji by default (pictographs and
// dingbats). Text-default symbols such as © only become emoji with U+FE0F,
// which emojiClusterEnd handles.
func isEmojiBase(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF,
		r >= 0x2600 && r <= 0x27BF,
		r >= 0x2B00 && r <= 0x2BFF,
		r >= 0x2300 && r <= 0x23FF:
		return true
	}
	return false
}

// emojiClusterEnd returns the index after the emoji sequence starting at i,
// or i when rs[i] does not start one.
func emojiClusterEnd(rs []rune, i int) int {
	r := rs[i]
	next := func(k int) rune {
		if k < len(rs) {
			return rs[k]
		}
		return 0
	}
	switch {
	case isRegionalIndicator(r):
		if isRegionalIndicator(next(i + 1)) {
			return i + 2
		}
		return i + 1
	case r == '#' || r == '*' || (r >= '0' && r <= '9'):
		// Keycap: digit [FE0F] 20E3.
		k := i + 1
		if next(k) == 0xFE0F {
			k++
		}
		if next(k) == 0x20E3 {
			return k + 1
		}
		return i
	case isEmojiBase(r), next(i+1) == 0xFE0F && (unicode.IsSymbol(r) || unicode.IsPunct(r)):
		k := i + 1
		for {
			for k < len(rs) && isEmojiModifier(rs[k]) {
				k++
			}
			if next(k) == 0x200D && k+1 < len(rs) {
				k += 2 // ZWJ and the joined emoji
				continue
			}
			return k
		}
	}
	return i
}
