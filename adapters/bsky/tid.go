package bsky

import (
	"math/rand/v2"
	"time"
)

// TID is an AT Protocol timestamp identifier, the record key of posts: 64
// bits (a zero bit, 53 bits of microseconds since the Unix epoch, 10 bits
// of clock id) written as 13 characters of base32-sortable.
const tidAlphabet = "234567abcdefghijklmnopqrstuvwxyz"

// NewTID returns the TID of t with clock id clockID (0–1023).
func NewTID(t time.Time, clockID uint) string {
	v := uint64(t.UnixMicro())&(1<<53-1)<<10 | uint64(clockID&1023)
	var b [13]byte
	for i := 12; i >= 0; i-- {
		b[i] = tidAlphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// ValidTID reports whether s has a TID's syntax.
func ValidTID(s string) bool {
	if len(s) != 13 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '2' && c <= '7' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	// The top bit is zero: the first character is one of 234567abcdefghij.
	return s[0] >= '2' && s[0] <= '7' || s[0] >= 'a' && s[0] <= 'j'
}

// processClockID is this process's TID clock id: two processes choosing
// a key in the same microsecond still choose different keys.
var processClockID = uint(rand.IntN(1024))
