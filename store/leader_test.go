package store_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/carebridge/carebridge/store"
	"github.com/carebridge/carebridge/store/storetest"
)

func TestSQLiteAlwaysLeads(t *testing.T) {
	s, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "cb.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Elector("pollers").IsLeader(t.Context()); err != nil {
		t.Errorf("SQLite: %v", err)
	}
}

func TestPostgresOneLeaderAndHandover(t *testing.T) {
	u := storetest.FreshPostgresSchema(t, postgresURL(t))
	a, err := store.Open(t.Context(), u, quiet)
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.Open(t.Context(), u, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ea, eb := a.Elector("pollers"), b.Elector("pollers")
	if err := ea.IsLeader(t.Context()); err != nil {
		t.Fatalf("first process: %v", err)
	}
	for i := 0; i < 3; i++ {
		if err := eb.IsLeader(t.Context()); !errors.Is(err, store.ErrNotLeader) {
			t.Fatalf("second process while the first leads: %v", err)
		}
		if err := ea.IsLeader(t.Context()); err != nil {
			t.Fatalf("the leader lost its lead: %v", err)
		}
	}
	// Another name is another election.
	if err := b.Elector("schedules").IsLeader(t.Context()); err != nil {
		t.Errorf("a different election: %v", err)
	}
	// Resigning hands over.
	if err := ea.Resign(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := eb.IsLeader(t.Context()); err != nil {
		t.Fatalf("after the leader resigned: %v", err)
	}
	if err := ea.IsLeader(t.Context()); !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("the old leader still leads: %v", err)
	}
	// A leader whose process dies loses its connection, and with it the
	// lock: the server ends the session as it would for a crashed process.
	c, err := store.Open(t.Context(), u, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ec := c.Elector("pollers")
	if err := ec.IsLeader(t.Context()); !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("a third process while the second leads: %v", err)
	}
	if _, err := c.DB().ExecContext(t.Context(),
		`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
		 AND ((classid::bigint << 32) | objid::bigint) = $1`, ec.Key()); err != nil {
		t.Fatal(err)
	}
	var lead error
	for i := 0; i < 100; i++ { // the server ends the session asynchronously
		if lead = ec.IsLeader(t.Context()); lead == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lead != nil {
		t.Errorf("after the leader's session ended: %v", lead)
	}
	if err := eb.IsLeader(t.Context()); !errors.Is(err, store.ErrNotLeader) {
		t.Errorf("the dead leader still thinks it leads: %v", err)
	}
	a.Close()
}
