package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/carebridge/carebridge/bridge"
)

// Set-based variants of the per-row methods, so that ingest stores a whole
// batch of posts with a handful of statements instead of several per post.
// Every statement is chunked so that it stays well below both databases'
// limits on bound parameters.

// maxParams bounds the parameters of one statement (SQLite allows 32,766,
// PostgreSQL 65,535).
const maxParams = 8000

// chunkRows is how many rows of cols columns go into one statement.
func chunkRows(cols int) int { return max(1, maxParams/max(cols, 1)) }

// valuesRows returns "(?, ?), (?, ?)" for n rows of cols columns.
func valuesRows(n, cols int) string {
	one := "(" + placeholders(cols) + ")"
	var b strings.Builder
	b.Grow(n * (len(one) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

// rowArgs appends the fields of the struct row tagged with cols (db tags).
func (t *tx) rowArgs(args []any, row any, cols []string) []any {
	v := reflect.ValueOf(row)
	for _, c := range cols {
		f := t.tx.Mapper.FieldByName(v, c)
		if !f.IsValid() {
			panic(fmt.Sprintf("store: no field for column %q in %T", c, row))
		}
		args = append(args, f.Interface())
	}
	return args
}

// insertRows runs "INSERT INTO table (cols) VALUES …" + tail for rows, in
// chunks, and hands each returned row (when tail has RETURNING) to scan.
func insertRows[R any](ctx context.Context, t *tx, table string, cols []string, rows []R, tail string, scan func(*sqlx.Rows) error) error {
	if t.dialect == DialectPostgres {
		return insertRowsPG(ctx, t, table, cols, rows, tail, scan)
	}
	step := chunkRows(len(cols))
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	for start := 0; start < len(rows); start += step {
		part := rows[start:min(start+step, len(rows))]
		args := make([]any, 0, len(part)*len(cols))
		for _, r := range part {
			args = t.rowArgs(args, r, cols)
		}
		q := t.tx.Rebind(head + valuesRows(len(part), len(cols)) + " " + tail)
		if scan == nil {
			if _, err := t.tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
			continue
		}
		rs, err := t.tx.QueryxContext(ctx, q, args...)
		if err != nil {
			return err
		}
		for rs.Next() {
			if err := scan(rs); err != nil {
				rs.Close()
				return err
			}
		}
		if err := rs.Close(); err != nil {
			return err
		}
		if err := rs.Err(); err != nil {
			return err
		}
	}
	return nil
}

// selectIn reads rows "… WHERE <prefix> col IN (keys)" + tail in chunks into
// dest, a pointer to a slice; prefixArgs are bound before the keys.
func selectIn[K any](ctx context.Context, t *tx, dest any, query string, prefixArgs []any, keys []K, tail string) error {
	dv := reflect.ValueOf(dest).Elem()
	all := reflect.MakeSlice(dv.Type(), 0, len(keys))
	step := chunkRows(1) - len(prefixArgs)
	for start := 0; start < len(keys); start += step {
		part := keys[start:min(start+step, len(keys))]
		args := append([]any(nil), prefixArgs...)
		for _, k := range part {
			args = append(args, k)
		}
		got := reflect.New(dv.Type())
		if err := t.list(ctx, got.Interface(), query+" IN ("+placeholders(len(part))+")"+tail, args...); err != nil {
			return err
		}
		all = reflect.AppendSlice(all, got.Elem())
	}
	dv.Set(all)
	return nil
}

// selectByID reads rows "<query> IN (ids)", query ending in "WHERE <id
// column>": under PostgreSQL with one prepared statement, "= ANY ($1)",
// whatever the number of ids; under SQLite with selectIn.
func selectByID(ctx context.Context, t *tx, dest any, query string, ids []int64) error {
	if t.dialect == DialectPostgres {
		return t.selectStmt(ctx, dest, query+" = ANY ($1)", pq.Int64Array(ids))
	}
	return selectIn(ctx, t, dest, query, nil, ids, "")
}

// uniq returns the distinct non-empty values of v in first-seen order.
func uniq(v []string) []string {
	seen := make(map[string]bool, len(v))
	out := make([]string, 0, len(v))
	for _, s := range v {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ---- posts

var postInsertCols = []string{"platform", "external_id", "source", "author_id", "author_handle", "author_name",
	"text", "lang", "created_at", "received_at", "url", "conversation_key", "in_reply_to", "mentions",
	"eligibility", "raw", "title"}

// InsertPosts stores the posts not stored yet, sets every post's ID and
// reports for each whether it is new. A post listed twice is new only the
// first time.
func (t *tx) InsertPosts(ctx context.Context, posts []*bridge.Post) ([]bool, error) {
	if len(posts) == 0 {
		return nil, nil
	}
	rows := make([]postRow, len(posts))
	for i, p := range posts {
		if p.Platform == "" || p.ExternalID == "" {
			return nil, fmt.Errorf("insert post %q/%q: platform and external id are required", p.Platform, p.ExternalID)
		}
		rows[i] = toPostRow(p)
	}
	type key struct{ platform, id string }
	newIDs := make(map[key]int64, len(posts))
	err := insertRows(ctx, t, "posts", postInsertCols, rows,
		"ON CONFLICT (platform, external_id) DO NOTHING RETURNING id, platform, external_id",
		func(rs *sqlx.Rows) error {
			var id int64
			var k key
			if err := rs.Scan(&id, &k.platform, &k.id); err != nil {
				return err
			}
			newIDs[k] = id
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("insert %d posts: %w", len(posts), err)
	}
	inserted := make([]bool, len(posts))
	missing := map[bridge.Platform][]string{}
	for i, p := range posts {
		k := key{string(p.Platform), p.ExternalID}
		if id, ok := newIDs[k]; ok {
			p.ID, inserted[i] = id, true
			delete(newIDs, k) // a second copy in the batch is a duplicate
			continue
		}
		missing[p.Platform] = append(missing[p.Platform], p.ExternalID)
	}
	for platform, ext := range missing {
		ids, err := t.PostIDs(ctx, platform, ext)
		if err != nil {
			return nil, fmt.Errorf("insert posts: read existing ids: %w", err)
		}
		for i, p := range posts {
			if !inserted[i] && p.Platform == platform {
				id, ok := ids[p.ExternalID]
				if !ok {
					return nil, fmt.Errorf("insert post %s/%s: neither inserted nor found", p.Platform, p.ExternalID)
				}
				p.ID = id
			}
		}
	}
	return inserted, nil
}

// PostIDs returns the store ids of the posts among externalIDs that are
// stored, by external id.
func (t *tx) PostIDs(ctx context.Context, platform bridge.Platform, externalIDs []string) (map[string]int64, error) {
	var rows []struct {
		ID         int64  `db:"id"`
		ExternalID string `db:"external_id"`
	}
	if err := selectIn(ctx, t, &rows, `SELECT id, external_id FROM posts WHERE platform = ? AND external_id`,
		[]any{platform}, uniq(externalIDs), ""); err != nil {
		return nil, fmt.Errorf("read ids of %d posts: %w", len(externalIDs), err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.ExternalID] = r.ID
	}
	return out, nil
}

// PostsByID reads the stored posts among ids, by id.
func (t *tx) PostsByID(ctx context.Context, ids []int64) (map[int64]*bridge.Post, error) {
	var rows []postRow
	if err := selectByID(ctx, t, &rows, `SELECT `+postColumns+` FROM posts WHERE id`, uniqIDs(ids)); err != nil {
		return nil, fmt.Errorf("read %d posts: %w", len(ids), err)
	}
	out := make(map[int64]*bridge.Post, len(rows))
	for _, r := range rows {
		out[r.ID] = r.post()
	}
	return out, nil
}

// uniqIDs returns the distinct non-zero ids in first-seen order.
func uniqIDs(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if id != 0 && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// ---- customers

var customerInsertCols = []string{"platform", "author_id", "handle", "name", "first_seen", "last_seen",
	"ticket_count", "last_department", "last_ticket_at"}

// CustomersByAuthor reads (and, under PostgreSQL, locks) the customers
// among authorIDs, by author id.
func (t *tx) CustomersByAuthor(ctx context.Context, platform bridge.Platform, authorIDs []string) (map[string]*bridge.Customer, error) {
	var rows []customerRow
	if err := selectIn(ctx, t, &rows, `SELECT `+customerColumns+` FROM customers WHERE platform = ? AND author_id`,
		[]any{platform}, uniq(authorIDs), " ORDER BY id"+t.forUpdate()); err != nil {
		return nil, fmt.Errorf("read %d customers: %w", len(authorIDs), err)
	}
	out := make(map[string]*bridge.Customer, len(rows))
	for _, r := range rows {
		out[r.AuthorID] = r.customer()
	}
	return out, nil
}

// SaveCustomers inserts the new customers (ID 0, setting ID) with one
// statement and updates the others with another; (Platform, AuthorID) is
// unique and does not change.
func (t *tx) SaveCustomers(ctx context.Context, cs []*bridge.Customer) error {
	var fresh, known []customerRow
	byKey := map[[2]string]*bridge.Customer{}
	for _, c := range cs {
		if c.ID != 0 {
			known = append(known, toCustomerRow(c))
			continue
		}
		if c.Platform == "" || c.AuthorID == "" {
			return fmt.Errorf("insert customer %q/%q: platform and author id are required", c.Platform, c.AuthorID)
		}
		fresh = append(fresh, toCustomerRow(c))
		byKey[[2]string{string(c.Platform), c.AuthorID}] = c
	}
	if len(fresh) > 0 {
		err := insertRows(ctx, t, "customers", customerInsertCols, fresh, "RETURNING id, platform, author_id",
			func(rs *sqlx.Rows) error {
				var id int64
				var k [2]string
				if err := rs.Scan(&id, &k[0], &k[1]); err != nil {
					return err
				}
				if c := byKey[k]; c != nil {
					c.ID = id
				}
				return nil
			})
		if err != nil {
			return fmt.Errorf("insert %d customers: %w", len(fresh), err)
		}
	}
	if len(known) > 0 {
		cols := append([]string{"id"}, customerInsertCols...)
		n := 0
		err := insertRows(ctx, t, "customers", cols, known, `ON CONFLICT (id) DO UPDATE SET
			handle = excluded.handle, name = excluded.name, first_seen = excluded.first_seen,
			last_seen = excluded.last_seen, ticket_count = excluded.ticket_count,
			last_department = excluded.last_department, last_ticket_at = excluded.last_ticket_at
			RETURNING id`, func(rs *sqlx.Rows) error { n++; return nil })
		if err != nil {
			return fmt.Errorf("update %d customers: %w", len(known), err)
		}
		if n != len(known) {
			return fmt.Errorf("update %d customers: %d written: %w", len(known), n, bridge.ErrNotFound)
		}
	}
	return nil
}

// ---- tickets

// ticketInsertCols are the columns CreateTicket(s) write; ticketUpdateCols
// those UpdateTicket(s) write.
var (
	ticketInsertCols = []string{"platform", "conversation_key", "department", "fyi", "matched", "tags", "state",
		"customer_id", "root_post_id", "account", "created_at", "updated_at",
		"last_customer_at", "first_response_at", "answered_at", "closed_at"}
	ticketUpdateCols = []string{"department", "fyi", "matched", "tags", "state", "customer_id", "root_post_id",
		"account", "updated_at", "last_customer_at", "first_response_at",
		"answered_at", "closed_at"}
)

// TicketsByConversation reads (and, under PostgreSQL, locks) the tickets of
// the conversations among keys, by conversation key.
func (t *tx) TicketsByConversation(ctx context.Context, platform bridge.Platform, keys []string) (map[string]*bridge.Ticket, error) {
	var rows []ticketRow
	if err := selectIn(ctx, t, &rows, `SELECT `+ticketColumns+` FROM `+ticketsFrom+` WHERE t.platform = ? AND t.conversation_key`,
		[]any{platform}, uniq(keys), " ORDER BY t.id"+t.forUpdateOf("t")); err != nil {
		return nil, fmt.Errorf("read tickets of %d conversations: %w", len(keys), err)
	}
	out := make(map[string]*bridge.Ticket, len(rows))
	for _, r := range rows {
		out[r.ConversationKey] = r.ticket()
	}
	return out, nil
}

// TicketsByID reads the tickets among ids, by id, without locking them.
func (t *tx) TicketsByID(ctx context.Context, ids []int64) (map[int64]*bridge.Ticket, error) {
	var rows []ticketRow
	if err := selectByID(ctx, t, &rows, `SELECT `+ticketColumns+` FROM `+ticketsFrom+` WHERE t.id`, uniqIDs(ids)); err != nil {
		return nil, fmt.Errorf("read %d tickets: %w", len(ids), err)
	}
	out := make(map[int64]*bridge.Ticket, len(rows))
	for _, r := range rows {
		out[r.ID] = r.ticket()
	}
	return out, nil
}

// CreateTickets inserts several tickets (with their threads, if set) in
// order (ids ascend with the slice) and sets their IDs; (Platform,
// ConversationKey) is unique.
func (t *tx) CreateTickets(ctx context.Context, ks []*bridge.Ticket) error {
	if len(ks) == 0 {
		return nil
	}
	rows := make([]ticketRow, len(ks))
	byKey := make(map[[2]string]*bridge.Ticket, len(ks))
	for i, k := range ks {
		if k.Platform == "" || k.ConversationKey == "" {
			return fmt.Errorf("create ticket %q/%q: platform and conversation key are required", k.Platform, k.ConversationKey)
		}
		rows[i] = toTicketRow(k)
		byKey[[2]string{string(k.Platform), k.ConversationKey}] = k
	}
	err := insertRows(ctx, t, "tickets", ticketInsertCols, rows, "RETURNING id, platform, conversation_key",
		func(rs *sqlx.Rows) error {
			var id int64
			var key [2]string
			if err := rs.Scan(&id, &key[0], &key[1]); err != nil {
				return err
			}
			if k := byKey[key]; k != nil {
				k.ID = id
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("create %d tickets: %w", len(ks), err)
	}
	threads := map[int64]bridge.ChatRef{}
	for _, k := range ks {
		if k.SlackTS != "" {
			threads[k.ID] = bridge.ChatRef{Channel: k.SlackChannel, TS: k.SlackTS}
		}
	}
	if len(threads) > 0 {
		return t.SetTicketThreads(ctx, threads)
	}
	return nil
}

// UpdateTickets writes several tickets as UpdateTicket does, with one
// statement per few hundred tickets. Every ticket must exist.
func (t *tx) UpdateTickets(ctx context.Context, ks []*bridge.Ticket) error {
	if len(ks) == 0 {
		return nil
	}
	rows := make([]ticketRow, len(ks))
	for i, k := range ks {
		rows[i] = toTicketRow(k)
	}
	// An upsert on the primary key updates many rows with one statement in
	// both dialects; identity columns and CreatedAt are left alone.
	var set strings.Builder
	for i, c := range ticketUpdateCols {
		if i > 0 {
			set.WriteString(", ")
		}
		set.WriteString(c + " = excluded." + c)
	}
	n := 0
	err := insertRows(ctx, t, "tickets", append([]string{"id"}, ticketInsertCols...), rows,
		"ON CONFLICT (id) DO UPDATE SET "+set.String()+" RETURNING id",
		func(rs *sqlx.Rows) error { n++; return nil })
	if err != nil {
		return fmt.Errorf("update %d tickets: %w", len(ks), err)
	}
	if n != len(ks) {
		return fmt.Errorf("update %d tickets: %d written: %w", len(ks), n, bridge.ErrNotFound)
	}
	return nil
}

// SetTicketThreads records the parent chat messages of several tickets
// with one statement per few thousand tickets. Only existing tickets get
// a thread (the insert selects them); a missing one fails the call.
func (t *tx) SetTicketThreads(ctx context.Context, threads map[int64]bridge.ChatRef) error {
	ids := make([]int64, 0, len(threads))
	for id := range threads {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if t.dialect == DialectPostgres {
		chs, tss := make(pq.StringArray, len(ids)), make(pq.StringArray, len(ids))
		for i, id := range ids {
			chs[i], tss[i] = threads[id].Channel, threads[id].TS
		}
		n, err := t.execStmt(ctx, pgSetTicketThreads, pq.Int64Array(ids), chs, tss)
		if err != nil {
			return fmt.Errorf("set threads of %d tickets: %w", len(ids), err)
		}
		if n != int64(len(ids)) {
			return fmt.Errorf("set threads of %d tickets: %d missing: %w", len(ids), int64(len(ids))-n, bridge.ErrNotFound)
		}
		return nil
	}
	step := chunkRows(3)
	for start := 0; start < len(ids); start += step {
		part := ids[start:min(start+step, len(ids))]
		var values strings.Builder
		args := make([]any, 0, 3*len(part))
		for i, id := range part {
			if i > 0 {
				values.WriteString(", ")
			}
			values.WriteString("(CAST(? AS BIGINT), ?, ?)")
			args = append(args, id, threads[id].Channel, threads[id].TS)
		}
		// WHERE true: SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT.
		n, err := t.exec(ctx, `WITH v (id, channel, ts) AS (VALUES `+values.String()+`)
			INSERT INTO ticket_threads (ticket_id, channel, ts)
			SELECT k.id, v.channel, v.ts FROM v JOIN tickets k ON k.id = v.id WHERE true
			ON CONFLICT (ticket_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts`, args...)
		if err != nil {
			return fmt.Errorf("set threads of %d tickets: %w", len(part), err)
		}
		if n != int64(len(part)) {
			return fmt.Errorf("set threads of %d tickets: %d missing: %w", len(part), int64(len(part))-n, bridge.ErrNotFound)
		}
	}
	return nil
}

// ---- outbox

var outboxInsertCols = []string{"kind", "priority", "lane", "order_key", "dedupe_key", "ticket_id", "payload",
	"state", "attempts", "next_attempt_at", "created_at", "updated_at"}

// EnqueueMany adds several outbox rows as Enqueue does, in order: their ids
// ascend with the slice, so rows of one order key run in slice order.
// Rows with a DedupeKey are added one by one (see Enqueue).
func (t *tx) EnqueueMany(ctx context.Context, items []*bridge.OutboxItem) ([]bool, error) {
	enqueued := make([]bool, len(items))
	var plain []*bridge.OutboxItem
	flush := func() error {
		if len(plain) == 0 {
			return nil
		}
		rows := make([]outboxRow, len(plain))
		for i, it := range plain {
			rows[i] = newOutboxRow(it)
		}
		var ids []int64
		err := insertRows(ctx, t, "outbox", outboxInsertCols, rows, "RETURNING id",
			func(rs *sqlx.Rows) error {
				var id int64
				if err := rs.Scan(&id); err != nil {
					return err
				}
				ids = append(ids, id)
				return nil
			})
		if err != nil {
			return fmt.Errorf("enqueue %d outbox rows: %w", len(plain), err)
		}
		if len(ids) != len(plain) {
			return fmt.Errorf("enqueue %d outbox rows: %d ids returned", len(plain), len(ids))
		}
		// Both databases number the rows of one INSERT in VALUES order;
		// RETURNING may list them in any order.
		slices.Sort(ids)
		for i, it := range plain {
			it.ID, it.State, it.Attempts = ids[i], bridge.OutboxPending, 0
		}
		plain = plain[:0]
		return nil
	}
	for i, it := range items {
		if it.Kind == "" {
			return nil, errors.New("enqueue outbox row: kind is required")
		}
		if it.DedupeKey == "" {
			plain = append(plain, it)
			enqueued[i] = true
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		ok, err := t.Enqueue(ctx, it)
		if err != nil {
			return nil, err
		}
		enqueued[i] = ok
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return enqueued, nil
}

// newOutboxRow is the row Enqueue writes for it, filling in its defaults.
func newOutboxRow(it *bridge.OutboxItem) outboxRow {
	if it.CreatedAt.IsZero() {
		it.CreatedAt = time.Now()
	}
	if it.UpdatedAt.IsZero() {
		it.UpdatedAt = it.CreatedAt
	}
	return outboxRow{
		Kind: it.Kind, Priority: int(it.Priority), Lane: it.Lane, OrderKey: it.OrderKey,
		DedupeKey: it.DedupeKey, TicketID: nullID(it.TicketID), Payload: rawText(it.Payload),
		State: string(bridge.OutboxPending), NextAttemptAt: dbTime(it.NextAttemptAt),
		CreatedAt: dbTime(it.CreatedAt), UpdatedAt: dbTime(it.UpdatedAt),
	}
}

// ---- mirrors

var mirrorInsertCols = []string{"post_id", "ticket_id", "department", "role", "channel", "ts", "thread_ts", "created_at"}

// SaveMirrors records which chat messages show which posts: saving a
// mapping again is not an error, claiming a message that already shows
// another post is.
func (t *tx) SaveMirrors(ctx context.Context, ms []bridge.Mirror) error {
	if len(ms) == 0 {
		return nil
	}
	rows := make([]mirrorRow, len(ms))
	for i, m := range ms {
		if m.PostID == 0 || m.Channel == "" || m.TS == "" {
			return fmt.Errorf("save mirror of post %d at %q/%q: post, channel and ts are required", m.PostID, m.Channel, m.TS)
		}
		rows[i] = mirrorRow{
			PostID: m.PostID, TicketID: nullID(m.TicketID), Department: m.Department, Role: string(m.Role),
			Channel: m.Channel, TS: m.TS, ThreadTS: m.ThreadTS, CreatedAt: dbTime(m.CreatedAt),
		}
	}
	written := map[[2]string]bool{}
	err := insertRows(ctx, t, "mirrors", mirrorInsertCols, rows, "ON CONFLICT (channel, ts) DO NOTHING RETURNING channel, ts",
		func(rs *sqlx.Rows) error {
			var k [2]string
			if err := rs.Scan(&k[0], &k[1]); err != nil {
				return err
			}
			written[k] = true
			return nil
		})
	if err != nil {
		return fmt.Errorf("save %d mirrors: %w", len(ms), err)
	}
	for _, m := range ms {
		if written[[2]string{m.Channel, m.TS}] {
			continue
		}
		var postID int64
		if err := t.get(ctx, &postID, `SELECT post_id FROM mirrors WHERE channel = ? AND ts = ?`, m.Channel, m.TS); err != nil {
			return fmt.Errorf("save mirror of post %d at %s/%s: read existing: %w", m.PostID, m.Channel, m.TS, err)
		}
		if postID != m.PostID {
			return fmt.Errorf("save mirror of post %d: message %s/%s already shows post %d", m.PostID, m.Channel, m.TS, postID)
		}
	}
	return nil
}

// CompleteOutboxMany marks several rows claimed by owner done, failing
// with bridge.ErrNotFound if any is not claimed by owner.
func (t *tx) CompleteOutboxMany(ctx context.Context, ids []int64, owner string, now time.Time) error {
	ids = uniqIDs(ids)
	if t.dialect == DialectPostgres {
		n, err := t.execStmt(ctx, pgCompleteOutboxMany, dbTime(now), owner, pq.Int64Array(ids))
		if err != nil {
			return fmt.Errorf("complete %d outbox rows for %s: %w", len(ids), owner, err)
		}
		if n != int64(len(ids)) {
			return fmt.Errorf("complete %d outbox rows: %d not claimed by %s: %w", len(ids), int64(len(ids))-n, owner, bridge.ErrNotFound)
		}
		return nil
	}
	step := chunkRows(1) - 2
	for start := 0; start < len(ids); start += step {
		part := ids[start:min(start+step, len(ids))]
		args := []any{dbTime(now), owner}
		for _, id := range part {
			args = append(args, id)
		}
		n, err := t.exec(ctx, `UPDATE outbox SET state = 'done', claimed_until = NULL, updated_at = ?
			WHERE state = 'sending' AND claimed_by = ? AND id IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return fmt.Errorf("complete %d outbox rows for %s: %w", len(part), owner, err)
		}
		if n != int64(len(part)) {
			return fmt.Errorf("complete %d outbox rows: %d not claimed by %s: %w", len(part), int64(len(part))-n, owner, bridge.ErrNotFound)
		}
	}
	return nil
}
