package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// ---- queries of the watching jobs (SLA scans, digests, spikes)

// ListTickets lists tickets matching f, oldest first.
func (t *tx) ListTickets(ctx context.Context, f bridge.TicketFilter) ([]bridge.Ticket, error) {
	var where []string
	var args []any
	if f.Department != "" {
		where = append(where, "department = ?")
		args = append(args, f.Department)
	}
	if len(f.States) > 0 {
		marks := make([]string, len(f.States))
		for i, s := range f.States {
			marks[i] = "?"
			args = append(args, string(s))
		}
		where = append(where, "state IN ("+strings.Join(marks, ", ")+")")
	}
	if !f.CreatedFrom.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, dbTime(f.CreatedFrom))
	}
	if !f.CreatedTo.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, dbTime(f.CreatedTo))
	}
	if !f.UpdatedBefore.IsZero() {
		where = append(where, "updated_at < ?")
		args = append(args, dbTime(f.UpdatedBefore))
	}
	q := `SELECT ` + ticketColumns + ` FROM ` + ticketsFrom
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY t.created_at, t.id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	var rows []ticketRow
	if err := t.list(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	return tickets(rows), nil
}

// TicketsActive lists the tickets a digest of [from, to) looks at.
func (t *tx) TicketsActive(ctx context.Context, department string, from, to time.Time) ([]bridge.Ticket, error) {
	q := `SELECT ` + ticketColumns + ` FROM ` + ticketsFrom + ` WHERE (
		(created_at >= ? AND created_at < ?)
		OR (first_response_at >= ? AND first_response_at < ?)
		OR (created_at < ? AND (first_response_at IS NULL OR first_response_at >= ?)
			AND (closed_at IS NULL OR closed_at >= ?)))`
	args := []any{dbTime(from), dbTime(to), dbTime(from), dbTime(to), dbTime(to), dbTime(to), dbTime(from)}
	if department != "" {
		q += " AND department = ?"
		args = append(args, department)
	}
	q += " ORDER BY created_at, id"
	var rows []ticketRow
	if err := t.list(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list active tickets of %q: %w", department, err)
	}
	return tickets(rows), nil
}

func tickets(rows []ticketRow) []bridge.Ticket {
	out := make([]bridge.Ticket, len(rows))
	for i, r := range rows {
		out[i] = *r.ticket()
	}
	return out
}

// CountTicketsByDepartment counts tickets created in [from, to) per
// department.
func (t *tx) CountTicketsByDepartment(ctx context.Context, from, to time.Time) (map[string]int, error) {
	var rows []struct {
		Department string `db:"department"`
		N          int    `db:"n"`
	}
	if err := t.list(ctx, &rows, `SELECT department, COUNT(*) AS n FROM tickets
		WHERE created_at >= ? AND created_at < ? GROUP BY department`, dbTime(from), dbTime(to)); err != nil {
		return nil, fmt.Errorf("count tickets by department: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Department] = r.N
	}
	return out, nil
}

// RootPosts returns the first posts of the tickets created in [from, to).
func (t *tx) RootPosts(ctx context.Context, department string, from, to time.Time, limit int) ([]bridge.Post, error) {
	cols := "p." + strings.Join(strings.Fields(strings.ReplaceAll(postColumns, ",", " ")), ", p.")
	q := `SELECT ` + cols + ` FROM tickets k JOIN posts p ON p.id = k.root_post_id
		WHERE k.created_at >= ? AND k.created_at < ?`
	args := []any{dbTime(from), dbTime(to)}
	if department != "" {
		q += " AND k.department = ?"
		args = append(args, department)
	}
	q += " ORDER BY k.created_at, k.id"
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	var rows []postRow
	if err := t.list(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list root posts of %q: %w", department, err)
	}
	out := make([]bridge.Post, len(rows))
	for i, r := range rows {
		out[i] = *r.post()
	}
	return out, nil
}

// ---- ops events

const opsEventColumns = `id, kind, event_key, department, ticket_id, at, due_at, details`

type opsEventRow struct {
	ID         int64   `db:"id"`
	Kind       string  `db:"kind"`
	Key        string  `db:"event_key"`
	Department string  `db:"department"`
	TicketID   int64   `db:"ticket_id"`
	At         dbTime  `db:"at"`
	Due        dbTime  `db:"due_at"`
	Details    rawText `db:"details"`
}

func (r opsEventRow) event() bridge.OpsEvent {
	return bridge.OpsEvent{ID: r.ID, Kind: r.Kind, Key: r.Key, Department: r.Department, TicketID: r.TicketID,
		At: r.At.time(), Due: r.Due.time(), Details: r.Details.json()}
}

// RecordOpsEvent stores ev unless its Key exists.
func (t *tx) RecordOpsEvent(ctx context.Context, ev *bridge.OpsEvent) (bool, error) {
	if ev.Kind == "" || ev.Key == "" || ev.At.IsZero() {
		return false, fmt.Errorf("record ops event: kind, key and time are required")
	}
	id, err := t.namedInsert(ctx, `
		INSERT INTO ops_events (kind, event_key, department, ticket_id, at, due_at, details)
		VALUES (:kind, :event_key, :department, :ticket_id, :at, :due_at, :details)
		ON CONFLICT (event_key) DO NOTHING
		RETURNING id`, opsEventRow{Kind: ev.Kind, Key: ev.Key, Department: ev.Department, TicketID: ev.TicketID,
		At: dbTime(ev.At), Due: dbTime(ev.Due), Details: rawText(ev.Details)})
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return false, fmt.Errorf("record ops event %s: %w", ev.Key, err)
	}
	ev.ID = id
	return true, nil
}

// OpsEvents lists events matching f, by At then ID.
func (t *tx) OpsEvents(ctx context.Context, f bridge.OpsEventFilter) ([]bridge.OpsEvent, error) {
	q := `SELECT ` + opsEventColumns + ` FROM ops_events WHERE kind = ?`
	args := []any{f.Kind}
	if f.Department != "" {
		q += " AND department = ?"
		args = append(args, f.Department)
	}
	if !f.From.IsZero() {
		q += " AND at >= ?"
		args = append(args, dbTime(f.From))
	}
	if !f.To.IsZero() {
		q += " AND at < ?"
		args = append(args, dbTime(f.To))
	}
	q += " ORDER BY at, id"
	var rows []opsEventRow
	if err := t.list(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list ops events %s: %w", f.Kind, err)
	}
	out := make([]bridge.OpsEvent, len(rows))
	for i, r := range rows {
		out[i] = r.event()
	}
	return out, nil
}

// LastOpsEvent returns the latest event of kind for department before
// before.
func (t *tx) LastOpsEvent(ctx context.Context, kind, department string, before time.Time) (*bridge.OpsEvent, error) {
	var r opsEventRow
	if err := t.get(ctx, &r, `SELECT `+opsEventColumns+` FROM ops_events
		WHERE kind = ? AND department = ? AND at < ? ORDER BY at DESC, id DESC LIMIT 1`,
		kind, department, dbTime(before)); err != nil {
		return nil, fmt.Errorf("read last ops event %s/%s: %w", kind, department, err)
	}
	ev := r.event()
	return &ev, nil
}
