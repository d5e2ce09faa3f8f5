package route

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func mustNew(t testing.TB, rules []Rule, triage string) *Router {
	t.Helper()
	r, err := New(rules, triage)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// stdRules is a small multilingual configuration.
var stdRules = []Rule{
	{ // 0
		Department: "network",
		Keywords:   []string{"WiFi", "no signal", "5G", "電波", "圏外", "신호", "와이파이", "customer service"},
		Exclude:    []string{"wifi calling"},
		Tag:        "outage",
	},
	{ // 1
		Department: "billing",
		Keywords:   []string{"bill", "refund", "料金", "요금", "Café", "straße"},
		Exclude:    []string{"bill gates"},
		Tag:        "billing",
	},
	{ // 2
		Department: "radio",
		Keywords:   []string{"デンパ"},
	},
	{ // 3
		Department: "social",
		Keywords:   []string{"love", "thank you", "#amazing"},
		Exclude:    []string{"hate"},
		Accounts:   []string{"AcmeHelp", "@AcmeJP"},
		Tag:        "praise",
	},
}

type routeCase struct {
	name     string
	text     string
	mentions []string
	want     Result
}

func triage() Result { return Result{Department: "triage", Rule: -1} }

func owner(rule int, dept string, matched []string, tags ...string) Result {
	if len(tags) == 0 {
		tags = nil
	}
	return Result{Department: dept, Rule: rule, Matched: matched, Tags: tags}
}

func runCases(t *testing.T, r *Router, cases []routeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := r.Route(Input{Text: tc.text, Mentions: tc.mentions})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Route(%q, %q)\n got %+v\nwant %+v", tc.text, tc.mentions, got, tc.want)
			}
		})
	}
}

func TestRouteEnglish(t *testing.T) {
	r := mustNew(t, stdRules, "triage")
	bill := func(m ...string) Result { return owner(1, "billing", m, "billing") }
	net := func(m ...string) Result { return owner(0, "network", m, "outage") }
	runCases(t, r, []routeCase{
		{"word", "my bill!", nil, bill("bill")},
		{"upper case", "MY BILL IS WRONG", nil, bill("bill")},
		{"prefix of longer word", "a billion dollars", nil, triage()},
		{"suffix of longer word", "please rebill me", nil, triage()},
		{"hashtag", "#bill", nil, bill("bill")},
		{"hashtag in sentence", "see #Bill.", nil, bill("bill")},
		{"digits 5g", "5G is down", nil, net("5G")},
		{"5g vs 5gb", "my 5gb plan", nil, triage()},
		{"5g before punctuation", "no 5g!", nil, net("5G")},
		{"multi-word across tabs and newlines", "customer\n\t  service sucks", nil, net("customer service")},
		{"multi-word across spaces", "no   signal here", nil, net("no signal")},
		{"multi-word across CRLF", "no\r\nsignal", nil, net("no signal")},
		{"multi-word not split", "nosignal", nil, triage()},
		{"exclude veto", "WiFi calling is broken", nil, triage()},
		{"exclude vetoes only its rule", "wifi calling broken, refund please", nil, bill("refund")},
		{"exclude phrase needs edges", "WiFi callings", nil, net("WiFi")},
		{"first match owns", "refund my wifi", nil, net("WiFi")},
		{"dedup matched", "wifi WIFI wifi Wifi", nil, net("WiFi")},
		{"hyphenated is another word", "Wi-Fi down", nil, triage()},
		{"emoji next to word", "😡😡bill😡", nil, bill("bill")},
		{"emoji and praise", "I love it 😍", nil, owner(3, "social", []string{"love"}, "praise")},
		{"inflection is not a match", "she loves it", nil, triage()},
		{"punctuation keyword", "so #Amazing!", nil, owner(3, "social", []string{"#amazing"}, "praise")},
		{"punctuation keyword needs its punctuation", "so amazing", nil, triage()},
		{"latin-1 letter", "Café closed", nil, bill("Café")},
		{"accent is not dropped", "cafe closed", nil, triage()},
		{"latin-1 letter continues the word", "cafés closed", nil, triage()},
		{"combining accent composes", "Cafe\u0301 closed", nil, bill("Café")},
		{"full case folding", "STRASSE closed", nil, bill("straße")},
		{"sharp s", "Straße closed", nil, bill("straße")},
		{"zero width space", "wi\u200bfi is down", nil, net("WiFi")},
		{"other zero width characters", "w\u2060i\ufefff\u200ci\u200d down", nil, net("WiFi")},
		{"zero width does not join words", "bill\u200bion", nil, triage()},
		{"full-width letters", "ＷｉＦｉ ｄｏｗｎ", nil, net("WiFi")},
		{"empty", "", nil, triage()},
		{"blank", " \t\n ", nil, triage()},
		{"nothing relevant", "what a nice day", nil, triage()},
	})
}

func TestRouteJapanese(t *testing.T) {
	r := mustNew(t, stdRules, "triage")
	net := func(m ...string) Result { return owner(0, "network", m, "outage") }
	runCases(t, r, []routeCase{
		{"kanji", "電波が悪いです", nil, net("電波")},
		{"substring inside a sentence", "昨日から圏外になります。", nil, net("圏外")},
		{"latin next to kana is an edge", "WiFiが遅い", nil, net("WiFi")},
		{"latin between kanji", "自宅のwifi接続", nil, net("WiFi")},
		{"full-width latin and ideographic space", "ＷｉＦｉ　が遅い", nil, net("WiFi")},
		{"half-width katakana", "ﾃﾞﾝﾊﾟが悪い", nil, owner(2, "radio", []string{"デンパ"})},
		{"full-width katakana", "デンパが悪い", nil, owner(2, "radio", []string{"デンパ"})},
		{"half-width kana with zero width", "ﾃ\u200bﾞﾝﾊﾟ", nil, owner(2, "radio", []string{"デンパ"})},
		{"billing kanji", "料金が高い", nil, owner(1, "billing", []string{"料金"}, "billing")},
		{"first match across languages", "料金と電波", nil, net("電波")},
		{"two keywords, first match order", "圏外で電波なし", nil, net("圏外", "電波")},
		{"no keyword", "ありがとうございます", nil, triage()},
	})
}

func TestRouteKorean(t *testing.T) {
	r := mustNew(t, stdRules, "triage")
	net := func(m ...string) Result { return owner(0, "network", m, "outage") }
	runCases(t, r, []routeCase{
		{"particle attached", "신호가 약해요", nil, net("신호")},
		{"billing", "요금이 너무 비싸요", nil, owner(1, "billing", []string{"요금"}, "billing")},
		{"hangul then latin", "와이파이wifi 안돼요", nil, net("와이파이", "WiFi")},
		{"latin then hangul", "wifi와이파이", nil, net("WiFi", "와이파이")},
		{"zero width inside hangul", "신\u200b호 없음", nil, net("신호")},
		{"conjoining jamo compose", "\u1109\u1175\u11ab\u1112\u1169 없음", nil, net("신호")},
		{"no keyword", "감사합니다", nil, triage()},
	})
}

func TestRouteAccounts(t *testing.T) {
	r := mustNew(t, stdRules, "triage")
	social := func(m ...string) Result { return owner(3, "social", m, "praise") }
	runCases(t, r, []routeCase{
		{"mention with @ lower case", "hello", []string{"@acmehelp"}, social("@AcmeHelp")},
		{"mention without @ upper case", "hello", []string{"ACMEJP"}, social("@AcmeJP")},
		{"two mentions, deduplicated", "hello", []string{"@AcmeJP", "acmehelp", "@ACMEJP"}, social("@AcmeJP", "@AcmeHelp")},
		{"keywords before accounts", "thank you!", []string{"AcmeHelp"}, social("thank you", "@AcmeHelp")},
		{"unknown account", "hello", []string{"@someone"}, triage()},
		{"exclude vetoes an account match", "I hate this", []string{"AcmeHelp"}, triage()},
		{"earlier keyword rule owns", "my bill", []string{"AcmeHelp"}, owner(1, "billing", []string{"bill"}, "billing")},
		{"mention text alone is not an account match", "@AcmeHelp hello", nil, triage()},
	})
}

func TestRouteContinue(t *testing.T) {
	rules := []Rule{
		{Department: "A", Keywords: []string{"alpha"}, Continue: true, Tag: "t1"},                           // 0
		{Department: "B", Keywords: []string{"beta"}, Exclude: []string{"veto"}, Continue: true, Tag: "t2"}, // 1
		{Department: "X", Keywords: []string{"never"}},                                                      // 2
		{Department: "C", Keywords: []string{"gamma"}, Tag: "t1"},                                           // 3 stops
		{Department: "D", Keywords: []string{"alpha", "delta"}, Tag: "t3"},                                  // 4
		{Department: "A", Keywords: []string{"epsilon"}, Continue: true},                                    // 5
		{Department: "E", Keywords: []string{"epsilon", "zeta"}, Continue: true, Tag: "t5"},                 // 6
		{Department: "A", Keywords: []string{"eta"}},                                                        // 7
	}
	r := mustNew(t, rules, "triage")
	runCases(t, r, []routeCase{
		{"A continue, B continue, C stop, D never", "alpha beta gamma delta", nil, Result{
			Department: "A", Rule: 0, FYI: []string{"B", "C"},
			Matched: []string{"alpha", "beta", "gamma"}, Tags: []string{"t1", "t2"},
		}},
		{"non-matching rule in between, first-match order", "gamma delta alpha", nil, Result{
			Department: "A", Rule: 0, FYI: []string{"C"},
			Matched: []string{"gamma", "alpha"}, Tags: []string{"t1"},
		}},
		{"exclude skips a rule in the chain", "alpha beta veto gamma", nil, Result{
			Department: "A", Rule: 0, FYI: []string{"C"},
			Matched: []string{"alpha", "gamma"}, Tags: []string{"t1"},
		}},
		{"continue owner, later non-continue FYI", "beta delta", nil, Result{
			Department: "B", Rule: 1, FYI: []string{"D"},
			Matched: []string{"beta", "delta"}, Tags: []string{"t2", "t3"},
		}},
		{"single stop rule", "delta", nil, Result{
			Department: "D", Rule: 4, Matched: []string{"delta"}, Tags: []string{"t3"},
		}},
		{"owner department is never an FYI", "eta zeta epsilon", nil, Result{
			Department: "A", Rule: 5, FYI: []string{"E"},
			Matched: []string{"eta", "zeta", "epsilon"}, Tags: []string{"t5"},
		}},
		{"no match", "omega", nil, triage()},
	})

	// FYI departments are deduplicated.
	r2 := mustNew(t, []Rule{
		{Department: "A", Keywords: []string{"a1"}, Continue: true},
		{Department: "B", Keywords: []string{"b1"}, Continue: true},
		{Department: "A", Keywords: []string{"a2"}, Continue: true, Tag: "x"},
		{Department: "B", Keywords: []string{"b2"}, Continue: true, Tag: "x"},
	}, "triage")
	runCases(t, r2, []routeCase{
		{"dedup FYI and tags", "b2 a2 b1 a1", nil, Result{
			Department: "A", Rule: 0, FYI: []string{"B"},
			Matched: []string{"b2", "a2", "b1", "a1"}, Tags: []string{"x"},
		}},
	})
}

func TestRouteOtherScripts(t *testing.T) {
	r := mustNew(t, []Rule{
		{Department: "dev", Keywords: []string{"c++", "#bill", "wi-fi"}},
		{Department: "ru", Keywords: []string{"сигнал"}},
		{Department: "el", Keywords: []string{"ΣΗΜΑ"}},
	}, "triage")
	runCases(t, r, []routeCase{
		{"trailing punctuation end is not checked", "I love c++x", nil, owner(0, "dev", []string{"c++"})},
		{"leading word end is checked", "abc++", nil, triage()},
		{"leading punctuation, trailing word end checked", "#billing", nil, triage()},
		{"punctuation inside must match", "Wi-Fi down", nil, owner(0, "dev", []string{"wi-fi"})},
		{"punctuation inside is not optional", "wifi down", nil, triage()},
		{"cyrillic is a substring", "нет сигнала", nil, owner(1, "ru", []string{"сигнал"})},
		{"greek folds final sigma", "σημα", nil, owner(2, "el", []string{"ΣΗΜΑ"})},
	})
}

func TestMatchedSpelling(t *testing.T) {
	// The same normalized keyword in two rules is reported once, spelled as
	// in the first rule of the chain that has it.
	r := mustNew(t, []Rule{
		{Department: "A", Keywords: []string{"Outage"}, Continue: true},
		{Department: "B", Keywords: []string{"OUTAGE", "ｏｕｔａｇｅ", "down"}},
	}, "triage")
	runCases(t, r, []routeCase{
		{"both rules", "outage and down", nil, Result{Department: "A", Rule: 0, FYI: []string{"B"}, Matched: []string{"Outage", "down"}}},
		{"second rule only", "down", nil, Result{Department: "B", Rule: 1, Matched: []string{"down"}}},
	})
	if rules, kws := r.Stats(); rules != 2 || kws != 2 {
		t.Errorf("Stats() = %d, %d; want 2 rules, 2 distinct keywords", rules, kws)
	}
}

func TestNewErrors(t *testing.T) {
	ok := Rule{Department: "d", Keywords: []string{"k"}}
	for _, tc := range []struct {
		name   string
		rules  []Rule
		triage string
		want   error
	}{
		{"empty triage", []Rule{ok}, "", ErrEmptyTriage},
		{"blank triage", []Rule{ok}, "  ", ErrEmptyTriage},
		{"empty department", []Rule{ok, {Keywords: []string{"x"}}}, "t", ErrEmptyDepartment},
		{"empty keyword", []Rule{{Department: "d", Keywords: []string{"a", ""}}}, "t", ErrEmptyKeyword},
		{"blank keyword", []Rule{{Department: "d", Keywords: []string{" \t\n"}}}, "t", ErrEmptyKeyword},
		{"zero-width keyword", []Rule{{Department: "d", Keywords: []string{"\u200b\ufeff"}}}, "t", ErrEmptyKeyword},
		{"ideographic space keyword", []Rule{{Department: "d", Keywords: []string{"\u3000"}}}, "t", ErrEmptyKeyword},
		{"empty exclude", []Rule{{Department: "d", Keywords: []string{"a"}, Exclude: []string{""}}}, "t", ErrEmptyExclude},
		{"empty account", []Rule{{Department: "d", Accounts: []string{"@"}}}, "t", ErrEmptyAccount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.rules, tc.triage)
			if !errors.Is(err, tc.want) {
				t.Fatalf("New() error = %v, want %v", err, tc.want)
			}
			if r != nil {
				t.Errorf("New() returned a router with an error")
			}
		})
	}
	// A rule with neither keywords nor accounts is valid and never matches.
	r := mustNew(t, []Rule{{Department: "d"}, ok}, "t")
	if got := r.Route(Input{Text: "k"}); got.Rule != 1 {
		t.Errorf("Route = %+v, want rule 1", got)
	}
	if rules, kws := r.Stats(); rules != 2 || kws != 1 {
		t.Errorf("Stats() = %d, %d; want 2, 1", rules, kws)
	}
}

func TestNewCopiesRules(t *testing.T) {
	kws := []string{"alpha"}
	r := mustNew(t, []Rule{{Department: "A", Keywords: kws}}, "t")
	kws[0] = "beta"
	if got := r.Route(Input{Text: "alpha"}); got.Department != "A" || !reflect.DeepEqual(got.Matched, []string{"alpha"}) {
		t.Errorf("Route after changing the caller's slice = %+v", got)
	}
}

func TestResultSlicesIndependent(t *testing.T) {
	r := mustNew(t, []Rule{
		{Department: "A", Keywords: []string{"a"}, Continue: true, Tag: "x"},
		{Department: "B", Keywords: []string{"b"}},
	}, "t")
	got := r.Route(Input{Text: "a b"})
	_ = append(got.FYI, "Z")
	_ = append(got.Matched, "Z")
	if !reflect.DeepEqual(got, Result{Department: "A", Rule: 0, FYI: []string{"B"}, Matched: []string{"a", "b"}, Tags: []string{"x"}}) {
		t.Errorf("appending to one result slice changed another: %+v", got)
	}
}

func TestRouteAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	r := mustNew(t, stdRules, "triage")
	for _, tc := range []struct {
		text string
		max  float64
	}{
		{"nothing to see here, move along", 0},
		{"my bill is wrong and my wifi is down", 1},
		{"電波が悪い、料金も高い！", 1},
		{"ＷｉＦｉ　が遅い ﾃﾞﾝﾊﾟ", 1},
	} {
		r.Route(Input{Text: tc.text}) // warm the pool
		if n := testing.AllocsPerRun(100, func() { r.Route(Input{Text: tc.text, Mentions: []string{"@Nobody"}}) }); n > tc.max {
			t.Errorf("Route(%q) allocates %v times, want <= %v", tc.text, n, tc.max)
		}
	}
}

func TestRouteConcurrent(t *testing.T) {
	r := mustNew(t, stdRules, "triage")
	texts := []string{"my bill", "WiFiが遅い", "신호가 약해요", "nothing", "ﾃﾞﾝﾊﾟ"}
	want := make([]Result, len(texts))
	for i, s := range texts {
		want[i] = r.Route(Input{Text: s})
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				k := (g + i) % len(texts)
				if got := r.Route(Input{Text: texts[k]}); !reflect.DeepEqual(got, want[k]) {
					t.Errorf("concurrent Route(%q) = %+v, want %+v", texts[k], got, want[k])
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestManyRules(t *testing.T) {
	// More than 64 rules exercise the multi-word rule bitsets.
	var rules []Rule
	for i := 0; i < 150; i++ {
		rules = append(rules, Rule{Department: fmt.Sprintf("d%d", i), Keywords: []string{fmt.Sprintf("kw%d", i)}, Continue: i%2 == 0})
	}
	r := mustNew(t, rules, "t")
	got := r.Route(Input{Text: "kw148 kw130 kw131 kw70 kw149"})
	want := Result{Department: "d70", Rule: 70, FYI: []string{"d130", "d131"}, Matched: []string{"kw130", "kw131", "kw70"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestLongText(t *testing.T) {
	r := mustNew(t, stdRules, "triage")
	long := strings.Repeat("lorem ipsum 電波 ", 2000) + "refund"
	got := r.Route(Input{Text: long})
	if got.Department != "network" || !reflect.DeepEqual(got.Matched, []string{"電波"}) {
		t.Errorf("got %+v", got)
	}
}
