package watch

import (
	"context"
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
