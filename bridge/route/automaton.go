package route

import (
	"math/bits"
	"unicode/utf8"
)

// The matcher is a byte-level Aho-Corasick automaton over normalized text
// with word edges made explicit: conceptually the text carries an edge symbol
// wherever it switches between word and non-word characters (and before a
// word character at the start, after one at the end), and a keyword that must
// sit on word edges carries the edge symbol at its ends (edgeByte in the
// patterns). Edge checks therefore cost nothing after the scan, and "bill"
// never even reaches a match state inside "billion".
//
// Columns. Bytes are split into boundary bytes (ASCII, UTF-8 lead bytes and
// the edge symbol), which start a character, and continuation bytes. Every
// byte that occurs in some pattern gets its own column; the others share one
// "other" column of their kind. Each boundary column c has a twin nb+c
// meaning "edge symbol, then c", so switching between word and non-word
// characters costs no extra step, and one more column (skip) leaves the state
// unchanged: it is fed for the second and later white-space characters of a
// run, which is how white space is collapsed without building a new string.
// The scanner picks the column of each ASCII byte from a 3×128 table indexed
// by the kind of the previous character (word, space, other), so the ASCII
// loop has no data-dependent branches besides "a pattern ended here", and
// the only loop-carried memory dependency is the state itself.
//
// Rows. States are numbered breadth first; the first nDense (the shallow,
// hot ones) have a dense row. A state reached in the middle of a multi-byte
// character (after a lead or inner continuation byte) only ever sees
// continuation bytes next, and every other state only boundary bytes, so a
// dense row holds just the columns of its kind: boundary rows are
// [output descriptor | base | twins | skip], middle rows are [continuation
// columns]. The root, which sees both, has all columns. A state reference is
// the index of column 0 of its row, so a transition is always
// dense[ref+column]; for middle rows that index lies before the row itself
// (continuation columns start at wb). Deeper states, usually on a single
// keyword's chain, keep only their trie edges and failure link in a packed
// sparse array (refs ≥ cells), so memory stays bounded for 10,000+ keywords
// while the scan remains one table lookup per byte in the common case.
//
// Transition values carry two flags: outFlag (the target state ends at least
// one pattern) and edgeOutFlag (for a twin column: the intermediate state
// reached by the edge symbol ends a pattern, e.g. "bill" followed by "!").
// Patterns end on character boundaries, so states with outputs always have
// boundary rows, and the cell before the row says which patterns end there.

// edgeByte stands for the edge symbol inside patterns. It never occurs in
// valid UTF-8, and normalized text is always valid UTF-8.
const edgeByte = 0xFF

const (
	outFlag     = 1 << 31
	edgeOutFlag = 1 << 30
	refMask     = edgeOutFlag - 1
)

// rootRef is the reference of the root state (its row follows the header).
const rootRef = 1

// noClass is a column value that never matches.
const noClass = ^uint32(0)

// maxDenseCells bounds the dense table (4 bytes per cell, so 8 MiB). With
// the benchmark keyword sets, 1,000 keywords fit entirely (1.7 MB) and
// 10,000 keywords get about half of their states dense; a larger table was
// slower there (cache misses), a smaller one too (more sparse steps). A
// variable so that tests can force sparse states.
var maxDenseCells uint32 = 1 << 21

// Character kinds for the scanner's column table.
const (
	kindOther = iota
	kindWord
	kindSpace
)

func isContinuation(b byte) bool { return b&0xC0 == 0x80 }

// asciiKind is the kind of each ASCII byte.
var asciiKind = func() (t [utf8.RuneSelf]uint8) {
	for b := range t {
		switch {
		case asciiSpace[b]:
			t[b] = kindSpace
		case asciiWord[b]:
			t[b] = kindWord
		}
	}
	return t
}()

type matcher struct {
	classOf  [256]uint16              // byte → base column
	classTab [3][utf8.RuneSelf]uint16 // [previous kind][raw ASCII byte] → column to feed
	nb       uint32                   // boundary base columns; twins are [nb, 2nb)
	skip     uint32                   // the skip column, 2nb
	wb       uint32                   // boundary row width, 2nb+1; continuation columns start here
	edgeCol  uint32                   // column of the edge symbol
	nDense   uint32                   // states [0, nDense) are dense
	cells    uint32                   // size of the dense table
	dense    []uint32                 // dense rows, encoded ref | flags
	sparse   []uint32                 // sparse state records, see compile
	outOff   []uint32                 // state s outputs patterns outs[outOff[s]:outOff[s+1]]
	outs     []int32                  // pattern ids
	states   int                      // number of states
}

// compile builds the automaton for the given patterns (normalized bytes with
// edge symbols).
func compile(patterns [][]byte) *matcher {
	m := &matcher{}
	var used [256]bool
	used[edgeByte] = true
	for _, p := range patterns {
		for _, b := range p {
			used[b] = true
		}
	}
	nb := uint32(1) // column 0: other boundary byte
	for b := 0; b < 256; b++ {
		if used[b] && !isContinuation(byte(b)) {
			m.classOf[b] = uint16(nb)
			nb++
		}
	}
	m.nb, m.skip, m.wb = nb, 2*nb, 2*nb+1
	wb := m.wb
	wt := wb + 1 // column wb: other continuation byte
	for b := 0x80; b < 0xC0; b++ {
		if used[b] {
			m.classOf[b] = uint16(wt)
			wt++
		} else {
			m.classOf[b] = uint16(wb)
		}
	}
	m.edgeCol = uint32(m.classOf[edgeByte])
	for pk := 0; pk < 3; pk++ {
		for b := 0; b < utf8.RuneSelf; b++ {
			var c, k uint32
			switch {
			case asciiSpace[b]:
				c, k = uint32(m.classOf[' ']), kindSpace
				if pk == kindSpace {
					c = m.skip
				}
			case 'A' <= b && b <= 'Z':
				c, k = uint32(m.classOf[b+'a'-'A']), kindWord
			case asciiWord[b]:
				c, k = uint32(m.classOf[b]), kindWord
			default:
				c, k = uint32(m.classOf[b]), kindOther
			}
			if (pk == kindWord) != (k == kindWord) && c != m.skip {
				c += nb // twin: edge, then c
			}
			m.classTab[pk][b] = uint16(c)
		}
	}

	// Trie, in insertion order. mid marks states reached in the middle of
	// a multi-byte character.
	type edge struct {
		c  uint32
		to int32
	}
	trieEdges := [][]edge{nil}
	trieOut := [][]int32{nil}
	trieMid := []bool{false}
	for pid, p := range patterns {
		s := int32(0)
		rem := 0 // continuation bytes still expected
		for _, b := range p {
			switch {
			case isContinuation(b):
				rem--
			case b >= 0xF0 && b != edgeByte:
				rem = 3
			case b >= 0xE0 && b != edgeByte:
				rem = 2
			case b >= 0xC0 && b != edgeByte:
				rem = 1
			default:
				rem = 0
			}
			c := uint32(m.classOf[b])
			next := int32(-1)
			for _, e := range trieEdges[s] {
				if e.c == c {
					next = e.to
					break
				}
			}
			if next < 0 {
				next = int32(len(trieEdges))
				trieEdges = append(trieEdges, nil)
				trieOut = append(trieOut, nil)
				trieMid = append(trieMid, rem > 0)
				trieEdges[s] = append(trieEdges[s], edge{c, next})
			}
			s = next
		}
		trieOut[s] = append(trieOut[s], int32(pid))
	}

	// Renumber breadth first, so a state's failure link always has a
	// smaller number and the dense states are a prefix.
	n := len(trieEdges)
	m.states = n
	order := make([]int32, 0, n)
	newID := make([]int32, n)
	order = append(order, 0)
	for i := 0; i < len(order); i++ {
		for _, e := range trieEdges[order[i]] {
			newID[e.to] = int32(len(order))
			order = append(order, e.to)
		}
	}
	edges := make([][]edge, n)
	own := make([][]int32, n)
	mid := make([]bool, n)
	for newS, old := range order {
		es := make([]edge, len(trieEdges[old]))
		for j, e := range trieEdges[old] {
			es[j] = edge{e.c, newID[e.to]}
		}
		edges[newS] = es
		own[newS] = trieOut[old]
		mid[newS] = trieMid[old]
	}

	// Dense layout: the root row first (header and all columns), then the
	// other dense states, the breadth-first prefix that fits the budget, as
	// boundary rows (header and wb columns) or middle rows (wt-wb columns).
	// Rows are laid out in depth-first order, so that the rows along one
	// keyword are adjacent in memory.
	rowSize := func(s int32) uint32 {
		if mid[s] {
			return wt - wb
		}
		return 1 + wb
	}
	cells := 1 + wt
	nDense := uint32(1)
	for ; nDense < uint32(n); nDense++ {
		if cells+rowSize(int32(nDense)) > max(maxDenseCells, 1+wt) {
			break
		}
		cells += rowSize(int32(nDense))
	}
	ref := make([]uint32, n) // state → ref
	ref[0] = rootRef
	at := 1 + wt
	for stack := []int32{0}; len(stack) > 0; {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if u != 0 {
			if mid[u] {
				ref[u] = at - wb
			} else {
				ref[u] = at + 1
			}
			at += rowSize(u)
		}
		for j := len(edges[u]) - 1; j >= 0; j-- {
			if v := edges[u][j].to; uint32(v) < nDense {
				stack = append(stack, v)
			}
		}
	}
	m.nDense, m.cells = nDense, cells
	rows := make([]uint32, cells)

	// Pass 1: failure links and the base columns of the dense rows, with
	// plain state numbers.
	fail := make([]int32, n)
	delta := func(s int32, c uint32) int32 {
		for {
			if uint32(s) < nDense {
				return int32(rows[ref[s]+c])
			}
			for _, e := range edges[s] {
				if e.c == c {
					return e.to
				}
			}
			s = fail[s]
		}
	}
	// The base columns of a row: boundary [0, nb) and/or continuation
	// [wb, wt).
	type span struct{ lo, hi uint32 }
	cols := func(s int32) []span {
		switch {
		case s == 0:
			return []span{{0, nb}, {wb, wt}}
		case mid[s]:
			return []span{{wb, wt}}
		}
		return []span{{0, nb}}
	}
	for u := int32(0); u < int32(n); u++ {
		if uint32(u) < nDense {
			r := ref[u]
			if u != 0 {
				f := ref[fail[u]]
				for _, c := range cols(u) {
					copy(rows[r+c.lo:r+c.hi], rows[f+c.lo:f+c.hi])
				}
			}
			for _, e := range edges[u] {
				rows[r+e.c] = uint32(e.to)
			}
		}
		for _, e := range edges[u] {
			if u == 0 {
				fail[e.to] = 0
			} else {
				fail[e.to] = delta(fail[u], e.c)
			}
		}
	}

	// Pass 2: outputs, each state inheriting those of its failure link.
	m.outOff = make([]uint32, n+1)
	for s := 0; s < n; s++ {
		m.outs = append(m.outs, own[s]...)
		if s != 0 {
			f := fail[s]
			m.outs = append(m.outs, m.outs[m.outOff[f]:m.outOff[f+1]]...)
		}
		m.outOff[s+1] = uint32(len(m.outs))
	}
	hasOut := func(s int32) bool { return m.outOff[s+1] > m.outOff[s] }

	// Pass 3: twin columns of boundary rows (plain numbers, edgeOutFlag
	// when the edge state itself has outputs).
	for u := int32(0); u < int32(nDense); u++ {
		if mid[u] {
			continue
		}
		r := ref[u]
		e := int32(rows[r+m.edgeCol])
		var flag uint32
		if hasOut(e) {
			flag = edgeOutFlag
		}
		for c := uint32(0); c < nb; c++ {
			rows[r+nb+c] = uint32(delta(e, c)) | flag
		}
	}

	// Sparse states are packed into one array in depth-first order, so the
	// states along one keyword are adjacent in memory. A record is
	//
	//	[failure ref, n | state<<9, column₁, target₁, …, columnₙ, targetₙ]
	//
	// with base columns and targets encoded like dense transitions. A leaf
	// (n = 0) still has one edge slot, with column noClass, so the scanner
	// can check the first edge without looking at n.
	stack := []int32{0}
	size := uint32(0)
	var dfs []int32
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if uint32(u) >= nDense {
			ref[u] = cells + size
			size += 2 + 2*uint32(max(1, len(edges[u])))
			dfs = append(dfs, u)
		}
		for j := len(edges[u]) - 1; j >= 0; j-- {
			stack = append(stack, edges[u][j].to)
		}
	}
	if uint64(cells)+uint64(size) > refMask || n >= 1<<23 {
		panic("route: automaton too large")
	}
	enc := func(s int32) uint32 {
		if hasOut(s) {
			return ref[s] | outFlag
		}
		return ref[s]
	}

	// Encode the dense rows.
	for u := int32(0); u < int32(nDense); u++ {
		r := ref[u]
		for _, sp := range cols(u) {
			for c := sp.lo; c < sp.hi; c++ {
				rows[r+c] = enc(int32(rows[r+c]))
			}
		}
		if !mid[u] {
			if m.outOff[u+1]-m.outOff[u] == 1 {
				rows[r-1] = uint32(m.outs[m.outOff[u]])
			} else {
				rows[r-1] = multiOut | uint32(u)
			}
			for c := nb; c < 2*nb; c++ {
				t := rows[r+c]
				rows[r+c] = enc(int32(t&refMask)) | t&edgeOutFlag
			}
			rows[r+m.skip] = r
		}
	}
	m.dense = rows
	m.sparse = make([]uint32, size)
	for _, u := range dfs {
		o := ref[u] - cells
		rec := m.sparse[o : o+2+2*uint32(max(1, len(edges[u])))]
		rec[0] = ref[fail[u]]
		rec[1] = uint32(len(edges[u])) | uint32(u)<<9
		rec[2] = noClass
		for j, e := range edges[u] {
			rec[2+2*j] = e.c
			rec[3+2*j] = enc(e.to)
		}
	}
	return m
}

// nextSlow is the transition from a sparse state for any column (base,
// twin or skip), with the same flags as a dense row.
func (m *matcher) nextSlow(ref, c uint32) uint32 {
	switch {
	case c == m.skip:
		return ref
	case c >= m.nb && c < m.skip:
		mid := m.nextBase(ref, m.edgeCol)
		v := m.nextBase(mid&refMask, c-m.nb)
		if mid&outFlag != 0 {
			v |= edgeOutFlag
		}
		return v
	}
	return m.nextBase(ref, c)
}

// nextBase is the transition for a base column from any state.
func (m *matcher) nextBase(ref, c uint32) uint32 {
	for {
		if ref < m.cells {
			return m.dense[ref+c]
		}
		rec := m.sparse[ref-m.cells:]
		n := rec[1] & 511
		for j := uint32(0); j < n; j++ {
			if rec[2+2*j] == c {
				return rec[3+2*j]
			}
		}
		ref = rec[0]
	}
}

// Output descriptors, stored in the cell before a boundary row: the pattern
// id when the state ends exactly one pattern, else multiOut | state.
const multiOut = 1 << 31

// flagged handles a transition value with flags: from is the state before
// the transition (needed to recover the intermediate edge state).
func (m *matcher) flagged(sc *scratch, from, v uint32) {
	if v&edgeOutFlag != 0 {
		sc.emit(m, m.nextBase(from, m.edgeCol)&refMask)
	}
	if v&outFlag != 0 {
		sc.emit(m, v&refMask)
	}
}

// emit records the patterns ending in the state ref in first-match order.
func (sc *scratch) emit(m *matcher, ref uint32) {
	var st uint32
	if ref < m.cells {
		d := m.dense[ref-1]
		if d < multiOut { // the common case: one pattern
			if sc.seen[d] != sc.gen {
				sc.seen[d] = sc.gen
				sc.hits = append(sc.hits, int32(d))
			}
			return
		}
		st = d &^ multiOut
	} else {
		st = m.sparse[ref-m.cells+1] >> 9
	}
	for _, p := range m.outs[m.outOff[st]:m.outOff[st+1]] {
		if sc.seen[p] != sc.gen {
			sc.seen[p] = sc.gen
			sc.hits = append(sc.hits, p)
		}
	}
}

// scan runs the automaton over s. With check set, s is raw text and scan
// accepts only ASCII, zero-width characters (skipped) and simple runes (see
// isSimple), folding ASCII case and collapsing white space on the fly; it returns false, having possibly
// recorded hits, as soon as it meets anything else, and the caller must then
// forget the hits and scan the normalized text instead. Without check, s
// must be normalized text and scan always returns true.
func (m *matcher) scan(s string, sc *scratch, check bool) bool {
	dense, cells, sparse := m.dense, m.cells, m.sparse
	ref := uint32(rootRef)
	kind := uint32(kindSpace) // the start of the text is an edge, leading space is skipped
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			i++
			// The column depends on the previous kind, but the new kind only
			// on b, so there is no loop-carried chain through the tables.
			c := uint32(m.classTab[kind&3][b])
			kind = uint32(asciiKind[b])
			var v uint32
			if ref < cells {
				v = dense[ref+c]
			} else if rec := sparse[ref-cells:]; rec[2] == c {
				v = rec[3] // the first edge of a sparse state, inline
			} else {
				v = m.nextSlow(ref, c)
			}
			if v > refMask {
				m.flagged(sc, ref, v)
			}
			ref = v & refMask
			continue
		}
		var w bool
		size := 3
		switch {
		case !check && wordLead[b] == leadNonWord:
			// Normalized CJK or Hangul: three bytes, not a word character.
		case b >= 0xE0 && b < 0xF0 && i+2 < len(s) && isContinuation(s[i+1]) && isContinuation(s[i+2]):
			// A three-byte sequence (CJK, kana, Hangul, most punctuation),
			// decoded inline.
			r := rune(b&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F)
			if r >= 0xAC00 && r <= 0xD7A3 || r >= 0x4E00 && r <= 0x9FFF {
				break // Hangul syllable or CJK ideograph: simple, not a word character
			}
			if check {
				if isZeroWidth(r) {
					i += 3 // removed by normalization; cannot affect simple neighbours
					continue
				}
				if r < 0x800 || r >= 0xD800 && r < 0xE000 || !isSimple(r) {
					return false // overlong, surrogate, or needs normalization
				}
			}
			w = isWordRune(r)
		default:
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			if check {
				if isZeroWidth(r) {
					i += size
					continue
				}
				if (r == utf8.RuneError && size == 1) || !isSimple(r) {
					return false
				}
			}
			w = isWordRune(r)
		}
		c := uint32(m.classOf[b])
		k := uint32(kindOther)
		if w {
			k = kindWord
		}
		if (kind == kindWord) != w {
			c += m.nb
		}
		kind = k
		end := min(i+size, len(s))
		for {
			var v uint32
			if ref < cells {
				v = dense[ref+c]
			} else if rec := sparse[ref-cells:]; rec[2] == c {
				v = rec[3] // the first edge of a sparse state, inline
			} else {
				v = m.nextSlow(ref, c)
			}
			if v > refMask {
				m.flagged(sc, ref, v)
			}
			ref = v & refMask
			i++
			if i >= end {
				break
			}
			c = uint32(m.classOf[s[i]])
		}
	}
	if kind == kindWord {
		v := m.nextBase(ref, m.edgeCol)
		if v&outFlag != 0 {
			sc.emit(m, v&refMask)
		}
	}
	return true
}

// bitset helpers for rule sets.

func setBit(s []uint64, i int32)      { s[i>>6] |= 1 << (uint(i) & 63) }
func hasBit(s []uint64, i int32) bool { return s[i>>6]&(1<<(uint(i)&63)) != 0 }
func nextBit(w uint64) (int, uint64)  { return bits.TrailingZeros64(w), w & (w - 1) }
