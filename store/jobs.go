package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/opsbot/opsbot/internal/telemetry"
	"github.com/opsbot/opsbot/workflows"
)

// Job states. Finished jobs are deleted, so they are never claimed again
// and never hold a key.
const (
	jobPending = "pending"
	jobRunning = "running"
	jobDead    = "dead"
)

// Enqueue adds a job to the outbox in the caller's transaction, so the
// job exists if and only if the state change that called for it commits.
// A waiting job with the same non-empty Key is replaced: kind, payload and
// run time become this one's and its attempts start again. A running job
// with that key is left alone and the new one waits beside it. A zero
// RunAt means now.
func (t *tx) Enqueue(j workflows.Job) error {
	if j.Kind == "" {
		return fmt.Errorf("enqueue job %q: no kind", j.Key)
	}
	if err := workflows.ValidatePayload(j); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	// The key's lock keeps a claim or a retry of the same key from
	// deciding on what this transaction is about to change.
	if _, err := t.db.lockJobKey(t.ctx, t.tx, j.Key, false); err != nil {
		return fmt.Errorf("enqueue %s job: %w", j.Kind, err)
	}
	id, err := nextSeq(t.ctx, t.db, t.tx, seqJobs)
	if err != nil {
		return err
	}
	if j.Trace == "" {
		j.Trace = telemetry.Traceparent(t.ctx)
	}
	var key, lane any // NULL: a job without a key never conflicts, one without a lane waits for none
	if j.Key != "" {
		key = j.Key
	}
	if l := workflows.JobLane(j); l != "" {
		lane = l
	}
	// created_at holds the first run time asked for: Enqueue is given no
	// clock, and the store reads none.
	_, err = t.exec(`INSERT INTO jobs (id, kind, job_key, payload, state, run_at, attempts, last_error,
			owner, locked_until, created_at, finished_at, trace_parent, lane)
		VALUES (?, ?, ?, ?, 'pending', ?, 0, '', '', 0, ?, 0, ?, ?)
		ON CONFLICT (job_key) WHERE state = 'pending'
		DO UPDATE SET kind = excluded.kind, payload = excluded.payload, run_at = excluded.run_at,
			attempts = 0, last_error = '', trace_parent = excluded.trace_parent, lane = excluded.lane`,
		id, j.Kind, key, j.Payload, unixNanos(j.RunAt), unixNanos(j.RunAt), j.Trace, lane)
	if err != nil {
		return fmt.Errorf("enqueue %s job %q: %w", j.Kind, j.Key, err)
	}
	return nil
}

const jobColumns = `id, kind, job_key, payload, run_at, attempts, last_error, trace_parent, slot`

// scanJob reads jobColumns plus any extra destinations.
func scanJob(rows *sql.Rows, extra ...any) (workflows.Job, error) {
	var j workflows.Job
	var key, slot sql.NullString
	var runAt, attempts int64
	dest := append([]any{&j.ID, &j.Kind, &key, &j.Payload, &runAt, &attempts, &j.LastError, &j.Trace, &slot}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return j, err
	}
	j.Key, j.RunAt, j.Attempts = key.String, fromNanos(runAt), int(attempts)
	j.Deferred, j.Slot = slot.Valid, slot.String
	return j, nil
}

// Claim leases up to limit jobs due at now to owner until now+lease,
// oldest run time first. Due jobs are the pending ones whose run time has
// come and the running ones whose lease ran out (their worker died; that
// attempt counts, so a job that kills its worker is eventually buried).
// A job is skipped while another job with its key runs under a live
// lease, and at most one job per key is handed out at a time. Each claim
// of a job bumps its token; the claim's Owner and Token, returned in the
// job, are the fence every later call about it must pass.
//
// Claims from several workers or replicas never share a job and never
// wait for each other. On PostgreSQL a claim reads under READ COMMITTED
// and locks the rows it picks FOR UPDATE SKIP LOCKED: a row another
// claim is taking is passed over, not waited for. One job per key is
// kept by a transaction lock on the key, tried without waiting, and a
// fresh look, under it, for a job of that key running under a live
// lease. On SQLite the single writer does all of that.
func (db *DB) Claim(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int) ([]workflows.Job, error) {
	return db.ClaimKinds(ctx, now, owner, lease, limit, nil, true)
}

// ClaimKinds is Claim of jobs of the kinds named only, or (except) of
// every other kind: the runner claims a kind it caps (workflows.Runner's
// KindLimits) only up to its cap.
func (db *DB) ClaimKinds(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int, kinds []string, except bool) ([]workflows.Job, error) {
	return db.claim(ctx, now, owner, lease, limit, kindFilter{kinds, except}, kindFilter{kinds, except})
}

// ClaimOthers claims jobs of every kind but those of except, and leaves
// the waiting jobs of the batched kinds to their batches
// (workflows.BatchHandler): of those it claims only jobs whose lease ran
// out (a worker that ran one alone died).
func (db *DB) ClaimOthers(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int, except, batched []string) ([]workflows.Job, error) {
	return db.claim(ctx, now, owner, lease, limit,
		kindFilter{append(append([]string(nil), except...), batched...), true}, kindFilter{except, true})
}

// kindFilter keeps to kinds, or (except) to every other kind.
type kindFilter struct {
	kinds  []string
	except bool
}

// claim claims waiting jobs that waiting keeps, and jobs whose lease ran
// out that expired keeps.
func (db *DB) claim(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int, waiting, expired kindFilter) ([]workflows.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	n := unixNanos(now)
	var out []workflows.Job
	err := db.writeTx(ctx, "claim", sql.LevelReadCommitted, func(t *sql.Tx) error {
		out = nil // a retried transaction starts again
		// Two index-ordered reads, merged here, instead of one OR that
		// SQLite would sort in full on every claim.
		var picks []pickedJob
		for _, c := range []struct {
			cond string
			f    kindFilter
		}{
			{"j.state = 'pending' AND j.run_at <= ?", waiting},
			{"j.state = 'running' AND j.locked_until < ?", expired},
		} {
			ps, err := dueJobs(ctx, db, t, c.cond, n, limit, c.f.kinds, c.f.except)
			if err != nil {
				return err
			}
			picks = append(picks, ps...)
		}
		sort.Slice(picks, func(a, b int) bool {
			if !picks[a].job.RunAt.Equal(picks[b].job.RunAt) {
				return picks[a].job.RunAt.Before(picks[b].job.RunAt)
			}
			return picks[a].job.ID < picks[b].job.ID
		})
		keys := map[string]bool{}
		kept := picks[:0]
		for _, p := range picks {
			if len(kept) == limit {
				break
			}
			if k := p.job.Key; k != "" {
				if keys[k] {
					continue // one job per key at a time
				}
				free, err := db.keyFree(ctx, t, p.job, n)
				if err != nil {
					return err
				}
				if !free {
					continue
				}
				keys[k] = true
			}
			kept = append(kept, p)
		}
		until := unixNanos(now.Add(lease))
		for _, p := range kept {
			j := p.job
			if p.state == jobRunning {
				j.Attempts++
				j.LastError = fmt.Sprintf("lease of %s ran out before the job finished", p.prev)
			}
			// Each claim takes the next token: the fence that later
			// calls of this claim, and only those, pass.
			err := t.QueryRowContext(ctx, db.q(`UPDATE jobs SET state = 'running', owner = ?, locked_until = ?,
				attempts = ?, last_error = ?, token = token + 1, slot = NULL WHERE id = ? RETURNING token`),
				owner, until, int64(j.Attempts), j.LastError, j.ID).Scan(&j.Token)
			if err != nil {
				return fmt.Errorf("lease job %d: %w", j.ID, err)
			}
			j.Owner = owner
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs for %s: %w", owner, err)
	}
	return out, nil
}

// keyFree reports whether j may be claimed as the one job of its key
// running: on PostgreSQL, whether this claim got the key's lock at once
// and, looking again under it, no other job of the key runs under a
// live lease. (The look in dueJobs may be stale: another claim may have
// committed since.) On SQLite dueJobs' look is current.
func (db *DB) keyFree(ctx context.Context, t *sql.Tx, j workflows.Job, now int64) (bool, error) {
	if db.dialect != dialectPostgres {
		return true, nil
	}
	got, err := db.lockJobKey(ctx, t, j.Key, true)
	if err != nil || !got {
		return false, err
	}
	var busy int64
	err = t.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM jobs WHERE job_key = ? AND id <> ?
		AND state = 'running' AND locked_until >= ?`), j.Key, j.ID, now).Scan(&busy)
	if err != nil {
		return false, fmt.Errorf("look for a running job of key %q: %w", j.Key, err)
	}
	return busy == 0, nil
}

// pickedJob is a job Claim chose, with the state and owner it had.
type pickedJob struct {
	job         workflows.Job
	state, prev string
}

// dueJobs reads up to limit jobs matching cond (with one placeholder for
// now), oldest run time first, leaving out jobs whose key another job
// holds under a live lease, and keeping to kinds (or, except, to the
// others). On PostgreSQL it locks the rows it returns
// and passes over rows another transaction has locked.
func dueJobs(ctx context.Context, db *DB, t *sql.Tx, cond string, now int64, limit int, kinds []string, except bool) ([]pickedJob, error) {
	lock := ""
	if db.dialect == dialectPostgres {
		lock = " FOR UPDATE OF j SKIP LOCKED"
	}
	args := []any{now}
	switch {
	case len(kinds) > 0:
		in := " IN ("
		if except {
			in = " NOT IN ("
		}
		cond += " AND j.kind" + in + placeholders(len(kinds)) + ")"
		for _, k := range kinds {
			args = append(args, k)
		}
	case !except:
		return nil, nil // only of no kind
	}
	args = append(args, now)
	// The limit is written into the statement, not bound: SQLite plans
	// with a bound LIMIT's value and so prepares the statement again
	// each time a different one is bound (12% of opsbot's CPU under
	// make loadtest); each limit's text is prepared once and cached,
	// rounded up to a power of two so that there are few of them.
	sqlLimit := 1
	for sqlLimit < limit {
		sqlLimit *= 2
	}
	rows, err := t.QueryContext(ctx, db.q(`SELECT `+jobColumns+`, state, owner FROM jobs j
		WHERE `+cond+`
		  AND (j.job_key IS NULL OR NOT EXISTS (
			SELECT 1 FROM jobs r WHERE r.job_key = j.job_key AND r.id <> j.id
			  AND r.state = 'running' AND r.locked_until >= ?))
		  AND (j.lane IS NULL OR NOT EXISTS (
			SELECT 1 FROM jobs d WHERE d.lane = j.lane AND d.slot IS NOT NULL AND d.id < j.id))
		ORDER BY j.run_at, j.id
		LIMIT `+strconv.Itoa(sqlLimit)+lock), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pickedJob
	for len(out) < limit && rows.Next() {
		var p pickedJob
		if p.job, err = scanJob(rows, &p.state, &p.prev); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// fence is the condition under which a claim still holds a job: the
// job runs, under the owner and token that claim was given. Its three
// placeholders take fenceArgs.
const fence = `id = ? AND owner = ? AND token = ? AND state = 'running'`

func fenceArgs(j workflows.Job) []any { return []any{j.ID, j.Owner, j.Token} }

// lost is the error of a call whose claim no longer holds job j.
func lost(j workflows.Job) error {
	return fmt.Errorf("job %d, claim %d of %s: %w", j.ID, j.Token, j.Owner, workflows.ErrLeaseLost)
}

// Renew extends the lease of a job its claim still holds to until. A
// lease that ran out is extended too if no other claim took the job.
func (db *DB) Renew(ctx context.Context, j workflows.Job, until time.Time) error {
	err := db.writeTx(ctx, "renew", sql.LevelReadCommitted, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, db.q(`UPDATE jobs SET locked_until = ? WHERE `+fence),
			append([]any{unixNanos(until)}, fenceArgs(j)...)...)
		if err != nil {
			return err
		}
		return mustChange(res, "renew", lost(j))
	})
	if err != nil {
		return fmt.Errorf("renew the lease of job %d: %w", j.ID, err)
	}
	return nil
}

// Done removes a finished job, if its claim still holds it. Otherwise
// (the lease ran out and another worker claimed the job, which may be
// running or done) it changes nothing and returns ErrLeaseLost.
func (db *DB) Done(ctx context.Context, j workflows.Job, now time.Time) error {
	err := db.writeTx(ctx, "done", sql.LevelReadCommitted, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, db.q(`DELETE FROM jobs WHERE `+fence), fenceArgs(j)...)
		if err != nil {
			return err
		}
		return mustChange(res, "delete", lost(j))
	})
	if err != nil {
		return fmt.Errorf("finish job %d: %w", j.ID, err)
	}
	return nil
}

// TakeDueJobs removes and returns up to limit waiting jobs of kind due
// at now, oldest first (a BatchHandler's jobs, done in the same
// transaction). It takes no job with a key (one of a key runs at a time,
// under a claim) or held back for a rate limit's slot. On PostgreSQL it
// takes none while another transaction takes jobs of the kind.
func (t *tx) TakeDueJobs(kind string, now time.Time, limit int) ([]workflows.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	// One batch of a kind at a time across replicas: two would take
	// different jobs (SKIP LOCKED) but often touch the same rows (a
	// storm's events are about a few incidents) and abort each other's
	// transactions. A replica that finds the kind's lock taken takes
	// nothing; the one holding it works the queue.
	if got, err := t.db.lockJobKey(t.ctx, t.tx, "batch:"+kind, true); err != nil || !got {
		return nil, err
	}
	lock := ""
	if t.db.dialect == dialectPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	rows, err := t.tx.QueryContext(t.ctx, t.db.q(`DELETE FROM jobs WHERE id IN (
			SELECT id FROM jobs WHERE kind = ? AND state = 'pending' AND run_at <= ?
			  AND job_key IS NULL AND slot IS NULL
			ORDER BY run_at, id LIMIT `+strconv.Itoa(limit)+lock+`)
		RETURNING `+jobColumns), kind, unixNanos(now))
	if err != nil {
		return nil, fmt.Errorf("take due %s jobs: %w", kind, err)
	}
	defer rows.Close()
	var out []workflows.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("take due %s jobs: %w", kind, err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("take due %s jobs: %w", kind, err)
	}
	sort.Slice(out, func(a, b int) bool {
		if !out[a].RunAt.Equal(out[b].RunAt) {
			return out[a].RunAt.Before(out[b].RunAt)
		}
		return out[a].ID < out[b].ID
	})
	return out, nil
}

// Retry puts a running job back to wait until at, counting the attempt
// and keeping its error. If a newer job with the same key is already
// waiting, that one supersedes this one, which is removed. A claim that
// no longer holds the job changes nothing (ErrLeaseLost).
func (db *DB) Retry(ctx context.Context, j workflows.Job, at time.Time, lastErr string) error {
	if err := db.requeue(ctx, j, at, "", lastErr, requeueRetry); err != nil {
		return fmt.Errorf("retry job %d: %w", j.ID, err)
	}
	return nil
}

// Release puts a running job back as it was before its claim, its run
// time and attempts unchanged: the runner gives back the jobs it holds
// behind one of their lane that a rate limit put back (see Defer), so
// that they wait for it in the queue rather than in a worker.
func (db *DB) Release(ctx context.Context, j workflows.Job) error {
	if err := db.requeue(ctx, j, j.RunAt, "", j.LastError, requeueRelease); err != nil {
		return fmt.Errorf("release job %d: %w", j.ID, err)
	}
	return nil
}

// How requeue puts a job back.
type requeueMode int

const (
	requeueRetry   requeueMode = iota // a failed attempt: counted
	requeueDefer                      // held back by a rate limit: not counted; later jobs of its lane wait for it
	requeueRelease                    // given back unrun: not counted
)

// requeue puts a running job back to wait until at with why as its last
// error, counting an attempt (Retry) or not (Defer, Release); a deferred
// job keeps the rate key whose slot at at it holds (slot, possibly empty)
// and holds back the later jobs of its lane until it is claimed again.
// If a newer job with the same key is already waiting, that one
// supersedes this one, which is removed.
func (db *DB) requeue(ctx context.Context, j workflows.Job, at time.Time, slot, why string, mode requeueMode) error {
	attempts, held := "attempts", any(nil) // NULL: not deferred
	switch mode {
	case requeueRetry:
		attempts = "attempts + 1"
	case requeueDefer:
		held = slot
	}
	return db.writeTx(ctx, "retry", sql.LevelReadCommitted, func(t *sql.Tx) error {
		// Under the key's lock no job of the key is queued meanwhile, so
		// "a newer one waits" stays true until this commits.
		if _, err := db.lockJobKey(ctx, t, j.Key, false); err != nil {
			return err
		}
		key, err := heldJobKey(ctx, db, t, j)
		if err != nil {
			return err
		}
		if key.Valid {
			var newer int64
			err := t.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM jobs WHERE job_key = ? AND state = 'pending'`),
				key.String).Scan(&newer)
			if err != nil {
				return err
			}
			if newer > 0 {
				_, err := t.ExecContext(ctx, db.q(`DELETE FROM jobs WHERE `+fence), fenceArgs(j)...)
				return err
			}
		}
		_, err = t.ExecContext(ctx, db.q(`UPDATE jobs SET state = 'pending', attempts = `+attempts+`, run_at = ?,
			last_error = ?, owner = '', locked_until = 0, slot = ? WHERE `+fence),
			append([]any{unixNanos(at), why, held}, fenceArgs(j)...)...)
		return err
	})
}

// Bury gives up on a running job and keeps it, with its error, for people
// to look at (see DeadJobs). A claim that no longer holds the job
// changes nothing (ErrLeaseLost).
func (db *DB) Bury(ctx context.Context, j workflows.Job, now time.Time, lastErr string) error {
	err := db.writeTx(ctx, "bury", sql.LevelReadCommitted, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, db.q(`UPDATE jobs SET state = 'dead', attempts = attempts + 1, last_error = ?,
			owner = '', locked_until = 0, finished_at = ? WHERE `+fence),
			append([]any{lastErr, unixNanos(now)}, fenceArgs(j)...)...)
		if err != nil {
			return err
		}
		return mustChange(res, "bury", lost(j))
	})
	if err != nil {
		return fmt.Errorf("bury job %d: %w", j.ID, err)
	}
	return nil
}

// heldJobKey returns the key of job j, which its claim must still hold.
func heldJobKey(ctx context.Context, db *DB, t *sql.Tx, j workflows.Job) (sql.NullString, error) {
	var key sql.NullString
	lock := ""
	if db.dialect == dialectPostgres {
		lock = " FOR UPDATE"
	}
	err := t.QueryRowContext(ctx, db.q(`SELECT job_key FROM jobs WHERE `+fence+lock), fenceArgs(j)...).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return key, lost(j)
	}
	return key, err
}

// DeadJob is a job the runner gave up on.
type DeadJob struct {
	workflows.Job
	DiedAt time.Time
}

// DeadJobs lists the jobs that will not be retried, oldest death first,
// for people to look at and act on.
func (db *DB) DeadJobs(ctx context.Context) ([]DeadJob, error) {
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+jobColumns+`, finished_at FROM jobs
		WHERE state = 'dead' ORDER BY finished_at, id`))
	if err != nil {
		return nil, fmt.Errorf("list dead jobs: %w", err)
	}
	defer rows.Close()
	var out []DeadJob
	for rows.Next() {
		var died int64
		j, err := scanJob(rows, &died)
		if err != nil {
			return nil, fmt.Errorf("list dead jobs: %w", err)
		}
		out = append(out, DeadJob{Job: j, DiedAt: fromNanos(died)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dead jobs: %w", err)
	}
	return out, nil
}
