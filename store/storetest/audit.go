package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// verifyChain checks that recs is a whole chain from Seq 1: contiguous,
// each record's hash recomputes and each links to the one before.
func verifyChain(recs []bridge.AuditRecord) error {
	prev := ""
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			return fmt.Errorf("record %d has seq %d", i+1, r.Seq)
		}
		if r.PrevHash != prev {
			return fmt.Errorf("record %d links to %.12s…, previous hash is %.12s…", r.Seq, r.PrevHash, prev)
		}
		if h := r.ComputeHash(); h != r.Hash {
			return fmt.Errorf("record %d hashes to %.12s…, stored hash is %.12s…", r.Seq, h, r.Hash)
		}
		prev = r.Hash
	}
	return nil
}

// appendAudit appends one record in its own transaction.
func appendAudit(t *testing.T, s *store.Store, rec *bridge.AuditRecord) {
	t.Helper()
	inTx(t, s, func(tx *store.Tx) error { return tx.AppendAudit(ctx(t), rec) })
}

// auditRecords lists records.
func auditRecords(t *testing.T, s *store.Store, f bridge.AuditFilter) []bridge.AuditRecord {
	t.Helper()
	var recs []bridge.AuditRecord
	inTx(t, s, func(tx *store.Tx) (err error) {
		recs, err = tx.AuditRecords(ctx(t), f)
		return err
	})
	return recs
}

func seqs(recs []bridge.AuditRecord) []int64 {
	out := []int64{}
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

var auditTests = []test{
	{"Audit/ConcurrentAppendsFormOneChain", func(t *testing.T, s *store.Store) {
		const n = 100
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			seen = map[int64]bool{}
		)
		for i := range n {
			wg.Go(func() {
				rec := &bridge.AuditRecord{At: at(time.Duration(i) * time.Millisecond), Kind: "draft.approved",
					Actor: fmt.Sprintf("U%03d", i), Department: "network", TicketID: int64(i), DraftID: int64(i),
					Details: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
				if err := withTx(s, ctx(t), func(tx *store.Tx) error { return tx.AppendAudit(ctx(t), rec) }); err != nil {
					t.Errorf("append %d: %v", i, err)
					return
				}
				mu.Lock()
				if seen[rec.Seq] {
					t.Errorf("seq %d handed out twice", rec.Seq)
				}
				seen[rec.Seq] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		recs := auditRecords(t, s, bridge.AuditFilter{})
		if len(recs) != n {
			t.Fatalf("%d records, want %d", len(recs), n)
		}
		if err := verifyChain(recs); err != nil {
			t.Errorf("chain does not verify: %v", err)
		}
	}},

	{"Audit/RecordRoundTrips", func(t *testing.T, s *store.Store) {
		// Details keep their exact bytes (whitespace, key order, escapes):
		// the hash covers them.
		details := json.RawMessage("{\"z\": 1,   \"a\":\"\\u00e9 é <!channel>\",\n \"n\": 1.0}")
		rec := &bridge.AuditRecord{At: time.Date(2026, 3, 1, 18, 0, 0, 987654321, time.FixedZone("JST", 9*60*60)),
			Kind: "reply.sent", Actor: "U0MANAGER", Department: "network", TicketID: 7, DraftID: 9, Details: details}
		bare := &bridge.AuditRecord{At: at(time.Hour), Kind: "system.start", Actor: "system"}
		appendAudit(t, s, rec)
		appendAudit(t, s, bare)
		if rec.Seq != 1 || rec.PrevHash != "" || rec.Hash == "" || bare.Seq != 2 || bare.PrevHash != rec.Hash {
			t.Errorf("sealed: %d %q %q, %d %q; want 1, no prev, a hash, then 2 linked to it",
				rec.Seq, rec.PrevHash, rec.Hash, bare.Seq, bare.PrevHash)
		}
		recs := auditRecords(t, s, bridge.AuditFilter{})
		same(t, "records", recs, []bridge.AuditRecord{*rec, *bare})
		if len(recs) == 2 {
			if string(recs[0].Details) != string(details) {
				t.Errorf("details changed: got %q, want %q", recs[0].Details, details)
			}
			if want := time.Date(2026, 3, 1, 9, 0, 0, 987654000, time.UTC); !recs[0].At.Equal(want) || recs[0].At.Location() != time.UTC {
				t.Errorf("At = %v, want %v in UTC", recs[0].At, want)
			}
		}
		if err := verifyChain(recs); err != nil {
			t.Errorf("chain does not verify: %v", err)
		}

		err := withTx(s, ctx(t), func(tx *store.Tx) error {
			return tx.AppendAudit(ctx(t), &bridge.AuditRecord{Kind: "no.time"})
		})
		if err == nil {
			t.Error("a record without a time was appended")
		}
	}},

	{"Audit/Filters", func(t *testing.T, s *store.Store) {
		for i := range 10 {
			appendAudit(t, s, &bridge.AuditRecord{At: at(time.Duration(i) * time.Minute), Kind: "k",
				Department: []string{"network", "sales"}[i%2]})
		}
		f := func(f bridge.AuditFilter) []int64 { return seqs(auditRecords(t, s, f)) }
		same(t, "all", f(bridge.AuditFilter{}), []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
		same(t, "since minute 5", f(bridge.AuditFilter{Since: at(5 * time.Minute)}), []int64{6, 7, 8, 9, 10})
		same(t, "since just after minute 5", f(bridge.AuditFilter{Since: at(5*time.Minute + time.Microsecond)}), []int64{7, 8, 9, 10})
		same(t, "network", f(bridge.AuditFilter{Department: "network"}), []int64{1, 3, 5, 7, 9})
		same(t, "after 7", f(bridge.AuditFilter{AfterSeq: 7}), []int64{8, 9, 10})
		same(t, "limit 3", f(bridge.AuditFilter{Limit: 3}), []int64{1, 2, 3})
		same(t, "sales after 2, limit 2", f(bridge.AuditFilter{Department: "sales", AfterSeq: 2, Limit: 2}), []int64{4, 6})
		same(t, "nothing after 10", f(bridge.AuditFilter{AfterSeq: 10}), []int64{})
	}},

	{"Audit/TamperingIsDetected", func(t *testing.T, s *store.Store) {
		db := s.DB()
		for i := range 4 {
			appendAudit(t, s, &bridge.AuditRecord{At: at(time.Duration(i) * time.Minute), Kind: "reply.sent",
				Actor: "U0MANAGER", Details: json.RawMessage(fmt.Sprintf(`{"reply":"answer %d"}`, i))})
		}
		if err := verifyChain(auditRecords(t, s, bridge.AuditFilter{})); err != nil {
			t.Fatalf("untouched chain does not verify: %v", err)
		}

		// Editing a record's details breaks its hash.
		if _, err := db.ExecContext(ctx(t), db.Rebind(`UPDATE audit_log SET details = ? WHERE seq = ?`),
			`{"reply":"something else"}`, 2); err != nil {
			t.Fatal(err)
		}
		if err := verifyChain(auditRecords(t, s, bridge.AuditFilter{})); err == nil {
			t.Error("edited details went unnoticed")
		}
		// Even a change of whitespace only: the hash covers the bytes.
		if _, err := db.ExecContext(ctx(t), db.Rebind(`UPDATE audit_log SET details = ? WHERE seq = ?`),
			`{"reply": "answer 1"}`, 2); err != nil {
			t.Fatal(err)
		}
		if err := verifyChain(auditRecords(t, s, bridge.AuditFilter{})); err == nil {
			t.Error("re-spaced details went unnoticed")
		}
		if _, err := db.ExecContext(ctx(t), db.Rebind(`UPDATE audit_log SET details = ? WHERE seq = ?`),
			`{"reply":"answer 1"}`, 2); err != nil {
			t.Fatal(err)
		}
		if err := verifyChain(auditRecords(t, s, bridge.AuditFilter{})); err != nil {
			t.Fatalf("restored chain does not verify: %v", err)
		}

		// Deleting a record breaks the link of the next one.
		if _, err := db.ExecContext(ctx(t), db.Rebind(`DELETE FROM audit_log WHERE seq = ?`), 3); err != nil {
			t.Fatal(err)
		}
		recs := auditRecords(t, s, bridge.AuditFilter{})
		if len(recs) != 3 || recs[2].PrevHash == recs[1].Hash {
			t.Error("a deleted record went unnoticed")
		}
	}},
}
