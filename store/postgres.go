package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL settings the store puts on its connections unless the URL
// already sets them.
const (
	// A replica that stalls inside a transaction (paused, partitioned)
	// holds the row locks it took; PostgreSQL ends its session after this
	// long. Every write transaction is short.
	pgIdleInTxTimeout = "60s"
	// No statement waits longer than this for a row or key lock: a
	// transaction stuck behind a stalled one fails with a clear error
	// rather than waiting for the idle timeout.
	pgLockTimeout = "5s"
	// How many connections each pool keeps. Writers run in parallel: the
	// database, not one lock, keeps them correct.
	pgReadConns  = 8
	pgWriteConns = 8
)

// Retries of a write transaction PostgreSQL aborted to keep the writes
// serializable (SQLSTATE 40001) or to break a deadlock (40P01): at most
// pgMaxAttempts runs of fn, waiting a random time up to a doubling bound
// between them, so writers that collided do not collide again in step.
const (
	pgMaxAttempts = 10
	pgRetryBase   = 2 * time.Millisecond
	pgRetryCap    = 250 * time.Millisecond
)

// openPostgres connects to the PostgreSQL database named by url through
// pgx's database/sql driver: a pool of writers and a pool of readers,
// in this process and in every other replica, writing at once. See
// Update for how they stay correct.
func (db *DB) openPostgres(ctx context.Context, url string) error {
	db.dialect = dialectPostgres
	wcfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("open store %s: %w", redactDSN(url), err)
	}
	rcfg := wcfg.Copy()
	setDefault(wcfg.RuntimeParams, "idle_in_transaction_session_timeout", pgIdleInTxTimeout)
	setDefault(wcfg.RuntimeParams, "lock_timeout", pgLockTimeout)
	// Readers cannot write, as on SQLite's query_only pool.
	rcfg.RuntimeParams["default_transaction_read_only"] = "on"

	w := stdlib.OpenDB(*wcfg)
	w.SetMaxOpenConns(pgWriteConns)
	w.SetMaxIdleConns(pgWriteConns)
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
	db.migrateLock = lockKey("opsbot store migrate", schema.String)
	db.jobKeyLocks = int32(lockKey("opsbot job keys", schema.String))
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

// retryable reports whether PostgreSQL aborted a transaction that would
// succeed if run again: a serialization failure or a broken deadlock.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Code == "40001" || pe.Code == "40P01"
}

// retryWait is how long to wait before attempt n+1: random, up to a
// bound that doubles with each attempt.
func retryWait(n int) time.Duration {
	bound := min(pgRetryBase<<min(n, 16), pgRetryCap)
	return time.Duration(rand.Int64N(int64(bound)) + 1)
}

// lockJobKey makes t the only transaction, in any replica, that queues,
// claims or retries a job of this key until t ends. try takes it only if
// it is free at once and reports whether it did. (A hash collision
// between two keys only makes one wait for, or skip, the other.)
func (db *DB) lockJobKey(ctx context.Context, t *sql.Tx, key string, try bool) (bool, error) {
	if db.dialect != dialectPostgres || key == "" {
		return true, nil // SQLite's single writer already excludes the others
	}
	if !try {
		_, err := t.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", db.jobKeyLocks, key)
		if err != nil {
			return false, fmt.Errorf("lock job key %q: %w", key, err)
		}
		return true, nil
	}
	var got bool
	err := t.QueryRowContext(ctx, "SELECT pg_try_advisory_xact_lock($1, hashtext($2))", db.jobKeyLocks, key).Scan(&got)
	if err != nil {
		return false, fmt.Errorf("lock job key %q: %w", key, err)
	}
	return got, nil
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
	// Another replica may take a while to migrate: wait for it, not
	// for the lock timeout of ordinary writes.
	if _, err := conn.ExecContext(ctx, "SET lock_timeout = 0"); err != nil {
		return fmt.Errorf("connect to migrate: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", db.migrateLock); err != nil {
		return fmt.Errorf("wait for the migration lock: %w", err)
	}
	ferr := fn(conn)
	if ferr == nil {
		ferr = db.ensureSequences(ctx, conn)
	}
	// A session lock outlives transactions: give it back now, not when
	// the pooled connection happens to close.
	_, uerr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", db.migrateLock)
	if uerr == nil {
		_, uerr = conn.ExecContext(context.WithoutCancel(ctx), "RESET lock_timeout")
	}
	if uerr != nil {
		// Never pool a connection that may still hold the lock: closing
		// the session is what releases it.
		conn.Raw(func(any) error { return driver.ErrBadConn })
		uerr = fmt.Errorf("release the migration lock: %w", uerr)
	}
	return errors.Join(ferr, uerr)
}

// Sequences serve the numbers opsbot takes often on PostgreSQL: a row of
// the counters table would make every two transactions that take the
// same number conflict, and one of them retry. A sequence never
// conflicts; the price is that a number taken by a transaction that
// rolled back or was retried is skipped, so IDs can have gaps. Each maps
// a counters name to its sequence; other names keep using counters.
var pgSequences = map[string]string{
	seqJobs: "seq_jobs", seqAudit: "seq_audit", seqExtensions: "seq_extensions",
	seqDecisions: "seq_decisions", seqLedger: "seq_ledger", seqTimeline: "seq_timeline",
	"srv": "seq_id_srv", "apr": "seq_id_apr", "inc": "seq_id_inc", "act": "seq_id_act",
}

// ensureSequences creates the sequences this opsbot uses, under the
// migration lock. A new sequence starts after the counters row it takes
// over from, so no ID is handed out twice. (A replica of an older opsbot
// still running would keep using the counters row: stop old replicas
// before new ones start.)
func (db *DB) ensureSequences(ctx context.Context, conn txBeginner) error {
	for name, seq := range pgSequences {
		err := db.inTx(ctx, conn, nil, func(t *sql.Tx) error {
			var exists bool
			if err := t.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", seq).Scan(&exists); err != nil || exists {
				return err
			}
			if _, err := t.ExecContext(ctx, "CREATE SEQUENCE "+seq); err != nil {
				return err
			}
			var n int64
			err := t.QueryRowContext(ctx, "SELECT COALESCE(MAX(n), 0) FROM counters WHERE name = $1", name).Scan(&n)
			if err != nil || n == 0 {
				return err
			}
			_, err = t.ExecContext(ctx, "SELECT setval($1, $2)", seq, n)
			return err
		})
		if err != nil {
			return fmt.Errorf("create sequence %s: %w", seq, err)
		}
	}
	return nil
}

// txBeginner is a pool or one pinned connection.
type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}
