package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/lib/pq"
)

const outboxColumns = `id, kind, priority, lane, order_key, dedupe_key, ticket_id, payload, state,
	attempts, next_attempt_at, last_error, claimed_by, claimed_until, recovered, unknown_at, created_at, updated_at`

type outboxRow struct {
	ID            int64   `db:"id"`
	Kind          string  `db:"kind"`
	Priority      int     `db:"priority"`
	Lane          string  `db:"lane"`
	OrderKey      string  `db:"order_key"`
	DedupeKey     string  `db:"dedupe_key"`
	TicketID      nullID  `db:"ticket_id"`
	Payload       rawText `db:"payload"`
	State         string  `db:"state"`
	Attempts      int     `db:"attempts"`
	NextAttemptAt dbTime  `db:"next_attempt_at"`
	LastError     string  `db:"last_error"`
	ClaimedBy     string  `db:"claimed_by"`
	ClaimedUntil  dbTime  `db:"claimed_until"`
	Recovered     bool    `db:"recovered"`
	UnknownAt     dbTime  `db:"unknown_at"`
	CreatedAt     dbTime  `db:"created_at"`
	UpdatedAt     dbTime  `db:"updated_at"`
}

func (r outboxRow) item() bridge.OutboxItem {
	return bridge.OutboxItem{
		ID: r.ID, Kind: r.Kind, Priority: bridge.Priority(r.Priority), Lane: r.Lane,
		OrderKey: r.OrderKey, DedupeKey: r.DedupeKey, TicketID: int64(r.TicketID),
		Payload: r.Payload.json(), State: bridge.OutboxState(r.State), Attempts: r.Attempts,
		NextAttemptAt: r.NextAttemptAt.time(), LastError: r.LastError, ClaimedBy: r.ClaimedBy,
		ClaimedUntil: r.ClaimedUntil.time(), Recovered: r.Recovered, UnknownAt: r.UnknownAt.time(), CreatedAt: r.CreatedAt.time(), UpdatedAt: r.UpdatedAt.time(),
	}
}

// Enqueue adds a pending outbox row and sets it.ID, it.State and
// it.Attempts. When it.DedupeKey is set and a row with that key exists (in
// any state), nothing is added, it.ID is set to the existing row's id and
// enqueued is false. A zero CreatedAt is taken as the wall-clock time,
// since OutboxStats ages rows by it; a zero UpdatedAt as CreatedAt; a zero
// NextAttemptAt means "due now".
func (t *tx) Enqueue(ctx context.Context, it *bridge.OutboxItem) (bool, error) {
	if it.Kind == "" {
		return false, errors.New("enqueue outbox row: kind is required")
	}
	if it.CreatedAt.IsZero() {
		it.CreatedAt = time.Now()
	}
	if it.UpdatedAt.IsZero() {
		it.UpdatedAt = it.CreatedAt
	}
	row := outboxRow{
		Kind: it.Kind, Priority: int(it.Priority), Lane: it.Lane, OrderKey: it.OrderKey,
		DedupeKey: it.DedupeKey, TicketID: nullID(it.TicketID), Payload: rawText(it.Payload),
		State: string(bridge.OutboxPending), NextAttemptAt: dbTime(it.NextAttemptAt),
		CreatedAt: dbTime(it.CreatedAt), UpdatedAt: dbTime(it.UpdatedAt),
	}
	id, err := t.namedInsert(ctx, `
		INSERT INTO outbox (kind, priority, lane, order_key, dedupe_key, ticket_id, payload, state,
			attempts, next_attempt_at, created_at, updated_at)
		VALUES (:kind, :priority, :lane, :order_key, :dedupe_key, :ticket_id, :payload, :state,
			0, :next_attempt_at, :created_at, :updated_at)
		ON CONFLICT (dedupe_key) WHERE dedupe_key <> '' DO NOTHING
		RETURNING id`, row)
	switch {
	case err == nil:
		it.ID, it.State, it.Attempts = id, bridge.OutboxPending, 0
		return true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("enqueue %s: %w", it.Kind, err)
	}
	if err := t.get(ctx, &id, `SELECT id FROM outbox WHERE dedupe_key = ?`, it.DedupeKey); err != nil {
		return false, fmt.Errorf("enqueue %s: read row with dedupe key %q: %w", it.Kind, it.DedupeKey, err)
	}
	it.ID = id
	return false, nil
}

// CompleteOutbox marks a row claimed by owner done.
func (t *tx) CompleteOutbox(ctx context.Context, id int64, owner string, now time.Time) error {
	return t.finishOutbox(ctx, "complete", id, owner, `
		UPDATE outbox SET state = 'done', claimed_until = NULL, updated_at = ?
		WHERE id = ? AND state = 'sending' AND claimed_by = ?`,
		dbTime(now), id, owner)
}

// RetryOutbox puts a row claimed by owner back to pending until next,
// recording lastErr.
func (t *tx) RetryOutbox(ctx context.Context, id int64, owner string, next time.Time, lastErr string, now time.Time) error {
	return t.finishOutbox(ctx, "retry", id, owner, `
		UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ?,
			claimed_by = '', claimed_until = NULL, updated_at = ?
		WHERE id = ? AND state = 'sending' AND claimed_by = ?`,
		dbTime(next), lastErr, dbTime(now), id, owner)
}

// SettleOutbox clears the unknown outcome of a row claimed by owner: a
// check on the platform found that no earlier attempt got through.
func (t *tx) SettleOutbox(ctx context.Context, id int64, owner string, now time.Time) error {
	return t.finishOutbox(ctx, "settle", id, owner, `
		UPDATE outbox SET unknown_at = NULL, recovered = FALSE, updated_at = ?
		WHERE id = ? AND state = 'sending' AND claimed_by = ?`,
		dbTime(now), id, owner)
}

// MarkOutboxUnknown records that a row claimed by owner may have reached
// the platform although its attempt failed (a connection lost after the
// request was sent): until a check settles it, it is Recovered.
func (t *tx) MarkOutboxUnknown(ctx context.Context, id int64, owner string, now time.Time) error {
	return t.finishOutbox(ctx, "mark unknown", id, owner, `
		UPDATE outbox SET unknown_at = ?, updated_at = ?
		WHERE id = ? AND state = 'sending' AND claimed_by = ?`,
		dbTime(now), dbTime(now), id, owner)
}

// DeferOutbox puts a row claimed by owner back to pending until next
// without counting the attempt (its claim added one), recording lastErr.
func (t *tx) DeferOutbox(ctx context.Context, id int64, owner string, next time.Time, lastErr string, now time.Time) error {
	return t.finishOutbox(ctx, "defer", id, owner, `
		UPDATE outbox SET state = 'pending', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
			next_attempt_at = ?, last_error = ?, claimed_by = '', claimed_until = NULL, updated_at = ?
		WHERE id = ? AND state = 'sending' AND claimed_by = ?`,
		dbTime(next), lastErr, dbTime(now), id, owner)
}

// KillOutbox marks a row claimed by owner dead, recording lastErr.
func (t *tx) KillOutbox(ctx context.Context, id int64, owner string, lastErr string, now time.Time) error {
	return t.finishOutbox(ctx, "kill", id, owner, `
		UPDATE outbox SET state = 'dead', last_error = ?, claimed_until = NULL, updated_at = ?
		WHERE id = ? AND state = 'sending' AND claimed_by = ?`,
		lastErr, dbTime(now), id, owner)
}

// finishOutbox runs one of the owner-checked updates; no row changed means
// the row is not (or no longer) claimed by owner.
func (t *tx) finishOutbox(ctx context.Context, verb string, id int64, owner, query string, args ...any) error {
	n, err := t.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s outbox row %d for %s: %w", verb, id, owner, err)
	}
	if n == 0 {
		return fmt.Errorf("%s outbox row %d: not claimed by %s: %w", verb, id, owner, bridge.ErrNotFound)
	}
	return nil
}

// ClaimOutbox leases up to p.Limit due rows to p.Owner; see bridge.Store.
//
// One UPDATE picks and leases the rows (under PostgreSQL inside the
// function carebridge_claim_outbox, see claimPostgres). A row is due when
// it is pending and its next attempt is not in the future, or sending with
// an expired lease. The NOT EXISTS clause keeps every row behind an earlier pending or
// sending row with the same order key, so only the first row of a key can
// qualify: at most one per key, strictly in id order. Under PostgreSQL
// FOR UPDATE SKIP LOCKED makes concurrent claimers pass over each other's
// rows; under SQLite the transaction holds the write lock. A row taken over
// from an expired lease gets UnknownAt = p.Now (SET sees the old state);
// a row is Recovered while its UnknownAt is set, until SettleOutbox.
func (s *Store) ClaimOutbox(ctx context.Context, p bridge.ClaimParams) ([]bridge.OutboxItem, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	if p.Owner == "" {
		return nil, errors.New("claim outbox: owner is required")
	}
	if p.Now.IsZero() {
		return nil, fmt.Errorf("claim outbox for %s: now is required", p.Owner)
	}
	if p.Lease <= 0 {
		return nil, fmt.Errorf("claim outbox for %s: lease %v is not positive", p.Owner, p.Lease)
	}
	var lanes []string
	for _, l := range p.SkipLanes {
		if l != "" { // "" is "unpaced", not a lane
			lanes = append(lanes, l)
		}
	}
	var (
		rows []outboxRow
		err  error
	)
	if s.dialect == DialectPostgres {
		rows, err = s.claimPostgres(ctx, p, lanes)
	} else {
		rows, err = s.claimSQLite(ctx, p, lanes)
	}
	if err != nil {
		return nil, fmt.Errorf("claim outbox for %s: %w", p.Owner, err)
	}
	items := make([]bridge.OutboxItem, len(rows))
	for i, r := range rows {
		items[i] = r.item()
	}
	// RETURNING gives no order; the port promises priority, then id.
	slices.SortFunc(items, func(a, b bridge.OutboxItem) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	return items, nil
}

// claimPostgres runs the claim as one prepared statement (prepared.go):
// the function carebridge_claim_outbox (migration 0006) holds the UPDATE
// of claimSQLite with FOR UPDATE SKIP LOCKED, so that concurrent claimers
// pass over each other's rows, and with enable_sort off, so that it walks
// outbox_due in order and stops at the limit.
func (s *Store) claimPostgres(ctx context.Context, p bridge.ClaimParams, lanes []string) ([]outboxRow, error) {
	args := []any{p.Owner, dbTime(p.Now.Add(p.Lease)), dbTime(p.Now),
		pq.StringArray(nonNil(p.Kinds)), pq.StringArray(nonNil(lanes)), p.Limit}
	var rows []outboxRow
	var err error
	if st := s.stmts.get(s.db, pgClaimOutbox); st != nil {
		err = st.SelectContext(ctx, &rows, args...)
	} else {
		err = s.db.SelectContext(ctx, &rows, pgClaimOutbox, args...)
	}
	return rows, err
}

// claimSQLite picks and leases the rows with one UPDATE, in a transaction
// that holds SQLite's write lock.
func (s *Store) claimSQLite(ctx context.Context, p bridge.ClaimParams, lanes []string) ([]outboxRow, error) {
	now := dbTime(p.Now)
	args := []any{
		now,                                      // unknown_at, when taking over an expired lease
		p.Owner, dbTime(p.Now.Add(p.Lease)), now, // claimed_by, claimed_until, updated_at
		now, now, // due: next_attempt_at <= now, claimed_until <= now
	}
	var filters strings.Builder
	if len(p.Kinds) > 0 {
		filters.WriteString(" AND o.kind IN (" + placeholders(len(p.Kinds)) + ")")
		for _, k := range p.Kinds {
			args = append(args, k)
		}
	}
	if len(lanes) > 0 {
		filters.WriteString(" AND o.lane NOT IN (" + placeholders(len(lanes)) + ")")
		for _, l := range lanes {
			args = append(args, l)
		}
	}
	args = append(args, p.Limit)
	query := `
		UPDATE outbox
		SET state = 'sending', attempts = attempts + 1,
			unknown_at = CASE WHEN state = 'sending' THEN ? ELSE unknown_at END,
			recovered = (state = 'sending' OR unknown_at IS NOT NULL),
			claimed_by = ?, claimed_until = ?, updated_at = ?
		WHERE id IN (
			SELECT o.id FROM outbox o
			WHERE o.state IN ('pending', 'sending') -- lets SQLite use outbox_due
				AND ((o.state = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?))
				OR (o.state = 'sending' AND (o.claimed_until IS NULL OR o.claimed_until <= ?)))` +
		filters.String() + `
				AND NOT EXISTS (
					SELECT 1 FROM outbox e
					WHERE o.order_key <> '' AND e.order_key = o.order_key AND e.id < o.id
						AND e.state IN ('pending', 'sending'))
			ORDER BY o.priority, o.id
			LIMIT ?)
		RETURNING ` + outboxColumns
	var rows []outboxRow
	err := s.withTx(ctx, func(btx *tx) error {
		rows = rows[:0]
		return btx.list(ctx, &rows, query, args...)
	})
	return rows, err
}

// nonNil returns ss, or an empty slice for nil (an empty array, not NULL).
func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// OutboxStats reports, per kind, the rows pending or sending (with the age
// of the oldest, by CreatedAt) and the dead rows. Kinds with only done rows
// are left out.
func (s *Store) OutboxStats(ctx context.Context, now time.Time) ([]bridge.OutboxStat, error) {
	var rows []struct {
		Kind    string `db:"kind"`
		Pending int    `db:"pending"`
		Dead    int    `db:"dead"`
		Oldest  dbTime `db:"oldest"`
	}
	err := s.db.SelectContext(ctx, &rows, `
		SELECT kind,
			SUM(CASE WHEN state IN ('pending', 'sending') THEN 1 ELSE 0 END) AS pending,
			SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS dead,
			MIN(CASE WHEN state IN ('pending', 'sending') THEN created_at END) AS oldest
		FROM outbox
		WHERE state IN ('pending', 'sending', 'dead')
		GROUP BY kind
		ORDER BY kind`)
	if err != nil {
		return nil, fmt.Errorf("read outbox stats: %w", err)
	}
	out := make([]bridge.OutboxStat, len(rows))
	for i, r := range rows {
		out[i] = bridge.OutboxStat{Kind: r.Kind, Pending: r.Pending, Dead: r.Dead}
		if oldest := r.Oldest.time(); r.Pending > 0 && !oldest.IsZero() {
			// Stored times are whole microseconds; so is the age.
			out[i].OldestAge = max(now.Truncate(time.Microsecond).Sub(oldest), 0)
		}
	}
	return out, nil
}
