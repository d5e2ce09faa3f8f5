package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/carebridge/carebridge/bridge"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// PostgreSQL statements of fixed text, prepared once per connection.
//
// The relay's statements run thousands of times a minute under load. Sent
// as ad-hoc statements, each was parsed and planned again every time, and
// a statement over n rows had n-dependent text (IN lists, multi-row
// VALUES) that no cache could reuse. The statements below take arrays
// instead (= ANY($1), unnest(...)), so their text is fixed; they are
// prepared the first time a connection runs them, and PostgreSQL then
// reuses their plan. SQLite keeps the plain statements (it prepares
// in-process, with nothing to save on the wire).
type stmtCache struct {
	mu    sync.Mutex
	stmts map[string]*sqlx.Stmt
}

// prepared returns the statement for query, preparing it on db the first
// time; database/sql prepares it again on each connection that runs it.
func (c *stmtCache) prepared(ctx context.Context, db *sqlx.DB, query string) (*sqlx.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.stmts[query]; st != nil {
		return st, nil
	}
	st, err := db.PreparexContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare statement: %w", err)
	}
	if c.stmts == nil {
		c.stmts = map[string]*sqlx.Stmt{}
	}
	c.stmts[query] = st
	return st, nil
}

// close releases the prepared statements.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		_ = st.Close()
	}
	c.stmts = nil
}

// stmt returns query as a statement of this transaction (PostgreSQL only).
func (t *tx) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	st, err := t.st.stmts.prepared(ctx, t.st.db, query)
	if err != nil {
		return nil, err
	}
	return t.tx.StmtxContext(ctx, st), nil
}

// ---- the relay's statements over arrays (PostgreSQL)

const (
	pgCompleteOutboxMany = `UPDATE outbox SET state = 'done', claimed_until = NULL, updated_at = $1
		WHERE state = 'sending' AND claimed_by = $2 AND id = ANY ($3)`
	pgSaveMirrors = `INSERT INTO mirrors (post_id, ticket_id, department, role, channel, ts, thread_ts, created_at)
		SELECT v.post_id, NULLIF(v.ticket_id, 0), v.department, v.role, v.channel, v.ts, v.thread_ts,
			NULLIF(v.created_at, '')::timestamptz
		FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
			AS v (post_id, ticket_id, department, role, channel, ts, thread_ts, created_at)
		ON CONFLICT (channel, ts) DO NOTHING
		RETURNING channel, ts`
	pgSetTicketThreads = `INSERT INTO ticket_threads (ticket_id, channel, ts)
		SELECT k.id, v.channel, v.ts
		FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v (id, channel, ts) JOIN tickets k ON k.id = v.id
		ON CONFLICT (ticket_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts`
	pgTicketsByID = `SELECT ` + ticketColumns + ` FROM ` + ticketsFrom + ` WHERE t.id = ANY ($1)`
	pgPostsByID   = `SELECT ` + postColumns + ` FROM posts WHERE id = ANY ($1)`
	pgClaimOutbox = `SELECT ` + outboxColumns + ` FROM carebridge_claim_outbox($1, $2, $3, $4, $5, $6)`
)

// execStmt runs a prepared statement of the transaction and returns the
// rows it changed.
func (t *tx) execStmt(ctx context.Context, query string, args ...any) (int64, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// selectStmt reads rows with a prepared statement of the transaction.
func (t *tx) selectStmt(ctx context.Context, dest any, query string, args ...any) error {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	return st.SelectContext(ctx, dest, args...)
}

// saveMirrorsPG inserts mirrors with one prepared statement and marks the
// ones written (a message already recorded is left as it is).
func (t *tx) saveMirrorsPG(ctx context.Context, ms []bridge.Mirror, written map[[2]string]bool) error {
	n := len(ms)
	posts, tickets := make(pq.Int64Array, n), make(pq.Int64Array, n)
	depts, roles, chans, tss, threads := make(pq.StringArray, n), make(pq.StringArray, n), make(pq.StringArray, n), make(pq.StringArray, n), make(pq.StringArray, n)
	created := make(pq.StringArray, n)
	for i, m := range ms {
		posts[i], tickets[i] = m.PostID, m.TicketID
		depts[i], roles[i], chans[i], tss[i], threads[i] = m.Department, string(m.Role), m.Channel, m.TS, m.ThreadTS
		v, err := dbTime(m.CreatedAt).Value()
		if err != nil {
			return err
		}
		created[i], _ = v.(string) // "" (NULL) for the zero time
	}
	var got []struct {
		Channel string `db:"channel"`
		TS      string `db:"ts"`
	}
	if err := t.selectStmt(ctx, &got, pgSaveMirrors, posts, tickets, depts, roles, chans, tss, threads, created); err != nil {
		return err
	}
	for _, g := range got {
		written[[2]string{g.Channel, g.TS}] = true
	}
	return nil
}
