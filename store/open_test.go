package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// assertMigrations checks that schema_migrations lists want versions.
func assertMigrations(t *testing.T, queryRow func(context.Context, string, ...any) *sql.Row, want int) {
	t.Helper()
	var n int
	if err := queryRow(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatalf("count migrations: %v", err)
	}
	if n != want {
		t.Errorf("schema_migrations has %d rows, want %d", n, want)
	}
}

func TestOpenDefaultPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := store.Open(t.Context(), "", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dialect() != store.DialectSQLite {
		t.Errorf("dialect %q, want sqlite", s.Dialect())
	}
	if _, err := os.Stat(filepath.Join(dir, "carebridge-data", "carebridge.db")); err != nil {
		t.Errorf("default database file: %v", err)
	}
}

func TestOpenSQLiteURLForms(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	odd := filepath.Join(dir, "we?ird #dir %41", "cb.db")
	for _, tc := range []struct{ url, file string }{
		{"sqlite://" + filepath.Join(dir, "abs.db"), filepath.Join(dir, "abs.db")},
		{"sqlite:rel/one.db", filepath.Join(dir, "rel", "one.db")},
		{"sqlite://rel/two.db", filepath.Join(dir, "rel", "two.db")},
		{filepath.Join(dir, "plain.db"), filepath.Join(dir, "plain.db")},
		{"nested/dirs/plain.db", filepath.Join(dir, "nested", "dirs", "plain.db")},
		{odd, odd},
	} {
		s, err := store.Open(t.Context(), tc.url, quiet)
		if err != nil {
			t.Errorf("Open(%q): %v", tc.url, err)
			continue
		}
		if err := s.Transactions().Ingest.WithTx(t.Context(), func(tx bridge.IngestTx) error {
			return tx.SetCursor(t.Context(), "k", "v", bridgeTime)
		}); err != nil {
			t.Errorf("Open(%q): write: %v", tc.url, err)
		}
		s.Close()
		if _, err := os.Stat(tc.file); err != nil {
			t.Errorf("Open(%q) did not create %s: %v", tc.url, tc.file, err)
		}
	}
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	if _, err := store.Open(t.Context(), "mysql://root@localhost/cb"); err == nil {
		t.Error("Open(mysql://…) succeeded")
	}
}

func TestSQLitePragmas(t *testing.T) {
	s := openSQLite(t)
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000", "synchronous": "1"} {
		var got string
		if err := s.DB().QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}
