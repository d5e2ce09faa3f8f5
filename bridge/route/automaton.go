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
// Alphabet. Every byte that occurs in some pattern gets its own class; all
// other bytes share class 0. Each class c has a twin ncls+c meaning "edge
// symbol, then c", so switching between word and non-word characters costs
// no extra step, and one more class (ncls*2, "skip") leaves the state
// unchanged; it is fed for the second and later white-space characters of a
// run, which is how white space is collapsed without building a new string.
// The scanner picks the class of each byte from a 3×128 table indexed by the
// kind of the previous character (word, space, other), so the ASCII loop has
// no data-dependent branches besides "a pattern ended here".
//
// States are numbered in breadth-first order. The first nDense states (the
// shallow, hot ones) have a full DFA row of width = 2*ncls+1 transitions;
// deeper states, which are usually on a single keyword's chain, keep only
// their trie edges and a failure link, so memory stays bounded for 10,000+
// keywords while the scan remains one table lookup per byte in the common
// case. State references are encoded: dense state s is s*width (so a
// transition is dense[ref+class]); sparse state s is cells+(s-nDense).
//
// Transition values carry two flags: outFlag (the target state ends at least
// one pattern) and edgeOutFlag (for a twin class: the intermediate state
// reached by the edge symbol ends a pattern, e.g. "bill" followed by "!").

// edgeByte stands for the edge symbol inside patterns. It never occurs in
// valid UTF-8, and normalized text is always valid UTF-8.
const edgeByte = 0xFF

const (
	outFlag     = 1 << 31
	edgeOutFlag = 1 << 30
	refMask     = edgeOutFlag - 1
)

// noClass is a class value that never matches.
const noClass = ^uint32(0)

// maxDenseCells bounds the dense table (4 bytes per cell).
var maxDenseCells uint32 = 1 << 21

// Character kinds for the scanner's class table.
const (
	kindOther = iota
	kindWord
	kindSpace
	kindShift = 12 // classTab entries are class | kind<<kindShift
)

type matcher struct {
	classOf  [256]uint8               // byte → class
	classTab [3][utf8.RuneSelf]uint16 // [previous kind][raw ASCII byte] → class to feed | new kind<<kindShift
	ncls     uint32                   // number of base classes
	width    uint32                   // 2*ncls+1
	edgeCls  uint32                   // class of the edge symbol
	nDense   uint32                   // states [0, nDense) are dense
	cells    uint32                   // nDense * width
	dense    []uint32                 // transitions of dense states, encoded ref | flags
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
	ncls := uint32(1)
	for b := 0; b < 256; b++ {
		if used[b] {
			m.classOf[b] = uint8(ncls)
			ncls++
		}
	}
	m.ncls = ncls
	m.width = 2*ncls + 1
	m.edgeCls = uint32(m.classOf[edgeByte])
	skip := 2 * ncls
	for pk := 0; pk < 3; pk++ {
		for b := 0; b < utf8.RuneSelf; b++ {
			var c, k uint32
			switch {
			case asciiSpace[b]:
				c, k = uint32(m.classOf[' ']), kindSpace
				if pk == kindSpace {
					c = skip
				}
			case 'A' <= b && b <= 'Z':
				c, k = uint32(m.classOf[b+'a'-'A']), kindWord
			case asciiWord[b]:
				c, k = uint32(m.classOf[b]), kindWord
			default:
				c, k = uint32(m.classOf[b]), kindOther
			}
			if (pk == kindWord) != (k == kindWord) && c != skip {
				c += ncls // twin: edge, then c
			}
			m.classTab[pk][b] = uint16(c | k<<kindShift)
		}
	}

	// Trie, in insertion order.
	type edge struct {
		c  uint8
		to int32
	}
	trieEdges := [][]edge{nil}
	trieOut := [][]int32{nil}
	for pid, p := range patterns {
		s := int32(0)
		for _, b := range p {
			c := m.classOf[b]
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
	for newS, old := range order {
		es := make([]edge, len(trieEdges[old]))
		for j, e := range trieEdges[old] {
			es[j] = edge{e.c, newID[e.to]}
		}
		edges[newS] = es
		own[newS] = trieOut[old]
	}

	width := m.width
	nDense := uint32(n)
	if uint64(nDense)*uint64(width) > uint64(maxDenseCells) {
		nDense = max(1, maxDenseCells/width) // the root is always dense
	}
	m.nDense = nDense
	m.cells = nDense * width

	// Pass 1: failure links and the base-class part of the dense rows, with
	// plain state numbers.
	fail := make([]int32, n)
	rows := make([]uint32, m.cells)
	delta := func(s int32, c uint32) int32 {
		for {
			if uint32(s) < nDense {
				return int32(rows[uint32(s)*width+c])
			}
			for _, e := range edges[s] {
				if uint32(e.c) == c {
					return e.to
				}
			}
			s = fail[s]
		}
	}
	for u := int32(0); u < int32(n); u++ {
		if uint32(u) < nDense {
			row := rows[uint32(u)*width : uint32(u)*width+ncls]
			if u != 0 {
				f := uint32(fail[u])
				copy(row, rows[f*width:f*width+ncls])
			}
			for _, e := range edges[u] {
				row[e.c] = uint32(e.to)
			}
		}
		for _, e := range edges[u] {
			if u == 0 {
				fail[e.to] = 0
			} else {
				fail[e.to] = delta(fail[u], uint32(e.c))
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

	// Pass 3: twin columns (plain numbers, edgeOutFlag when the edge state
	// itself has outputs), then encode everything.
	for u := uint32(0); u < nDense; u++ {
		row := rows[u*width : (u+1)*width]
		e := int32(row[m.edgeCls])
		var flag uint32
		if hasOut(e) {
			flag = edgeOutFlag
		}
		for c := uint32(0); c < ncls; c++ {
			row[ncls+c] = uint32(delta(e, c)) | flag
		}
	}
	enc := func(s int32) uint32 {
		var ref uint32
		if uint32(s) < nDense {
			ref = uint32(s) * width
		} else {
			ref = m.cells + uint32(s) - nDense
		}
		if hasOut(s) {
			ref |= outFlag
		}
		return ref
	}
	for u := uint32(0); u < nDense; u++ {
		row := rows[u*width : (u+1)*width]
		for c := uint32(0); c < ncls; c++ {
			row[c] = enc(int32(row[c]))
			t := row[ncls+c]
			row[ncls+c] = enc(int32(t&refMask)) | t&edgeOutFlag
		}
		row[skip] = enc(int32(u)) &^ outFlag
	}
	m.dense = rows

	// Sparse states are packed into one array in depth-first order, so the
	// states along one keyword are adjacent in memory. A record is
	//
	//	[failure ref, n | state<<9, class₁, target₁, …, classₙ, targetₙ]
	//
	// with base classes and targets encoded like dense transitions. A leaf
	// (n = 0) still has one edge slot, with class noClass, so the scanner can
	// check the first edge without looking at n.
	off := make([]uint32, n) // sparse state → offset of its record
	stack := []int32{0}
	size := uint32(0)
	var dfs []int32
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if uint32(u) >= nDense {
			off[u] = size
			size += 2 + 2*uint32(max(1, len(edges[u])))
			dfs = append(dfs, u)
		}
		for j := len(edges[u]) - 1; j >= 0; j-- {
			stack = append(stack, edges[u][j].to)
		}
	}
	if uint64(m.cells)+uint64(size) > refMask || n >= 1<<23 {
		panic("route: automaton too large")
	}
	sparseRef := func(s int32) uint32 { return m.cells + off[s] }
	encAny := func(s int32) uint32 {
		if uint32(s) < nDense {
			return enc(s)
		}
		ref := sparseRef(s)
		if hasOut(s) {
			ref |= outFlag
		}
		return ref
	}
	// Dense rows were encoded assuming sparse refs cells+(s-nDense); fix
	// them up to the record offsets.
	for i, v := range rows {
		if r := v & refMask; r >= m.cells {
			rows[i] = v&^refMask | sparseRef(int32(r-m.cells+nDense))
		}
	}
	m.sparse = make([]uint32, size)
	for _, u := range dfs {
		rec := m.sparse[off[u] : off[u]+2+2*uint32(max(1, len(edges[u])))]
		rec[0] = encAny(fail[u]) &^ outFlag
		rec[2] = noClass // leaves keep one never-matching edge for the inline check
		rec[1] = uint32(len(edges[u])) | uint32(u)<<9
		for j, e := range edges[u] {
			rec[2+2*j] = uint32(e.c)
			rec[3+2*j] = encAny(e.to)
		}
	}
	return m
}

// nextSlow is the transition from a sparse state for any class (base, twin
// or skip), with the same flags as a dense row.
func (m *matcher) nextSlow(ref, c uint32) uint32 {
	switch {
	case c == 2*m.ncls:
		return ref
	case c >= m.ncls:
		mid := m.nextBase(ref, m.edgeCls)
		v := m.nextBase(mid&refMask, c-m.ncls)
		if mid&outFlag != 0 {
			v |= edgeOutFlag
		}
		return v
	}
	return m.nextBase(ref, c)
}

// nextBase is the transition for a base class from any state.
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

// stateOf decodes a state reference (without flags).
func (m *matcher) stateOf(ref uint32) uint32 {
	if ref < m.cells {
		return ref / m.width
	}
	return m.sparse[ref-m.cells+1] >> 9
}

// flagged handles a transition value with flags: from is the state before
// the transition (needed to recover the intermediate edge state).
func (m *matcher) flagged(sc *scratch, from, v uint32) {
	if v&edgeOutFlag != 0 {
		sc.emit(m, m.nextBase(from, m.edgeCls)&refMask)
	}
	if v&outFlag != 0 {
		sc.emit(m, v&refMask)
	}
}

// emit records the patterns ending in the state ref in first-match order.
func (sc *scratch) emit(m *matcher, ref uint32) {
	s := m.stateOf(ref)
	for _, p := range m.outs[m.outOff[s]:m.outOff[s+1]] {
		if sc.seen[p] != sc.gen {
			sc.seen[p] = sc.gen
			sc.hits = append(sc.hits, p)
		}
	}
}

// scan runs the automaton over s. With check set, s is raw text and scan
// accepts only ASCII and simple runes (see isSimple), folding ASCII case and
// collapsing white space on the fly; it returns false, having possibly
// recorded hits, as soon as it meets anything else, and the caller must then
// forget the hits and scan the normalized text instead. Without check, s
// must be normalized text and scan always returns true.
func (m *matcher) scan(s string, sc *scratch, check bool) bool {
	dense, cells, sparse := m.dense, m.cells, m.sparse
	ref := uint32(0)
	kind := uint32(kindSpace) // the start of the text is an edge, leading space is skipped
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			i++
			x := uint32(m.classTab[kind&3][b])
			kind = x >> kindShift
			c := x & (1<<kindShift - 1)
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
		if wordLead[b] == leadNonWord && !check {
			// Normalized CJK or Hangul: three bytes, not a word character.
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			if check && ((r == utf8.RuneError && size == 1) || !isSimple(r)) {
				return false
			}
			w = isWordRune(r)
		}
		c := uint32(m.classOf[b])
		k := uint32(kindOther)
		if w {
			k = kindWord
		}
		if (kind == kindWord) != w {
			c += m.ncls
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
		v := m.nextBase(ref, m.edgeCls)
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
