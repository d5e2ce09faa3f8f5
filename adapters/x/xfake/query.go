package xfake

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file implements the practical subset of the X search / filtered-stream
// rule grammar that the fake understands. Both GET /2/tweets/search/recent and
// stream rules are compiled by compileQuery.
//
// Grammar (AND binds tighter than OR, as X documents):
//
//	query   = or
//	or      = and { "OR" and }
//	and     = unary { unary }
//	unary   = [ "-" ] primary
//	primary = "(" or ")" | term
//	term    = word | "quoted phrase" | @user | #tag | op:value

// termKind says what a leaf of the query tree matches.
type termKind int

const (
	kWord termKind = iota
	kPhrase
	kMention
	kHashtag
	kFrom
	kTo
	kLang
	kConversation
	kInReplyTo
	kIsReply
	kIsRetweet
	kIsQuote
	kHasMentions
	kHasHashtags
	kHasLinks
)

// standalone reports whether X accepts the operator on its own; is:, has:
// and lang: need a standalone operator alongside.
func (k termKind) standalone() bool {
	switch k {
	case kLang, kIsReply, kIsRetweet, kIsQuote, kHasMentions, kHasHashtags, kHasLinks:
		return false
	}
	return true
}

// qnode is one node of a compiled query.
type qnode interface {
	match(d *doc) bool
}

type andNode []qnode
type orNode []qnode
type notNode struct{ n qnode }

// termNode is a leaf; value is lower-cased, tokens/cjk are precomputed for
// words and phrases.
type termNode struct {
	kind   termKind
	value  string
	tokens []string
	cjk    bool
}

func (a andNode) match(d *doc) bool {
	for _, n := range a {
		if !n.match(d) {
			return false
		}
	}
	return true
}

func (o orNode) match(d *doc) bool {
	for _, n := range o {
		if n.match(d) {
			return true
		}
	}
	return false
}

func (n notNode) match(d *doc) bool { return !n.n.match(d) }

// doc is the matchable view of a tweet: lower-cased text, tokens and the
// handles needed for from:/to:.
type doc struct {
	t          *Tweet
	lower      string
	tokens     []string
	authorName string // lower-cased username of the author
	replyName  string // lower-cased username of in_reply_to_user_id
}

func (t termNode) match(d *doc) bool {
	tw := d.t
	switch t.kind {
	case kWord, kPhrase:
		if t.cjk {
			return strings.Contains(d.lower, t.value)
		}
		return containsSeq(d.tokens, t.tokens)
	case kMention:
		for _, m := range tw.Mentions {
			if strings.EqualFold(m.Username, t.value) {
				return true
			}
		}
		return false
	case kHashtag:
		for _, h := range tw.Hashtags {
			if strings.EqualFold(h.Tag, t.value) {
				return true
			}
		}
		return false
	case kFrom:
		return t.value == tw.AuthorID || t.value == d.authorName
	case kTo:
		return tw.InReplyToUserID != "" && (t.value == tw.InReplyToUserID || t.value == d.replyName)
	case kLang:
		return strings.EqualFold(tw.Lang, t.value)
	case kConversation:
		return tw.ConversationID == t.value
	case kInReplyTo:
		return tw.InReplyToTweetID == t.value
	case kIsReply:
		return hasRef(tw, "replied_to")
	case kIsRetweet:
		return hasRef(tw, "retweeted")
	case kIsQuote:
		return hasRef(tw, "quoted")
	case kHasMentions:
		return len(tw.Mentions) > 0
	case kHasHashtags:
		return len(tw.Hashtags) > 0
	case kHasLinks:
		return len(findURLs(tw.Text)) > 0
	}
	return false
}

func hasRef(t *Tweet, typ string) bool {
	for _, r := range t.ReferencedTweets {
		if r.Type == typ {
			return true
		}
	}
	return false
}

// containsSeq reports whether needle occurs as a consecutive run in hay.
func containsSeq(hay, needle []string) bool {
	if len(needle) == 0 {
		return false
	}
outer:
	for i := 0; i+len(needle) <= len(hay); i++ {
		for j, n := range needle {
			if hay[i+j] != n {
				continue outer
			}
		}
		return true
	}
	return false
}

// tokenize splits text into lower-cased word tokens: runs of letters, digits,
// combining marks and underscores. Everything else (spaces, punctuation, @, #)
// separates tokens, so the keyword "wifi" matches "#WiFi" and "@wifi".
func tokenize(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		word := unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || r == '_'
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			out = append(out, strings.ToLower(s[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, strings.ToLower(s[start:]))
	}
	return out
}

// hasCJK reports whether s contains Han, kana or Hangul, scripts written
// without spaces between words, which the fake matches by substring.
func hasCJK(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) {
			return true
		}
	}
	return false
}

// query is a compiled search query or stream rule.
type query struct {
	root qnode
}

// queryError is a rejected query; msgs are X-style messages such as
// "Reference to invalid operator 'foo' (at position 3)".
type queryError struct {
	msgs []string
}

func (e *queryError) Error() string {
	return "There were errors processing your request: " + strings.Join(e.msgs, ", ")
}

type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tOr
	tNeg
	tPhrase
	tWord
)

type qtoken struct {
	kind tokKind
	text string
	pos  int // 1-based character position, as X reports it
}

func lexQuery(q string) ([]qtoken, error) {
	var toks []qtoken
	runes := []rune(q)
	i := 0
	isSpace := func(r rune) bool { return unicode.IsSpace(r) }
	for i < len(runes) {
		r := runes[i]
		pos := i + 1
		switch {
		case isSpace(r):
			i++
		case r == '(':
			toks = append(toks, qtoken{tLParen, "(", pos})
			i++
		case r == ')':
			toks = append(toks, qtoken{tRParen, ")", pos})
			i++
		case r == '-':
			if i+1 >= len(runes) || isSpace(runes[i+1]) || runes[i+1] == ')' {
				return nil, &queryError{[]string{fmt.Sprintf("no viable alternative at input '-' (at position %d)", pos)}}
			}
			toks = append(toks, qtoken{tNeg, "-", pos})
			i++
		case r == '"':
			j := i + 1
			for j < len(runes) && runes[j] != '"' {
				j++
			}
			if j >= len(runes) {
				return nil, &queryError{[]string{fmt.Sprintf("no viable alternative at character '\"' (at position %d)", pos)}}
			}
			toks = append(toks, qtoken{tPhrase, string(runes[i+1 : j]), pos})
			i = j + 1
		case r == '\'' || r == '[' || r == ']' || r == '{' || r == '}':
			return nil, &queryError{[]string{fmt.Sprintf("no viable alternative at character '%c' (at position %d)", r, pos)}}
		default:
			j := i
			for j < len(runes) && !isSpace(runes[j]) && runes[j] != '(' && runes[j] != ')' && runes[j] != '"' {
				j++
			}
			w := string(runes[i:j])
			if w == "OR" {
				toks = append(toks, qtoken{tOr, w, pos})
			} else {
				toks = append(toks, qtoken{tWord, w, pos})
			}
			i = j
		}
	}
	toks = append(toks, qtoken{tEOF, "<EOF>", len(runes) + 1})
	return toks, nil
}

type qparser struct {
	toks []qtoken
	i    int
	errs []string // operator errors, collected so several are reported at once
	// firstConj is the position of the first is:/has:/lang: operator;
	// positive records whether any non-negated standalone term was seen.
	firstConj int
	positive  bool
	anyTerm   bool
	firstTerm int
}

func (p *qparser) peek() qtoken { return p.toks[p.i] }
func (p *qparser) next() qtoken { t := p.toks[p.i]; p.i++; return t }

// compileQuery parses q. maxLen is the query length limit (512 self-serve,
// 4096 Enterprise).
func compileQuery(q string, maxLen int) (*query, error) {
	if strings.TrimSpace(q) == "" {
		return nil, &queryError{[]string{"The query can not be empty"}}
	}
	if n := utf8.RuneCountInString(q); n > maxLen {
		// Assumption: X answers over-long queries with an invalid-request 400;
		// the exact wording was not verified.
		return nil, &queryError{[]string{fmt.Sprintf("Query length %d exceeds the maximum of %d characters", n, maxLen)}}
	}
	toks, err := lexQuery(q)
	if err != nil {
		return nil, err
	}
	p := &qparser{toks: toks}
	root, err := p.parseOr(false)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &queryError{[]string{fmt.Sprintf("missing EOF at '%s' (at position %d)", t.text, t.pos)}}
	}
	if !p.positive {
		if p.firstConj > 0 {
			p.errs = append([]string{fmt.Sprintf("is/has/lang cannot be used as a standalone operator (at position %d)", p.firstConj)}, p.errs...)
		} else if p.anyTerm && len(p.errs) == 0 {
			// Assumption: wording of X's all-negated-query error is unverified.
			p.errs = append(p.errs, fmt.Sprintf("Rules must contain a non-negation term (at position %d)", p.firstTerm))
		}
	}
	if len(p.errs) > 0 {
		return nil, &queryError{p.errs}
	}
	return &query{root: root}, nil
}

func (p *qparser) parseOr(neg bool) (qnode, error) {
	first, err := p.parseAnd(neg)
	if err != nil {
		return nil, err
	}
	nodes := []qnode{first}
	for p.peek().kind == tOr {
		p.next()
		n, err := p.parseAnd(neg)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return first, nil
	}
	return orNode(nodes), nil
}

func (p *qparser) parseAnd(neg bool) (qnode, error) {
	var nodes []qnode
	for {
		t := p.peek()
		if t.kind == tEOF || t.kind == tRParen || t.kind == tOr {
			break
		}
		n, err := p.parseUnary(neg)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 0 {
		t := p.peek()
		return nil, &queryError{[]string{fmt.Sprintf("no viable alternative at input '%s' (at position %d)", t.text, t.pos)}}
	}
	if len(nodes) == 1 {
		return nodes[0], nil
	}
	return andNode(nodes), nil
}

func (p *qparser) parseUnary(neg bool) (qnode, error) {
	if p.peek().kind == tNeg {
		p.next()
		n, err := p.parsePrimary(!neg)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	return p.parsePrimary(neg)
}

func (p *qparser) parsePrimary(neg bool) (qnode, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		n, err := p.parseOr(neg)
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tRParen {
			return nil, &queryError{[]string{fmt.Sprintf("missing ')' at '%s' (at position %d)", c.text, c.pos)}}
		}
		p.next()
		return n, nil
	case tPhrase:
		return p.leaf(termNode{kind: kPhrase, value: strings.ToLower(t.text), tokens: tokenize(t.text), cjk: hasCJK(t.text)}, t.pos, neg), nil
	case tWord:
		n, ok := p.word(t)
		if !ok {
			return termNode{kind: kWord}, nil // error recorded; keep parsing
		}
		return p.leaf(n, t.pos, neg), nil
	default:
		return nil, &queryError{[]string{fmt.Sprintf("no viable alternative at input '%s' (at position %d)", t.text, t.pos)}}
	}
}

// leaf records standalone bookkeeping for a term.
func (p *qparser) leaf(n termNode, pos int, neg bool) qnode {
	if !p.anyTerm {
		p.anyTerm, p.firstTerm = true, pos
	}
	if !n.kind.standalone() {
		if p.firstConj == 0 {
			p.firstConj = pos
		}
	} else if !neg {
		p.positive = true
	}
	return n
}

func (p *qparser) invalidOperator(name string, pos int) {
	p.errs = append(p.errs, fmt.Sprintf("Reference to invalid operator '%s' (at position %d)", name, pos))
}

// word turns a bare token into a term: a keyword, @mention, #hashtag or an
// operator. Unsupported operators are recorded as errors.
func (p *qparser) word(t qtoken) (termNode, bool) {
	w := t.text
	switch w[0] {
	case '@':
		if len(w) == 1 {
			p.invalidOperator("@", t.pos)
			return termNode{}, false
		}
		return termNode{kind: kMention, value: strings.ToLower(w[1:])}, true
	case '#':
		if len(w) == 1 {
			p.invalidOperator("#", t.pos)
			return termNode{}, false
		}
		return termNode{kind: kHashtag, value: strings.ToLower(w[1:])}, true
	case '$':
		if len(w) > 1 && unicode.IsLetter(rune(w[1])) {
			p.invalidOperator("cashtag", t.pos)
			return termNode{}, false
		}
	}
	if i := strings.IndexByte(w, ':'); i > 0 && isOperatorName(w[:i]) {
		name, val := strings.ToLower(w[:i]), w[i+1:]
		if name == "http" || name == "https" {
			// A bare URL is a keyword, not an operator.
			return termNode{kind: kWord, value: strings.ToLower(w), tokens: tokenize(w)}, true
		}
		lv := strings.ToLower(val)
		if val == "" {
			p.invalidOperator(name+":", t.pos)
			return termNode{}, false
		}
		switch name {
		case "from":
			return termNode{kind: kFrom, value: strings.TrimPrefix(lv, "@")}, true
		case "to":
			return termNode{kind: kTo, value: strings.TrimPrefix(lv, "@")}, true
		case "lang":
			return termNode{kind: kLang, value: lv}, true
		case "conversation_id":
			return termNode{kind: kConversation, value: val}, true
		case "in_reply_to_tweet_id", "in_reply_to_status_id":
			return termNode{kind: kInReplyTo, value: val}, true
		case "is":
			switch lv {
			case "reply":
				return termNode{kind: kIsReply}, true
			case "retweet":
				return termNode{kind: kIsRetweet}, true
			case "quote":
				return termNode{kind: kIsQuote}, true
			}
			if p.firstConj == 0 {
				p.firstConj = t.pos
			}
			p.invalidOperator(w, t.pos)
			return termNode{}, false
		case "has":
			switch lv {
			case "mentions":
				return termNode{kind: kHasMentions}, true
			case "hashtags":
				return termNode{kind: kHasHashtags}, true
			case "links":
				return termNode{kind: kHasLinks}, true
			}
			if p.firstConj == 0 {
				p.firstConj = t.pos
			}
			p.invalidOperator(w, t.pos)
			return termNode{}, false
		}
		p.invalidOperator(name, t.pos)
		return termNode{}, false
	}
	toks := tokenize(w)
	cjk := hasCJK(w)
	if len(toks) == 0 && !cjk {
		// Pure punctuation: X ignores it as a stop token; we match nothing.
		return termNode{kind: kWord, value: w}, true
	}
	return termNode{kind: kWord, value: strings.ToLower(w), tokens: toks, cjk: cjk}, true
}

func isOperatorName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_') {
			return false
		}
	}
	return true
}
