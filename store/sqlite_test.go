package store_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/carebridge/carebridge/store"
	"github.com/carebridge/carebridge/store/storetest"
)

// openSQLite opens a store in a fresh file under t.TempDir and closes it
// when the test ends.
func openSQLite(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "carebridge.db"), quiet)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.Store { return openSQLite(t) })
}

func TestSQLiteMigrateTwiceIsNoOp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cb.db")
	s, err := store.Open(t.Context(), "sqlite://"+path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := s.Migrate(t.Context())
	if err != nil || len(applied) != 0 {
		t.Errorf("second Migrate applied %v, %v; want nothing", applied, err)
	}
	s.Close()

	// Reopening an existing database applies nothing either.
	s, err = store.Open(t.Context(), path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	assertMigrations(t, s.DB().QueryRowContext, migrationCount)
}

func TestSQLiteConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cb.db")
	stores := openConcurrently(t, 4, func(ctx context.Context) (*store.Store, error) { return store.Open(ctx, path, quiet) })
	assertMigrations(t, stores[0].DB().QueryRowContext, migrationCount)
}

// openConcurrently opens n stores at once and fails the test unless all
// succeed.
func openConcurrently(t *testing.T, n int, open func(context.Context) (*store.Store, error)) []*store.Store {
	t.Helper()
	stores := make([]*store.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = open(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	return stores
}
