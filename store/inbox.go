package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

const inboxColumns = `id, event_id, order_key, event, state, attempts, next_attempt_at, last_error, received_at, updated_at`

type inboxRow struct {
	ID            int64   `db:"id"`
	EventID       string  `db:"event_id"`
	OrderKey      string  `db:"order_key"`
	Event         rawText `db:"event"`
	State         string  `db:"state"`
	Attempts      int     `db:"attempts"`
	NextAttemptAt dbTime  `db:"next_attempt_at"`
	LastError     string  `db:"last_error"`
	ReceivedAt    dbTime  `db:"received_at"`
	UpdatedAt     dbTime  `db:"updated_at"`
}

func (r inboxRow) event() bridge.InboxEvent {
	return bridge.InboxEvent{
		ID: r.ID, EventID: r.EventID, OrderKey: r.OrderKey, Payload: r.Event.json(),
		State: bridge.InboxState(r.State), Attempts: r.Attempts, NextAttemptAt: r.NextAttemptAt.time(),
		LastError: r.LastError, ReceivedAt: r.ReceivedAt.time(), UpdatedAt: r.UpdatedAt.time(),
	}
}

// InsertInbox stores a received chat event unless its event id is known.
// A zero ReceivedAt is taken as the wall-clock time (InboxStats ages rows
// by it).
func (t *tx) InsertInbox(ctx context.Context, ev *bridge.InboxEvent) (bool, error) {
	if len(ev.Payload) == 0 {
		return false, errors.New("insert inbox event: payload is required")
	}
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = time.Now()
	}
	row := inboxRow{
		EventID: ev.EventID, OrderKey: ev.OrderKey, Event: rawText(ev.Payload), State: string(bridge.InboxPending),
		NextAttemptAt: dbTime(ev.NextAttemptAt), ReceivedAt: dbTime(ev.ReceivedAt), UpdatedAt: dbTime(ev.ReceivedAt),
	}
	id, err := t.namedInsert(ctx, `
		INSERT INTO inbox (event_id, order_key, event, state, attempts, next_attempt_at, received_at, updated_at)
		VALUES (:event_id, :order_key, :event, :state, 0, :next_attempt_at, :received_at, :updated_at)
		ON CONFLICT (event_id) WHERE event_id <> '' DO NOTHING
		RETURNING id`, row)
	switch {
	case err == nil:
		ev.ID, ev.State, ev.Attempts = id, bridge.InboxPending, 0
		return true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("insert inbox event %q: %w", ev.EventID, err)
	}
	if err := t.get(ctx, &id, `SELECT id FROM inbox WHERE event_id = ?`, ev.EventID); err != nil {
		return false, fmt.Errorf("insert inbox event: read row of event %q: %w", ev.EventID, err)
	}
	ev.ID = id
	return false, nil
}

// LockInbox reads and locks a pending row; see bridge.Tx.
func (t *tx) LockInbox(ctx context.Context, id int64) (*bridge.InboxEvent, error) {
	lock := ""
	if t.dialect == DialectPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var r inboxRow
	if err := t.get(ctx, &r, `SELECT `+inboxColumns+` FROM inbox WHERE id = ? AND state = 'pending'`+lock, id); err != nil {
		return nil, fmt.Errorf("lock inbox row %d: %w", id, err)
	}
	ev := r.event()
	return &ev, nil
}

// FinishInbox marks a pending row done or dead.
func (t *tx) FinishInbox(ctx context.Context, id int64, state bridge.InboxState, lastErr string, now time.Time) error {
	if state != bridge.InboxDone && state != bridge.InboxDead {
		return fmt.Errorf("finish inbox row %d: state %q is not done or dead", id, state)
	}
	return t.updateInbox(ctx, "finish", id, `
		UPDATE inbox SET state = ?, attempts = attempts + 1, last_error = ?, updated_at = ?
		WHERE id = ? AND state = 'pending'`, string(state), lastErr, dbTime(now), id)
}

// RetryInbox keeps a pending row for another attempt at next.
func (t *tx) RetryInbox(ctx context.Context, id int64, next time.Time, lastErr string, now time.Time) error {
	return t.updateInbox(ctx, "retry", id, `
		UPDATE inbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, updated_at = ?
		WHERE id = ? AND state = 'pending'`, dbTime(next), lastErr, dbTime(now), id)
}

func (t *tx) updateInbox(ctx context.Context, verb string, id int64, query string, args ...any) error {
	n, err := t.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s inbox row %d: %w", verb, id, err)
	}
	if n == 0 {
		return fmt.Errorf("%s inbox row %d: not pending: %w", verb, id, bridge.ErrNotFound)
	}
	return nil
}

// DueInbox lists the rows the worker may apply now; see bridge.Store.
//
// The NOT EXISTS clause is the outbox's order-key rule (ClaimOutbox): a row
// waits behind every earlier unfinished row of its key, so only the oldest
// pending row of a key qualifies and one thread's events are applied in
// arrival order, whichever replica applies them. Under PostgreSQL FOR
// UPDATE SKIP LOCKED passes over rows another replica holds in its
// applying transaction (LockInbox); the lock taken here ends with this
// short transaction: the row is claimed for good by LockInbox in the
// transaction that applies it, so a crash releases it at once (no lease
// to wait for).
func (s *Store) DueInbox(ctx context.Context, now time.Time, limit int) ([]bridge.InboxEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	lock := ""
	if s.dialect == DialectPostgres {
		lock = "FOR UPDATE SKIP LOCKED"
	}
	query := `
		SELECT ` + inboxColumns + ` FROM inbox i
		WHERE i.state = 'pending' AND (i.next_attempt_at IS NULL OR i.next_attempt_at <= ?)
			AND NOT EXISTS (
				SELECT 1 FROM inbox e
				WHERE i.order_key <> '' AND e.order_key = i.order_key AND e.id < i.id AND e.state = 'pending')
		ORDER BY i.id
		LIMIT ?
		` + lock
	var rows []inboxRow
	err := s.withTx(ctx, func(btx *tx) error {
		rows = rows[:0]
		return btx.list(ctx, &rows, query, dbTime(now), limit)
	})
	if err != nil {
		return nil, fmt.Errorf("read due inbox rows: %w", err)
	}
	out := make([]bridge.InboxEvent, len(rows))
	for i, r := range rows {
		out[i] = r.event()
	}
	return out, nil
}

// InboxStats reports the rows pending (with the age of the oldest, by
// ReceivedAt) and the dead rows.
func (s *Store) InboxStats(ctx context.Context, now time.Time) (bridge.InboxStat, error) {
	var r struct {
		Pending sql.NullInt64 `db:"pending"`
		Dead    sql.NullInt64 `db:"dead"`
		Oldest  dbTime        `db:"oldest"`
	}
	err := s.db.GetContext(ctx, &r, `
		SELECT SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS pending,
			SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS dead,
			MIN(CASE WHEN state = 'pending' THEN received_at END) AS oldest
		FROM inbox
		WHERE state IN ('pending', 'dead')`)
	if err != nil {
		return bridge.InboxStat{}, fmt.Errorf("read inbox stats: %w", err)
	}
	st := bridge.InboxStat{Pending: int(r.Pending.Int64), Dead: int(r.Dead.Int64)}
	if oldest := r.Oldest.time(); st.Pending > 0 && !oldest.IsZero() {
		st.OldestAge = max(now.Truncate(time.Microsecond).Sub(oldest), 0)
	}
	return st, nil
}
