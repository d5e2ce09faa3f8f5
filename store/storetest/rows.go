package storetest

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// The core never reads an outbox row or an approval back by id; the suite
// reads what was written straight from the database.

// scanTime reads a time column: SQLite keeps RFC 3339 text, PostgreSQL a
// timestamp; NULL is the zero time.
type scanTime struct{ t *time.Time }

func (s scanTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.t = time.Time{}
	case time.Time:
		*s.t = v.UTC()
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	default:
		return fmt.Errorf("scan time: unsupported type %T", src)
	}
	return nil
}

func (s scanTime) parse(v string) error {
	tt, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return err
	}
	*s.t = tt.UTC()
	return nil
}

// readOutbox reads one outbox row; it fails the test if there is none.
func readOutbox(t *testing.T, s *store.Store, id int64) *bridge.OutboxItem {
	t.Helper()
	it, err := OutboxRow(t, s, id)
	if err != nil {
		t.Fatalf("read outbox row %d: %v", id, err)
	}
	return it
}

// OutboxRow reads one outbox row, or returns an error wrapping
// sql.ErrNoRows. The core never reads a row back by id; tests of other
// packages that check what became of a row use it.
func OutboxRow(t testing.TB, s *store.Store, id int64) (*bridge.OutboxItem, error) {
	db := s.DB()
	var it bridge.OutboxItem
	var ticketID sql.NullInt64
	var payload string
	var state string
	var prio int
	err := db.QueryRowContext(t.Context(), db.Rebind(`SELECT id, kind, priority, lane, order_key, dedupe_key, ticket_id,
		payload, state, attempts, next_attempt_at, last_error, claimed_by, claimed_until, recovered, unknown_at, created_at, updated_at
		FROM outbox WHERE id = ?`), id).Scan(&it.ID, &it.Kind, &prio, &it.Lane, &it.OrderKey, &it.DedupeKey, &ticketID,
		&payload, &state, &it.Attempts, scanTime{&it.NextAttemptAt}, &it.LastError, &it.ClaimedBy,
		scanTime{&it.ClaimedUntil}, &it.Recovered, scanTime{&it.UnknownAt}, scanTime{&it.CreatedAt}, scanTime{&it.UpdatedAt})
	if err != nil {
		return nil, err
	}
	it.Priority, it.State, it.TicketID = bridge.Priority(prio), bridge.OutboxState(state), ticketID.Int64
	if payload != "" {
		it.Payload = json.RawMessage(payload)
	}
	return &it, nil
}

// approvalsOfDraft lists the decisions recorded on a draft, oldest first.
func approvalsOfDraft(t *testing.T, s *store.Store, draftID int64) []bridge.Approval {
	t.Helper()
	db := s.DB()
	rows, err := db.QueryContext(ctx(t), db.Rebind(`SELECT id, draft_id, user_id, emoji, decision, created_at
		FROM approvals WHERE draft_id = ? ORDER BY id`), draftID)
	if err != nil {
		t.Fatalf("list approvals of draft %d: %v", draftID, err)
	}
	defer rows.Close()
	var out []bridge.Approval
	for rows.Next() {
		var a bridge.Approval
		var decision string
		if err := rows.Scan(&a.ID, &a.DraftID, &a.User, &a.Emoji, &decision, scanTime{&a.CreatedAt}); err != nil {
			t.Fatalf("list approvals of draft %d: %v", draftID, err)
		}
		a.Decision = bridge.Decision(decision)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list approvals of draft %d: %v", draftID, err)
	}
	return out
}
