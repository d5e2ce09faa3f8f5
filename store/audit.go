package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/carebridge/carebridge/bridge"
)

// auditLockKey is the PostgreSQL transaction advisory lock that serializes
// audit appends, so that each record is chained to the one committed
// before it.
const auditLockKey int64 = 0x63625f6175646974 // "cb_audit"

const auditColumns = `seq, at, kind, actor, department, ticket_id, draft_id, details, prev_hash, hash`

type auditRow struct {
	Seq        int64   `db:"seq"`
	At         dbTime  `db:"at"`
	Kind       string  `db:"kind"`
	Actor      string  `db:"actor"`
	Department string  `db:"department"`
	TicketID   int64   `db:"ticket_id"`
	DraftID    int64   `db:"draft_id"`
	Details    rawText `db:"details"`
	PrevHash   string  `db:"prev_hash"`
	Hash       string  `db:"hash"`
}

// AppendAudit seals rec onto the end of the chain (setting Seq, PrevHash
// and Hash, and truncating At to microseconds in UTC) and stores it.
// Under PostgreSQL it takes a transaction advisory lock first, so
// concurrent appends queue and the chain follows commit order; under
// SQLite the transaction already holds the write lock. rec.At must be set.
func (t *tx) AppendAudit(ctx context.Context, rec *bridge.AuditRecord) error {
	if rec.At.IsZero() || rec.Kind == "" {
		return errors.New("append audit record: time and kind are required")
	}
	if t.dialect == DialectPostgres {
		if _, err := t.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, auditLockKey); err != nil {
			return fmt.Errorf("append audit record %s: lock chain: %w", rec.Kind, err)
		}
	}
	var last struct {
		Seq  int64  `db:"seq"`
		Hash string `db:"hash"`
	}
	err := t.get(ctx, &last, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`)
	if err != nil && !errors.Is(err, bridge.ErrNotFound) {
		return fmt.Errorf("append audit record %s: read chain head: %w", rec.Kind, err)
	}
	rec.Seq = last.Seq + 1
	rec.Seal(last.Hash)
	if _, err := t.namedExec(ctx, `
		INSERT INTO audit_log (seq, at, kind, actor, department, ticket_id, draft_id, details, prev_hash, hash)
		VALUES (:seq, :at, :kind, :actor, :department, :ticket_id, :draft_id, :details, :prev_hash, :hash)`,
		auditRow{
			Seq: rec.Seq, At: dbTime(rec.At), Kind: string(rec.Kind), Actor: rec.Actor,
			Department: rec.Department, TicketID: rec.TicketID, DraftID: rec.DraftID,
			Details: rawText(rec.Details), PrevHash: rec.PrevHash, Hash: rec.Hash,
		}); err != nil {
		return fmt.Errorf("append audit record %d (%s): %w", rec.Seq, rec.Kind, err)
	}
	return nil
}

// AuditRecords lists the records f selects, in Seq order. Details come
// back byte for byte as stored, so ComputeHash verifies them.
func (t *tx) AuditRecords(ctx context.Context, f bridge.AuditFilter) ([]bridge.AuditRecord, error) {
	var (
		where []string
		args  []any
	)
	if f.AfterSeq > 0 {
		where = append(where, "seq > ?")
		args = append(args, f.AfterSeq)
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, dbTime(f.Since))
	}
	if f.Department != "" {
		where = append(where, "department = ?")
		args = append(args, f.Department)
	}
	query := `SELECT ` + auditColumns + ` FROM audit_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY seq`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}

	var rows []auditRow
	if err := t.list(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	out := make([]bridge.AuditRecord, len(rows))
	for i, r := range rows {
		out[i] = bridge.AuditRecord{
			Seq: r.Seq, At: r.At.time(), Kind: bridge.AuditKind(r.Kind), Actor: r.Actor,
			Department: r.Department, TicketID: r.TicketID, DraftID: r.DraftID,
			Details: r.Details.json(), PrevHash: r.PrevHash, Hash: r.Hash,
		}
	}
	return out, nil
}
