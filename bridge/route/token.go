package route

import (
	"math/bits"
	"unicode/utf8"
)

// Whole-word keywords. A keyword made only of word characters ("bill",
// "refund", "5g", "café") matches exactly where a maximal run of word
// characters of the text (a token) equals it, because it must have edges on
// both sides. Such keywords, usually the vast majority, are kept out of the
// automaton and in a hash table instead: the scanner hashes each token on the
// fly (a rotate and an xor per byte, off the automaton's critical path),
// records where tokens end without branching, and looks the tokens up after
// the pass. A lookup costs one probe per token whatever the number of
// keywords, where walking a 10,000-word trie touched a new cache line for
// almost every byte.

// tokenHashStep adds byte b (already normalized) to the running token hash.
func tokenHashStep(h uint64, b byte) uint64 {
	return bits.RotateLeft64(h, 5) ^ uint64(b)
}

// tokenHashFinal mixes the running hash (the splitmix64 finalizer).
func tokenHashFinal(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// isToken reports whether the normalized keyword is a single token: only word
// characters.
func isToken(norm string) bool {
	for _, r := range norm {
		if !isWordRune(r) {
			return false
		}
	}
	return norm != ""
}

// tokenSlot is one slot of the open-addressing table: the high half of the
// finalized hash and the pattern id (-1 when empty).
type tokenSlot struct {
	tag uint32
	id  int32
}

// tokenDict maps tokens to pattern ids.
type tokenDict struct {
	slots []tokenSlot // power of two, at most half full
	keys  []string    // normalized keyword by pattern id
}

// newTokenDict builds the table for the given pattern ids.
func newTokenDict(keys []string, ids []int32) tokenDict {
	d := tokenDict{keys: keys}
	if len(ids) == 0 {
		return d
	}
	size := 16
	for size < 2*len(ids) {
		size *= 2
	}
	d.slots = make([]tokenSlot, size)
	for i := range d.slots {
		d.slots[i].id = -1
	}
	mask := uint64(size - 1)
	for _, id := range ids {
		var h uint64
		for i := 0; i < len(keys[id]); i++ {
			h = tokenHashStep(h, keys[id][i])
		}
		f := tokenHashFinal(h)
		for j := f & mask; ; j = (j + 1) & mask {
			if d.slots[j].id < 0 {
				d.slots[j] = tokenSlot{tag: uint32(f >> 32), id: id}
				break
			}
		}
	}
	return d
}

// lookup returns the pattern id of the token with running hash h found at
// s[start:end], or -1. The token is verified byte by byte, folding ASCII
// case and skipping zero-width characters as the scanner did.
func (d *tokenDict) lookup(h uint64, s string, start, end int32) int32 {
	f := tokenHashFinal(h)
	mask := uint64(len(d.slots) - 1)
	tag := uint32(f >> 32)
	for j := f & mask; ; j = (j + 1) & mask {
		slot := d.slots[j]
		if slot.id < 0 {
			return -1
		}
		if slot.tag == tag && tokenEqual(d.keys[slot.id], s[start:end]) {
			return slot.id
		}
	}
}

// tokenEqual reports whether the raw token t (ASCII in any case, zero-width
// characters, runes that normalization leaves unchanged) normalizes to key.
func tokenEqual(key, t string) bool {
	k := 0
	for j := 0; j < len(t); {
		b := t[j]
		if b >= utf8.RuneSelf {
			if r, size := utf8.DecodeRuneInString(t[j:]); isZeroWidth(r) {
				j += size
				continue
			}
		} else if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if k >= len(key) || key[k] != b {
			return false
		}
		k++
		j++
	}
	return k == len(key)
}

// tokenEnd records where a token ended and its running hash.
type tokenEnd struct {
	h          uint64
	start, end int32
}

// lowerASCII folds ASCII letters.
var lowerASCII = func() (t [utf8.RuneSelf]byte) {
	for b := range t {
		t[b] = byte(b)
		if 'A' <= b && b <= 'Z' {
			t[b] += 'a' - 'A'
		}
	}
	return t
}()
