package route

import (
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Normalize returns s as the router sees it: zero-width characters
// (U+200B–U+200D, U+2060, U+FEFF) removed, invalid UTF-8 replaced by U+FFFD,
// Unicode NFKC applied, full Unicode case folding applied, and every run of
// white space (unicode.IsSpace) collapsed to one ASCII space, with no leading
// or trailing space. Keywords, exclude entries and post text all go through
// the same function, so a keyword matches a text exactly when its normalized
// form occurs in the normalized text (subject to the word-edge rules in the
// package documentation).
func Normalize(s string) string {
	if isNormalASCII(s) {
		return s
	}
	nb := normPool.Get().(*normalizer)
	out := string(nb.normalize(s))
	normPool.Put(nb)
	return out
}

var normPool = sync.Pool{New: func() any { return new(normalizer) }}

// isSimple reports whether the non-ASCII rune r passes normalization
// unchanged in any context that contains only simple runes, zero-width
// characters and ASCII: it is NFKC-stable (nfkcSafe), case folding leaves it
// unchanged, and it is neither white space nor zero-width. Most CJK, Hangul,
// punctuation, emoji and lower-case accented letters are simple, so posts
// made of them are scanned without building a normalized copy. Answers are
// cached like nfkcSafe's.
func isSimple(r rune) bool {
	switch {
	case r >= 0xAC00 && r <= 0xD7A3, r >= 0x4E00 && r <= 0x9FFF: // Hangul syllables, CJK ideographs
		return true
	case r >= cacheLimit:
		return isSimpleSlow(r)
	}
	if v, ok := cached(&simpleTab, r); ok {
		return v
	}
	return store(&simpleTab, r, isSimpleSlow(r))
}

var simpleTab runeCache

// isSimpleSlow computes isSimple.
func isSimpleSlow(r rune) bool {
	if isSpaceRune(r) || isZeroWidth(r) || !nfkcSafe(r) {
		return false
	}
	return isCaseless(r) || cases.Fold().String(string(r)) == string(r)
}

// isNormalASCII reports whether s is ASCII and already normalized, so
// Normalize can return it without allocating.
func isNormalASCII(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= utf8.RuneSelf, 'A' <= b && b <= 'Z':
			return false
		case b == ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
		case asciiSpace[b]:
			return false
		default:
			prevSpace = false
		}
	}
	return !prevSpace || len(s) == 0
}

// asciiSpace marks the ASCII bytes for which unicode.IsSpace is true.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// isZeroWidth reports whether r is one of the invisible characters that are
// dropped before matching (a common way to dodge keyword filters).
func isZeroWidth(r rune) bool {
	return (r >= 0x200B && r <= 0x200D) || r == 0x2060 || r == 0xFEFF
}

// normalizer holds the reusable buffers of the general (non-ASCII)
// normalization pipeline. It is not safe for concurrent use; the router keeps
// one per pooled scratch.
type normalizer struct {
	seg   []byte // an NFKC-unstable segment, zero-width removed
	iter  norm.Iter
	out   []byte // the normalized text
	caser cases.Caser
	init  bool
}

// normalize runs the full pipeline and returns a buffer owned by n that is
// valid until the next call. It is one pass over s: zero-width characters are
// skipped, runs of characters that are NFKC-stable on their own (see
// nfkcSafe) are folded and copied directly, and only the segments around
// other characters (a base letter and its combining marks, full-width forms,
// half-width katakana and their sound marks, …) go through norm.NFKC.
func (n *normalizer) normalize(s string) []byte {
	out := n.out[:0]
	prevSpace := true // also trims leading space
	// The last stable rune: where it starts in s and the output state before
	// it, so that a following combining mark can re-normalize it.
	lastStart, lastEnd, lastOut, lastSpace := -1, 0, 0, true
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			lastStart, lastEnd, lastOut, lastSpace = i, i+1, len(out), prevSpace
			i++
			if asciiSpace[b] {
				if !prevSpace {
					out = append(out, ' ')
					prevSpace = true
				}
				continue
			}
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			out = append(out, b)
			prevSpace = false
			continue
		}
		var r rune
		var size int
		if b >= 0xE0 && b < 0xF0 && i+2 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 {
			// A three-byte sequence (CJK, kana, Hangul), decoded inline.
			r, size = rune(b&0x0F)<<12|rune(s[i+1]&0x3F)<<6|rune(s[i+2]&0x3F), 3
			if r < 0x800 || r >= 0xD800 && r < 0xE000 {
				r, size = utf8.RuneError, 1 // overlong or surrogate
			}
		} else {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if r == utf8.RuneError && size == 1 {
			// Invalid UTF-8 becomes U+FFFD, which is stable.
			lastStart = -1
			out = append(out, "\uFFFD"...)
			prevSpace = false
			i++
			continue
		}
		if isZeroWidth(r) {
			i += size
			continue
		}
		if isSimple(r) { // stable, and copied as is
			lastStart, lastEnd, lastOut, lastSpace = i, i+size, len(out), prevSpace
			out = append(out, s[i:i+size]...)
			prevSpace = false
			i += size
			continue
		}
		if nfkcSafe(r) {
			lastStart, lastEnd, lastOut, lastSpace = i, i+size, len(out), prevSpace
			out, prevSpace = n.appendFolded(out, prevSpace, r)
			i += size
			continue
		}
		// An unstable rune: normalize the segment from the previous stable
		// rune (it may compose with this one) to the next stable rune.
		seg := n.seg[:0]
		if lastStart >= 0 {
			seg = append(seg, s[lastStart:lastEnd]...) // zero-width characters after it are dropped
			out, prevSpace = out[:lastOut], lastSpace
		}
	segment:
		for i < len(s) {
			r, size = utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				seg = append(seg, "\uFFFD"...)
			case isZeroWidth(r):
			case len(seg) > 0 && (r < utf8.RuneSelf || nfkcSafe(r)):
				break segment // a stable rune starts the next segment
			default:
				seg = append(seg, s[i:i+size]...)
			}
			i += size
		}
		n.seg = seg
		// norm.Iter works in its own buffer; Form.Append would allocate
		// a reorder buffer per call.
		n.iter.Init(norm.NFKC, seg)
		for !n.iter.Done() {
			nf := n.iter.Next()
			for j := 0; j < len(nf); {
				r, size := utf8.DecodeRune(nf[j:])
				out, prevSpace = n.appendFolded(out, prevSpace, r)
				j += size
			}
		}
		lastStart = -1
	}
	if len(out) > 0 && out[len(out)-1] == ' ' {
		out = out[:len(out)-1]
	}
	n.out = out
	return out
}

// appendFolded appends the NFKC-normalized rune r to out, case folded, with
// white space collapsed.
func (n *normalizer) appendFolded(out []byte, prevSpace bool, r rune) ([]byte, bool) {
	switch {
	case r < utf8.RuneSelf:
		if asciiSpace[r] {
			if !prevSpace {
				out = append(out, ' ')
			}
			return out, true
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(out, byte(r)), false
	case isSpaceRune(r):
		if !prevSpace {
			out = append(out, ' ')
		}
		return out, true
	case isCaseless(r):
		return utf8.AppendRune(out, r), false
	}
	return n.fold(out, r), false
}

// isSpaceRune is unicode.IsSpace for non-ASCII runes.
func isSpaceRune(r rune) bool {
	switch r {
	case 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// fold appends the full Unicode case folding of r to dst.
// Case folding (unlike lower-casing) is context free, so folding rune by rune
// equals folding the whole string.
func (n *normalizer) fold(dst []byte, r rune) []byte {
	if !n.init {
		n.caser = cases.Fold()
		n.init = true
	}
	var src [utf8.UTFMax]byte
	var tmp [32]byte // the longest full folding is 3 runes
	n.caser.Reset()
	nDst, _, err := n.caser.Transform(tmp[:], src[:utf8.EncodeRune(src[:], r)], true)
	if err != nil {
		return utf8.AppendRune(dst, r)
	}
	if f, size := utf8.DecodeRune(tmp[:nDst]); size == nDst {
		if c, ok := cherokeeFold(f); ok {
			return utf8.AppendRune(dst, c)
		}
	}
	return append(dst, tmp[:nDst]...)
}

// cherokeeFold corrects x/text's folding of Cherokee, which lower-cases
// the capital letters although Unicode's CaseFolding.txt folds Cherokee to
// its capitals (U+AB70–U+ABBF → U+13A0–U+13EF, U+13F8–U+13FD →
// U+13F0–U+13F5) and leaves the capitals alone. Without it folding
// would swap the two forms back and forth and never settle (found by
// FuzzRoute: Normalize was not idempotent).
func cherokeeFold(r rune) (rune, bool) {
	switch {
	case r >= 0xAB70 && r <= 0xABBF:
		return r - 0xAB70 + 0x13A0, true
	case r >= 0x13F8 && r <= 0x13FD:
		return r - 8, true
	}
	return r, false
}

// nfkcSafe reports whether r is NFKC-stable on its own and cannot interact
// with a preceding rune: NFKC maps it to itself, its canonical combining
// class is 0 and it cannot compose with what comes before it. A run of such
// runes is already NFKC. Answers for runes below safeLimit are computed once
// on first use and cached in safeTab (two bits per rune, filled with atomic
// operations so concurrent routers can share it).
func nfkcSafe(r rune) bool {
	switch {
	case r >= 0xAC00 && r <= 0xD7A3, r >= 0x4E00 && r <= 0x9FFF: // Hangul syllables, CJK ideographs
		return true
	case r >= cacheLimit:
		return nfkcSafeSlow(r)
	}
	if v, ok := cached(&safeTab, r); ok {
		return v
	}
	return store(&safeTab, r, nfkcSafeSlow(r))
}

var safeTab runeCache

// runeCache caches a boolean property of the runes below cacheLimit, two
// bits per rune (unknown, yes, no), filled lazily with atomic operations so
// that concurrent routers can share it.
type runeCache [cacheLimit / 16]uint32

const (
	cacheLimit = 0x20000 // BMP and SMP (emoji)
	cacheYes   = 1
	cacheNo    = 2
)

// cached returns the cached property of r, if known.
func cached(c *runeCache, r rune) (v, ok bool) {
	switch (atomic.LoadUint32(&c[r>>4]) >> (uint(r&15) * 2)) & 3 {
	case cacheYes:
		return true, true
	case cacheNo:
		return false, true
	}
	return false, false
}

// store caches v as the property of r and returns it.
func store(c *runeCache, r rune, v bool) bool {
	bits := uint32(cacheNo)
	if v {
		bits = cacheYes
	}
	atomic.OrUint32(&c[r>>4], bits<<(uint(r&15)*2))
	return v
}

// nfkcSafeSlow computes nfkcSafe with the norm package.
func nfkcSafeSlow(r rune) bool {
	var buf [utf8.UTFMax]byte
	b := buf[:utf8.EncodeRune(buf[:], r)]
	p := norm.NFKC.Properties(b)
	return p.CCC() == 0 && p.BoundaryBefore() && norm.NFKC.IsNormal(b)
}

// isCaseless reports whether r is in a block known to have no case mapping
// (checked exhaustively by TestCaselessRanges), so folding can be skipped.
// It is only an optimisation: returning false is always correct.
func isCaseless(r rune) bool {
	switch {
	case r >= 0x3000 && r < 0xA640: // CJK symbols, kana, Bopomofo, Hangul jamo, CJK ideographs, Yi
		return true
	case r >= 0xAC00 && r < 0xD800: // Hangul syllables
		return true
	case r >= 0x2000 && r < 0x2070: // general punctuation
		return true
	case r >= 0x2190 && r < 0x2460: // arrows, math operators, technical
		return true
	case r >= 0x2500 && r < 0x2C00: // box drawing, shapes, symbols, dingbats
		return true
	case r >= 0x1F000 && r < 0x20000: // emoji and pictographs
		return true
	case r >= 0xFE00 && r < 0xFE10: // variation selectors
		return true
	case r >= 0x20000 && r < 0x40000: // CJK extensions
		return true
	case r >= 0xE0000: // tags (flag emoji), variation selectors, private use
		return true
	}
	return false
}

// Word characters. A keyword whose first (last) character is a word character
// must be preceded (followed) by a non-word character or the start (end) of
// the text.
//
// Word characters are: ASCII letters and digits, letters of the Latin script
// (Latin-1 Supplement, Latin Extended-A to -G, IPA extensions, Latin Extended
// Additional, ...: é, ß, ø, ł, ə, ...) and the combining diacritical marks
// that can follow them (U+0300–U+036F, U+1AB0–U+1AFF, U+1DC0–U+1DFF).
// Everything else — punctuation, symbols, emoji, white space, CJK, Hangul,
// Greek, Cyrillic, ... — is an edge.

// asciiWord marks ASCII letters and digits.
var asciiWord = func() (t [utf8.RuneSelf]bool) {
	for b := 0; b < utf8.RuneSelf; b++ {
		t[b] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
	}
	return t
}()

// isWordRune reports whether r is a word character (see above).
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiWord[r]
	}
	switch {
	case r >= 0x3000 && r < 0xA720, r >= 0xAC00 && r < 0xFB00:
		return false // CJK, kana, Hangul, Yi, ...: never Latin
	case r >= 0x0300 && r < 0x0370, r >= 0x1AB0 && r < 0x1B00, r >= 0x1DC0 && r < 0x1E00:
		return true // combining diacritics stay inside their word
	}
	return unicode.IsLetter(r) && unicode.Is(unicode.Latin, r)
}

// wordLead classifies the lead byte of a multi-byte UTF-8 sequence:
// leadNonWord if every rune starting with it is a non-word character (most
// CJK and Hangul), leadDecode if the rune has to be decoded to decide.
var wordLead = func() (t [256]uint8) {
	for b := 0xC0; b < 0x100; b++ {
		t[b] = leadDecode
	}
	for b := 0xE3; b <= 0xE9; b++ { // U+3000–U+9FFF
		t[b] = leadNonWord
	}
	for b := 0xEB; b <= 0xED; b++ { // U+B000–U+DFFF
		t[b] = leadNonWord
	}
	return t
}()

const (
	leadDecode  = 1
	leadNonWord = 2
)

// isCJKRune reports whether r is Han, Hiragana, Katakana or Hangul. Keywords
// containing such a rune match as plain substrings.
func isCJKRune(r rune) bool {
	if r < 0x1100 {
		return false
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}
