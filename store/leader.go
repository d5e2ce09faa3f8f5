package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
)

// ErrNotLeader is returned by Elector.IsLeader when another process
// leads.
var ErrNotLeader = errors.New("another process is the leader")

// Elector elects one leader among the processes that share a database, so
// that pollers and scheduled jobs run exactly once. Under SQLite there is
// one process, which always leads. Under PostgreSQL the leader holds a
// session-level advisory lock on a connection of its own: when the
// process dies, its connection closes, the lock is released and another
// process takes over at its next IsLeader call.
//
// Its IsLeader method fits gocron's Elector interface.
type Elector struct {
	s    *Store
	name string

	mu   sync.Mutex
	conn *sql.Conn // held while leading (PostgreSQL)
	key  int64
}

// Elector returns the elector for name (processes electing under the same
// name and database, and schema, compete).
func (s *Store) Elector(name string) *Elector { return &Elector{s: s, name: name} }

// IsLeader returns nil if this process leads, acquiring the leadership
// when it is free, and ErrNotLeader when another process holds it.
func (e *Elector) IsLeader(ctx context.Context) error {
	if e.s.dialect != DialectPostgres {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		var held bool
		err := e.conn.QueryRowContext(ctx,
			`SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
			 AND granted AND ((classid::bigint << 32) | objid::bigint) = $1)`, e.key).Scan(&held)
		if err == nil && held {
			return nil
		}
		e.s.log.Warn("leadership lost", "elector", e.name, "err", err)
		e.conn.Close()
		e.conn = nil
	}
	conn, err := e.s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("elect %s: %w", e.name, err)
	}
	if e.key == 0 {
		var schema string
		if err := conn.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			conn.Close()
			return fmt.Errorf("elect %s: %w", e.name, err)
		}
		h := fnv.New64a()
		h.Write([]byte("carebridge-leader:" + schema + ":" + e.name))
		e.key = int64(h.Sum64() & 0x7fffffffffffffff)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, e.key).Scan(&got); err != nil {
		conn.Close()
		return fmt.Errorf("elect %s: %w", e.name, err)
	}
	if !got {
		conn.Close()
		return ErrNotLeader
	}
	e.conn = conn
	e.s.log.Info("this process is now the leader", "elector", e.name)
	return nil
}

// Key returns the PostgreSQL advisory lock key of the election (0 until
// the first IsLeader call), for operators looking at pg_locks:
// ((classid::bigint << 32) | objid::bigint) = key.
func (e *Elector) Key() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.key
}

// Resign gives the leadership up (if held).
func (e *Elector) Resign(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return nil
	}
	_, err := e.conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, e.key)
	e.conn.Close()
	e.conn = nil
	return err
}
