package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL settings the store puts on its connections unless the URL
// already sets them.
const (
	// A replica that stalls inside a transaction (paused, partitioned)
	// holds the writer lock; PostgreSQL ends its session after this long
	// so the other replicas can write again. Every Update is short.
	pgIdleInTxTimeout = "60s"
	// How many connections the read pool keeps.
	pgReadConns = 8
)

// openPostgres connects to the PostgreSQL database named by url through
// pgx's database/sql driver. Like SQLite, one connection per process
// writes and a pool reads; across processes, writers are serialized by
// an advisory lock (see Update).
func (db *DB) openPostgres(ctx context.Context, url string) error {
	db.dialect = dialectPostgres
	wcfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("open store %s: %w", redactDSN(url), err)
	}
	rcfg := wcfg.Copy()
	setDefault(wcfg.RuntimeParams, "idle_in_transaction_session_timeout", pgIdleInTxTimeout)
	// Readers cannot write, as on SQLite's query_only pool.
	rcfg.RuntimeParams["default_transaction_read_only"] = "on"

	w := stdlib.OpenDB(*wcfg)
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	r := stdlib.OpenDB(*rcfg)
	r.SetMaxOpenConns(pgReadConns)
	r.SetMaxIdleConns(pgReadConns)
	db.write, db.read = w, r

	// The tables live in the first schema of search_path; the locks are
	// named after it, so stores in other schemas of the same database do
	// not wait for each other.
	var schema sql.NullString
	if err := w.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		db.Close()
		return fmt.Errorf("open store %s: %w", redactDSN(url), err)
	}
	if !schema.Valid {
		db.Close()
		return errors.New("open store: no schema of the search_path exists; create one or set search_path in the URL")
	}
	db.writerLock = lockKey("opsbot store writer", schema.String)
	db.migrateLock = lockKey("opsbot store migrate", schema.String)
	return nil
}

func setDefault(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// lockKey names an advisory lock: a hash of what it guards and the
// schema it guards it in.
func lockKey(what, schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte(what))
	h.Write([]byte{0})
	h.Write([]byte(schema))
	return int64(h.Sum64())
}

// lockWriter makes t the only writing transaction on this schema, in
// this process and in every other, until it ends. Statements after it
// see everything committed before it got the lock: Update runs under
// READ COMMITTED, whose snapshots are per statement, so the read-then-
// write patterns of workflows behave as on SQLite's single writer.
func (db *DB) lockWriter(ctx context.Context, t *sql.Tx) error {
	if db.dialect != dialectPostgres {
		return nil // SQLite's BEGIN IMMEDIATE already took the write lock
	}
	if _, err := t.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", db.writerLock); err != nil {
		return fmt.Errorf("wait for the writer lock: %w", err)
	}
	return nil
}

// withMigrateLock runs fn on one connection that holds the schema's
// migration lock, so replicas starting together migrate once: the first
// applies the migrations, the others wait and then find them applied.
// On SQLite fn runs on the writer, whose BEGIN IMMEDIATE serializes.
func (db *DB) withMigrateLock(ctx context.Context, fn func(txBeginner) error) error {
	if db.dialect != dialectPostgres {
		return fn(db.write)
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", db.migrateLock); err != nil {
		return fmt.Errorf("wait for the migration lock: %w", err)
	}
	ferr := fn(conn)
	// A session lock outlives transactions: give it back now, not when
	// the pooled connection happens to close.
	_, uerr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", db.migrateLock)
	if uerr != nil {
		// Never pool a connection that may still hold the lock: closing
		// the session is what releases it.
		conn.Raw(func(any) error { return driver.ErrBadConn })
		uerr = fmt.Errorf("release the migration lock: %w", uerr)
	}
	return errors.Join(ferr, uerr)
}

// txBeginner is a pool or one pinned connection.
type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}
