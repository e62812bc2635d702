package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/opsbot/opsbot/internal/gcra"
	"github.com/opsbot/opsbot/workflows"
)

// The Slack client's rate buckets, shared by every replica on the
// database (integrations/slack.SharedPace): a row per key in
// rate_limits, read, advanced and written back in one short transaction
// that locks only that row. They take no part in the writer lock and the
// write hook: pacing state is not workflow state, and a crash that loses
// a slot costs nothing but a slower call.
//
// They use a pool of their own (db.pace), so a call paced while some
// workflow transaction holds the writer never waits for it. On SQLite
// the pool is one more writer connection to the file (BEGIN IMMEDIATE,
// busy timeout); on PostgreSQL two connections with a lock_timeout, so a
// stuck row makes the client fall back to pacing alone rather than wait.

// pgPaceLockTimeout bounds the wait for a bucket's row on PostgreSQL.
const pgPaceLockTimeout = "2s"

// openPace opens the pacing pool for dsn.
func (db *DB) openPace(dsn string) error {
	switch {
	case dsn == "sqlite::memory:":
		db.pace = db.write // one connection is the whole database
	case strings.HasPrefix(dsn, "sqlite:"):
		name := "file:" + escapeURIPath(filepath.Clean(strings.TrimPrefix(dsn, "sqlite:")))
		p, err := sql.Open("sqlite", name+"?"+sqliteWriteParams)
		if err != nil {
			return fmt.Errorf("open store for pacing: %w", err)
		}
		p.SetMaxOpenConns(1)
		p.SetMaxIdleConns(1)
		db.pace = p
	default:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return fmt.Errorf("open store for pacing %s: %w", redactDSN(dsn), err)
		}
		setDefault(cfg.RuntimeParams, "lock_timeout", pgPaceLockTimeout)
		setDefault(cfg.RuntimeParams, "idle_in_transaction_session_timeout", pgIdleInTxTimeout)
		p := stdlib.OpenDB(*cfg)
		p.SetMaxOpenConns(2)
		p.SetMaxIdleConns(2)
		db.pace = p
	}
	return nil
}

// bucket runs fn on key's bucket in one transaction: the row is created
// if missing and locked (an upsert that changes nothing locks it on
// PostgreSQL; SQLite's BEGIN IMMEDIATE has the file), fn computes the
// new state, and the row is written back when fn says so.
func (db *DB) bucket(ctx context.Context, key string, fn func(gcra.State) (gcra.State, bool)) error {
	return db.inTx(ctx, db.pace, nil, func(t *sql.Tx) error {
		var tat, blocked int64
		err := t.QueryRowContext(ctx, db.q(`INSERT INTO rate_limits (rate_key, tat, blocked_until) VALUES (?, 0, 0)
			ON CONFLICT (rate_key) DO UPDATE SET rate_key = excluded.rate_key
			RETURNING tat, blocked_until`), key).Scan(&tat, &blocked)
		if err != nil {
			return fmt.Errorf("read rate bucket %s: %w", key, err)
		}
		s, write := fn(gcra.State{TAT: fromNanos(tat), Blocked: fromNanos(blocked)})
		if !write {
			return nil
		}
		if _, err := t.ExecContext(ctx, db.q(`UPDATE rate_limits SET tat = ?, blocked_until = ? WHERE rate_key = ?`),
			unixNanos(s.TAT), unixNanos(s.Blocked), key); err != nil {
			return fmt.Errorf("write rate bucket %s: %w", key, err)
		}
		return nil
	})
}

// TakeToken takes the next slot of key's bucket (one call every every,
// burst at once) when it is due by horizon, and says when the call may
// go; when the slot is later than horizon it takes nothing and says when
// one will be due.
func (db *DB) TakeToken(ctx context.Context, key string, every time.Duration, burst int, now, horizon time.Time) (time.Time, bool, error) {
	var at time.Time
	var ok bool
	err := db.bucket(ctx, key, func(s gcra.State) (gcra.State, bool) {
		s, at, ok = gcra.Take(s, gcra.Limit{Every: every, Burst: burst}, now, horizon)
		return s, ok
	})
	return at, ok, err
}

// HoldOff records a Retry-After for key: no replica's call under it goes
// before until.
func (db *DB) HoldOff(ctx context.Context, key string, until time.Time, every time.Duration, burst int) error {
	return db.bucket(ctx, key, func(s gcra.State) (gcra.State, bool) {
		return gcra.Block(s, gcra.Limit{Every: every, Burst: burst}, until), true
	})
}

// NextToken is when a call under key could go, taking nothing.
func (db *DB) NextToken(ctx context.Context, key string, every time.Duration, burst int, now time.Time) (time.Time, error) {
	var tat, blocked int64
	err := db.read.QueryRowContext(ctx, db.q(`SELECT tat, blocked_until FROM rate_limits WHERE rate_key = ?`), key).Scan(&tat, &blocked)
	if err == sql.ErrNoRows {
		return now, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read rate bucket %s: %w", key, err)
	}
	return gcra.Next(gcra.State{TAT: fromNanos(tat), Blocked: fromNanos(blocked)}, gcra.Limit{Every: every, Burst: burst}, now), nil
}

// ForgetIdleBuckets deletes the buckets that are full and unblocked at
// before (one per channel ever posted to would otherwise pile up):
// forgetting them changes no pace.
func (db *DB) ForgetIdleBuckets(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.pace.ExecContext(ctx, db.q(`DELETE FROM rate_limits WHERE tat <= ? AND blocked_until <= ?`),
		unixNanos(before), unixNanos(before))
	if err != nil {
		return 0, fmt.Errorf("forget idle rate buckets: %w", err)
	}
	return res.RowsAffected()
}

// Defer puts a running job back to run at at without counting an
// attempt: a rate limit held it back before it tried anything
// (workflows.Deferrer). slot is the rate key whose slot at at was taken
// for it ("" if none), handed to its next run (Job.Slot). Until it is
// claimed again, the later jobs of its lane wait. Like Retry it acts only
// under the claim that holds the job (else workflows.ErrLeaseLost), and a
// newer job with the same key supersedes it.
func (db *DB) Defer(ctx context.Context, j workflows.Job, at time.Time, slot, reason string) error {
	if err := db.requeue(ctx, j, at, slot, reason, requeueDefer); err != nil {
		return fmt.Errorf("defer job %d: %w", j.ID, err)
	}
	return nil
}

// NextDeferred says when, after after, the earliest job a rate limit put
// back (Defer) may run, and whether there is one. Tests on a manual
// clock move it there, as a wait in the pacer once did. (A deferred job
// due already may wait for an earlier job of its lane deferred to later.)
func (db *DB) NextDeferred(ctx context.Context, after time.Time) (time.Time, bool, error) {
	var at sql.NullInt64
	err := db.read.QueryRowContext(ctx, db.q(`SELECT MIN(run_at) FROM jobs WHERE state = 'pending' AND slot IS NOT NULL AND run_at > ?`),
		unixNanos(after)).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("look for deferred jobs: %w", err)
	}
	return fromNanos(at.Int64), at.Valid, nil
}
