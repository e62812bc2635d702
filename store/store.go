// Package store keeps opsbot's state in SQL: server requests, approvals,
// the budget ledger, incidents and their timelines, the audit log and the
// durable job outbox. It
// implements the store interfaces declared in workflows.
//
// SQLite (modernc.org/sqlite, pure Go) is the only engine today. Every
// statement is written in the SQL that SQLite and PostgreSQL share
// (`?` placeholders passed through rebind, INSERT ... ON CONFLICT,
// RETURNING, BIGINT and TEXT columns, no engine-specific functions) so a
// PostgreSQL dialect can be added without rewriting the queries. The store
// never reads the clock: every timestamp it writes is one it was given.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/opsbot/opsbot/workflows"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// The interfaces DB serves.
var (
	_ workflows.Store    = (*DB)(nil)
	_ workflows.JobQueue = (*DB)(nil)
	_ workflows.Tx       = (*tx)(nil)
)

// DB is an open store. Writes go through one connection so they are
// serialized (SQLite allows one writer at a time); reads use a separate
// pool and see the last committed state.
type DB struct {
	write   *sql.DB
	read    *sql.DB
	dialect dialect
	clock   workflows.Clock
}

// Option changes how Open sets up the store.
type Option func(*DB)

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
// created if missing) or "sqlite::memory:" (one connection, for tests).
// "postgres://" URLs are recognised but not supported yet.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	db := &DB{clock: workflows.SystemClock{}}
	for _, o := range opts {
		o(db)
	}
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		if err := db.openSQLite(strings.TrimPrefix(dsn, "sqlite:")); err != nil {
			return nil, err
		}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return nil, errors.New("open store: PostgreSQL is not supported yet; use OPSBOT_DB=sqlite:PATH")
	default:
		return nil, fmt.Errorf("open store: OPSBOT_DB must be sqlite:PATH or a postgres:// URL, got %q", redactDSN(dsn))
	}
	if err := db.migrate(ctx); err != nil {
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
		w, err := sql.Open("sqlite", "file::memory:?"+sqliteWriteParams)
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
	name := "file:" + escapeURIPath(filepath.Clean(path))
	w, err := sql.Open("sqlite", name+"?"+sqliteWriteParams)
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", name+"?"+sqliteReadParams)
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

// redactDSN hides credentials a URL-style DSN may carry.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "@"); i >= 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

// Close releases the connections.
func (db *DB) Close() error {
	var errs []error
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
// nil. Writers are serialized: SQLite's single writer connection begins
// each transaction with BEGIN IMMEDIATE. If fn returns an error, panics,
// or ctx ends, nothing fn did is kept: no row, no job, no audit entry.
// fn must not call Update or View itself (the writer is busy with it).
func (db *DB) Update(ctx context.Context, fn func(workflows.Tx) error) error {
	return db.inTx(ctx, db.write, func(t *sql.Tx) error {
		return fn(&tx{ctx: ctx, tx: t, db: db})
	})
}

// View runs fn in a read-only transaction that sees one consistent
// snapshot, without waiting for writers. Writes inside it fail (on a
// file database; sqlite::memory: shares the writer's connection and
// cannot enforce it).
func (db *DB) View(ctx context.Context, fn func(workflows.Tx) error) error {
	return db.inTxOpts(ctx, db.read, &sql.TxOptions{ReadOnly: true}, func(t *sql.Tx) error {
		return fn(&tx{ctx: ctx, tx: t, db: db})
	})
}

// inTx begins a transaction on pool, runs fn and commits, rolling back on
// any error or panic.
func (db *DB) inTx(ctx context.Context, pool *sql.DB, fn func(*sql.Tx) error) error {
	return db.inTxOpts(ctx, pool, nil, fn)
}

func (db *DB) inTxOpts(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
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
