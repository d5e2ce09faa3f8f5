package route

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"hello", "hello"},
		{"Hello WORLD", "hello world"},
		{"  lots \t of\n\n  space  ", "lots of space"},
		{"ＷｉＦｉ", "wifi"},
		{"ﾃﾞﾝﾊﾟ", "デンパ"},
		{"ｶﾞｷﾞｸﾞ", "ガギグ"},
		{"wi\u200bfi", "wifi"},
		{"\u200b\u200c\u200d\u2060\ufeff", ""},
		{"a\u00a0b\u3000c\u2003d\u2028e", "a b c d e"},
		{"Straße", "strasse"},
		{"ΣΊΣΥΦΟΣ", "σίσυφοσ"},
		{"İstanbul", "i̇stanbul"},
		{"Cafe\u0301", "café"},
		{"e\u200b\u0301", "é"}, // zero-width removed before NFKC
		{"ﬁle", "file"},
		{"①②", "12"},
		{"㈱", "(株)"},
		{"“quoted” … ok", "“quoted” ... ok"},
		{"신호", "신호"},
		{"\u1109\u1175\u11ab", "신"},
		{"😡 emoji", "😡 emoji"},
		{"bad\xffutf8", "bad\ufffdutf8"},
		{"\xe3\x81", "\ufffd\ufffd"},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// refNormalize is the definition of Normalize written with the x/text
// packages directly, whole string at a time.
func refNormalize(s string) string {
	var b strings.Builder
	for _, r := range s { // invalid bytes decode as U+FFFD
		if !isZeroWidth(r) {
			b.WriteRune(r)
		}
	}
	out := cases.Fold().String(norm.NFKC.String(b.String()))
	return strings.Join(strings.FieldsFunc(out, unicode.IsSpace), " ")
}

// pieces are fragments that exercise normalization corner cases.
var pieces = []string{
	"a", "B", "bill", "Wi", "FI", "5", "g", " ", "  ", "\t", "\n", "\r\n", "#", "!", "-", "@",
	"é", "É", "e", "\u0301", "\u0308", "ß", "ẞ", "İ", "ı", "ς", "Σ", "ΐ", "ǰ", "J", "\u030c",
	"\u200b", "\u200d", "\ufeff", "\u2060", "\u00a0", "\u3000", "\u2028", "\u0085", "¨", "ﬁ", "①",
	"電波", "料金", "圏外", "デ", "ﾃ", "ﾞ", "ﾝ", "ﾊ", "ﾟ", "ｶﾞ", "が", "か", "\u3099", "ゞ", "ヾ",
	"신호", "요금", "가", "\u1100", "\u1161", "\u11a8", "\u1109\u1175\u11ab",
	"ａ", "Ａ", "ＷｉＦｉ", "！", "＃", "…", "’", "😡", "👍🏻", "\ufe0f", "🇯🇵", "Ⓐ", "㈱",
	"\xff", "\xe3\x81", "\xc3", "\x00", "Ω", "Ω", "K", "Å",
}

func randomText(rng *rand.Rand, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

func TestNormalizeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(s string) {
		t.Helper()
		if got, want := Normalize(s), refNormalize(s); got != want {
			t.Fatalf("Normalize(%q) = %q, reference %q", s, got, want)
		}
	}
	for _, p := range pieces {
		check(p)
	}
	for i := 0; i < 20000; i++ {
		check(randomText(rng, 1+rng.IntN(12)))
	}
	if c := loadCorpusOrNil(); c != nil {
		for _, set := range [][]string{c.en, c.ja, c.ko} {
			for _, s := range set {
				check(s)
			}
		}
	}
}

// loadCorpusOrNil returns the benchmark corpus if it is present.
func loadCorpusOrNil() *corpus {
	c, err := readCorpus()
	if err != nil {
		return nil
	}
	return c
}

func TestCaselessRanges(t *testing.T) {
	fold := cases.Fold()
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if !isCaseless(r) || !utf8.ValidRune(r) {
			continue
		}
		if s := string(r); fold.String(s) != s {
			t.Fatalf("isCaseless(%U) but case folding changes it to %q", r, fold.String(s))
		}
	}
}

func TestNFKCSafe(t *testing.T) {
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		if got, want := nfkcSafe(r), nfkcSafeSlow(r); got != want {
			t.Fatalf("nfkcSafe(%U) = %v, want %v", r, got, want)
		}
		if nfkcSafe(r) && norm.NFKC.String(string(r)) != string(r) {
			t.Fatalf("nfkcSafe(%U) but NFKC changes it", r)
		}
	}
}

func TestIsSimple(t *testing.T) {
	fold := cases.Fold()
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := string(r)
		want := !unicode.IsSpace(r) && !isZeroWidth(r) && norm.NFKC.String(s) == s && nfkcSafeSlow(r) && fold.String(s) == s
		if got := isSimple(r); got != want {
			t.Fatalf("isSimple(%U) = %v, want %v", r, got, want)
		}
	}
}

func TestIsSpaceRune(t *testing.T) {
	for r := rune(0x80); r < 0x10000; r++ {
		if isSpaceRune(r) != unicode.IsSpace(r) {
			t.Fatalf("isSpaceRune(%U) = %v, unicode.IsSpace = %v", r, isSpaceRune(r), unicode.IsSpace(r))
		}
	}
	for b := 0; b < utf8.RuneSelf; b++ {
		if asciiSpace[b] != unicode.IsSpace(rune(b)) {
			t.Fatalf("asciiSpace[%#x] = %v", b, asciiSpace[b])
		}
	}
}

func TestWordRunes(t *testing.T) {
	for _, r := range "azAZ09éÉßøŁłəñçāǆ\u0301" {
		if !isWordRune(r) {
			t.Errorf("isWordRune(%q) = false, want true", r)
		}
	}
	for _, r := range " !#_-'’@.電가あアΩαдא١😡\u3000" {
		if isWordRune(r) {
			t.Errorf("isWordRune(%q) = true, want false", r)
		}
	}
	// The lead-byte shortcut never hides a word character.
	var buf [utf8.UTFMax]byte
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		utf8.EncodeRune(buf[:], r)
		if wordLead[buf[0]] == leadNonWord && isWordRune(r) {
			t.Fatalf("wordLead says %U is not a word character", r)
		}
	}
}

func TestNormalizeASCIIFast(t *testing.T) {
	// Already-normal ASCII is returned without allocating.
	s := "already normal text #42"
	if n := testing.AllocsPerRun(100, func() { _ = Normalize(s) }); n != 0 && !raceEnabled {
		t.Errorf("Normalize allocates %v times for normal ASCII", n)
	}
	for _, s := range []string{" lead", "trail ", "two  spaces", "Upper", "tab\t", ""} {
		if isNormalASCII(s) != (refNormalize(s) == s) {
			t.Errorf("isNormalASCII(%q) = %v", s, isNormalASCII(s))
		}
	}
}
