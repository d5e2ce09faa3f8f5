package store_test

import (
	"context"
	"os"
	"testing"

	"github.com/carebridge/carebridge/store"
	"github.com/carebridge/carebridge/store/storetest"
)

// postgresURL returns CAREBRIDGE_TEST_POSTGRES_URL or skips the test.
func postgresURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("CAREBRIDGE_TEST_POSTGRES_URL")
	if u == "" {
		t.Skip("set CAREBRIDGE_TEST_POSTGRES_URL=postgres://... to run the PostgreSQL conformance suite")
	}
	return u
}

// openPostgres opens a store in a fresh schema.
func openPostgres(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), storetest.FreshPostgresSchema(t, postgresURL(t)), store.WithMaxOpenConns(4), quiet)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresConformance(t *testing.T) {
	postgresURL(t)
	storetest.Run(t, func(t *testing.T) *store.Store { return openPostgres(t) })
}

func TestPostgresMigrateTwiceIsNoOp(t *testing.T) {
	s := openPostgres(t)
	if s.Dialect() != store.DialectPostgres {
		t.Errorf("dialect %q, want postgres", s.Dialect())
	}
	applied, err := s.Migrate(t.Context())
	if err != nil || len(applied) != 0 {
		t.Errorf("second Migrate applied %v, %v; want nothing", applied, err)
	}
	assertMigrations(t, s.DB().QueryRowContext, migrationCount)
}

func TestPostgresConcurrentOpen(t *testing.T) {
	u := storetest.FreshPostgresSchema(t, postgresURL(t))
	stores := openConcurrently(t, 4, func(ctx context.Context) (*store.Store, error) {
		return store.Open(ctx, u, store.WithMaxOpenConns(2), quiet)
	})
	assertMigrations(t, stores[0].DB().QueryRowContext, migrationCount)
}
