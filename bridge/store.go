package bridge

import (
	"context"
	"time"
)

// Store keeps all of carebridge's state. The implementation lives in
// store/ (SQLite and PostgreSQL) and passes the one conformance suite in
// store/storetest. Every method is safe for concurrent use.
//
// Work that must be atomic — storing a post together with its ticket and
// the outbox rows it causes — runs in one transaction; so do reads. Each
// part of the core runs its transactions through its own port (IngestTx,
// RelayTx, ApprovalTx, InboxTx below), which Transactions hands out. Look-ups
// return ErrNotFound when nothing matches.
type Store interface {
	// ClaimOutbox leases up to limit due rows (state pending, NextAttemptAt
	// <= now, or state sending whose lease expired) to owner until
	// now+lease, marking them sending and counting an attempt. Rows are
	// returned by priority, then id. A row is never claimed while an
	// earlier row with the same non-empty OrderKey is pending or sending,
	// and at most one row per OrderKey is returned. Lanes listed in
	// skipLanes are not claimed (they are being paced). Under PostgreSQL
	// concurrent claimers never receive the same row (FOR UPDATE SKIP
	// LOCKED).
	ClaimOutbox(ctx context.Context, p ClaimParams) ([]OutboxItem, error)

	// OutboxStats reports the backlog: rows not yet done or dead, per kind,
	// with the age of the oldest.
	OutboxStats(ctx context.Context, now time.Time) ([]OutboxStat, error)

	// ClaimLane leases, as ClaimOutbox does, up to p.Limit due pending
	// rows of one lane, kind and priority, in id order, never a row
	// behind an earlier pending or sending row of its OrderKey: the
	// relay's bundles take the next new-ticket messages of a channel
	// under pressure this way. Rows of another claimer are skipped.
	ClaimLane(ctx context.Context, p LaneClaim) ([]OutboxItem, error)

	// OutboxLanes reports the backlog per lane: rows pending or sending,
	// with the age of the oldest. Lanes without such rows are left out.
	OutboxLanes(ctx context.Context, now time.Time) ([]LaneStat, error)

	// DueInbox lists up to limit inbox rows the worker may apply now:
	// pending, NextAttemptAt unset or <= now, and no earlier pending row
	// with the same OrderKey (so at most one row per key, the oldest), in
	// id order. Under PostgreSQL rows locked by another transaction
	// (LockInbox of a worker applying them) are skipped (FOR UPDATE SKIP
	// LOCKED).
	DueInbox(ctx context.Context, now time.Time, limit int) ([]InboxEvent, error)

	// InboxStats reports the inbox backlog.
	InboxStats(ctx context.Context, now time.Time) (InboxStat, error)

	// Transactions returns the store's transactions as each part of the
	// core sees them.
	Transactions() Transactions

	// Ping checks that the database answers.
	Ping(ctx context.Context) error

	// Close releases the database.
	Close() error
}

// Transactions are a store's transactions, one runner per part of the
// core, each seeing them through the part's own port.
type Transactions struct {
	Ingest    TxRunner[IngestTx]
	Relay     TxRunner[RelayTx]
	Outcomes  TxRunner[OutcomeTx]
	Approvals TxRunner[ApprovalTx]
	Inbox     TxRunner[InboxTx]
}

// ClaimParams selects outbox rows to lease.
type ClaimParams struct {
	Now       time.Time
	Limit     int
	Lease     time.Duration
	Owner     string   // worker identity, recorded in ClaimedBy
	Kinds     []string // optional; empty means every kind
	SkipLanes []string // optional; lanes not to claim now
}

// LaneClaim selects the rows of one lane for Store.ClaimLane.
type LaneClaim struct {
	Now      time.Time
	Limit    int
	Lease    time.Duration
	Owner    string
	Lane     string
	Kind     string
	Priority Priority
}

// LaneStat is the backlog of one lane (a chat channel, say).
type LaneStat struct {
	Lane      string
	Pending   int           // rows pending or sending
	OldestAge time.Duration // age of the oldest of them, by CreatedAt
}

// OutboxStat is the backlog of one kind of outbox work.
type OutboxStat struct {
	Kind      string
	Pending   int           // rows pending or sending
	Dead      int           // rows that failed permanently
	OldestAge time.Duration // age of the oldest pending or sending row
}

// InboxStat is the backlog of the chat event inbox.
type InboxStat struct {
	Pending   int           // rows not yet applied
	Dead      int           // rows given up
	OldestAge time.Duration // age of the oldest pending row (by ReceivedAt)
}

// AuditFilter selects audit records.
type AuditFilter struct {
	Since      time.Time // zero: from the start
	Department string    // empty: every department
	AfterSeq   int64     // only records with Seq > AfterSeq
	Limit      int       // 0: no limit
}

// TxRunner runs fn in one transaction of a store, seen through T: a small
// port owned by the part of the core (or the adapter) that uses it, listing
// only the methods that part calls. It commits if fn returns nil and rolls
// back otherwise; fn must not keep tx after it returns.
type TxRunner[T any] interface {
	WithTx(ctx context.Context, fn func(tx T) error) error
}

// Each part of the core declares the transaction methods it calls as a
// port of its own, beside its code: IngestTx (ingest.go), RelayTx
// (relay.go), ApprovalTx (approvals.go) and InboxTx (inbox.go); the
// watching jobs declare theirs in bridge/watch. A store's transactions
// implement them all (store/ asserts it at compile time), and each part
// runs its transactions through a TxRunner of its port.
