package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// PostgreSQL statements of fixed text, prepared once per connection.
// insertRowsPG (below) does the same for every batched insert.
//
// The relay's statements run thousands of times a minute under load. Sent
// as ad-hoc statements, each was parsed and planned again every time, and
// a statement over n rows had n-dependent text (IN lists, multi-row
// VALUES) that no cache could reuse. The statements below take arrays
// instead (= ANY($1), unnest(...)), so their text is fixed; they are
// prepared the first time a connection runs them, and PostgreSQL then
// reuses their plan. SQLite keeps the plain statements (it prepares
// in-process, with nothing to save on the wire).
//
// Preparing a statement on the pool needs a connection of its own, and a
// transaction that wants a statement holds one already: with every
// connection held by such transactions, a prepare in the transaction
// would wait forever. So a transaction never waits for the pool: the
// first time it meets a statement it prepares it on its own connection
// (closed with the transaction) and asks for the pool-wide statement to
// be prepared in the background; later transactions use that one, which
// database/sql prepares on each connection by the connection itself.
type stmtCache struct {
	one     sync.Mutex // held by the one preparation running
	mu      sync.Mutex
	stmts   map[string]*sqlx.Stmt
	pending map[string]bool
	closed  bool
	wg      sync.WaitGroup
}

// get returns the pool-wide statement for query, or nil (and starts
// preparing it) if there is none yet.
func (c *stmtCache) get(db *sqlx.DB, query string) *sqlx.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.stmts[query]; st != nil {
		return st
	}
	if c.closed || c.pending[query] {
		return nil
	}
	if c.pending == nil {
		c.pending = map[string]bool{}
	}
	c.pending[query] = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		// One preparation at a time: each takes a connection of the
		// pool, and a burst of them at start would hold up transactions.
		c.one.Lock()
		defer c.one.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := db.PreparexContext(ctx, query)
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.pending, query)
		switch {
		case err != nil: // the next transaction that needs it tries again
		case c.closed:
			_ = st.Close()
		default:
			if c.stmts == nil {
				c.stmts = map[string]*sqlx.Stmt{}
			}
			c.stmts[query] = st
		}
	}()
	return nil
}

// close releases the prepared statements; wait then waits for the
// preparations still running (they fail once the pool is closed).
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, st := range c.stmts {
		_ = st.Close()
	}
	c.stmts = nil
}

func (c *stmtCache) wait() { c.wg.Wait() }

// stmt returns query as a statement of this transaction (PostgreSQL only).
func (t *tx) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st := t.st.stmts.get(t.st.db, query); st != nil {
		return t.tx.StmtxContext(ctx, st), nil
	}
	st, err := t.tx.PreparexContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare statement: %w", err)
	}
	return st, nil
}

// ---- the relay's statements over arrays (PostgreSQL)

const (
	pgCompleteOutboxMany = `UPDATE outbox SET state = 'done', claimed_until = NULL, updated_at = $1
		WHERE state = 'sending' AND claimed_by = $2 AND id = ANY ($3)`
	pgSetTicketThreads = `INSERT INTO ticket_threads (ticket_id, channel, ts)
		SELECT k.id, v.channel, v.ts
		FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v (id, channel, ts) JOIN tickets k ON k.id = v.id
		ON CONFLICT (ticket_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts`
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

// insertRowsPG is insertRows for PostgreSQL: one prepared statement that
// inserts every row from one array per column,
//
//	INSERT INTO table (cols) SELECT cols FROM unnest($1::type[], …)
//		WITH ORDINALITY AS v (cols, n) ORDER BY n tail
//
// so its text depends on the table, the columns and tail only, not on the
// number of rows. Rows are inserted in slice order (ids ascend with it).
func insertRowsPG[R any](ctx context.Context, t *tx, table string, cols []string, rows []R, tail string, scan func(*sqlx.Rows) error) error {
	if len(rows) == 0 {
		return nil
	}
	arrays := make([][]any, len(cols))
	for i := range arrays {
		arrays[i] = make([]any, 0, len(rows))
	}
	one := make([]any, 0, len(cols))
	for _, r := range rows {
		one = t.rowArgs(one[:0], r, cols)
		for i, v := range one {
			arrays[i] = append(arrays[i], v)
		}
	}
	var q strings.Builder
	q.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(cols, ", ") + " FROM unnest(")
	args := make([]any, len(cols))
	for i, c := range cols {
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "$%d::%s[]", i+1, pgColumnType(c))
		args[i] = pq.GenericArray{A: arrays[i]}
	}
	q.WriteString(") WITH ORDINALITY AS v (" + strings.Join(cols, ", ") + ", n) ORDER BY n " + tail)
	st, err := t.stmt(ctx, q.String())
	if err != nil {
		return err
	}
	if scan == nil {
		_, err := st.ExecContext(ctx, args...)
		return err
	}
	rs, err := st.QueryxContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		if err := scan(rs); err != nil {
			return err
		}
	}
	if err := rs.Close(); err != nil {
		return err
	}
	return rs.Err()
}

// pgColumnType is the type of a column insertRowsPG writes.
func pgColumnType(col string) string {
	switch col {
	case "id", "ticket_id", "customer_id", "root_post_id", "post_id", "draft_id":
		return "bigint"
	case "priority", "attempts", "ticket_count":
		return "integer"
	case "recovered":
		return "boolean"
	case "first_seen", "last_seen":
		return "timestamptz"
	}
	if strings.HasSuffix(col, "_at") {
		return "timestamptz"
	}
	return "text"
}
