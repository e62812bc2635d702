// Package store keeps opsbot's state in SQL: server requests, approvals,
// the budget ledger, incidents and their timelines, the audit log and the
// durable job outbox. It implements the store interfaces declared in
// workflows.
//
// Two engines serve it. SQLite (modernc.org/sqlite, pure Go) runs opsbot
// as one process. PostgreSQL (pgx's database/sql driver) lets several
// replicas share one database. Both run the same statements and the same
// migrations: the SQL is the part the engines share (`?` placeholders
// passed through rebind, INSERT ... ON CONFLICT, RETURNING, BIGINT and
// TEXT columns, no engine-specific functions). What differs lives in Go:
// how transactions are begun and locked (postgres.go), and nothing else.
// On PostgreSQL the migrations run under a session advisory lock, so
// replicas starting together migrate once; the tables go in the first
// schema of search_path (settable in the URL). PostgreSQL refuses text
// that is not UTF-8 or holds NUL bytes, which SQLite would keep.
//
// Writes have one guarantee on both engines: every write transaction
// behaves as if it ran alone, after every commit before it. So a read-
// then-write in one Update (decide an approval, check a budget and
// reserve, open the incident of a PagerDuty ID, mark a message sent)
// happens once. SQLite gives it with its one writer connection and BEGIN
// IMMEDIATE. PostgreSQL gives it with no lock of opsbot's: each Update
// runs SERIALIZABLE, and a transaction the database aborts to keep that
// promise (or to break a deadlock) is run again, a bounded number of
// times, after a short random wait. Writers in every replica proceed in
// parallel, and one replica stalled inside a transaction holds up only
// the rows it touched, each wait bounded by lock_timeout. Row IDs and
// the human IDs opsbot uses come from sequences, which never conflict
// (see pgSequences). The job queue's own writes (claim, renew, finish,
// retry, bury) run READ COMMITTED: rows are claimed FOR UPDATE SKIP
// LOCKED, each later call is fenced by the claim's token, and jobs of
// one key are kept one at a time by a lock on the key (see Claim).
//
// The store never reads the clock: every timestamp it writes is one it
// was given.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/opsbot/opsbot/internal/redact"
	"github.com/opsbot/opsbot/workflows"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// The interfaces DB serves.
var (
	_ workflows.Store    = (*DB)(nil)
	_ workflows.JobQueue = (*DB)(nil)
	_ workflows.Tx       = (*tx)(nil)
)

// DB is an open store. On SQLite writes go through one connection, so
// they are serialized; on PostgreSQL through a pool, in parallel (see
// Update). Reads use a separate pool and see the last committed state.
type DB struct {
	write   *sql.DB
	read    *sql.DB
	dialect dialect
	clock   workflows.Clock
	// PostgreSQL advisory locks, named after the schema: one held while
	// migrating, and the class of the locks on job keys.
	migrateLock int64
	jobKeyLocks int32
	hook        func(what string, committed bool) error
	retries     atomic.Int64
	// rehearse runs each write transaction once more before the one
	// that counts (WithRehearsedWrites).
	rehearse bool
	// pace is the pool of the shared Slack rate buckets (pace.go).
	pace *sql.DB
	// tracer makes the spans of transactions (trace.go).
	tracer trace.Tracer
	// path is a SQLite store's file ("" in memory, and on PostgreSQL).
	path string
	// migrateTo stops migrate at this version (0: the latest). Restore
	// loads a backup into the schema it was made from, then migrates.
	migrateTo int64
}

// Option changes how Open sets up the store.
type Option func(*DB)

// WithWriteHook calls hook before each write transaction ("update",
// "take in", "claim", "done", "retry", "bury", ...) begins, with committed false, and
// after it commits, with committed true. An error before a write fails
// it. Crash tests use it to count commits and to kill the writer at a
// chosen one, as a process death would; nothing else should.
func WithWriteHook(hook func(what string, committed bool) error) Option {
	return func(db *DB) { db.hook = hook }
}

// WithRehearsedWrites runs every write transaction's function once in a
// transaction that is then rolled back, as PostgreSQL's abort of a
// serialization failure does, before running it again for real: on any
// engine, every write goes through the retry path. Tests use it to prove
// that what a closure hands out of a transaction (a count, a flag, a
// list) is set afresh on each attempt, never accumulated across them.
func WithRehearsedWrites() Option { return func(db *DB) { db.rehearse = true } }

// errRehearsal rolls back a rehearsed write (WithRehearsedWrites).
var errRehearsal = errors.New("rehearsal: rolled back to be run again")

// WithClock sets the clock used to stamp applied migrations, the one
// timestamp the store makes itself. The default is workflows.SystemClock.
func WithClock(c workflows.Clock) Option { return func(db *DB) { db.clock = c } }

// The connection settings LIBRARIES.md prescribes. They are constants:
// _pragma values run as SQL, so nothing from outside is ever put in them.
const (
	sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	sqliteWriteParams = sqlitePragmas + "&_txlock=immediate"
	// Readers take no write lock when they begin, and cannot write.
	sqliteReadParams = sqlitePragmas + "&_pragma=query_only(1)"
)

// Open connects to the store named by dsn and applies any migrations this
// binary has that the database lacks. dsn is "sqlite:PATH" (a file,
// created if missing), "sqlite::memory:" (one connection, for tests) or
// a PostgreSQL URL, "postgres://user:pass@host:5432/db?sslmode=..."
// (pgx's URL parameters apply; search_path picks the schema). Replicas
// opening one PostgreSQL database at once migrate it once.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	db := &DB{clock: workflows.SystemClock{}, tracer: noop.NewTracerProvider().Tracer("")}
	for _, o := range opts {
		o(db)
	}
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		if err := db.openSQLite(strings.TrimPrefix(dsn, "sqlite:")); err != nil {
			return nil, err
		}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		if err := db.openPostgres(ctx, dsn); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("open store: OPSBOT_DB must be sqlite:PATH or a postgres:// URL, got %q", redactDSN(dsn))
	}
	if err := db.migrateRetryingBusy(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.openPace(dsn); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) openSQLite(path string) error {
	if path == "" {
		return errors.New("open store: sqlite: needs a file path, as in sqlite:opsbot.db")
	}
	db.dialect = dialectSQLite
	if path == ":memory:" {
		// Every connection to :memory: is a database of its own, so readers
		// and the writer share the single connection.
		w, err := openSQLiteDB("file::memory:?" + sqliteWriteParams)
		if err != nil {
			return fmt.Errorf("open store in memory: %w", err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		w.SetConnMaxIdleTime(0)
		db.write, db.read = w, w
		return nil
	}
	db.path = filepath.Clean(path)
	name := "file:" + escapeURIPath(db.path)
	w, err := openSQLiteDB(name + "?" + sqliteWriteParams)
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := openSQLiteDB(name + "?" + sqliteReadParams)
	if err != nil {
		w.Close()
		return fmt.Errorf("open store %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db.write, db.read = w, r
	return nil
}

// escapeURIPath makes a file path safe inside a SQLite URI filename: the
// characters that would start the query or fragment, and the escape
// character itself, are percent-encoded. No part of the path can then be
// read as a DSN parameter.
func escapeURIPath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(p)
}

// redactDSN hides credentials a URL-style DSN may carry, in its user
// information or its query (?password=).
func redactDSN(dsn string) string { return redact.URL(dsn) }

// Close releases the connections.
func (db *DB) Close() error {
	var errs []error
	if db.pace != nil && db.pace != db.write {
		errs = append(errs, db.pace.Close())
	}
	if db.read != nil && db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	return errors.Join(errs...)
}

// Ready reports whether the store answers and its schema is the one this
// binary expects. /readyz calls it.
func (db *DB) Ready(ctx context.Context) error {
	var v int64
	err := db.read.QueryRowContext(ctx, db.q("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")).Scan(&v)
	if err != nil {
		return fmt.Errorf("check store: %w", err)
	}
	if want := latestVersion(); v != want {
		return fmt.Errorf("check store: schema is at version %d, this opsbot needs %d", v, want)
	}
	return nil
}

// Update runs fn in one write transaction and commits it if fn returns
// nil. Its writes are serializable with every other write, across
// replicas too: SQLite's single writer connection begins each
// transaction with BEGIN IMMEDIATE; on PostgreSQL it runs SERIALIZABLE,
// and when the database aborts it to keep that promise it is rolled back
// and run again (at most pgMaxAttempts times). So fn may run more than
// once: it must change state only through the Tx, and set, not
// accumulate, what it hands out of the closure. If fn returns an error,
// panics, or ctx ends, nothing fn did is kept: no row, no job, no audit
// entry. fn must not call Update or View itself.
//
// When ctx carries an intake (workflows.WithIntake), the first Update of
// its handling records the intake's keys in the same transaction, so a
// request and its effect are kept or lost together.
func (db *DB) Update(ctx context.Context, fn func(workflows.Tx) error) error {
	var nums *numbers // PostgreSQL's sequences do not give numbers back
	if db.dialect == dialectPostgres {
		ctx, nums = withNumbers(ctx)
	}
	return workflows.MarkIntake(ctx, func(mark func(workflows.Tx) error) error {
		return db.writeTx(ctx, "update", sql.LevelSerializable, func(t *sql.Tx) error {
			nums.rewind()
			x := &tx{ctx: ctx, tx: t, db: db}
			if err := mark(x); err != nil {
				return err
			}
			return fn(x)
		})
	})
}

// View runs fn in a read-only transaction that sees one consistent
// snapshot, without waiting for writers. Writes inside it fail (on a
// file database or PostgreSQL; sqlite::memory: shares the writer's
// connection and cannot enforce it).
func (db *DB) View(ctx context.Context, fn func(workflows.Tx) error) (err error) {
	if ctx, end := db.span(ctx, "view"); end != nil {
		defer func() { end(err, 0) }()
		return db.view(ctx, fn)
	}
	return db.view(ctx, fn)
}

func (db *DB) view(ctx context.Context, fn func(workflows.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect == dialectPostgres {
		// One snapshot for the whole transaction, as SQLite's readers get.
		opts.Isolation = sql.LevelRepeatableRead
	}
	return db.inTx(ctx, db.read, opts, func(t *sql.Tx) error {
		return fn(&tx{ctx: ctx, tx: t, db: db})
	})
}

// writeTx runs fn in a write transaction and commits it. Every write of
// the store but migrations goes through it; what names it for the write
// hook, iso is its isolation on PostgreSQL. There, a transaction aborted
// by a serialization failure or a deadlock is run again after a short
// random wait, at most pgMaxAttempts times in all.
func (db *DB) writeTx(ctx context.Context, what string, iso sql.IsolationLevel, fn func(*sql.Tx) error) error {
	ctx, end := db.span(ctx, what)
	attempts, err := db.writeTxAttempts(ctx, what, iso, fn)
	if end != nil {
		end(err, attempts)
	}
	return err
}

func (db *DB) writeTxAttempts(ctx context.Context, what string, iso sql.IsolationLevel, fn func(*sql.Tx) error) (int, error) {
	if db.hook != nil {
		if err := db.hook(what, false); err != nil {
			return 1, err
		}
	}
	var opts *sql.TxOptions
	if db.dialect == dialectPostgres {
		opts = &sql.TxOptions{Isolation: iso}
	}
	var err error
	if db.rehearse {
		if err := db.inTx(ctx, db.write, opts, func(t *sql.Tx) error {
			if err := fn(t); err != nil {
				return err
			}
			db.retries.Add(1)
			return errRehearsal
		}); !errors.Is(err, errRehearsal) {
			return 1, err // fn failed: the real run would do no more
		}
	}
	attempt := 1
	for ; ; attempt++ {
		err = db.inTx(ctx, db.write, opts, fn)
		if err == nil || db.dialect != dialectPostgres || !retryable(err) {
			break
		}
		db.retries.Add(1)
		if attempt == pgMaxAttempts {
			err = fmt.Errorf("%s: gave up after %d conflicting attempts: %w", what, attempt, err)
			break
		}
		select {
		case <-ctx.Done():
			return attempt, fmt.Errorf("%s: %w (after a conflict: %w)", what, ctx.Err(), err)
		case <-time.After(retryWait(attempt)):
		}
	}
	if err == nil && db.hook != nil {
		db.hook(what, true)
	}
	return attempt, err
}

// Retries counts the write transactions PostgreSQL aborted (serialization
// failures, deadlocks) and the store ran again, since Open.
func (db *DB) Retries() int64 { return db.retries.Load() }

// inTx begins a transaction on pool, runs fn and commits, rolling back on
// any error or panic.
func (db *DB) inTx(ctx context.Context, pool txBeginner, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	t, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer t.Rollback() // no-op after Commit
	if err := fn(t); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// q rewrites a statement's placeholders for this database's dialect.
func (db *DB) q(query string) string { return rebind(db.dialect, query) }
