package x

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/guard"
)

func TestWeightedLength(t *testing.T) {
	url100 := "https://example.com/" + strings.Repeat("a", 80)
	if len(url100) != 100 {
		t.Fatalf("url100 has %d chars", len(url100))
	}
	tests := []struct {
		name string
		text string
		want int
	}{
		{"empty", "", 0},
		{"hello", "hello", 5},
		{"140 Japanese", strings.Repeat("あ", 140), 280},
		{"141 Japanese", strings.Repeat("あ", 141), 282},
		{"140 Hangul", strings.Repeat("한", 140), 280},
		{"thumbs up medium skin tone", "👍🏽", 2},
		{"family ZWJ sequence", "👨\u200d👩\u200d👧\u200d👦", 2},
		{"140 families", strings.Repeat("👨\u200d👩\u200d👧\u200d👦", 140), 280},
		{"kiss with skin tones", "👩🏻\u200d❤\ufe0f\u200d💋\u200d👨🏼", 2},
		{"five joined emoji are two sequences", "😀\u200d😀\u200d😀\u200d😀\u200d😀", 2 + 1 + 2},
		{"trailing ZWJ", "👍\u200d", 3},
		{"flag", "🇯🇵", 2},
		{"two flags", "🇯🇵🇰🇷", 4},
		{"keycap", "1\ufe0f\u20e3", 2},
		{"keycap without VS16", "#\u20e3", 2},
		{"rainbow flag", "🏳\ufe0f\u200d🌈", 2},
		{"heart on fire", "❤\ufe0f\u200d🔥", 2},
		{"England tag sequence", "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", 2},
		{"copyright alone", "©", 1},
		{"copyright emoji", "©\ufe0f", 2},
		{"trade mark", "™", 2},
		{"twitter-text unicode 10 emoji", "Unicode 10.0 emoji: 🤪; 🧕; 🧕🏾; 🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", 34},
		{"twitter-text unicode 9 emoji", "Unicode 9.0 emoji: 🤠; 💃; 💃🏾", 29},
		{"twitter-text BMP emoji", "😷👾😡🔥💩", 10},
		{"NFC composes", "A\u0301B", 2},
		{"NFC decomposes U+FB2C", "A\uFB2C", 4},
		{"general punctuation weighs 1", "\u2000\u2005\u200a\u200b\u200d\u2010\u2014\u201c\u201d\u2032\u2037", 11},
		{"outside the punctuation ranges", "\u200e\u2020\u2026\u2038", 8},
		{"Latin-1 and Cyrillic", "Grüße, Привет", 13},
		{"100-char URL", url100, 23},
		{"scheme URL", "Hi http://test.co", 26},
		{"www URL", "see www.example.com", 4 + 23},
		{"bare domain with path", "example.com/help", 23},
		{"bare .co", "t.co", 23},
		{"bare cc domain without path is text", "readme.md", 9},
		{"bare cc domain with path", "example.jp/help", 23},
		{"bare co.jp", "foo.co.jp", 23},
		{"trailing period is not URL", "Visit https://example.com/help.", 6 + 23 + 1},
		{"unbalanced paren", "(https://example.com/a)", 1 + 23 + 1},
		{"balanced paren in path", "https://en.wikipedia.org/wiki/Go_(language)", 23},
		{"query", "https://example.com/p?id=12345&x=y!", 23 + 1},
		{"URL then Japanese", "詳しくはhttps://example.com/faqをご覧ください。", 8 + 23 + 16},
		{"URL host then Japanese", "https://example.comです", 23 + 4},
		{"IDN TLD after bidi marks", "\u2066\u202Ahttp://foobar.پاکستان/\u202C\u2069", 31},
		{"64-char label is no URL", strings.Repeat("randomurl", 7) + "s.com", 68},
		{"e-mail is not a URL", "taro@example.com", 16},
		{"version is not a URL", "iOS 17.1.2", 10},
		{"ten URLs", strings.Repeat("https://www.twitter.com/aloha ", 10), 240},
		{"Japanese reply", "ご不便をおかけして申し訳ございません。", 38},
		{"Korean reply", "불편을 드려 죄송합니다.", 23},
		{"mixed", "Sorry 🙏 ご迷惑をおかけしました https://example.com/status 불편", 6 + 2 + 1 + 22 + 1 + 23 + 1 + 4},
		{"invalid UTF-8", "a\xffb", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WeightedLength(tt.text); got != tt.want {
				t.Errorf("WeightedLength(%q) = %d, want %d", tt.text, got, tt.want)
			}
		})
	}
}

// TestLengthGuard checks what staff see for answers too long for X: the
// guard with X's measure.
func TestLengthGuard(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		vis      bridge.Visibility
		weighted int
		limit    int
		msg      string // "" = no length finding
	}{
		{"280 ASCII", strings.Repeat("a", 280), bridge.VisibilityPublic, 280, PublicLimit, ""},
		{"312 ASCII", strings.Repeat("a", 312), bridge.VisibilityPublic, 312, PublicLimit,
			"Too long for X: 312 of 280 characters (Japanese, Korean and emoji count double, links count 23). Shorten it by 32."},
		{"140 Japanese", strings.Repeat("あ", 140), bridge.VisibilityPublic, 280, PublicLimit, ""},
		{"141 Japanese", strings.Repeat("あ", 141), bridge.VisibilityPublic, 282, PublicLimit,
			"Too long for X: 282 of 280 characters (Japanese, Korean and emoji count double, links count 23). Shorten it by 2."},
		{"141 Korean", strings.Repeat("감", 141), bridge.VisibilityPublic, 282, PublicLimit,
			"Too long for X: 282 of 280 characters (Japanese, Korean and emoji count double, links count 23). Shorten it by 2."},
		{"long URL fits", strings.Repeat("a", 250) + " https://example.com/" + strings.Repeat("x", 200), bridge.VisibilityPublic, 274, PublicLimit, ""},
		{"DM of 10,000", strings.Repeat("あ", 10000), bridge.VisibilityDM, 10000, DMLimit, ""},
		{"DM of 10,001", strings.Repeat("a", 10001), bridge.VisibilityDM, 10001, DMLimit,
			"Too long for an X DM: 10,001 of 10,000 characters. Shorten it by 1."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Network{}.Measure(tt.text, tt.vis)
			gv := guard.VisibilityPublic
			if tt.vis == bridge.VisibilityDM {
				gv = guard.VisibilityDM
			}
			r := guard.Check(guard.Draft{Text: tt.text, Visibility: gv, Length: guard.Length{N: l.N, Limit: l.Limit, Of: l.Of, How: l.How}})
			if r.Weighted != tt.weighted || r.Limit != tt.limit {
				t.Errorf("Weighted, Limit = %d, %d; want %d, %d", r.Weighted, r.Limit, tt.weighted, tt.limit)
			}
			var f *guard.Finding
			for i := range r.Findings {
				if r.Findings[i].Guard == guard.GuardLength {
					f = &r.Findings[i]
				}
			}
			switch {
			case tt.msg == "" && f != nil:
				t.Errorf("unexpected length finding %+v", *f)
			case tt.msg != "" && f == nil:
				t.Errorf("no length finding; want %q", tt.msg)
			case tt.msg != "" && f.Message != tt.msg:
				t.Errorf("message = %q\nwant      %q", f.Message, tt.msg)
			}
		})
	}
}

func FuzzWeightedLength(f *testing.F) {
	for _, s := range []string{"", "\u200b", "👨\u200d👩\u200d👧\u200d👦", "https://example.com/(a", "あ", "\xff\xfe", "1\ufe0f\u20e3\u200d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		w := WeightedLength(text)
		if w < 0 || (text != "" && w == 0) || w > URLWeight*utf8.RuneCountInString(text) {
			t.Fatalf("WeightedLength(%q) = %d", text, w)
		}
	})
}
