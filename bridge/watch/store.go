package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// Tx is a store transaction as the watching jobs see it: the methods they
// call and no others. The Watcher takes a bridge.TxRunner[Tx]; store.Runner
// builds one from the store, whose transactions implement Tx (a
// compile-time assertion in store/ports.go keeps it so). Each method
// behaves as the bridge.Tx method of the same name documents.
type Tx interface {
	// Tickets and their first posts, read by the scans and the digests.
	ListTickets(ctx context.Context, f bridge.TicketFilter) ([]bridge.Ticket, error)
	TicketByID(ctx context.Context, id int64) (*bridge.Ticket, error)
	TicketsActive(ctx context.Context, department string, from, to time.Time) ([]bridge.Ticket, error)
	CountTicketsByDepartment(ctx context.Context, from, to time.Time) (map[string]int, error)
	RootPosts(ctx context.Context, department string, from, to time.Time, limit int) ([]bridge.Post, error)
	// UpdateTicket closes a silent ticket (AutoClose).
	UpdateTicket(ctx context.Context, t *bridge.Ticket) error

	// The ops events that make every job's effect happen once.
	RecordOpsEvent(ctx context.Context, ev *bridge.OpsEvent) (inserted bool, err error)
	OpsEvents(ctx context.Context, f bridge.OpsEventFilter) ([]bridge.OpsEvent, error)
	LastOpsEvent(ctx context.Context, kind, department string, before time.Time) (*bridge.OpsEvent, error)

	// The effects: outbox rows and audit records.
	Enqueue(ctx context.Context, it *bridge.OutboxItem) (enqueued bool, err error)
	AppendAudit(ctx context.Context, rec *bridge.AuditRecord) error
}

// audit appends an audit record of a watching job (details as JSON).
func audit(ctx context.Context, tx Tx, kind bridge.AuditKind, actor, dept string, ticketID int64, details map[string]any, now time.Time) error {
	rec := &bridge.AuditRecord{At: now, Kind: kind, Actor: actor, Department: dept, TicketID: ticketID, Details: json.RawMessage("{}")}
	if len(details) > 0 {
		b, err := json.Marshal(details)
		if err != nil {
			return fmt.Errorf("audit %s: %w", kind, err)
		}
		rec.Details = b
	}
	return tx.AppendAudit(ctx, rec)
}

// autoClose closes t in tx as bridge.CloseTicket does for the actor
// "system": its SLA clock stops, the thread says why, the audit log
// records it, and a customer follow-up reopens it.
func autoClose(ctx context.Context, tx Tx, t *bridge.Ticket, why, channel string, now time.Time) error {
	prev := t.State
	t.State, t.ClosedAt, t.UpdatedAt = bridge.TicketClosed, now, now
	if err := tx.UpdateTicket(ctx, t); err != nil {
		return err
	}
	if err := audit(ctx, tx, bridge.AuditTicketClosed, "system", t.Department, t.ID, map[string]any{"why": why, "previous_state": prev}, now); err != nil {
		return err
	}
	text := fmt.Sprintf(":ballot_box_with_check: Closed automatically (%s). A new post from the customer reopens it.", why)
	it, err := bridge.NoticeItemOf(t, channel, t.Department, text, now)
	if err != nil {
		return err
	}
	_, err = tx.Enqueue(ctx, it)
	return err
}
