// Package store implements bridge.Store on SQLite (the embedded default,
// through the pure-Go modernc.org/sqlite driver) and on PostgreSQL
// (through lib/pq), with one set of queries over sqlx.
//
// Open picks the database from a URL:
//
//	""                            SQLite at ./carebridge-data/carebridge.db
//	"sqlite:///var/lib/cb.db"     SQLite at /var/lib/cb.db
//	"sqlite:data/cb.db", "cb.db"  SQLite at a relative path
//	"postgres://…", "postgresql://…"  PostgreSQL
//
// and applies the embedded migrations (store/migrations/<dialect>/*.sql)
// that the schema_migrations table does not list yet.
//
// Both dialects keep the same shapes: times are UTC with microsecond
// precision (timestamptz in PostgreSQL, fixed-width RFC 3339 text in
// SQLite, so that text order is time order) and the zero time is NULL;
// string lists are JSON text arrays; raw JSON and audit details are TEXT,
// kept byte for byte because the audit hash covers the exact bytes.
//
// Round trips. Under PostgreSQL, lib/pq runs with binary_parameters=yes
// unless the URL says otherwise (one round trip per statement instead of
// two); ingest and the relay use set-based statements where they handle
// many rows. SQLite runs with synchronous=NORMAL in WAL mode.
//
// Concurrency. SQLite runs in WAL mode with one connection per process and
// BEGIN IMMEDIATE transactions, so transactions in one process queue in Go
// and several processes wait on each other through busy_timeout instead of
// failing. PostgreSQL runs READ COMMITTED with explicit locks: outbox
// claims use FOR UPDATE SKIP LOCKED, audit appends take a transaction
// advisory lock, migrations a session advisory lock. WithTx runs a
// PostgreSQL transaction again when it was aborted for a deadlock, a
// serialization failure or a unique violation (two replicas creating the
// same ticket or customer at once: on the second run the loser finds the
// winner's row), so fn may run more than once and must not have effects
// outside the transaction.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // registers the "postgres" driver
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/carebridge/carebridge/bridge"
)

// Dialects reported by Store.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// DefaultSQLitePath is where Open keeps the database when the URL is empty.
const DefaultSQLitePath = "carebridge-data/carebridge.db"

// defaultPostgresConns caps the PostgreSQL pool unless WithMaxOpenConns
// says otherwise; every replica opens at most this many connections.
const defaultPostgresConns = 10

// txAttempts is how many times WithTx runs a transaction that PostgreSQL
// aborted with a retryable error (see Store.retryable).
const txAttempts = 5

func init() {
	// sqlx does not know the modernc driver's name; it takes ? placeholders.
	sqlx.BindDriver("sqlite", sqlx.QUESTION)
}

var _ bridge.Store = (*Store)(nil)

// Store is carebridge's durable state in SQLite or PostgreSQL. It is safe
// for concurrent use.
type Store struct {
	db      *sqlx.DB
	dialect string
	log     *slog.Logger
	stmts   stmtCache // PostgreSQL: prepared statements (prepared.go)
}

// Option changes how Open sets up a Store.
type Option func(*options)

type options struct {
	log       *slog.Logger
	maxConns  int
	noMigrate bool
}

// WithLogger sets the logger for migrations and transaction retries; the
// default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithMaxOpenConns caps the PostgreSQL connection pool (default 10). SQLite
// always uses one connection.
func WithMaxOpenConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxConns = n
		}
	}
}

// WithoutMigrations makes Open leave pending migrations alone: `carebridge
// migrate` applies them itself (to report them), `check -online` only
// looks.
func WithoutMigrations() Option {
	return func(o *options) { o.noMigrate = true }
}

// Open connects to the database named by dbURL (see the package comment
// for the forms), applies pending migrations and returns the Store.
func Open(ctx context.Context, dbURL string, opts ...Option) (*Store, error) {
	o := options{log: slog.Default(), maxConns: defaultPostgresConns}
	for _, opt := range opts {
		opt(&o)
	}

	var (
		s   *Store
		err error
	)
	switch {
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		s, err = openPostgres(dbURL, o)
	case strings.Contains(dbURL, "://") && !strings.HasPrefix(dbURL, "sqlite:"):
		scheme, _, _ := strings.Cut(dbURL, "://")
		return nil, fmt.Errorf("open store: unsupported database URL scheme %q (want sqlite: or postgres://)", scheme)
	default:
		s, err = openSQLite(sqlitePath(dbURL), o)
	}
	if err != nil {
		return nil, err
	}

	if err := s.pingOpen(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if o.noMigrate {
		return s, nil
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// sqlitePath turns a SQLite URL or plain path into a file path.
func sqlitePath(dbURL string) string {
	if dbURL == "" {
		return DefaultSQLitePath
	}
	p, ok := strings.CutPrefix(dbURL, "sqlite:")
	if ok {
		// sqlite:///abs/path and sqlite://rel/path; sqlite:rel/path.
		p, _ = strings.CutPrefix(p, "//")
	}
	return p
}

func openSQLite(path string, o options) (*Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("open sqlite %s: create directory: %w", abs, err)
	}
	// The path goes into an SQLite URI, so characters such as ? # % are
	// escaped. Pragmas run on every new connection.
	dsn := "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath() +
		"?_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		// In WAL mode NORMAL still never corrupts the database; a power
		// loss (not a crash of carebridge) may undo the last commits, which
		// the outbox's recovery and the pollers' cursors cope with.
		"&_pragma=synchronous(NORMAL)" +
		"&_txlock=immediate"
	db, err := sqlx.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", abs, err)
	}
	// One connection: transactions of this process queue in database/sql
	// rather than spinning on SQLITE_BUSY; other processes still wait on
	// busy_timeout. Keep it open so WAL state and pragmas persist.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	o.log.Info("store: opened sqlite", "path", abs)
	return &Store{db: db, dialect: DialectSQLite, log: o.log}, nil
}

func openPostgres(dbURL string, o options) (*Store, error) {
	db, err := sqlx.Open("postgres", withBinaryParameters(dbURL))
	if err != nil {
		// Do not echo the URL: it may hold a password.
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(o.maxConns)
	db.SetMaxIdleConns(o.maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &Store{db: db, dialect: DialectPostgres, log: o.log}, nil
}

// withBinaryParameters adds binary_parameters=yes to a PostgreSQL URL that
// does not set it. lib/pq then sends a statement with its arguments in one
// round trip instead of two (parse and describe, then bind and execute).
func withBinaryParameters(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return dbURL // lib/pq reports the error
	}
	q := u.Query()
	if q.Has("binary_parameters") {
		return dbURL
	}
	q.Set("binary_parameters", "yes")
	u.RawQuery = q.Encode()
	return u.String()
}

// Dialect reports "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// DB returns the underlying database, for tests and operator tools (for
// example, to check that tampering with audit rows is detected). Under
// SQLite it shares the store's single connection, so do not use it inside
// WithTx.
func (s *Store) DB() *sqlx.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.dialect, err)
	}
	return nil
}

// pingOpen pings a new Store. A connection to a SQLite file that another
// process is switching to WAL mode or recovering can fail with SQLITE_BUSY
// before busy_timeout applies; such a ping is tried again for a while.
func (s *Store) pingOpen(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		err := s.Ping(ctx)
		if err == nil || !sqliteBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("open %s: %w (after %w)", s.dialect, ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// sqliteBusy reports whether err is SQLite's SQLITE_BUSY (any extended
// code).
func sqliteBusy(err error) bool {
	var e interface{ Code() int }
	return errors.As(err, &e) && e.Code()&0xff == 5
}

// Close releases the database.
func (s *Store) Close() error {
	s.stmts.close()
	err := s.db.Close()
	s.stmts.wait() // preparations still running fail once the pool is closed
	if err != nil {
		return fmt.Errorf("close %s: %w", s.dialect, err)
	}
	return nil
}

// withTx runs fn in one transaction; it commits if fn returns nil and
// rolls back otherwise (also when fn panics, before the panic goes on).
// Under PostgreSQL a transaction aborted for a deadlock, a serialization
// failure or a unique violation is run again, up to five times in all; the
// last error is returned if every run fails. Consumers reach it through
// Runner and Transactions.
func (s *Store) withTx(ctx context.Context, fn func(t *tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.runTx(ctx, fn)
		if err == nil || attempt == txAttempts || !s.retryable(err) {
			return err
		}
		wait := time.Duration(attempt)*10*time.Millisecond + rand.N(10*time.Millisecond)
		s.log.Warn("store: retrying transaction", "attempt", attempt, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("retry transaction: %w (after %w)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

func (s *Store) runTx(ctx context.Context, fn func(t *tx) error) (err error) {
	sqlTx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = sqlTx.Rollback() // fn panicked
		}
	}()
	err = fn(&tx{tx: sqlTx, dialect: s.dialect, st: s})
	done = true
	if err != nil {
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("roll back: %w", rbErr))
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// retryable reports whether err aborted a PostgreSQL transaction that may
// succeed when run again. A unique violation is one: find-or-create races
// (TicketByConversation, then CreateTicket) between replicas end in one,
// and the second run finds the row. SQLite serializes transactions, so
// such races cannot happen there.
func (s *Store) retryable(err error) bool {
	if s.dialect != DialectPostgres {
		return false
	}
	switch sqlState(err) {
	case "40001", "40P01", "23505": // serialization_failure, deadlock_detected, unique_violation
		return true
	}
	return false
}

// sqlState returns the PostgreSQL SQLSTATE code in err's chain, or "".
func sqlState(err error) string {
	var e interface{ SQLState() string }
	if errors.As(err, &e) {
		return e.SQLState()
	}
	return ""
}
