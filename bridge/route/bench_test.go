package route

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Benchmarks run the router over real posts from ../shared/data (relative to
// the repository): the random 5,000-tweet TWCS sample (English), the 81
// Japanese TWCS tweets and 662 Korean petitions cut to 140 runes. Keyword sets
// of 100, 1,000 and 10,000 keywords are built deterministically from a
// curated list of care words and the corpora's own vocabulary.
//
//	cd /work/main && go test ./bridge/route -run '^$' -bench . -benchtime 2s -cpu 1

var dataDir = filepath.Join("..", "..", "..", "shared", "data")

type corpus struct {
	en, ja, ko []string
	other      []string // English posts not in en (the TWCS head sample), for filler keywords
	err        error
}

var (
	corpusOnce sync.Once
	theCorpus  corpus
)

// readCorpus reads the shared data once.
func readCorpus() (*corpus, error) {
	corpusOnce.Do(func() {
		c := &theCorpus
		var err error
		if c.en, err = readCSVText(filepath.Join(dataDir, "twcs", "twcs_random_5000.csv")); err != nil {
			c.err = err
			return
		}
		if c.ja, err = readCSVText(filepath.Join(dataDir, "cjk", "twcs_japanese_subset.csv")); err != nil {
			c.err = err
			return
		}
		if c.ko, err = readKorean(filepath.Join(dataDir, "cjk", "ko_petitions_2017-08.jsonl"), 140); err != nil {
			c.err = err
			return
		}
		if c.other, err = readCSVText(filepath.Join(dataDir, "twcs", "twcs_head_5000_with_index_col.csv")); err != nil {
			c.err = err
		}
	})
	return &theCorpus, theCorpus.err
}

// loadCorpus returns the corpus or skips the benchmark when the data is
// missing.
func loadCorpus(tb testing.TB) *corpus {
	tb.Helper()
	c, err := readCorpus()
	if errors.Is(err, os.ErrNotExist) {
		tb.Skipf("benchmark data not found (expected the shared data set at %s): %v", dataDir, err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// readCSVText returns the "text" column of a CSV file with a header row.
func readCSVText(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	col := -1
	for i, h := range head {
		if h == "text" {
			col = i
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("%s: no text column", path)
	}
	var out []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if col < len(rec) && rec[col] != "" {
			out = append(out, rec[col])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return out, nil
}

// readKorean returns the "content" field of each JSON line, cut to maxRunes.
func readKorean(path string, maxRunes int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var v struct {
			Content string `json:"content"`
		}
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s := v.Content
		if n := 0; utf8.RuneCountInString(s) > maxRunes {
			for i := range s {
				if n == maxRunes {
					s = s[:i]
					break
				}
				n++
			}
		}
		if s != "" {
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return out, nil
}

// Curated care keywords (as a config would hold them).
var (
	careEN = []string{
		"signal", "no signal", "wifi", "wi-fi", "5g", "4g", "lte", "outage", "down", "network", "coverage",
		"dropped calls", "internet", "slow internet", "router", "modem", "bill", "billing", "refund", "charge",
		"charged twice", "overcharged", "invoice", "payment", "subscription", "cancel", "cancellation", "fee",
		"price", "discount", "delivery", "package", "order", "tracking", "shipped", "late", "delayed", "lost",
		"damaged", "return", "replacement", "warranty", "repair", "broken", "battery", "screen", "update",
		"ios", "android", "app", "crash", "login", "password", "account", "hacked", "locked out", "verification",
		"customer service", "support", "agent", "complaint", "manager", "thank you", "thanks", "love", "awesome",
		"great service", "worst", "terrible", "rude", "flight", "delayed flight", "baggage", "luggage", "seat",
		"boarding", "gate", "booking", "reservation", "hotel", "train", "driver", "uber", "ride", "spotify",
		"playlist", "premium", "netflix", "xbox", "playstation", "kindle", "prime", "alexa", "echo", "fire tv",
	}
	careJA = []string{
		"電波", "圏外", "通信障害", "つながらない", "繋がらない", "遅い", "料金", "請求", "返金", "解約", "支払い",
		"引き落とし", "配送", "配達", "届かない", "遅延", "返品", "交換", "故障", "修理", "壊れ", "バッテリー",
		"アプリ", "ログイン", "パスワード", "アカウント", "乗っ取り", "問い合わせ", "サポート", "ありがとう",
		"最悪", "注文", "キャンセル", "プライム", "アマゾン", "Fire TV", "Kindle", "エラー", "不具合", "デンパ",
	}
	careKO = []string{
		"신호", "와이파이", "통신", "장애", "인터넷", "느려요", "요금", "청구", "환불", "해지", "결제", "배송",
		"택배", "지연", "반품", "교환", "고장", "수리", "배터리", "앱", "로그인", "비밀번호", "계정", "해킹",
		"문의", "상담", "고객센터", "감사합니다", "최악", "주문", "취소", "불만", "민원", "오류", "불편",
		"서비스", "전화", "연결", "안내", "처리",
	}
)

// vocabulary ranks the words of texts by frequency (ties alphabetical).
func vocabulary(texts []string, split func(string) []string, minRunes int) []string {
	freq := map[string]int{}
	for _, t := range texts {
		for _, w := range split(t) {
			if utf8.RuneCountInString(w) >= minRunes {
				freq[w]++
			}
		}
	}
	words := make([]string, 0, len(freq))
	for w := range freq {
		words = append(words, w)
	}
	sort.Slice(words, func(i, j int) bool {
		if freq[words[i]] != freq[words[j]] {
			return freq[words[i]] > freq[words[j]]
		}
		return words[i] < words[j]
	})
	return words
}

func splitLatin(t string) []string {
	return strings.FieldsFunc(strings.ToLower(t), func(r rune) bool { return r < 'a' || r > 'z' })
}

func splitHangul(t string) []string {
	return strings.FieldsFunc(t, func(r rune) bool { return !unicode.Is(unicode.Hangul, r) })
}

// splitJapanese returns runs of katakana and runs of kanji.
func splitJapanese(t string) []string {
	var out []string
	for _, tab := range []*unicode.RangeTable{unicode.Katakana, unicode.Han} {
		out = append(out, strings.FieldsFunc(t, func(r rune) bool { return !unicode.Is(tab, r) && r != 'ー' })...)
	}
	return out
}

// bigrams ranks adjacent Latin word pairs by frequency.
func bigrams(texts []string) []string {
	var pairs []string
	for _, t := range texts {
		ws := splitLatin(t)
		for i := 0; i+1 < len(ws); i++ {
			if len(ws[i]) >= 3 && len(ws[i+1]) >= 3 {
				pairs = append(pairs, ws[i]+" "+ws[i+1])
			}
		}
	}
	return vocabulary([]string{strings.Join(pairs, "\x00")}, func(s string) []string { return strings.Split(s, "\x00") }, 1)
}

// keywordSet returns n distinct keywords (by normalized form), mixed EN/JA/KO.
func keywordSet(c *corpus, n int) []string {
	seen := map[string]bool{}
	var out []string
	add := func(w string) bool {
		if len(out) >= n {
			return false
		}
		k := Normalize(w)
		if k == "" || seen[k] {
			return true
		}
		seen[k] = true
		out = append(out, w)
		return true
	}
	// Curated words first, interleaved by language.
	for i := 0; i < len(careEN) || i < len(careJA) || i < len(careKO); i++ {
		for _, l := range [][]string{careEN, careJA, careKO} {
			if i < len(l) {
				add(l[i])
			}
		}
	}
	// Then corpus vocabulary, skipping the most frequent (function) words:
	// roughly 55% English, 15% Japanese, 30% Korean.
	en := vocabulary(c.en, splitLatin, 3)[100:]
	ja := vocabulary(c.ja, splitJapanese, 2)
	ko := vocabulary(c.ko, splitHangul, 2)[50:]
	var ei, ji, ki int
	for len(out) < n && (ei < len(en) || ji < len(ja) || ki < len(ko)) {
		for j := 0; j < 11 && ei < len(en); j, ei = j+1, ei+1 {
			add(en[ei])
		}
		for j := 0; j < 3 && ji < len(ja); j, ji = j+1, ji+1 {
			add(ja[ji])
		}
		for j := 0; j < 6 && ki < len(ko); j, ki = j+1, ki+1 {
			add(ko[ki])
		}
	}
	// For very large sets: English bigrams ("reset password", "order number"...).
	for _, b := range bigrams(c.en) {
		if !add(b) {
			break
		}
	}
	if len(out) < n {
		panic(fmt.Sprintf("keyword set: only %d of %d keywords", len(out), n))
	}
	return out
}

// ruleSet spreads keywords over 50 rules (20 departments); every tenth rule
// has continue, every seventh an exclude list, every fifth a tag.
func ruleSet(keywords []string) []Rule {
	const nRules = 50
	rules := make([]Rule, nRules)
	for i := range rules {
		rules[i].Department = fmt.Sprintf("dept%02d", i%20)
		rules[i].Continue = i%10 == 0
		if i%7 == 0 {
			rules[i].Exclude = []string{"just kidding", "冗談", "농담"}
		}
		if i%5 == 0 {
			rules[i].Tag = fmt.Sprintf("tag%d", i%3)
		}
	}
	for i, k := range keywords {
		rules[i%nRules].Keywords = append(rules[i%nRules].Keywords, k)
	}
	return rules
}

// fillerSet returns the 100-keyword set plus n-100 filler keywords that never
// occur in the English benchmark posts: words of the other TWCS sample that
// are not words of the benchmark posts, then adjacent word pairs of the other
// sample that never occur in them. Fillers share prefixes with real words
// ("refundable", "wifi password"), so the automaton still walks into them,
// but the number of matches stays that of the 100-keyword set.
func fillerSet(c *corpus, n int) []string {
	out := keywordSet(c, 100)
	seen := map[string]bool{}
	for _, k := range out {
		seen[Normalize(k)] = true
	}
	inText := map[string]bool{}
	for _, t := range c.en {
		ws := splitLatin(t)
		for i, w := range ws {
			inText[w] = true
			if i > 0 {
				inText[ws[i-1]+" "+w] = true
			}
		}
	}
	add := func(w string) {
		if len(out) < n && !inText[w] && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, w := range vocabulary(c.other, splitLatin, 3) {
		add(w)
	}
	for _, b := range bigrams(c.other) {
		add(b)
	}
	if len(out) < n {
		panic(fmt.Sprintf("filler set: only %d of %d keywords", len(out), n))
	}
	return out
}

var routerCache sync.Map // keyword count → *Router

func benchRouter(b *testing.B, c *corpus, n int) *Router {
	b.Helper()
	if r, ok := routerCache.Load(n); ok {
		return r.(*Router)
	}
	r, err := New(ruleSet(keywordSet(c, n)), "triage")
	if err != nil {
		b.Fatal(err)
	}
	routerCache.Store(n, r)
	return r
}

func runRoute(b *testing.B, r *Router, texts []string) {
	b.Helper()
	routed, matched := 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		res := r.Route(Input{Text: texts[i%len(texts)]})
		if res.Rule >= 0 {
			routed++
		}
		matched += len(res.Matched)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
	b.ReportMetric(float64(routed)/float64(b.N), "routed/post")
	b.ReportMetric(float64(matched)/float64(b.N), "matched/post")
	states, dense := r.States()
	b.ReportMetric(float64(states), "states")
	b.ReportMetric(float64(dense), "dense-states")
}

func BenchmarkRouteEnglish(b *testing.B) {
	c := loadCorpus(b)
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			runRoute(b, benchRouter(b, c, n), c.en)
		})
	}
}

// BenchmarkRouteEnglishFiller isolates the effect of the keyword count: the
// same English posts and the same matches (the 100-keyword set), plus 900 or
// 9,900 filler keywords that never match (see fillerSet).
func BenchmarkRouteEnglishFiller(b *testing.B) {
	c := loadCorpus(b)
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r, err := New(ruleSet(fillerSet(c, n)), "triage")
			if err != nil {
				b.Fatal(err)
			}
			runRoute(b, r, c.en)
		})
	}
}

func BenchmarkRouteJapanese(b *testing.B) {
	c := loadCorpus(b)
	b.Run("1000", func(b *testing.B) { runRoute(b, benchRouter(b, c, 1000), c.ja) })
}

func BenchmarkRouteKorean(b *testing.B) {
	c := loadCorpus(b)
	b.Run("1000", func(b *testing.B) { runRoute(b, benchRouter(b, c, 1000), c.ko) })
}

// alternation builds the regexp baseline: (?i) and \b around keywords that
// start/end with an ASCII letter or digit (RE2's \b is ASCII only).
func alternation(keywords []string) *regexp.Regexp {
	alts := make([]string, len(keywords))
	for i, k := range keywords {
		q := regexp.QuoteMeta(k)
		if r, _ := utf8.DecodeRuneInString(k); r < utf8.RuneSelf && asciiWord[r] {
			q = `\b` + q
		}
		if r, _ := utf8.DecodeLastRuneInString(k); r < utf8.RuneSelf && asciiWord[r] {
			q += `\b`
		}
		alts[i] = q
	}
	return regexp.MustCompile(`(?i)(?:` + strings.Join(alts, "|") + `)`)
}

// BenchmarkRegexpAlternation is the baseline: one compiled regexp alternation
// of the same 1,000 keywords, finding all matches in the same English posts
// (a router needs to know which keywords matched, not just whether one did).
func BenchmarkRegexpAlternation(b *testing.B) {
	c := loadCorpus(b)
	b.Run("1000", func(b *testing.B) {
		re := alternation(keywordSet(c, 1000))
		texts := c.en
		routed := 0
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if len(re.FindAllStringIndex(texts[i%len(texts)], -1)) > 0 {
				routed++
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
		b.ReportMetric(float64(routed)/float64(b.N), "routed/post")
	})
}
