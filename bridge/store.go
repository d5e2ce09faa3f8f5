package bridge

import (
	"context"
	"time"
)

// Store keeps all of carebridge's state. Implementations live in store/
// (SQLite and PostgreSQL) and pass the one conformance suite in
// store/storetest. Every method is safe for concurrent use.
//
// Work that must be atomic — storing a post together with its ticket and
// the outbox rows it causes — runs inside WithTx; so do reads.
type Store interface {
	// WithTx runs fn in one transaction; it commits if fn returns nil and
	// rolls back otherwise. fn must not keep tx after it returns.
	WithTx(ctx context.Context, fn func(tx Tx) error) error

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

	// DueInbox lists up to limit inbox rows the worker may apply now:
	// pending, NextAttemptAt unset or <= now, and no earlier pending row
	// with the same OrderKey (so at most one row per key, the oldest), in
	// id order. Under PostgreSQL rows locked by another transaction
	// (LockInbox of a worker applying them) are skipped (FOR UPDATE SKIP
	// LOCKED).
	DueInbox(ctx context.Context, now time.Time, limit int) ([]InboxEvent, error)

	// InboxStats reports the inbox backlog.
	InboxStats(ctx context.Context, now time.Time) (InboxStat, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error

	// Close releases the database.
	Close() error
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

// Tx is one transaction. Look-ups return ErrNotFound when nothing matches.
type Tx interface {
	// InsertPost stores p unless (Platform, ExternalID) exists already. It
	// sets p.ID either way and reports whether the post is new.
	InsertPost(ctx context.Context, p *Post) (inserted bool, err error)
	// PostByID and PostByExternalID read a post.
	PostByID(ctx context.Context, id int64) (*Post, error)
	PostByExternalID(ctx context.Context, platform Platform, externalID string) (*Post, error)

	// InsertPosts stores several posts as InsertPost does and reports for
	// each whether it is new; a post listed twice is new only once. PostIDs
	// returns the ids of the stored posts among externalIDs.
	InsertPosts(ctx context.Context, posts []*Post) (inserted []bool, err error)
	PostIDs(ctx context.Context, platform Platform, externalIDs []string) (map[string]int64, error)
	// PostsByID reads several posts, keyed by id (absent ones are left out).
	PostsByID(ctx context.Context, ids []int64) (map[int64]*Post, error)

	// CustomerByAuthor reads a customer; SaveCustomer inserts it (ID 0,
	// setting ID) or updates it.
	CustomerByAuthor(ctx context.Context, platform Platform, authorID string) (*Customer, error)
	SaveCustomer(ctx context.Context, c *Customer) error
	// CustomersByAuthor reads the customers among authorIDs, keyed by
	// author id (absent ones are left out); SaveCustomers saves several.
	CustomersByAuthor(ctx context.Context, platform Platform, authorIDs []string) (map[string]*Customer, error)
	SaveCustomers(ctx context.Context, cs []*Customer) error

	// TicketByConversation, TicketByID and TicketByThread read a ticket;
	// TicketByThread finds it by its parent chat message.
	TicketByConversation(ctx context.Context, platform Platform, conversationKey string) (*Ticket, error)
	TicketByID(ctx context.Context, id int64) (*Ticket, error)
	TicketByThread(ctx context.Context, channel, ts string) (*Ticket, error)
	// CreateTicket inserts t and sets its ID; (Platform, ConversationKey)
	// is unique. UpdateTicket writes every mutable field but the thread
	// (SlackChannel, SlackTS), which only SetTicketThread(s) changes: the
	// relay records it while ingest may be updating the ticket.
	CreateTicket(ctx context.Context, t *Ticket) error
	UpdateTicket(ctx context.Context, t *Ticket) error
	// TicketsByConversation reads the tickets of several conversations,
	// keyed by conversation key (absent ones are left out). CreateTickets
	// and UpdateTickets write several tickets at once; CreateTickets
	// assigns ids in slice order.
	TicketsByConversation(ctx context.Context, platform Platform, conversationKeys []string) (map[string]*Ticket, error)
	CreateTickets(ctx context.Context, ts []*Ticket) error
	// TicketsByID reads several tickets, keyed by id (absent ones are left
	// out), without locking them.
	TicketsByID(ctx context.Context, ids []int64) (map[int64]*Ticket, error)
	UpdateTickets(ctx context.Context, ts []*Ticket) error
	// SetTicketThread records the ticket's parent chat message and changes
	// nothing else.
	SetTicketThread(ctx context.Context, ticketID int64, channel, ts string) error
	// SetTicketThreads does the same for several tickets, keyed by id.
	SetTicketThreads(ctx context.Context, threads map[int64]ChatRef) error
	// LatestTicketOfCustomer returns the customer's newest ticket other
	// than exceptID.
	LatestTicketOfCustomer(ctx context.Context, customerID, exceptID int64) (*Ticket, error)

	// SaveMirror records which chat message shows a post; (Channel, TS) is
	// unique and saving the same mapping twice is not an error.
	SaveMirror(ctx context.Context, m Mirror) error
	// SaveMirrors saves several mappings as SaveMirror does.
	SaveMirrors(ctx context.Context, ms []Mirror) error
	// MirrorsOfPost and MirrorsOfTicket list mappings in creation order.
	MirrorsOfPost(ctx context.Context, postID int64) ([]Mirror, error)
	MirrorsOfTicket(ctx context.Context, ticketID int64) ([]Mirror, error)

	// CreateDraft inserts d and sets its ID; (Channel, TS) is unique.
	// UpdateDraft writes every mutable field.
	CreateDraft(ctx context.Context, d *Draft) error
	UpdateDraft(ctx context.Context, d *Draft) error
	DraftByID(ctx context.Context, id int64) (*Draft, error)
	DraftByMessage(ctx context.Context, channel, ts string) (*Draft, error)
	DraftsOfTicket(ctx context.Context, ticketID int64) ([]Draft, error)
	// DraftsOfTickets lists the drafts of several tickets, oldest first,
	// keyed by ticket id (tickets without drafts are left out).
	DraftsOfTickets(ctx context.Context, ticketIDs []int64) (map[int64][]Draft, error)
	// AddApproval records a decision and sets a.ID.
	AddApproval(ctx context.Context, a *Approval) error
	ApprovalsOfDraft(ctx context.Context, draftID int64) ([]Approval, error)

	// Enqueue adds an outbox row (State pending) and sets its ID. When
	// DedupeKey is set and a row with that key exists, nothing is added
	// and enqueued is false.
	Enqueue(ctx context.Context, it *OutboxItem) (enqueued bool, err error)
	// EnqueueMany adds several rows as Enqueue does; their ids ascend in
	// slice order, so rows sharing an OrderKey run in that order.
	EnqueueMany(ctx context.Context, items []*OutboxItem) (enqueued []bool, err error)
	OutboxByID(ctx context.Context, id int64) (*OutboxItem, error)
	// CompleteOutbox marks a row done. RetryOutbox puts it back to pending
	// until next with the error recorded. KillOutbox marks it dead (a
	// permanent failure). Each returns ErrNotFound if the row is not
	// claimed by owner (its lease was lost), so a slow worker cannot
	// overwrite another's result.
	CompleteOutbox(ctx context.Context, id int64, owner string, now time.Time) error
	// CompleteOutboxMany marks several rows claimed by owner done; it
	// returns ErrNotFound (and the transaction must be abandoned) if any of
	// them is not claimed by owner.
	CompleteOutboxMany(ctx context.Context, ids []int64, owner string, now time.Time) error
	RetryOutbox(ctx context.Context, id int64, owner string, next time.Time, lastErr string, now time.Time) error
	KillOutbox(ctx context.Context, id int64, owner string, lastErr string, now time.Time) error
	// SettleOutbox clears a claimed row's unknown outcome (UnknownAt): a
	// check on the platform found that no earlier attempt got through.
	// DeferOutbox puts a claimed row back to pending until next, as
	// RetryOutbox does, but without counting the attempt: a check the
	// platform asked to wait for is no failure. Both return ErrNotFound if
	// the row is not claimed by owner.
	SettleOutbox(ctx context.Context, id int64, owner string, now time.Time) error
	// MarkOutboxUnknown sets a claimed row's UnknownAt to now: its attempt
	// failed but may have reached the platform, so it is checked before
	// it is sent again.
	MarkOutboxUnknown(ctx context.Context, id int64, owner string, now time.Time) error
	DeferOutbox(ctx context.Context, id int64, owner string, next time.Time, lastErr string, now time.Time) error

	// Cursor reads a poller's cursor ("" and no error when unset);
	// SetCursor saves it.
	Cursor(ctx context.Context, key string) (string, error)
	SetCursor(ctx context.Context, key, value string, now time.Time) error

	// MarkSeen records an external event id (a chat event, a DM event)
	// under a namespace and reports whether it is new.
	MarkSeen(ctx context.Context, namespace, id string, now time.Time) (first bool, err error)

	// InsertInbox stores a received chat event (State pending) unless a
	// row with its non-empty EventID exists; it sets ev.ID either way and
	// reports whether the row is new.
	InsertInbox(ctx context.Context, ev *InboxEvent) (inserted bool, err error)
	// LockInbox reads a pending inbox row and locks it until the
	// transaction ends. It returns ErrNotFound when the row is not
	// pending (done, dead) or, under PostgreSQL, locked by another
	// transaction (SKIP LOCKED): someone else is applying it.
	LockInbox(ctx context.Context, id int64) (*InboxEvent, error)
	// FinishInbox marks a pending row done or dead (counting an attempt
	// and recording lastErr); RetryInbox keeps it pending until next.
	// Both return ErrNotFound if the row is not pending.
	FinishInbox(ctx context.Context, id int64, state InboxState, lastErr string, now time.Time) error
	RetryInbox(ctx context.Context, id int64, next time.Time, lastErr string, now time.Time) error

	// ListTickets lists tickets matching f, oldest first.
	ListTickets(ctx context.Context, f TicketFilter) ([]Ticket, error)
	// TicketsActive lists department's tickets (every department when
	// empty) that a digest of [from, to) looks at: created in [from, to),
	// first answered in [from, to), or created before to and still without
	// a first response and not closed before from. Oldest first.
	TicketsActive(ctx context.Context, department string, from, to time.Time) ([]Ticket, error)
	// CountTicketsByDepartment counts the tickets created in [from, to)
	// per department.
	CountTicketsByDepartment(ctx context.Context, from, to time.Time) (map[string]int, error)
	// RootPosts returns the first posts of tickets of department (every
	// department when empty) created in [from, to), oldest first, at most
	// limit (0: no limit).
	RootPosts(ctx context.Context, department string, from, to time.Time, limit int) ([]Post, error)

	// RecordOpsEvent stores ev (setting ID) unless an event with its Key
	// exists, and reports whether it is new.
	RecordOpsEvent(ctx context.Context, ev *OpsEvent) (inserted bool, err error)
	// OpsEvents lists events matching f, by At then ID.
	OpsEvents(ctx context.Context, f OpsEventFilter) ([]OpsEvent, error)
	// LastOpsEvent returns the latest event (by At) of kind for department
	// with At before before, or ErrNotFound.
	LastOpsEvent(ctx context.Context, kind, department string, before time.Time) (*OpsEvent, error)

	// AppendAudit seals rec onto the end of the chain (setting Seq,
	// PrevHash and Hash) and stores it. Concurrent appends are serialized.
	AppendAudit(ctx context.Context, rec *AuditRecord) error
	// AuditRecords lists records in Seq order.
	AuditRecords(ctx context.Context, f AuditFilter) ([]AuditRecord, error)
}

// TxRunner runs fn in one transaction of a store, seen through T: a small
// port owned by the part of the core (or the adapter) that uses it, listing
// only the methods that part calls. It commits if fn returns nil and rolls
// back otherwise; fn must not keep tx after it returns.
type TxRunner[T any] interface {
	WithTx(ctx context.Context, fn func(tx T) error) error
}
