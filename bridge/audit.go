package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Seal sets r.PrevHash to prev and computes r.Hash. Stores call it while
// holding the chain's lock, so that records are chained in commit order.
// At is truncated to microseconds (what every store keeps) before hashing.
func (r *AuditRecord) Seal(prev string) {
	r.At = r.At.UTC().Truncate(time.Microsecond)
	r.PrevHash = prev
	r.Hash = r.ComputeHash()
}

// ComputeHash returns the hex SHA-256 of the record's canonical form: every
// field but Hash, each length-prefixed so that no two records share a form.
func (r *AuditRecord) ComputeHash() string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
		b.WriteByte(';')
	}
	field("carebridge-audit-v1")
	field(strconv.FormatInt(r.Seq, 10))
	field(r.At.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano))
	field(string(r.Kind))
	field(r.Actor)
	field(r.Department)
	field(strconv.FormatInt(r.TicketID, 10))
	field(strconv.FormatInt(r.DraftID, 10))
	field(string(r.Details))
	field(r.PrevHash)
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
