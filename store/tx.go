package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/carebridge/carebridge/bridge"
)

// Tx is one transaction of the store. It implements the port of every
// part of the core (see runner.go); consumers see it only through their
// own port, by Runner. The conformance suite (store/storetest) sees all
// of it, to run every method on both databases.
type Tx = tx

// tx is one database transaction. Queries are
// written with ? placeholders (or :name for struct arguments) and rebound
// for the dialect.
type tx struct {
	tx      *sqlx.Tx
	dialect string
	st      *Store
}

// get reads one row into dest, turning "no rows" into bridge.ErrNotFound.
func (t *tx) get(ctx context.Context, dest any, query string, args ...any) error {
	err := t.tx.GetContext(ctx, dest, t.tx.Rebind(query), args...)
	if errors.Is(err, sql.ErrNoRows) {
		return bridge.ErrNotFound
	}
	return err
}

// forUpdate locks the row read until the transaction ends (PostgreSQL), so
// that read-modify-write of a ticket, draft or customer by concurrent
// transactions serializes instead of losing an update. SQLite write
// transactions are serialized already.
//
// The lock is FOR NO KEY UPDATE, the lock an UPDATE of non-key columns
// takes: carebridge never changes or deletes these rows' keys, and the
// weaker lock does not block the foreign-key checks (FOR KEY SHARE) of
// rows inserted elsewhere meanwhile. With FOR UPDATE, every mirror the
// relay recorded for a ticket waited for an ingest transaction that
// merely updated that ticket.
func (t *tx) forUpdate() string {
	if t.dialect == DialectPostgres {
		return " FOR NO KEY UPDATE"
	}
	return ""
}

// forUpdateOf is forUpdate for the rows of table alias in a join.
func (t *tx) forUpdateOf(alias string) string {
	if t.dialect == DialectPostgres {
		return " FOR NO KEY UPDATE OF " + alias
	}
	return ""
}

// list reads rows into dest, a pointer to a slice.
func (t *tx) list(ctx context.Context, dest any, query string, args ...any) error {
	return t.tx.SelectContext(ctx, dest, t.tx.Rebind(query), args...)
}

// exec runs a statement and returns the number of rows it changed.
func (t *tx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, t.tx.Rebind(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// namedExec runs a statement with :name parameters taken from arg and
// returns the number of rows it changed.
func (t *tx) namedExec(ctx context.Context, query string, arg any) (int64, error) {
	q, args, err := t.tx.BindNamed(query, arg)
	if err != nil {
		return 0, err
	}
	res, err := t.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// namedInsert runs an INSERT … RETURNING id with :name parameters. It
// returns sql.ErrNoRows when ON CONFLICT DO NOTHING skipped the row.
func (t *tx) namedInsert(ctx context.Context, query string, arg any) (int64, error) {
	q, args, err := t.tx.BindNamed(query, arg)
	if err != nil {
		return 0, err
	}
	var id int64
	err = t.tx.QueryRowxContext(ctx, q, args...).Scan(&id)
	return id, err
}

// ---- posts

const postColumns = `id, platform, external_id, source, author_id, author_handle, author_name,
	text, lang, created_at, received_at, url, conversation_key, in_reply_to, mentions,
	eligibility, raw, title`

type postRow struct {
	ID              int64   `db:"id"`
	Platform        string  `db:"platform"`
	ExternalID      string  `db:"external_id"`
	Source          string  `db:"source"`
	AuthorID        string  `db:"author_id"`
	AuthorHandle    string  `db:"author_handle"`
	AuthorName      string  `db:"author_name"`
	Text            string  `db:"text"`
	Lang            string  `db:"lang"`
	CreatedAt       dbTime  `db:"created_at"`
	ReceivedAt      dbTime  `db:"received_at"`
	URL             string  `db:"url"`
	ConversationKey string  `db:"conversation_key"`
	InReplyTo       string  `db:"in_reply_to"`
	Mentions        strList `db:"mentions"`
	Eligibility     string  `db:"eligibility"`
	Raw             rawText `db:"raw"`
	Title           string  `db:"title"`
}

func toPostRow(p *bridge.Post) postRow {
	return postRow{
		ID: p.ID, Platform: string(p.Platform), ExternalID: p.ExternalID, Source: string(p.Source),
		AuthorID: p.AuthorID, AuthorHandle: p.AuthorHandle, AuthorName: p.AuthorName,
		Text: p.Text, Lang: p.Lang, CreatedAt: dbTime(p.CreatedAt), ReceivedAt: dbTime(p.ReceivedAt),
		URL: p.URL, ConversationKey: p.ConversationKey, InReplyTo: p.InReplyTo,
		Mentions: p.Mentions, Eligibility: string(p.Eligibility), Raw: rawText(p.Raw), Title: p.Title,
	}
}

func (r postRow) post() *bridge.Post {
	return &bridge.Post{
		ID: r.ID, Platform: bridge.Platform(r.Platform), ExternalID: r.ExternalID,
		Source: bridge.SourceKind(r.Source), AuthorID: r.AuthorID, AuthorHandle: r.AuthorHandle,
		AuthorName: r.AuthorName, Text: r.Text, Lang: r.Lang, CreatedAt: r.CreatedAt.time(),
		ReceivedAt: r.ReceivedAt.time(), URL: r.URL, ConversationKey: r.ConversationKey,
		InReplyTo: r.InReplyTo, Mentions: r.Mentions, Eligibility: bridge.Eligibility(r.Eligibility),
		Raw: r.Raw.json(), Title: r.Title,
	}
}

// InsertPost stores p unless (Platform, ExternalID) exists already, sets
// p.ID either way and reports whether the post is new.
func (t *tx) InsertPost(ctx context.Context, p *bridge.Post) (bool, error) {
	if p.Platform == "" || p.ExternalID == "" {
		return false, fmt.Errorf("insert post %q/%q: platform and external id are required", p.Platform, p.ExternalID)
	}
	id, err := t.namedInsert(ctx, `
		INSERT INTO posts (platform, external_id, source, author_id, author_handle, author_name,
			text, lang, created_at, received_at, url, conversation_key, in_reply_to, mentions,
			eligibility, raw, title)
		VALUES (:platform, :external_id, :source, :author_id, :author_handle, :author_name,
			:text, :lang, :created_at, :received_at, :url, :conversation_key, :in_reply_to, :mentions,
			:eligibility, :raw, :title)
		ON CONFLICT (platform, external_id) DO NOTHING
		RETURNING id`, toPostRow(p))
	switch {
	case err == nil:
		p.ID = id
		return true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("insert post %s/%s: %w", p.Platform, p.ExternalID, err)
	}
	if err := t.get(ctx, &id, `SELECT id FROM posts WHERE platform = ? AND external_id = ?`,
		p.Platform, p.ExternalID); err != nil {
		return false, fmt.Errorf("insert post %s/%s: read existing id: %w", p.Platform, p.ExternalID, err)
	}
	p.ID = id
	return false, nil
}

// PostByID reads a post by its store id.
func (t *tx) PostByID(ctx context.Context, id int64) (*bridge.Post, error) {
	var r postRow
	if err := t.get(ctx, &r, `SELECT `+postColumns+` FROM posts WHERE id = ?`, id); err != nil {
		return nil, fmt.Errorf("read post %d: %w", id, err)
	}
	return r.post(), nil
}

// ---- customers

const customerColumns = `id, platform, author_id, handle, name, first_seen, last_seen,
	ticket_count, last_department, last_ticket_at`

type customerRow struct {
	ID             int64  `db:"id"`
	Platform       string `db:"platform"`
	AuthorID       string `db:"author_id"`
	Handle         string `db:"handle"`
	Name           string `db:"name"`
	FirstSeen      dbTime `db:"first_seen"`
	LastSeen       dbTime `db:"last_seen"`
	TicketCount    int    `db:"ticket_count"`
	LastDepartment string `db:"last_department"`
	LastTicketAt   dbTime `db:"last_ticket_at"`
}

func toCustomerRow(c *bridge.Customer) customerRow {
	return customerRow{
		ID: c.ID, Platform: string(c.Platform), AuthorID: c.AuthorID, Handle: c.Handle, Name: c.Name,
		FirstSeen: dbTime(c.FirstSeen), LastSeen: dbTime(c.LastSeen), TicketCount: c.TicketCount,
		LastDepartment: c.LastDepartment, LastTicketAt: dbTime(c.LastTicketAt),
	}
}

func (r customerRow) customer() *bridge.Customer {
	return &bridge.Customer{
		ID: r.ID, Platform: bridge.Platform(r.Platform), AuthorID: r.AuthorID, Handle: r.Handle,
		Name: r.Name, FirstSeen: r.FirstSeen.time(), LastSeen: r.LastSeen.time(),
		TicketCount: r.TicketCount, LastDepartment: r.LastDepartment, LastTicketAt: r.LastTicketAt.time(),
	}
}

// ---- tickets

// ticketColumns selects a ticket from ticketsFrom (alias t), with its
// chat thread, which lives in ticket_threads. The thread is read by two
// look-ups on that table's key rather than a join, so that no plan (a
// prepared statement's generic plan in particular) can turn it into a scan
// of the whole table.
//
// The thread is a table of its own (migration 0007) because the relay
// writes it when a ticket's parent message is posted, while ingest updates
// the ticket for every follow-up: as a column of tickets, each thread
// waited for the row lock of an ingest transaction, and each cost a new
// version of the ticket row in all its indexes.
const ticketColumns = `t.id, t.platform, t.conversation_key, t.department, t.fyi, t.matched, t.tags, t.state,
	t.customer_id, t.root_post_id, t.account,
	COALESCE((SELECT th.channel FROM ticket_threads th WHERE th.ticket_id = t.id), '') AS slack_channel,
	COALESCE((SELECT th.ts FROM ticket_threads th WHERE th.ticket_id = t.id), '') AS slack_ts,
	t.created_at, t.updated_at, t.last_customer_at, t.first_response_at, t.answered_at, t.closed_at`

// ticketsFrom is the FROM clause of ticketColumns.
const ticketsFrom = `tickets t`

type ticketRow struct {
	ID              int64   `db:"id"`
	Platform        string  `db:"platform"`
	ConversationKey string  `db:"conversation_key"`
	Department      string  `db:"department"`
	FYI             strList `db:"fyi"`
	Matched         strList `db:"matched"`
	Tags            strList `db:"tags"`
	State           string  `db:"state"`
	CustomerID      nullID  `db:"customer_id"`
	RootPostID      nullID  `db:"root_post_id"`
	Account         string  `db:"account"`
	SlackChannel    string  `db:"slack_channel"`
	SlackTS         string  `db:"slack_ts"`
	CreatedAt       dbTime  `db:"created_at"`
	UpdatedAt       dbTime  `db:"updated_at"`
	LastCustomerAt  dbTime  `db:"last_customer_at"`
	FirstResponseAt dbTime  `db:"first_response_at"`
	AnsweredAt      dbTime  `db:"answered_at"`
	ClosedAt        dbTime  `db:"closed_at"`
}

func toTicketRow(k *bridge.Ticket) ticketRow {
	return ticketRow{
		ID: k.ID, Platform: string(k.Platform), ConversationKey: k.ConversationKey,
		Department: k.Department, FYI: k.FYI, Matched: k.Matched, Tags: k.Tags,
		State: string(k.State), CustomerID: nullID(k.CustomerID), RootPostID: nullID(k.RootPostID),
		Account: k.Account, SlackChannel: k.SlackChannel, SlackTS: k.SlackTS,
		CreatedAt: dbTime(k.CreatedAt), UpdatedAt: dbTime(k.UpdatedAt),
		LastCustomerAt: dbTime(k.LastCustomerAt), FirstResponseAt: dbTime(k.FirstResponseAt),
		AnsweredAt: dbTime(k.AnsweredAt), ClosedAt: dbTime(k.ClosedAt),
	}
}

func (r ticketRow) ticket() *bridge.Ticket {
	return &bridge.Ticket{
		ID: r.ID, Platform: bridge.Platform(r.Platform), ConversationKey: r.ConversationKey,
		Department: r.Department, FYI: r.FYI, Matched: r.Matched, Tags: r.Tags,
		State: bridge.TicketState(r.State), CustomerID: int64(r.CustomerID),
		RootPostID: int64(r.RootPostID), Account: r.Account, SlackChannel: r.SlackChannel,
		SlackTS: r.SlackTS, CreatedAt: r.CreatedAt.time(), UpdatedAt: r.UpdatedAt.time(),
		LastCustomerAt: r.LastCustomerAt.time(), FirstResponseAt: r.FirstResponseAt.time(),
		AnsweredAt: r.AnsweredAt.time(), ClosedAt: r.ClosedAt.time(),
	}
}

// TicketByID reads a ticket by its store id.
func (t *tx) TicketByID(ctx context.Context, id int64) (*bridge.Ticket, error) {
	var r ticketRow
	if err := t.get(ctx, &r, `SELECT `+ticketColumns+` FROM `+ticketsFrom+` WHERE t.id = ?`+t.forUpdate(), id); err != nil {
		return nil, fmt.Errorf("read ticket %d: %w", id, err)
	}
	return r.ticket(), nil
}

// TicketByThread reads the ticket whose parent chat message is channel/ts.
func (t *tx) TicketByThread(ctx context.Context, channel, ts string) (*bridge.Ticket, error) {
	if channel == "" || ts == "" {
		// Tickets not mirrored yet have an empty thread; never match them.
		return nil, fmt.Errorf("read ticket of thread %q/%q: %w", channel, ts, bridge.ErrNotFound)
	}
	var r ticketRow
	if err := t.get(ctx, &r, `SELECT `+ticketColumns+` FROM tickets t JOIN ticket_threads th ON th.ticket_id = t.id
		WHERE th.channel = ? AND th.ts = ? ORDER BY t.id LIMIT 1`+t.forUpdateOf("t"), channel, ts); err != nil {
		return nil, fmt.Errorf("read ticket of thread %s/%s: %w", channel, ts, err)
	}
	return r.ticket(), nil
}

// UpdateTicket writes every field of k but its identity (ID, Platform,
// ConversationKey), CreatedAt and its thread (see SetTicketThreads).
func (t *tx) UpdateTicket(ctx context.Context, k *bridge.Ticket) error {
	n, err := t.namedExec(ctx, `
		UPDATE tickets SET department = :department, fyi = :fyi, matched = :matched, tags = :tags,
			state = :state, customer_id = :customer_id, root_post_id = :root_post_id,
			account = :account, updated_at = :updated_at, last_customer_at = :last_customer_at,
			first_response_at = :first_response_at, answered_at = :answered_at, closed_at = :closed_at
		WHERE id = :id`, toTicketRow(k))
	if err != nil {
		return fmt.Errorf("update ticket %d: %w", k.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("update ticket %d: %w", k.ID, bridge.ErrNotFound)
	}
	return nil
}

// ---- mirrors

const mirrorColumns = `post_id, ticket_id, department, role, channel, ts, thread_ts, created_at`

type mirrorRow struct {
	PostID     int64  `db:"post_id"`
	TicketID   nullID `db:"ticket_id"`
	Department string `db:"department"`
	Role       string `db:"role"`
	Channel    string `db:"channel"`
	TS         string `db:"ts"`
	ThreadTS   string `db:"thread_ts"`
	CreatedAt  dbTime `db:"created_at"`
}

func (r mirrorRow) mirror() bridge.Mirror {
	return bridge.Mirror{
		PostID: r.PostID, TicketID: int64(r.TicketID), Department: r.Department,
		Role: bridge.MirrorRole(r.Role), Channel: r.Channel, TS: r.TS, ThreadTS: r.ThreadTS,
		CreatedAt: r.CreatedAt.time(),
	}
}

// MirrorsOfTicket lists the messages that show a ticket's posts, oldest
// first.
func (t *tx) MirrorsOfTicket(ctx context.Context, ticketID int64) ([]bridge.Mirror, error) {
	return t.mirrors(ctx, "ticket", `SELECT `+mirrorColumns+` FROM mirrors WHERE ticket_id = ? ORDER BY id`, ticketID)
}

func (t *tx) mirrors(ctx context.Context, of string, query string, id int64) ([]bridge.Mirror, error) {
	var rows []mirrorRow
	if err := t.list(ctx, &rows, query, id); err != nil {
		return nil, fmt.Errorf("list mirrors of %s %d: %w", of, id, err)
	}
	out := make([]bridge.Mirror, len(rows))
	for i, r := range rows {
		out[i] = r.mirror()
	}
	return out, nil
}

// ---- drafts and approvals

const draftColumns = `id, ticket_id, channel, ts, author, text, visibility, state, guard_reason,
	reply_to, account, recipient, approved_by, approved_at, sent_id, sent_url, error, created_at, updated_at, sent_at`

type draftRow struct {
	ID          int64  `db:"id"`
	TicketID    int64  `db:"ticket_id"`
	Channel     string `db:"channel"`
	TS          string `db:"ts"`
	Author      string `db:"author"`
	Text        string `db:"text"`
	Visibility  string `db:"visibility"`
	State       string `db:"state"`
	GuardReason string `db:"guard_reason"`
	ReplyTo     nullID `db:"reply_to"`
	Account     string `db:"account"`
	Recipient   string `db:"recipient"`
	ApprovedBy  string `db:"approved_by"`
	ApprovedAt  dbTime `db:"approved_at"`
	SentID      string `db:"sent_id"`
	SentURL     string `db:"sent_url"`
	Error       string `db:"error"`
	CreatedAt   dbTime `db:"created_at"`
	UpdatedAt   dbTime `db:"updated_at"`
	SentAt      dbTime `db:"sent_at"`
}

func toDraftRow(d *bridge.Draft) draftRow {
	return draftRow{
		ID: d.ID, TicketID: d.TicketID, Channel: d.Channel, TS: d.TS, Author: d.Author, Text: d.Text,
		Visibility: string(d.Visibility), State: string(d.State), GuardReason: d.GuardReason,
		ReplyTo: nullID(d.ReplyTo), Account: d.Account, Recipient: d.Recipient,
		ApprovedBy: d.ApprovedBy, ApprovedAt: dbTime(d.ApprovedAt), SentID: d.SentID, SentURL: d.SentURL, Error: d.Error,
		CreatedAt: dbTime(d.CreatedAt), UpdatedAt: dbTime(d.UpdatedAt), SentAt: dbTime(d.SentAt),
	}
}

func (r draftRow) draft() bridge.Draft {
	return bridge.Draft{
		ID: r.ID, TicketID: r.TicketID, Channel: r.Channel, TS: r.TS, Author: r.Author, Text: r.Text,
		Visibility: bridge.Visibility(r.Visibility), State: bridge.DraftState(r.State),
		GuardReason: r.GuardReason, ReplyTo: int64(r.ReplyTo), Account: r.Account, Recipient: r.Recipient,
		ApprovedBy: r.ApprovedBy, ApprovedAt: r.ApprovedAt.time(), SentID: r.SentID, SentURL: r.SentURL,
		Error: r.Error, CreatedAt: r.CreatedAt.time(), UpdatedAt: r.UpdatedAt.time(), SentAt: r.SentAt.time(),
	}
}

// CreateDraft inserts d and sets its ID; (Channel, TS) is unique.
func (t *tx) CreateDraft(ctx context.Context, d *bridge.Draft) error {
	if d.TicketID == 0 || d.Channel == "" || d.TS == "" {
		return fmt.Errorf("create draft of ticket %d at %q/%q: ticket, channel and ts are required", d.TicketID, d.Channel, d.TS)
	}
	id, err := t.namedInsert(ctx, `
		INSERT INTO drafts (ticket_id, channel, ts, author, text, visibility, state, guard_reason,
			reply_to, account, recipient, approved_by, approved_at, sent_id, sent_url, error, created_at, updated_at, sent_at)
		VALUES (:ticket_id, :channel, :ts, :author, :text, :visibility, :state, :guard_reason,
			:reply_to, :account, :recipient, :approved_by, :approved_at, :sent_id, :sent_url, :error, :created_at, :updated_at, :sent_at)
		RETURNING id`, toDraftRow(d))
	if err != nil {
		return fmt.Errorf("create draft of ticket %d at %s/%s: %w", d.TicketID, d.Channel, d.TS, err)
	}
	d.ID = id
	return nil
}

// UpdateDraft writes every field of d but its identity (ID, TicketID,
// Channel, TS), Author and CreatedAt.
func (t *tx) UpdateDraft(ctx context.Context, d *bridge.Draft) error {
	n, err := t.namedExec(ctx, `
		UPDATE drafts SET text = :text, visibility = :visibility, state = :state,
			guard_reason = :guard_reason, reply_to = :reply_to, account = :account, recipient = :recipient,
			approved_by = :approved_by, approved_at = :approved_at, sent_id = :sent_id,
			sent_url = :sent_url, error = :error, updated_at = :updated_at, sent_at = :sent_at
		WHERE id = :id`, toDraftRow(d))
	if err != nil {
		return fmt.Errorf("update draft %d: %w", d.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("update draft %d: %w", d.ID, bridge.ErrNotFound)
	}
	return nil
}

// DraftByID reads a draft by its store id.
func (t *tx) DraftByID(ctx context.Context, id int64) (*bridge.Draft, error) {
	var r draftRow
	if err := t.get(ctx, &r, `SELECT `+draftColumns+` FROM drafts WHERE id = ?`+t.forUpdate(), id); err != nil {
		return nil, fmt.Errorf("read draft %d: %w", id, err)
	}
	d := r.draft()
	return &d, nil
}

// DraftByMessage reads the draft written as chat message channel/ts.
func (t *tx) DraftByMessage(ctx context.Context, channel, ts string) (*bridge.Draft, error) {
	var r draftRow
	if err := t.get(ctx, &r, `SELECT `+draftColumns+` FROM drafts WHERE channel = ? AND ts = ?`+t.forUpdate(),
		channel, ts); err != nil {
		return nil, fmt.Errorf("read draft of message %s/%s: %w", channel, ts, err)
	}
	d := r.draft()
	return &d, nil
}

// DraftsOfTickets lists the drafts of several tickets, oldest first, by
// ticket id.
func (t *tx) DraftsOfTickets(ctx context.Context, ticketIDs []int64) (map[int64][]bridge.Draft, error) {
	var rows []draftRow
	if err := selectIn(ctx, t, &rows, `SELECT `+draftColumns+` FROM drafts WHERE ticket_id`, nil,
		uniqIDs(ticketIDs), " ORDER BY id"); err != nil {
		return nil, fmt.Errorf("list drafts of %d tickets: %w", len(ticketIDs), err)
	}
	out := map[int64][]bridge.Draft{}
	for _, r := range rows {
		d := r.draft()
		out[d.TicketID] = append(out[d.TicketID], d)
	}
	return out, nil
}

type approvalRow struct {
	ID        int64  `db:"id"`
	DraftID   int64  `db:"draft_id"`
	User      string `db:"user_id"`
	Emoji     string `db:"emoji"`
	Decision  string `db:"decision"`
	CreatedAt dbTime `db:"created_at"`
}

// AddApproval records an approver's decision and sets a.ID.
func (t *tx) AddApproval(ctx context.Context, a *bridge.Approval) error {
	if a.DraftID == 0 || a.Decision == "" {
		return fmt.Errorf("add approval of draft %d: draft and decision are required", a.DraftID)
	}
	id, err := t.namedInsert(ctx, `
		INSERT INTO approvals (draft_id, user_id, emoji, decision, created_at)
		VALUES (:draft_id, :user_id, :emoji, :decision, :created_at)
		RETURNING id`, approvalRow{
		DraftID: a.DraftID, User: a.User, Emoji: a.Emoji, Decision: string(a.Decision),
		CreatedAt: dbTime(a.CreatedAt),
	})
	if err != nil {
		return fmt.Errorf("add approval of draft %d by %s: %w", a.DraftID, a.User, err)
	}
	a.ID = id
	return nil
}

// ---- poll cursors and seen events

// Cursor reads a poller's cursor; it is "" with no error when unset.
func (t *tx) Cursor(ctx context.Context, key string) (string, error) {
	var v string
	err := t.get(ctx, &v, `SELECT value FROM poll_cursors WHERE name = ?`, key)
	if errors.Is(err, bridge.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cursor %s: %w", key, err)
	}
	return v, nil
}

// SetCursor saves a poller's cursor.
func (t *tx) SetCursor(ctx context.Context, key, value string, now time.Time) error {
	if _, err := t.exec(ctx, `
		INSERT INTO poll_cursors (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, dbTime(now)); err != nil {
		return fmt.Errorf("save cursor %s: %w", key, err)
	}
	return nil
}

// MarkSeen records an external event id under a namespace and reports
// whether it is new.
func (t *tx) MarkSeen(ctx context.Context, namespace, id string, now time.Time) (bool, error) {
	n, err := t.exec(ctx, `
		INSERT INTO seen_events (namespace, event_id, seen_at) VALUES (?, ?, ?)
		ON CONFLICT (namespace, event_id) DO NOTHING`, namespace, id, dbTime(now))
	if err != nil {
		return false, fmt.Errorf("mark event %s/%s seen: %w", namespace, id, err)
	}
	return n > 0, nil
}
