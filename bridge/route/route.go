package route

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Rule is one ordered routing rule.
type Rule struct {
	Department string   // department id that owns posts matching this rule
	Keywords   []string // include keywords; a rule matches if any keyword matches (or an account matches)
	Exclude    []string // exclude words/phrases: if any matches the post, this rule does not match
	Accounts   []string // official account handles (without @, case-insensitive); a post that mentions one of these matches the rule
	Continue   bool     // Alertmanager semantics: a matching rule with Continue lets later matching rules add FYI copies
	Tag        string   // optional label such as "praise" or "outage"
}

// Input is what the router sees of a post.
type Input struct {
	Text     string   // the post as written (any case, width, white space); invalid UTF-8 is tolerated
	Mentions []string // handles (with or without leading @, any case) of official accounts the post mentions or quotes
}

// Result is the routing decision for one post. Empty slices are nil.
type Result struct {
	Department string   // owner department id (the triage department if no rule matched)
	FYI        []string // departments that get an FYI copy, in rule order, deduplicated, never containing Department
	Matched    []string // the keywords (as written in the config) that matched in the owning and FYI rules, deduplicated, in order of first match; account matches appear as "@handle"
	Rule       int      // index of the owning rule, or -1 when triage
	Tags       []string // tags of the matching rules (owner first), deduplicated, empty tags skipped
}

// Errors returned (wrapped, with the rule and entry position) by New.
var (
	ErrEmptyKeyword    = errors.New("empty keyword")
	ErrEmptyExclude    = errors.New("empty exclude entry")
	ErrEmptyAccount    = errors.New("empty account handle")
	ErrEmptyDepartment = errors.New("empty department")
	ErrEmptyTriage     = errors.New("empty triage department")
)

// Router routes posts to departments. It is immutable after New and safe for
// concurrent use.
type Router struct {
	rules    []Rule
	triage   string
	m        *matcher
	patterns []string // normalized keyword of each pattern id

	// Pattern p's entries are ents[entOff[p]:entOff[p+1]], in rule order.
	entOff []int32
	ents   []entry

	accounts map[string][]acctRef // normalized handle → rules
	words    int                  // bitset words for rules
	pool     sync.Pool            // *scratch
}

// entry ties a compiled pattern to a rule.
type entry struct {
	rule    int32
	exclude bool
	written string // the keyword as written in the config
}

// acctRef ties an account handle to a rule.
type acctRef struct {
	rule  int32
	label string // "@" + handle as written (without its own leading @)
}

// scratch is the per-call working memory, pooled per Router.
type scratch struct {
	gen      uint32
	seen     []uint32 // per pattern: gen of the call that last recorded it
	hits     []int32  // patterns in first-match order
	inc, exc []uint64 // rules with a matching keyword/account; rules vetoed
	sel      []uint64 // rules in the evaluated chain (owner and FYI rules)
	chain    []int32  // the same, in order
	accts    []acctRef
	out      []string
	norm     normalizer
}

// New compiles the rules. It returns an error for an empty keyword or exclude
// entry (after normalization), an empty account handle (after removing @), an
// empty department, or an empty triage department. A rule without keywords and
// accounts is accepted and never matches.
func New(rules []Rule, triage string) (*Router, error) {
	if strings.TrimSpace(triage) == "" {
		return nil, fmt.Errorf("route: %w", ErrEmptyTriage)
	}
	r := &Router{
		rules:    make([]Rule, len(rules)),
		triage:   triage,
		accounts: map[string][]acctRef{},
		words:    (len(rules) + 63) / 64,
	}
	patID := map[string]int32{}
	var patterns [][]byte
	var pents [][]entry
	add := func(norm string, e entry) {
		id, ok := patID[norm]
		if !ok {
			id = int32(len(patterns))
			patID[norm] = id
			r.patterns = append(r.patterns, norm)
			patterns = append(patterns, pattern(norm))
			pents = append(pents, nil)
		}
		for _, old := range pents[id] {
			if old.rule == e.rule && old.exclude == e.exclude {
				return // same rule, same normalized keyword: keep the first spelling
			}
		}
		pents[id] = append(pents[id], e)
	}
	for i, rule := range rules {
		rule.Keywords = append([]string(nil), rule.Keywords...)
		rule.Exclude = append([]string(nil), rule.Exclude...)
		rule.Accounts = append([]string(nil), rule.Accounts...)
		r.rules[i] = rule
		if strings.TrimSpace(rule.Department) == "" {
			return nil, fmt.Errorf("route: rule %d: %w", i, ErrEmptyDepartment)
		}
		for j, k := range rule.Keywords {
			n := Normalize(k)
			if n == "" {
				return nil, fmt.Errorf("route: rule %d (%s): keywords[%d] %q: %w", i, rule.Department, j, k, ErrEmptyKeyword)
			}
			add(n, entry{rule: int32(i), written: k})
		}
		for j, k := range rule.Exclude {
			n := Normalize(k)
			if n == "" {
				return nil, fmt.Errorf("route: rule %d (%s): exclude[%d] %q: %w", i, rule.Department, j, k, ErrEmptyExclude)
			}
			add(n, entry{rule: int32(i), exclude: true, written: k})
		}
	acct:
		for j, a := range rule.Accounts {
			key := accountKey(a)
			if key == "" {
				return nil, fmt.Errorf("route: rule %d (%s): accounts[%d] %q: %w", i, rule.Department, j, a, ErrEmptyAccount)
			}
			for _, old := range r.accounts[key] {
				if old.rule == int32(i) {
					continue acct
				}
			}
			label := "@" + strings.TrimLeft(strings.TrimSpace(a), "@")
			r.accounts[key] = append(r.accounts[key], acctRef{rule: int32(i), label: label})
		}
	}
	r.entOff = make([]int32, len(pents)+1)
	for p, es := range pents {
		r.ents = append(r.ents, es...)
		r.entOff[p+1] = int32(len(r.ents))
	}
	r.m = compile(patterns)
	npat := len(patterns)
	r.pool.New = func() any {
		return &scratch{
			seen: make([]uint32, npat),
			inc:  make([]uint64, r.words),
			exc:  make([]uint64, r.words),
			sel:  make([]uint64, r.words),
		}
	}
	return r, nil
}

// pattern converts a normalized keyword to automaton bytes: edge symbols are
// inserted wherever the keyword switches between word and non-word
// characters, and at its ends next to a word character unless the keyword
// contains CJK (which matches as a plain substring).
func pattern(norm string) []byte {
	cjk := false
	for _, r := range norm {
		if isCJKRune(r) {
			cjk = true
			break
		}
	}
	p := make([]byte, 0, len(norm)+4)
	prevWord := false
	first := true
	for i, r := range norm {
		w := isWordRune(r)
		if w != prevWord && !(first && cjk) {
			p = append(p, edgeByte)
		}
		prevWord, first = w, false
		p = append(p, norm[i:i+utf8.RuneLen(r)]...)
	}
	if prevWord && !cjk {
		p = append(p, edgeByte)
	}
	return p
}

// accountKey normalizes an account handle: Normalize, then leading @ and
// spaces removed.
func accountKey(h string) string {
	return strings.TrimSpace(strings.TrimLeft(Normalize(h), "@"))
}

// Stats reports the number of rules and of distinct compiled patterns
// (normalized keywords and exclude entries; the same word in several rules
// counts once).
func (r *Router) Stats() (rules, keywords int) {
	return len(r.rules), len(r.entOff) - 1
}

// States reports the number of automaton states and how many of them have a
// dense transition row. It is meant for benchmarks and capacity planning.
func (r *Router) States() (states, dense int) {
	return r.m.states, int(r.m.nDense)
}

// Route decides which department owns the post and which get FYI copies. It
// is safe for concurrent use and allocates only the Result slices (one
// backing array, and nothing when no rule matched).
func (r *Router) Route(in Input) Result {
	sc := r.pool.Get().(*scratch)
	defer r.put(sc)
	sc.forgetHits()
	clear(sc.inc)
	clear(sc.exc)
	clear(sc.sel)
	sc.chain = sc.chain[:0]
	sc.accts = sc.accts[:0]
	sc.out = sc.out[:0]

	if !r.m.scan(in.Text, sc, true) {
		// The text needs real normalization: forget what the aborted fast
		// pass found, normalize, then scan the normalized text.
		sc.forgetHits()
		t := sc.norm.normalize(in.Text)
		// The buffer is not modified while it is scanned.
		r.m.scan(unsafe.String(unsafe.SliceData(t), len(t)), sc, false)
	}

	for _, p := range sc.hits {
		for _, e := range r.ents[r.entOff[p]:r.entOff[p+1]] {
			if e.exclude {
				setBit(sc.exc, e.rule)
			} else {
				setBit(sc.inc, e.rule)
			}
		}
	}
	for _, h := range in.Mentions {
		for _, a := range r.lookupMention(h) {
			setBit(sc.inc, a.rule)
			sc.accts = append(sc.accts, a)
		}
	}

	// Walk the matching rules in order (Alertmanager continue semantics).
	res := Result{Department: r.triage, Rule: -1}
walk:
	for w := 0; w < r.words; w++ {
		for m := sc.inc[w] &^ sc.exc[w]; m != 0; {
			var b int
			b, m = nextBit(m)
			i := int32(w*64 + b)
			sc.chain = append(sc.chain, i)
			setBit(sc.sel, i)
			if !r.rules[i].Continue {
				break walk
			}
		}
	}
	if len(sc.chain) == 0 {
		return res
	}
	owner := r.rules[sc.chain[0]]
	res.Department = owner.Department
	res.Rule = int(sc.chain[0])

	// FYI departments.
	for _, i := range sc.chain[1:] {
		d := r.rules[i].Department
		if d != owner.Department && !contains(sc.out, d) {
			sc.out = append(sc.out, d)
		}
	}
	nFYI := len(sc.out)

	// Matched keywords: one per pattern, spelled as in the first chain rule
	// that has it; then account matches.
	for _, p := range sc.hits {
		for _, e := range r.ents[r.entOff[p]:r.entOff[p+1]] {
			if !e.exclude && hasBit(sc.sel, e.rule) {
				sc.out = append(sc.out, e.written)
				break
			}
		}
	}
	for _, a := range sc.accts {
		if hasBit(sc.sel, a.rule) && !contains(sc.out[nFYI:], a.label) {
			sc.out = append(sc.out, a.label)
		}
	}
	nMatched := len(sc.out) - nFYI

	// Tags, owner first.
	for _, i := range sc.chain {
		if t := r.rules[i].Tag; t != "" && !contains(sc.out[nFYI+nMatched:], t) {
			sc.out = append(sc.out, t)
		}
	}

	all := make([]string, len(sc.out))
	copy(all, sc.out)
	res.FYI = nilIfEmpty(all[0:nFYI:nFYI])
	res.Matched = nilIfEmpty(all[nFYI : nFYI+nMatched : nFYI+nMatched])
	res.Tags = nilIfEmpty(all[nFYI+nMatched:])
	return res
}

// forgetHits starts a new hit list. Patterns count as seen when
// seen[p] == gen, so moving to a new generation forgets them all at once.
func (sc *scratch) forgetHits() {
	sc.gen++
	if sc.gen == 0 {
		clear(sc.seen)
		sc.gen = 1
	}
	sc.hits = sc.hits[:0]
}

// maxKeptBuffer is the largest normalization buffer kept in the pool.
const maxKeptBuffer = 64 << 10

// put returns sc to the pool, dropping buffers grown by unusually long texts.
func (r *Router) put(sc *scratch) {
	if cap(sc.norm.out) > maxKeptBuffer || cap(sc.norm.seg) > maxKeptBuffer {
		sc.norm = normalizer{}
	}
	r.pool.Put(sc)
}

// lookupMention finds the rules of a mentioned handle. Plain ASCII handles
// are folded in a stack buffer, so the lookup does not allocate.
func (r *Router) lookupMention(h string) []acctRef {
	var buf [64]byte
	n := 0
	i := 0
	for i < len(h) && h[i] == '@' {
		i++
	}
	for ; i < len(h); i++ {
		b := h[i]
		if b >= utf8.RuneSelf || asciiSpace[b] || n == len(buf) {
			return r.accounts[accountKey(h)]
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		buf[n] = b
		n++
	}
	return r.accounts[string(buf[:n])]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
