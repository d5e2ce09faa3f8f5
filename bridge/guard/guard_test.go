package guard

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCheckLength(t *testing.T) {
	tests := []struct {
		name string
		d    Draft
		msg  string // "" = no length finding
	}{
		{"at the limit", Draft{Text: "hi", Length: Length{N: 280, Limit: 280, Of: "X"}}, ""},
		{"over, with how", Draft{Text: "hi", Length: Length{N: 312, Limit: 280, Of: "X", How: "links count 23"}},
			"Too long for X: 312 of 280 characters (links count 23). Shorten it by 32."},
		{"over a DM limit", Draft{Text: "hi", Visibility: VisibilityDM, Length: Length{N: 10001, Limit: 10000, Of: "an X DM"}},
			"Too long for an X DM: 10,001 of 10,000 characters. Shorten it by 1."},
		{"no limit known", Draft{Text: "hi", Length: Length{N: 400}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.d)
			if r.Weighted != tt.d.Length.N || r.Limit != tt.d.Length.Limit {
				t.Errorf("Weighted, Limit = %d, %d; want %d, %d", r.Weighted, r.Limit, tt.d.Length.N, tt.d.Length.Limit)
			}
			f := findGuard(r, GuardLength)
			switch {
			case tt.msg == "" && f != nil:
				t.Errorf("unexpected length finding %+v", *f)
			case tt.msg != "" && f == nil:
				t.Errorf("no length finding; want %q", tt.msg)
			case tt.msg != "" && f.Message != tt.msg:
				t.Errorf("message = %q\nwant      %q", f.Message, tt.msg)
			}
			if r.OK != (len(r.Findings) == 0) {
				t.Errorf("OK = %v with %d findings", r.OK, len(r.Findings))
			}
		})
	}
}

func TestCheckEmpty(t *testing.T) {
	for _, text := range []string{"", " ", "\n\t ", "\u3000", "\u200b\u200c\u200d", "\ufeff\u2060", " \u200b ", "\u3164", "\ufe0f"} {
		r := Check(Draft{Text: text, Visibility: VisibilityDM})
		if r.OK || len(r.Findings) != 1 || r.Findings[0].Guard != GuardEmpty {
			t.Errorf("Check(%q) = %+v, want one empty finding", text, r)
		}
	}
	for _, text := range []string{".", "ok", "あ", "👍", "\u200bはい"} {
		if f := findGuard(Check(Draft{Text: text}), GuardEmpty); f != nil {
			t.Errorf("Check(%q): unexpected empty finding", text)
		}
	}
}

func TestCheckEligibility(t *testing.T) {
	const text = "Thanks for reaching out, we're looking into it."
	tests := []struct {
		vis  Visibility
		elig Eligibility
		want string // Kind of the eligibility finding, "" = none
	}{
		{VisibilityPublic, EligiblePublic, ""},
		{VisibilityPublic, "", ""},
		{VisibilityPublic, EligibleDMOnly, "dm_only"},
		{VisibilityPublic, EligibleDM, "dm"},
		{"", EligibleDMOnly, "dm_only"}, // unset visibility is checked as public
		{VisibilityDM, EligibleDMOnly, ""},
		{VisibilityDM, EligibleDM, ""},
		{VisibilityDM, EligiblePublic, ""},
	}
	for _, tt := range tests {
		r := Check(Draft{Text: text, Visibility: tt.vis, Eligibility: tt.elig})
		f := findGuard(r, GuardEligibility)
		switch {
		case tt.want == "" && f != nil:
			t.Errorf("%s/%s: unexpected finding %+v", tt.vis, tt.elig, *f)
		case tt.want != "" && f == nil:
			t.Errorf("%s/%s: no eligibility finding", tt.vis, tt.elig)
		case tt.want != "":
			if f.Kind != tt.want {
				t.Errorf("%s/%s: Kind = %q, want %q", tt.vis, tt.elig, f.Kind, tt.want)
			}
			if !strings.Contains(f.Message, "dm:") {
				t.Errorf("%s/%s: message does not mention dm: %q", tt.vis, tt.elig, f.Message)
			}
			if r.OK {
				t.Errorf("%s/%s: OK with a finding", tt.vis, tt.elig)
			}
		}
	}
	const why = "X only lets us reply publicly to posts that mention or quote our account."
	r := Check(Draft{Text: text, Eligibility: EligibleDMOnly, DMOnlyWhy: why})
	if f := findGuard(r, GuardEligibility); f == nil || f.Message != why {
		t.Errorf("dm_only message = %+v, want the platform's %q", f, why)
	}
}

type piiCase struct {
	name    string
	text    string
	kind    string // expected kind of the single finding
	excerpt string // expected excerpt, "" = don't check
}

var piiPositive = []piiCase{
	// Japan
	{"JP mobile", "お電話は090-1234-5678までお願いします", KindPhone, "•••-••••-5678"},
	{"JP landline", "03-1234-5678", KindPhone, "••-••••-5678"},
	{"JP toll free", "フリーダイヤル0120-123-456へ", KindPhone, "••••-•••-456"},
	{"JP international", "+81 90 1234 5678", KindPhone, "+•• •• •••• 5678"},
	{"JP international (0)", "+81 (0)3-1234-5678", KindPhone, "+•• (•)•-••••-5678"},
	{"JP full-width", "０９０－１２３４－５６７８に", KindPhone, "•••－••••－５６７８"},
	{"JP prolonged sound mark", "090ー1234ー5678", KindPhone, "•••ー••••ー5678"},
	{"JP full-width parens", "電話：０３（１２３４）５６７８", KindPhone, "••（••••）５６７８"},
	{"JP no separators", "09012345678", KindPhone, "•••••••5678"},
	{"JP spaces", "090 1234 5678", KindPhone, "••• •••• 5678"},
	{"JP dots", "090.1234.5678", KindPhone, "•••.••••.5678"},
	{"JP zero-width inside", "090\u200b-1234-5678", KindPhone, "•••-••••-5678"},
	// Korea
	{"KR mobile", "010-1234-5678로 연락 주세요", KindPhone, "•••-••••-5678"},
	{"KR Seoul", "02-123-4567", KindPhone, "••-•••-4567"},
	{"KR international", "+82 10-1234-5678", KindPhone, "+•• ••-••••-5678"},
	{"KR international Seoul", "+82-2-123-4567", KindPhone, "+••-•-•••-4567"},
	// US
	{"US parens", "Call (415) 555-0132 anytime", KindPhone, "(•••) •••-0132"},
	{"US dashes", "415-555-0132", KindPhone, "•••-•••-0132"},
	{"US dots", "415.555.0132", KindPhone, "•••.•••.0132"},
	{"US +1", "+1 415 555 0132", KindPhone, "+• ••• ••• 0132"},
	{"US 1-800", "1-800-555-0199", KindPhone, "•-•••-•••-0199"},
	// International
	{"UK", "+44 20 7946 0958", KindPhone, "+•• •• •••• 0958"},
	{"UK (0)", "+44 (0)20 7946 0958", KindPhone, "+•• (•)•• •••• 0958"},
	{"France", "+33 1 23 45 67 89", KindPhone, "+•• • •• •• •7 89"},
	{"UK domestic", "020 7946 0958", KindPhone, "••• •••• 0958"},
	// E-mail
	{"email", "Mail taro.yamada@example.co.jp please", KindEmail, "••••.••••••@•••••••.•o.jp"},
	{"email short", "a@b.co", KindEmail, "•@•.co"},
	{"email full-width", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", KindEmail, "••••＠•••••••．ｃｏｍ"},
	{"email Korean", "문의는 kim.minji@example.kr 로", KindEmail, "•••.•••••@••••••e.kr"},
	{"email Japanese", "連絡先はsupport+jp@example.comです", KindEmail, "•••••••+••@•••••••.com"},
	// Cards
	{"card spaces", "card 4111 1111 1111 1111", KindCard, "•••• •••• •••• 1111"},
	{"card dashes", "4111-1111-1111-1111", KindCard, "••••-••••-••••-1111"},
	{"card plain", "4111111111111111", KindCard, "••••••••••••1111"},
	{"card Amex", "3782 822463 10005", KindCard, "•••• •••••• •0005"},
	{"card full-width", "カード番号４１１１ １１１１ １１１１ １１１１", KindCard, "•••• •••• •••• １１１１"},
	{"card Korean", "카드 5555-5555-5555-4444 입니다", KindCard, "••••-••••-••••-4444"},
	// Luhn-invalid card-shaped numbers are still long numbers.
	{"card Luhn invalid", "4111 1111 1111 1112", KindAccountNumber, "•••• •••• •••• 1112"},
	{"card plain Luhn invalid", "4111111111111112", KindAccountNumber, "••••••••••••1112"},
	// Account and contract numbers
	{"account 8 digits", "Your contract 12345678 is active", KindAccountNumber, "••••5678"},
	{"account dashes", "契約番号 1234-5678-9012 について", KindAccountNumber, "••••-••••-9012"},
	{"account Korean", "계약번호 98765432 확인", KindAccountNumber, "••••5432"},
	{"account letter prefix", "ID12345678", KindAccountNumber, "••••5678"},
	{"account full-width", "お客様番号１２３４５６７８９", KindAccountNumber, "•••••６７８９"},
	{"US number no separators", "4155550132", KindAccountNumber, "••••••0132"},
}

var piiNegative = []struct{ name, text string }{
	{"time", "We're open until 14:05 today."},
	{"time range", "受付時間 9:00〜18:00"},
	{"ISO date", "The fix ships on 2026-11-20."},
	{"slash date", "2026/11/20に対応します"},
	{"dot date", "2026.11.20"},
	{"US date", "11/20/2026"},
	{"compact date", "20261120"},
	{"date and time", "2026-11-20 14:05"},
	{"ISO datetime", "2026-11-20T14:05:00Z"},
	{"European date and time", "01.02.2026 14:00"},
	{"Japanese date", "2026年11月20日 14時05分"},
	{"Korean date", "2026년 11월 20일"},
	{"Korean dotted date", "2026. 11. 20. 오후 2시"},
	{"year range", "FY2025-2026"},
	{"yen", "月額¥1,280です"},
	{"full-width yen", "月額￥１，２８０"},
	{"dollars", "It costs $12.99."},
	{"big yen", "¥12800000"},
	{"yen suffix", "12800000円"},
	{"won suffix", "10000000원"},
	{"won sign", "₩50,000"},
	{"thousands", "1,234,567円"},
	{"short order number", "Order #1234567 has shipped."},
	{"short order number Japanese", "注文番号1234567"},
	{"version", "Please update to iOS 17.1.2."},
	{"Windows build", "version 10.0.19045.3693"},
	{"percentage", "50% off, 12.5% back"},
	{"decimal", "pi is 3.14159265"},
	{"IP address", "192.168.100.200"},
	{"status URL", "See https://x.com/acme/status/1234567890123456789"},
	{"bare status URL", "x.com/acme/status/1234567890123456789 を見てください"},
	{"URL with order id", "https://example.com/orders/12345678?ref=98765432"},
	{"bare URL with digits", "example.com/orders/98765432"},
	{"www URL with digits", "www.example.co.jp/support/0120123456"},
	{"postal code JP", "〒100-0001"},
	{"ZIP+4", "San Francisco, CA 94103-1234"},
	{"range", "Items 10-20 and 30-40"},
	{"Japanese address", "東京都港区1-2-3"},
	{"plain Japanese", "ご不便をおかけして申し訳ございません。確認いたします。"},
	{"plain Korean", "불편을 드려 죄송합니다. 확인 후 연락드리겠습니다."},
	{"plain English", "Sorry for the trouble! We're on it and will update you within 24 hours."},
	{"at mention", "@acme_support thanks!"},
	{"counts", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"},
	{"steps", "Steps: 1. open 2. tap 3. restart"},
	{"plus arithmetic", "1+1=2"},
	{"hashtag", "#iPhone15"},
}

func TestFindPIIPositive(t *testing.T) {
	for _, tt := range piiPositive {
		t.Run(tt.name, func(t *testing.T) {
			fs := FindPII(tt.text)
			if len(fs) != 1 {
				t.Fatalf("FindPII(%q) = %+v, want one %s finding", tt.text, fs, tt.kind)
			}
			f := fs[0]
			if f.Guard != GuardPII || f.Kind != tt.kind {
				t.Errorf("FindPII(%q): Guard, Kind = %q, %q; want pii, %q", tt.text, f.Guard, f.Kind, tt.kind)
			}
			if tt.excerpt != "" && f.Excerpt != tt.excerpt {
				t.Errorf("FindPII(%q): Excerpt = %q, want %q", tt.text, f.Excerpt, tt.excerpt)
			}
			if !strings.Contains(f.Message, "dm:") || !strings.Contains(f.Message, f.Excerpt) {
				t.Errorf("FindPII(%q): message %q lacks dm: or the excerpt", tt.text, f.Message)
			}
		})
	}
}

func TestFindPIINegative(t *testing.T) {
	for _, tt := range piiNegative {
		t.Run(tt.name, func(t *testing.T) {
			if fs := FindPII(tt.text); len(fs) != 0 {
				t.Errorf("FindPII(%q) = %+v, want none", tt.text, fs)
			}
			if r := Check(Draft{Text: tt.text}); !r.OK {
				t.Errorf("Check(%q) = %+v, want OK", tt.text, r)
			}
		})
	}
}

func TestPIIMessage(t *testing.T) {
	fs := FindPII("Please call 090-1234-5678.")
	const want = "Public replies can't include a phone number (•••-••••-5678). Send it as a DM: start your reply with dm:"
	if len(fs) != 1 || fs[0].Message != want {
		t.Fatalf("got %+v\nwant message %q", fs, want)
	}
}

func TestFindPIIMany(t *testing.T) {
	text := "Call 03-1234-5678 or 090-1111-2222 / 010-9876-5432, mail kim@example.com, " +
		"card 4111 1111 1111 1111, contract 87654321, order #123456 on 2026-11-20 at 14:05 for ¥1,280."
	want := []string{KindPhone, KindPhone, KindPhone, KindEmail, KindCard, KindAccountNumber}
	fs := FindPII(text)
	if len(fs) != len(want) {
		t.Fatalf("got %d findings %+v, want %v", len(fs), fs, want)
	}
	for k, f := range fs {
		if f.Kind != want[k] {
			t.Errorf("finding %d: Kind = %q, want %q", k, f.Kind, want[k])
		}
	}
}

func TestCheckAllFindings(t *testing.T) {
	text := strings.Repeat("お待たせしました。", 16) + " 090-1234-5678 kim@example.com"
	r := Check(Draft{Text: text, Visibility: VisibilityPublic, Eligibility: EligibleDMOnly,
		Length: Length{N: 318, Limit: 280, Of: "X"}})
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Guard+"/"+f.Kind)
	}
	want := "eligibility/dm_only length/ pii/phone pii/email"
	if strings.Join(got, " ") != want || r.OK {
		t.Errorf("findings = %v (OK %v), want %s", got, r.OK, want)
	}
}

func TestDMSkipsPII(t *testing.T) {
	r := Check(Draft{Text: "090-1234-5678 taro@example.com 4111 1111 1111 1111", Visibility: VisibilityDM, Eligibility: EligibleDMOnly})
	if !r.OK {
		t.Errorf("DM draft: %+v, want OK", r)
	}
	r = Check(Draft{Text: "090-1234-5678", Visibility: VisibilityPublic})
	if r.OK || r.Findings[0].Guard != GuardPII {
		t.Errorf("public draft: %+v, want a pii finding", r)
	}
}

func TestMaskNeverRevealsMoreThanLast4(t *testing.T) {
	for _, tt := range piiPositive {
		for _, h := range scanPII(tt.text) {
			raw := tt.text[h.start:h.end]
			checkMask(t, raw, mask(raw))
		}
	}
	for _, raw := range []string{"ab", "abcd", "abcde", "+-+-+-+-12", "(((())))", "a@b.co", "\u200b\u200b12345678"} {
		checkMask(t, raw, mask(raw))
	}
}

// checkMask fails if ex shows a letter or digit of raw outside raw's last
// four characters, or equals raw although raw is longer than 4 characters.
func checkMask(t *testing.T, raw, ex string) {
	t.Helper()
	if utf8.RuneCountInString(raw) > 4 && ex == raw {
		t.Errorf("mask(%q) = %q reveals everything", raw, ex)
	}
	rs := []rune(raw)
	tail := string(rs[max(0, len(rs)-4):])
	exHead, ok := strings.CutSuffix(ex, tail)
	if !ok {
		// Fewer than 4 characters kept: everything before them is masked.
		exHead = ex
		for len(exHead) > 0 {
			r, n := utf8.DecodeLastRuneInString(exHead)
			if r == '•' || isLayout(r) {
				break
			}
			exHead = exHead[:len(exHead)-n]
		}
	}
	for _, r := range exHead {
		if !isLayout(r) && (unicode.IsLetter(r) || unicode.IsNumber(r)) {
			t.Errorf("mask(%q) = %q shows %q before the last 4 characters", raw, ex, r)
		}
	}
}

func TestLuhn(t *testing.T) {
	for _, tt := range []struct {
		d    string
		want bool
	}{
		{"4111111111111111", true},
		{"4111111111111112", false},
		{"378282246310005", true},
		{"5555555555554444", true},
		{"6011111111111117", true},
		{"0", true},
		{"79927398713", true},
		{"79927398710", false},
	} {
		if got := luhn([]byte(tt.d)); got != tt.want {
			t.Errorf("luhn(%s) = %v, want %v", tt.d, got, tt.want)
		}
	}
}

func findGuard(r Result, guard string) *Finding {
	for k := range r.Findings {
		if r.Findings[k].Guard == guard {
			return &r.Findings[k]
		}
	}
	return nil
}

func FuzzCheck(f *testing.F) {
	for _, tt := range piiPositive {
		f.Add(tt.text, false, uint8(0))
	}
	for _, tt := range piiNegative {
		f.Add(tt.text, false, uint8(1))
	}
	for _, s := range []string{"", "\u200b", "👨\u200d👩\u200d👧\u200d👦", "https://example.com/(a", "+", "(", "0(1)", "a@", "@b.co", "\xff\xfe", "1\ufe0f\u20e3\u200d"} {
		f.Add(s, true, uint8(2))
	}
	f.Fuzz(func(t *testing.T, text string, dm bool, elig uint8) {
		d := Draft{Text: text, Visibility: VisibilityPublic, Eligibility: []Eligibility{EligiblePublic, EligibleDMOnly, EligibleDM, ""}[elig%4]}
		if dm {
			d.Visibility = VisibilityDM
		}
		r := Check(d)
		if r.Weighted < 0 {
			t.Fatalf("Weighted = %d", r.Weighted)
		}
		if r.OK != (len(r.Findings) == 0) {
			t.Fatalf("OK = %v with %d findings", r.OK, len(r.Findings))
		}
		end := 0
		for _, u := range URLSpans(text) {
			if u[0] < end || u[0] >= u[1] || u[1] > len(text) {
				t.Fatalf("bad URL span %v (prev end %d) in %q", u, end, text)
			}
			end = u[1]
		}
		prev := 0
		for _, h := range scanPII(text) {
			if h.start < prev || h.start >= h.end || h.end > len(text) {
				t.Fatalf("bad span %+v (prev end %d) in %q", h, prev, text)
			}
			prev = h.end
			raw := text[h.start:h.end]
			ex := mask(raw)
			if utf8.RuneCountInString(raw) > 4 && ex == raw {
				t.Fatalf("excerpt %q equals the raw match", ex)
			}
		}
		for _, f := range FindPII(text) {
			if f.Guard != GuardPII || f.Excerpt == "" || !strings.Contains(f.Message, "dm:") {
				t.Fatalf("bad finding %+v", f)
			}
		}
	})
}

// benchDraft is a realistic public answer of about 200 characters: English
// and Japanese, a link, a date, a time and a price, with no personal data.
const benchDraft = "Hi Kim, sorry for the trouble with your Wi-Fi router. " +
	"A fix ships on 2026-11-20; until then please restart it after 14:05. " +
	"詳しくはこちら https://example.com/support/wifi をご覧ください。料金は¥1,280のままです。"

func BenchmarkCheck(b *testing.B) {
	d := Draft{Text: benchDraft, Visibility: VisibilityPublic, Eligibility: EligiblePublic, Length: Length{N: 200, Limit: 280, Of: "X"}}
	if r := Check(d); !r.OK {
		b.Fatalf("bench draft not OK: %+v", r)
	}
	b.ReportAllocs()
	for b.Loop() {
		Check(d)
	}
}

// A post of a listen-only network (a blog or forum) cannot be answered
// through carebridge, publicly or by DM: the draft is blocked with the
// network's words.
func TestListenOnlyBlocksEveryAnswer(t *testing.T) {
	for _, vis := range []Visibility{VisibilityPublic, VisibilityDM} {
		res := Check(Draft{Text: "Thanks, we are on it", Visibility: vis, Eligibility: EligibleNone, DMOnlyWhy: "Answer on the forum itself."})
		if res.OK || len(res.Findings) != 1 || res.Findings[0].Guard != GuardEligibility || res.Findings[0].Kind != "none" ||
			res.Findings[0].Message != "Answer on the forum itself." {
			t.Errorf("%s answer to a listen-only post: %+v", vis, res)
		}
	}
}

// A network may refuse a DM in answer to a post (Meta: a comment's one
// private reply used or its 7 days over), or any answer (a messaging
// window closed): the guard says so with the network's reason.
func TestCheckPublicOnlyAndNone(t *testing.T) {
	const why = "The 7 days for a private reply ended Thu 15:00: reply publicly."
	tests := []struct {
		vis  Visibility
		elig Eligibility
		want string
	}{
		{VisibilityPublic, EligiblePublicOnly, ""},
		{VisibilityDM, EligiblePublicOnly, "public_only"},
		{VisibilityPublic, EligibleNone, "none"},
		{VisibilityDM, EligibleNone, "none"},
	}
	for _, tt := range tests {
		r := Check(Draft{Text: "We are on it.", Visibility: tt.vis, Eligibility: tt.elig, DMOnlyWhy: why})
		f := findGuard(r, GuardEligibility)
		switch {
		case tt.want == "" && f != nil:
			t.Errorf("%s/%s: unexpected finding %+v", tt.vis, tt.elig, *f)
		case tt.want != "" && (f == nil || f.Kind != tt.want || f.Message != why || r.OK):
			t.Errorf("%s/%s: finding %+v (OK %v), want kind %q with the network's reason", tt.vis, tt.elig, f, r.OK, tt.want)
		}
	}
}
