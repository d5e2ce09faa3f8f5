package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/carebridge/carebridge/bridge"
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

// freshSchema creates a uniquely named schema, drops it when the test ends
// and returns a URL whose connections use it (lib/pq passes search_path
// on as a run-time parameter).
func freshSchema(t *testing.T, base string) string {
	t.Helper()
	admin, err := sqlx.Open("postgres", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "cbtest_" + hex.EncodeToString([]byte(rand.Text())[:6])
	if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openPostgres opens a store in a fresh schema.
func openPostgres(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), freshSchema(t, postgresURL(t)), store.WithMaxOpenConns(4), quiet)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresConformance(t *testing.T) {
	postgresURL(t)
	storetest.Run(t, func(t *testing.T) bridge.Store { return openPostgres(t) })
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
	u := freshSchema(t, postgresURL(t))
	stores := openConcurrently(t, 4, func(ctx context.Context) (*store.Store, error) {
		return store.Open(ctx, u, store.WithMaxOpenConns(2), quiet)
	})
	assertMigrations(t, stores[0].DB().QueryRowContext, migrationCount)
}
