package route

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// edgeStream is the oracle's view of a normalized text: the edge symbol
// inserted explicitly wherever the text switches between word and non-word
// characters, at the start before a word character and at the end after one.
func edgeStream(norm string) string {
	var b strings.Builder
	prev := false
	for _, r := range norm {
		if w := isWordRune(r); w != prev {
			b.WriteByte(edgeByte)
			prev = w
		}
		b.WriteRune(r)
	}
	if prev {
		b.WriteByte(edgeByte)
	}
	return b.String()
}

// oracleHits returns the normalized keywords (and exclude entries) of r that
// occur in text, found with strings.Contains on the edge stream.
func oracleHits(r *Router, text string) []string {
	stream := edgeStream(Normalize(text))
	var hits []string
	for _, p := range r.patterns {
		if strings.Contains(stream, string(pattern(p))) {
			hits = append(hits, p)
		}
	}
	slices.Sort(hits)
	return hits
}

// automatonHits returns the normalized keywords found by Route's scan.
func automatonHits(r *Router, text string) []string {
	sc := r.pool.Get().(*scratch)
	defer r.pool.Put(sc)
	sc.forgetHits()
	if !r.m.scan(text, sc, true) {
		sc.forgetHits()
		t := sc.norm.normalize(text)
		r.m.scan(string(t), sc, false)
	}
	var hits []string
	for _, p := range sc.hits {
		hits = append(hits, r.patterns[p])
	}
	slices.Sort(hits)
	return hits
}

// normalizedHits is automatonHits forced through the normalizing path.
func normalizedHits(r *Router, text string) []string {
	sc := r.pool.Get().(*scratch)
	defer r.pool.Put(sc)
	sc.forgetHits()
	r.m.scan(string(sc.norm.normalize(text)), sc, false)
	var hits []string
	for _, p := range sc.hits {
		hits = append(hits, r.patterns[p])
	}
	slices.Sort(hits)
	return hits
}

// fuzzRules uses keywords made of the same pieces as the random texts.
func fuzzRules() []Rule {
	return []Rule{
		{Department: "net", Keywords: []string{"wifi", "5g", "電波", "デンパ", "신호", "no signal", "a", "é"}, Exclude: []string{"wifi calling"}, Continue: true, Tag: "outage"},
		{Department: "bill", Keywords: []string{"bill", "料金", "요금", "café", "straße", "#bill", "b!"}, Continue: true},
		{Department: "pr", Keywords: []string{"love", "😡", "ガ", "ﬁ", "wifi電波", "i̇"}, Accounts: []string{"AcmeHelp"}, Tag: "praise"},
		{Department: "misc", Keywords: []string{"Σ", "ς", "ab", "ba", "bab", "gg", "5", "-", "!!", "e\u0301"}, Exclude: []string{"love"}},
	}
}

// TestScanMatchesOracle compares the automaton with the strings.Contains
// oracle on random texts built from tricky pieces, and the fast path with the
// normalizing path.
func TestScanMatchesOracle(t *testing.T) {
	r := mustNew(t, fuzzRules(), "triage")
	rng := rand.New(rand.NewPCG(3, 4))
	var kwPieces []string
	for _, rule := range fuzzRules() {
		kwPieces = append(kwPieces, rule.Keywords...)
		kwPieces = append(kwPieces, rule.Exclude...)
	}
	for i := 0; i < 30000; i++ {
		var b strings.Builder
		for j := rng.IntN(10); j >= 0; j-- {
			if rng.IntN(3) == 0 {
				b.WriteString(kwPieces[rng.IntN(len(kwPieces))])
			} else {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		text := b.String()
		want := oracleHits(r, text)
		if got := automatonHits(r, text); !slices.Equal(got, want) {
			t.Fatalf("text %q (normalized %q):\nautomaton %q\noracle    %q", text, Normalize(text), got, want)
		}
		if got := normalizedHits(r, text); !slices.Equal(got, want) {
			t.Fatalf("text %q: normalizing path %q, oracle %q", text, got, want)
		}
	}
}

// TestScanMatchesOracleLarge does the same with the sparse (non-dense)
// states in use, by compiling with a tiny dense budget.
func TestScanMatchesOracleLarge(t *testing.T) {
	defer func(old uint32) { maxDenseCells = old }(maxDenseCells)
	maxDenseCells = 1 // only the root is dense
	rules := fuzzRules()
	rules = append(rules, Rule{Department: "long", Keywords: []string{"wifi wifi wifi", "bill bill", "ababab", "電波電波電波", "a b a b"}})
	r := mustNew(t, rules, "triage")
	if _, dense := r.States(); dense != 1 {
		t.Fatalf("dense states = %d, want 1", dense)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var kwPieces []string
	for _, rule := range rules {
		kwPieces = append(kwPieces, rule.Keywords...)
	}
	kwPieces = append(kwPieces, " ", "a", "b", "ab")
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for j := rng.IntN(12); j >= 0; j-- {
			if rng.IntN(2) == 0 {
				b.WriteString(kwPieces[rng.IntN(len(kwPieces))])
			} else {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		text := b.String()
		want := oracleHits(r, text)
		if got := automatonHits(r, text); !slices.Equal(got, want) {
			t.Fatalf("text %q (normalized %q):\nautomaton %q\noracle    %q", text, Normalize(text), got, want)
		}
	}
}

// insertZeroWidth puts a zero-width character after every rune.
func insertZeroWidth(s string) string {
	zw := []string{"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}
	var b strings.Builder
	i := 0
	for len(s) > 0 {
		_, size := utf8.DecodeRuneInString(s)
		b.WriteString(s[:size])
		b.WriteString(zw[i%len(zw)])
		s = s[size:]
		i++
	}
	return b.String()
}

func FuzzRoute(f *testing.F) {
	for _, s := range []string{
		"", "my bill!", "billion", "#bill", "WiFiが遅い", "와이파이wifi", "ﾃﾞﾝﾊﾟ", "ＷｉＦｉ　が遅い",
		"wi\u200bfi", "no \n\t signal", "5gb 5g", "love 😡", "wifi calling", "STRASSE Café",
		"e\u0301\u0301\u0300", "\xff\xfe\xe3\x81", "ΣΊΣΥΦΟΣ ς", "\u1109\u1175\u11ab\u1112\u1169",
	} {
		f.Add(s, "AcmeHelp")
	}
	r := mustNew(f, fuzzRules(), "triage")
	f.Fuzz(func(t *testing.T, text, mention string) {
		in := Input{Text: text, Mentions: []string{mention}}
		res := r.Route(in)

		// Structural invariants.
		if res.Department == "" {
			t.Fatalf("empty department for %q", text)
		}
		if (res.Rule == -1) != (res.Department == "triage") {
			t.Fatalf("rule %d with department %q", res.Rule, res.Department)
		}
		if res.Rule < -1 || res.Rule >= 4 {
			t.Fatalf("rule index %d out of range", res.Rule)
		}
		if res.Rule == -1 && (res.FYI != nil || res.Matched != nil || res.Tags != nil) {
			t.Fatalf("triage result with details: %+v", res)
		}
		if res.Rule >= 0 && len(res.Matched) == 0 {
			t.Fatalf("owner without matched keywords: %+v", res)
		}
		if slices.Contains(res.FYI, res.Department) {
			t.Fatalf("FYI %q contains the owner %q", res.FYI, res.Department)
		}
		for _, list := range [][]string{res.FYI, res.Matched, res.Tags} {
			seen := map[string]bool{}
			for _, x := range list {
				if seen[x] || x == "" {
					t.Fatalf("duplicate or empty entry %q in %q", x, list)
				}
				seen[x] = true
			}
		}

		// The automaton finds exactly what the oracle finds.
		if got, want := automatonHits(r, text), oracleHits(r, text); !slices.Equal(got, want) {
			t.Fatalf("text %q: automaton %q, oracle %q", text, got, want)
		}

		// Zero-width characters anywhere change nothing.
		zin := Input{Text: insertZeroWidth(text), Mentions: in.Mentions}
		if got := r.Route(zin); !reflect.DeepEqual(got, res) {
			t.Fatalf("zero-width insertion changed the result:\n%q → %+v\n%q → %+v", text, res, zin.Text, got)
		}

		// ASCII case changes nothing when the text is valid UTF-8.
		if utf8.ValidString(text) {
			upper := strings.Map(func(r rune) rune {
				if 'a' <= r && r <= 'z' {
					return r - 'a' + 'A'
				}
				return r
			}, text)
			if got := r.Route(Input{Text: upper, Mentions: in.Mentions}); !reflect.DeepEqual(got, res) {
				t.Fatalf("upper-casing ASCII changed the result:\n%q → %+v\n%q → %+v", text, res, upper, got)
			}
		}

		// Normalization is idempotent and routing sees only the normal form.
		n := Normalize(text)
		if Normalize(n) != n {
			t.Fatalf("Normalize not idempotent: %q → %q → %q", text, n, Normalize(n))
		}
		if got := r.Route(Input{Text: n, Mentions: in.Mentions}); !reflect.DeepEqual(got, res) {
			t.Fatalf("routing the normalized text differs:\n%q → %+v\n%q → %+v", text, res, n, got)
		}
	})
}
