package guard

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FindPII returns a finding for every piece of personal data in text, in
// text order: phone numbers, e-mail addresses, card numbers and long
// account or contract numbers. It is meant for public drafts; Check runs it
// only for those. Excerpts come from text itself (not its normalized form)
// and are masked.
func FindPII(text string) []Finding {
	hits := scanPII(text)
	if len(hits) == 0 {
		return nil
	}
	out := make([]Finding, 0, len(hits))
	for _, h := range hits {
		ex := mask(text[h.start:h.end])
		out = append(out, Finding{
			Guard:   GuardPII,
			Kind:    h.kind,
			Excerpt: ex,
			Message: "Public replies can't include " + kindPhrase(h.kind) + " (" + ex +
				"). Send it as a DM: start your reply with dm:",
		})
	}
	return out
}

func kindPhrase(kind string) string {
	switch kind {
	case KindPhone:
		return "a phone number"
	case KindEmail:
		return "an e-mail address"
	case KindCard:
		return "a card number"
	default:
		return "an account or contract number"
	}
}

// hit is one piece of personal data: its kind and its byte span in the
// original text.
type hit struct {
	kind       string
	start, end int
}

// scanPII finds personal data in text. Detection runs on a folded copy
// (see foldText); spans are mapped back to the original text.
func scanPII(text string) []hit {
	f := foldText(text)
	if len(f.b) == 0 {
		return nil
	}
	var raw []hit // spans in f.b

	// E-mail addresses first, then URLs; both are blanked so that the
	// number scan never looks inside them.
	for _, sp := range findEmails(f.b) {
		raw = append(raw, hit{KindEmail, sp.start, sp.end})
		blank(f.b, sp)
	}
	for _, sp := range findURLs(string(f.b)) {
		blank(f.b, sp)
	}
	raw = append(raw, findNumbers(f.b)...)

	sort.Slice(raw, func(a, b int) bool { return raw[a].start < raw[b].start })
	out := raw[:0]
	for _, h := range raw {
		out = append(out, hit{h.kind, f.start[h.start], f.end[h.end-1]})
	}
	return out
}

func blank(b []byte, sp span) {
	for k := sp.start; k < sp.end; k++ {
		b[k] = 'x'
	}
}

// folded is text as the PII scan sees it. Every byte of b remembers the
// original rune it came from: start[k] and end[k] are that rune's byte
// span in the original text.
type folded struct {
	b          []byte
	start, end []int
}

// foldText folds text rune by rune: NFKC (full-width digits and letters,
// ＠, ＋, （ ） and the ideographic space become ASCII), every dash-like
// character (‐ ‑ ‒ – — ― − ー ｰ …) becomes '-', every white space becomes
// ' ', zero-width characters and soft hyphens are dropped and invalid UTF-8
// becomes '?'. Folding rune by rune keeps the mapping to the original
// exact; the composition NFKC would do across runes never matters for
// digits and ASCII punctuation.
func foldText(text string) folded {
	f := folded{
		b:     make([]byte, 0, len(text)),
		start: make([]int, 0, len(text)),
		end:   make([]int, 0, len(text)),
	}
	var tmp []byte
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			f.push(c, i, i+1)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			f.push('?', i, i+n)
		case isZeroWidth(r):
		default:
			tmp = norm.NFKC.AppendString(tmp[:0], text[i:i+n])
			for _, fr := range string(tmp) {
				switch {
				case isDash(fr):
					f.push('-', i, i+n)
				case unicode.IsSpace(fr):
					f.push(' ', i, i+n)
				case fr < utf8.RuneSelf:
					f.push(byte(fr), i, i+n)
				default:
					var buf [utf8.UTFMax]byte
					for _, bb := range buf[:utf8.EncodeRune(buf[:], fr)] {
						f.push(bb, i, i+n)
					}
				}
			}
		}
		i += n
	}
	return f
}

func (f *folded) push(c byte, start, end int) {
	f.b = append(f.b, c)
	f.start = append(f.start, start)
	f.end = append(f.end, end)
}

func isZeroWidth(r rune) bool {
	return (0x200B <= r && r <= 0x200D) || r == 0x2060 || r == 0xFEFF || r == 0x00AD
}

func isDash(r rune) bool {
	switch r {
	case 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2043, 0x2212,
		0x2E3A, 0x2E3B, 0x30FC, 0xFE58, 0xFE63, 0xFF0D, 0xFF70:
		return true
	}
	return false
}

// foldRune is foldText for one rune: its first folded byte, or 0 if it
// folds to nothing or to more than ASCII.
func foldRune(r rune) byte {
	if r < utf8.RuneSelf {
		return byte(r)
	}
	if isDash(r) {
		return '-'
	}
	if unicode.IsSpace(r) {
		return ' '
	}
	var buf [utf8.UTFMax]byte
	out := norm.NFKC.Append(nil, buf[:utf8.EncodeRune(buf[:], r)]...)
	if len(out) == 1 && out[0] < utf8.RuneSelf {
		return out[0]
	}
	return 0
}

// findEmails returns the spans of e-mail addresses in b: a local part of
// ASCII letters, digits and . _ % + - that starts with a letter or digit,
// '@', and a domain of two or more labels whose last is two or more
// letters.
func findEmails(b []byte) []span {
	var out []span
	next := 0
	for p := 0; p < len(b); p++ {
		if b[p] != '@' || p < next {
			continue
		}
		k := p
		for k > next && isLocalChar(b[k-1]) {
			k--
		}
		for k < p && !isASCIIAlnum(b[k]) {
			k++
		}
		if k == p {
			continue
		}
		// Domain labels.
		j := p + 1
		end, labels := 0, 0
		for {
			ls := j
			for j < len(b) && (isASCIIAlnum(b[j]) || b[j] == '-') {
				j++
			}
			if j == ls || b[ls] == '-' || b[j-1] == '-' {
				break
			}
			labels++
			if labels >= 2 && j-ls >= 2 && allLetters(b[ls:j]) {
				end = j
			}
			if j+1 < len(b) && b[j] == '.' && isASCIIAlnum(b[j+1]) {
				j++
				continue
			}
			break
		}
		if end == 0 {
			continue
		}
		out = append(out, span{k, end})
		next = end
		p = end - 1
	}
	return out
}

func isLocalChar(c byte) bool {
	return isASCIIAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func allLetters(b []byte) bool {
	for _, c := range b {
		if !isASCIILetter(c) {
			return false
		}
	}
	return true
}

// A numeric run is digit groups joined by separators:
//
//	run   := '+'? group (sep group)*
//	group := digits | '(' digits ')'
//	sep   := ' ' | ' '? [-./] ' '? | "" (next to a parenthesized group)
//
// A run splits into chunks at separators that hold a space or a '/'. Phone
// numbers and card numbers may span chunks; account numbers are single
// chunks.
type group struct {
	start, end int // span in the folded text, parentheses included
	ds, de     int // span of the digits
	paren      bool
}

type numRun struct {
	plus   int // offset of a leading '+', or -1
	groups []group
	seps   []byte // seps[k] joins groups[k] and groups[k+1]: ' ', '-', '.', '/', or 0
	breaks []bool // breaks[k]: a chunk ends after groups[k]
}

// findNumbers returns phone, card and account number hits in b.
func findNumbers(b []byte) []hit {
	var out []hit
	for i := 0; i < len(b); {
		c := b[i]
		if !isDigit(c) && c != '+' && c != '(' {
			i++
			continue
		}
		if i > 0 && isDigit(b[i-1]) {
			i++
			continue
		}
		run, end := parseRun(b, i)
		if end == i {
			i++
			continue
		}
		out = classify(b, run, out)
		i = end
	}
	return out
}

// parseRun parses a numeric run at b[i], returning it and its end (i if
// none starts there).
func parseRun(b []byte, i int) (numRun, int) {
	run := numRun{plus: -1}
	j := i
	if b[j] == '+' {
		if i > 0 && (isASCIIAlnum(b[i-1]) || b[i-1] == '+') {
			return run, i
		}
		run.plus = j
		j++
	}
	g, ok := parseGroup(b, j)
	if !ok {
		return run, i
	}
	run.groups = append(run.groups, g)
	j = g.end
	for j < len(b) {
		sep, brk, k := byte(0), false, j
		if b[k] == ' ' {
			brk = true
			k++
		}
		if k < len(b) && (b[k] == '-' || b[k] == '.' || b[k] == '/') {
			sep = b[k]
			k++
			if k < len(b) && b[k] == ' ' {
				brk = true
				k++
			}
		} else if brk {
			sep = ' '
		}
		if sep == '/' {
			brk = true
		}
		if sep == 0 && !run.groups[len(run.groups)-1].paren && (k >= len(b) || b[k] != '(') {
			break // adjacent groups only next to parentheses
		}
		g, ok := parseGroup(b, k)
		if !ok {
			break
		}
		run.groups = append(run.groups, g)
		run.seps = append(run.seps, sep)
		run.breaks = append(run.breaks, brk)
		j = g.end
	}
	return run, j
}

func parseGroup(b []byte, j int) (group, bool) {
	if j >= len(b) {
		return group{}, false
	}
	if b[j] == '(' {
		k := j + 1
		for k < len(b) && isDigit(b[k]) {
			k++
		}
		if k == j+1 || k >= len(b) || b[k] != ')' {
			return group{}, false
		}
		return group{start: j, end: k + 1, ds: j + 1, de: k, paren: true}, true
	}
	k := j
	for k < len(b) && isDigit(b[k]) {
		k++
	}
	if k == j {
		return group{}, false
	}
	return group{start: j, end: k, ds: j, de: k}, true
}

// maxChunks bounds how many chunks a phone or card number may span.
const maxChunks = 6

// classify appends the hits found in one run. Going left to right, it
// takes the longest run of whole chunks that is a phone number or a card
// number; failing that, a single chunk that is an account number.
func classify(b []byte, run numRun, out []hit) []hit {
	// Chunk k covers groups[chunks[k]:chunks[k+1]].
	chunks := []int{0}
	for k, brk := range run.breaks {
		if brk {
			chunks = append(chunks, k+1)
		}
	}
	chunks = append(chunks, len(run.groups))
	nc := len(chunks) - 1

	for ci := 0; ci < nc; {
		matched := false
		for cj := min(nc, ci+maxChunks); cj > ci; cj-- {
			seg := segment{b: b, run: &run, g0: chunks[ci], g1: chunks[cj]}
			seg.plus = ci == 0 && run.plus >= 0
			if kind := seg.kind(chunks[ci : cj+1]); kind != "" {
				start := run.groups[seg.g0].start
				if seg.plus {
					start = run.plus
				}
				out = append(out, hit{kind, start, run.groups[seg.g1-1].end})
				ci, matched = cj, true
				break
			}
		}
		if matched {
			continue
		}
		seg := segment{b: b, run: &run, g0: chunks[ci], g1: chunks[ci+1]}
		if seg.isAccount() {
			out = append(out, hit{KindAccountNumber, run.groups[seg.g0].start, run.groups[seg.g1-1].end})
		}
		ci++
	}
	return out
}

// segment is groups[g0:g1] of a run.
type segment struct {
	b      []byte
	run    *numRun
	g0, g1 int
	plus   bool
}

func (s segment) groups() []group { return s.run.groups[s.g0:s.g1] }
func (s segment) seps() []byte    { return s.run.seps[s.g0 : s.g1-1] }

func (s segment) digitCount() int {
	n := 0
	for _, g := range s.groups() {
		n += g.de - g.ds
	}
	return n
}

func (s segment) digits() []byte {
	d := make([]byte, 0, 19)
	for _, g := range s.groups() {
		d = append(d, s.b[g.ds:g.de]...)
	}
	return d
}

// kind returns KindPhone, KindCard or KindAccountNumber (a card-shaped
// number that fails the Luhn check) if the segment is one, else "".
// chunks are the group offsets of the segment's chunks.
func (s segment) kind(chunks []int) string {
	for _, sep := range s.seps() {
		if sep == '/' {
			return ""
		}
	}
	if s.isPhone(chunks) {
		return KindPhone
	}
	return s.cardKind()
}

// isPhone reports whether the segment is a phone number:
//
//   - international: '+', 8–15 digits;
//   - domestic, starting with 0 (Japan, Korea, UK, France …): 9–11 digits
//     in two or more groups, the first of 2–5 digits; or 10–11 digits
//     with no separator;
//   - North American: [1] NXX NXX XXXX, area code in parentheses or not.
//
// No group after the first may have more than 8 digits, the last group of
// a grouped number needs two or more, and a segment holding a date is not
// a phone number ("01.02.2026 14" from "01.02.2026 14:00").
func (s segment) isPhone(chunks []int) bool {
	gs := s.groups()
	d := s.digitCount()
	for k, g := range gs {
		if k > 0 && g.de-g.ds > 8 {
			return false
		}
	}
	if len(gs) > 1 && gs[len(gs)-1].de-gs[len(gs)-1].ds < 2 {
		return false
	}
	for k := 0; k+1 < len(chunks); k++ {
		if (segment{b: s.b, run: s.run, g0: chunks[k], g1: chunks[k+1]}).isDateLike() {
			return false
		}
	}
	first := gs[0]
	fd := s.b[first.ds:first.de]
	switch {
	case s.plus:
		return d >= 8 && d <= 15
	case fd[0] == '0':
		if len(gs) == 1 {
			return (d == 10 || d == 11) && fd[1] != '0'
		}
		return len(fd) >= 2 && len(fd) <= 5 && d >= 9 && d <= 11
	}
	lens := make([]int, len(gs))
	for k, g := range gs {
		lens[k] = g.de - g.ds
	}
	switch {
	case len(gs) == 3 && lens[0] == 3 && lens[1] == 3 && lens[2] == 4:
		return nanp(s.b[gs[0].ds], s.b[gs[1].ds])
	case len(gs) == 4 && lens[0] == 1 && fd[0] == '1' && lens[1] == 3 && lens[2] == 3 && lens[3] == 4:
		return nanp(s.b[gs[1].ds], s.b[gs[2].ds])
	}
	return false
}

// nanp checks the first digits of a North American area code and exchange.
func nanp(area, exchange byte) bool {
	return area >= '2' && exchange >= '2'
}

// cardKind returns KindCard for 13–19 digits, in one group or in 2–5
// groups of 3–6 digits joined by spaces or dashes, that pass the Luhn
// check, KindAccountNumber for the same shape failing it, else "".
func (s segment) cardKind() string {
	if s.plus {
		return ""
	}
	d := s.digitCount()
	if d < 13 || d > 19 {
		return ""
	}
	gs := s.groups()
	for _, sep := range s.seps() {
		if sep != ' ' && sep != '-' {
			return ""
		}
	}
	if len(gs) > 5 {
		return ""
	}
	for _, g := range gs {
		if g.paren || (len(gs) > 1 && (g.de-g.ds < 3 || g.de-g.ds > 6)) {
			return ""
		}
	}
	if luhn(s.digits()) {
		return KindCard
	}
	return KindAccountNumber
}

// luhn reports whether the digits pass the Luhn (mod 10) check.
func luhn(d []byte) bool {
	sum, double := 0, false
	for k := len(d) - 1; k >= 0; k-- {
		v := int(d[k] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// isAccount reports whether a single chunk is a long account or contract
// number: 8 or more digits, in one group (parenthesized or not) or in
// groups joined by dashes, that is not a date (2026-11-20, 20261120), a
// year range (2025-2026), a US ZIP+4 code (94103-1234) or an amount of
// money (¥12800000, 12800000円).
func (s segment) isAccount() bool {
	gs := s.groups()
	for _, g := range gs {
		if g.paren && len(gs) > 1 {
			return false
		}
	}
	for _, sep := range s.seps() {
		if sep != '-' {
			return false
		}
	}
	if s.digitCount() < 8 || s.isDateLike() {
		return false
	}
	if len(gs) == 2 && gs[0].de-gs[0].ds == 5 && gs[1].de-gs[1].ds == 4 {
		return false
	}
	return !isMoney(s.b, gs[0].start, gs[len(gs)-1].end)
}

// isDateLike reports whether the segment is a date: Y-M-D, D-M-Y or M-D-Y
// with a four-digit year (any one of - . / as separator), a year range
// (2025-2026), or an eight-digit YYYYMMDD.
func (s segment) isDateLike() bool {
	gs := s.groups()
	num := func(g group) (int, int) {
		v := 0
		for _, c := range s.b[g.ds:g.de] {
			v = v*10 + int(c-'0')
		}
		return v, g.de - g.ds
	}
	isYear := func(v, n int) bool { return n == 4 && v >= 1900 && v <= 2099 }
	switch len(gs) {
	case 1:
		v, n := num(gs[0])
		return n == 8 && isYear(v/10000, 4) && validMD(v/100%100, v%100)
	case 2:
		a, an := num(gs[0])
		c, cn := num(gs[1])
		return isYear(a, an) && isYear(c, cn)
	case 3:
		seps := s.seps()
		if seps[0] != seps[1] || seps[0] == ' ' || seps[0] == 0 {
			return false
		}
		a, an := num(gs[0])
		m, mn := num(gs[1])
		c, cn := num(gs[2])
		if isYear(a, an) && mn <= 2 && cn <= 2 {
			return validMD(m, c)
		}
		if isYear(c, cn) && an <= 2 && mn <= 2 {
			return validMD(m, a) || validMD(a, m)
		}
	}
	return false
}

func validMD(m, d int) bool { return m >= 1 && m <= 12 && d >= 1 && d <= 31 }

// isMoney reports whether b[start:end] is an amount: a currency sign just
// before it, or a currency word or % just after it (one space allowed).
func isMoney(b []byte, start, end int) bool {
	k := start
	if k > 0 && b[k-1] == ' ' {
		k--
	}
	if r, _ := utf8.DecodeLastRune(b[:k]); strings.ContainsRune("$¥€£₩", r) {
		return true
	}
	rest := b[end:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	for _, w := range []string{"円", "원", "%", "ドル", "달러", "yen", "won", "dollars", "USD", "JPY", "KRW"} {
		if len(rest) >= len(w) && strings.EqualFold(string(rest[:len(w)]), w) {
			return true
		}
	}
	return false
}

// mask hides raw except its last characters: the last 4 if raw has 8 or
// more characters, else the last 2. Letters, digits and anything else
// become '•'; only the layout characters ' ', '-', '(', ')', '+', '.' and
// '@' (in any width) stay, so the shape remains recognizable
// ("•••-••••-5678"). Zero-width characters are dropped.
func mask(raw string) string {
	rs := []rune(raw)
	keep := 2
	if len(rs) >= 8 {
		keep = 4
	}
	if keep >= len(rs) {
		keep = len(rs) / 2
	}
	var sb strings.Builder
	hidden := false
	for k, r := range rs {
		switch {
		case k >= len(rs)-keep:
			sb.WriteRune(r)
		case isZeroWidth(r):
		case isLayout(r):
			sb.WriteRune(r)
		default:
			sb.WriteRune('•')
			hidden = true
		}
	}
	if !hidden && len(rs) > keep {
		// Only layout characters before the tail: hide them too, so the
		// excerpt never equals the secret.
		return strings.Repeat("•", len(rs)-keep) + string(rs[len(rs)-keep:])
	}
	return sb.String()
}

func isLayout(r rune) bool {
	switch foldRune(r) {
	case ' ', '-', '(', ')', '+', '.', '@':
		return true
	}
	return false
}
