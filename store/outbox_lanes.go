package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// ClaimLane leases up to p.Limit due pending rows of one lane, kind and
// priority to p.Owner, in id order; see bridge.Store. It is the relay's
// second claim, for the rows a bundle shows with the row it already
// holds: rare (at most one call per bundle, a bundle a second per
// channel at Slack's pace), so it is a plain statement rather than a
// prepared function like ClaimOutbox's. Rows whose lease expired are left
// to ClaimOutbox: their outcome is unknown and they are checked one by
// one.
func (s *Store) ClaimLane(ctx context.Context, p bridge.LaneClaim) ([]bridge.OutboxItem, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	if p.Owner == "" || p.Lane == "" || p.Kind == "" {
		return nil, errors.New("claim lane: owner, lane and kind are required")
	}
	if p.Now.IsZero() || p.Lease <= 0 {
		return nil, fmt.Errorf("claim lane %s for %s: now and a positive lease are required", p.Lane, p.Owner)
	}
	lock := ""
	if s.dialect == DialectPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	now := dbTime(p.Now)
	query := `
		UPDATE outbox
		SET state = 'sending', attempts = attempts + 1, recovered = (unknown_at IS NOT NULL),
			claimed_by = ?, claimed_until = ?, updated_at = ?
		WHERE id IN (
			SELECT o.id FROM outbox o
			WHERE o.state IN ('pending', 'sending') AND o.priority = ?
				AND o.state = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?)
				AND o.lane = ? AND o.kind = ? AND o.unknown_at IS NULL
				AND NOT EXISTS (
					SELECT 1 FROM outbox e
					WHERE o.order_key <> '' AND e.order_key = o.order_key AND e.id < o.id
						AND e.state IN ('pending', 'sending'))
			ORDER BY o.priority, o.id
			LIMIT ?` + lock + `)
		RETURNING ` + outboxColumns
	args := []any{p.Owner, dbTime(p.Now.Add(p.Lease)), now, int(p.Priority), now, p.Lane, p.Kind, p.Limit}
	var rows []outboxRow
	err := s.withTx(ctx, func(btx *tx) error {
		rows = rows[:0]
		return btx.list(ctx, &rows, query, args...)
	})
	if err != nil {
		return nil, fmt.Errorf("claim lane %s for %s: %w", p.Lane, p.Owner, err)
	}
	items := make([]bridge.OutboxItem, len(rows))
	for i, r := range rows {
		items[i] = r.item()
	}
	slices.SortFunc(items, func(a, b bridge.OutboxItem) int { return cmp.Compare(a.ID, b.ID) })
	return items, nil
}

// OutboxLanes reports the rows pending or sending per lane, with the age
// of the oldest; see bridge.Store. The relay reads it at most about once
// a second (to decide whether a channel bundles) and /metrics at each
// scrape.
func (s *Store) OutboxLanes(ctx context.Context, now time.Time) ([]bridge.LaneStat, error) {
	var rows []struct {
		Lane    string `db:"lane"`
		Pending int    `db:"pending"`
		Oldest  dbTime `db:"oldest"`
	}
	err := s.db.SelectContext(ctx, &rows, `
		SELECT lane, COUNT(*) AS pending, MIN(created_at) AS oldest
		FROM outbox
		WHERE state IN ('pending', 'sending') AND lane <> ''
		GROUP BY lane
		ORDER BY lane`)
	if err != nil {
		return nil, fmt.Errorf("read outbox lanes: %w", err)
	}
	out := make([]bridge.LaneStat, len(rows))
	for i, r := range rows {
		out[i] = bridge.LaneStat{Lane: r.Lane, Pending: r.Pending}
		if oldest := r.Oldest.time(); !oldest.IsZero() {
			out[i].OldestAge = max(now.Truncate(time.Microsecond).Sub(oldest), 0)
		}
	}
	return out, nil
}
