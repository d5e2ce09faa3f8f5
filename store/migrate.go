package store

import (
	"context"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// migrationFS holds the schema, one directory per dialect. Files are
// applied in name order; a file's name without ".sql" is its version.
//
//go:embed migrations
var migrationFS embed.FS

// migrationLockKey is the PostgreSQL advisory lock held while migrating,
// so that replicas starting together migrate one after the other.
const migrationLockKey int64 = 0x63625f6d69677261 // "cb_migra"

// migration is one embedded schema change.
type migration struct {
	version string
	sql     string
}

func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s migrations: %w", dialect, err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: strings.TrimSuffix(e.Name(), ".sql"), sql: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("read %s migrations: %w", dialect, errNoMigrations)
	}
	slices.SortFunc(ms, func(a, b migration) int { return strings.Compare(a.version, b.version) })
	return ms, nil
}

// Migrate applies the embedded migrations that schema_migrations does not
// list yet, each in its own transaction, and returns their versions. It is
// a no-op when the schema is current. Under PostgreSQL it holds an advisory
// lock throughout, so concurrent Migrate calls (replicas starting at once)
// apply each migration exactly once.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	ms, err := loadMigrations(s.dialect)
	if err != nil {
		return nil, err
	}

	conn, err := s.db.Connx(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: get connection: %w", err)
	}
	defer conn.Close()

	if s.dialect == DialectPostgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
			return nil, fmt.Errorf("migrate: take advisory lock: %w", err)
		}
		defer s.unlockMigrations(ctx, conn)
	}

	if _, err := conn.ExecContext(ctx, s.createMigrationsTable()); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}

	for _, m := range ms {
		done, err := s.applyMigration(ctx, conn, m)
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, m.version)
			s.log.Info("store: applied migration", "dialect", s.dialect, "version", m.version)
		}
	}
	return applied, nil
}

func (s *Store) createMigrationsTable() string {
	if s.dialect == DialectPostgres {
		return `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    TEXT PRIMARY KEY,
			applied_at TIMESTAMPTZ NOT NULL)`
	}
	return `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    TEXT PRIMARY KEY,
		applied_at TEXT NOT NULL)`
}

// applyMigration runs m in a transaction unless it is recorded already,
// and reports whether it ran. Checking inside the transaction (BEGIN
// IMMEDIATE under SQLite) keeps two processes from both applying it.
func (s *Store) applyMigration(ctx context.Context, conn *sqlx.Conn, m migration) (bool, error) {
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate %s: begin: %w", m.version, err)
	}
	defer tx.Rollback()

	var n int
	if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version); err != nil {
		return false, fmt.Errorf("migrate %s: read schema_migrations: %w", m.version, err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.version, err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
		m.version, dbTime(time.Now())); err != nil {
		return false, fmt.Errorf("migrate %s: record version: %w", m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate %s: commit: %w", m.version, err)
	}
	return true, nil
}

// unlockMigrations releases the session advisory lock. If that fails the
// connection is discarded instead of going back to the pool still holding
// the lock.
func (s *Store) unlockMigrations(ctx context.Context, conn *sqlx.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, migrationLockKey)
	if err == nil {
		return
	}
	s.log.Warn("store: release migration lock; discarding connection", "err", err)
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

// errNoMigrations is returned when a dialect has no embedded migrations.
var errNoMigrations = errors.New("no migrations")
