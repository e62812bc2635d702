package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/opsbot/opsbot/internal/telemetry"
	"github.com/opsbot/opsbot/workflows"
)

// TakeIn records a batch of arriving requests in a transaction of its
// own (workflows.IntakeStore). On PostgreSQL it runs at READ COMMITTED:
// every statement of tx.TakeIn decides by its own result (ON CONFLICT DO
// NOTHING … RETURNING, an upsert, a delete of waiting jobs), so it needs
// none of Update's serializable checks, which cost each batch and abort
// some when replicas take in the same keys at once; a key two replicas
// insert together is inserted by one, and the other waits for its commit
// and finds it.
func (db *DB) TakeIn(ctx context.Context, arrivals []workflows.Arrival) (fresh []bool, err error) {
	err = db.writeTx(ctx, "take in", sql.LevelReadCommitted, func(t *sql.Tx) error {
		fresh, err = (&tx{ctx: ctx, tx: t, db: db}).TakeIn(arrivals)
		return err
	})
	return fresh, err
}

// TakeIn records a batch of arriving requests in the caller's
// transaction (see workflows.Arrival). Each statement is prepared once
// for the whole batch and run per row: preparing a statement costs more
// than running it, and with the log write it is most of what a small
// insert costs. A request is fresh when each of its keys is new, here
// and earlier in the batch; a fresh request's job is queued as Enqueue
// would queue it (a waiting job with the same key is replaced). Keys of
// requests that are not fresh are recorded all the same, as MarkSent
// would.
func (t *tx) TakeIn(arrivals []workflows.Arrival) (fresh []bool, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("take in %d requests: %w", len(arrivals), err)
		}
	}()
	if t.db.dialect == dialectPostgres && oneKeyEach(arrivals) {
		return t.takeInOneStatement(arrivals)
	}
	inserted, first, err := t.markSeen(arrivals)
	if err != nil {
		return nil, err
	}
	fresh = make([]bool, len(arrivals))
	var jobs []workflows.Job
	var cancels []string
	for i, a := range arrivals {
		fresh[i] = true
		for _, k := range a.Seen {
			// Fresh: recorded now, by this arrival (the first in the
			// batch to name it; a second delivery in the same batch is
			// a replay).
			fresh[i] = fresh[i] && inserted[k] && first[k] == i
		}
		if a.Job != nil && fresh[i] {
			jobs = append(jobs, *a.Job)
		}
		if a.Cancel != "" {
			cancels = append(cancels, a.Cancel)
		}
	}
	if err := t.enqueueAll(jobs); err != nil {
		return nil, err
	}
	if len(cancels) > 0 {
		cancel, err := t.prepare(`DELETE FROM jobs WHERE job_key = ? AND state = 'pending'`)
		if err != nil {
			return nil, err
		}
		defer cancel.Close()
		for _, k := range cancels {
			if _, err := cancel.ExecContext(t.ctx, k); err != nil {
				return nil, fmt.Errorf("cancel job %q: %w", k, err)
			}
		}
	}
	return fresh, nil
}

// oneKeyEach reports whether every arrival names one key, of its own in
// the batch, and queues at most a job without a key and cancels nothing:
// PagerDuty events, which PostgreSQL takes in by one statement.
func oneKeyEach(arrivals []workflows.Arrival) bool {
	seen := make(map[string]bool, len(arrivals))
	for _, a := range arrivals {
		if len(a.Seen) != 1 || a.Cancel != "" || (a.Job != nil && a.Job.Key != "") || seen[a.Seen[0]] {
			return false
		}
		seen[a.Seen[0]] = true
	}
	return true
}

// takeInOneStatement is TakeIn on PostgreSQL for arrivals of one key each
// (oneKeyEach): their keys and the jobs of the fresh ones go in by one
// statement, whatever the batch's size, so that a batch costs one round
// trip between BEGIN and COMMIT rather than three (keys, job numbers,
// jobs). It matters most with several replicas, each committing smaller
// batches.
func (t *tx) takeInOneStatement(arrivals []workflows.Arrival) ([]bool, error) {
	n := len(arrivals)
	keys, ats := make([]string, n), make([]int64, n)
	var kinds, payloads, traces []*string
	var runAts []int64
	for i, a := range arrivals {
		keys[i], ats[i] = a.Seen[0], unixNanos(a.At)
		if a.Job == nil {
			kinds, payloads, traces, runAts = append(kinds, nil), append(payloads, nil), append(traces, nil), append(runAts, 0)
			continue
		}
		j := *a.Job
		if j.Kind == "" {
			return nil, fmt.Errorf("enqueue job: no kind")
		}
		if err := workflows.ValidatePayload(j); err != nil {
			return nil, fmt.Errorf("enqueue: %w", err)
		}
		trace := j.Trace
		if trace == "" {
			trace = telemetry.Traceparent(t.ctx)
		}
		kinds, payloads, traces, runAts = append(kinds, &j.Kind), append(payloads, &j.Payload), append(traces, &trace), append(runAts, unixNanos(j.RunAt))
	}
	// Job IDs come from the jobs sequence in arrival order; created_at is
	// the run time, as Enqueue sets it for a job due now.
	rows, err := t.tx.QueryContext(t.ctx, `WITH v AS (
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::text[])
				AS v(ord, k, at, kind, payload, run_at, trace)),
		seen AS (
			INSERT INTO sent (sent_key, at) SELECT k, at FROM v ORDER BY k
			ON CONFLICT (sent_key) DO NOTHING RETURNING sent_key),
		queued AS (
			INSERT INTO jobs (id, kind, job_key, payload, state, run_at, attempts, last_error,
				owner, locked_until, created_at, finished_at, trace_parent)
			SELECT nextval('`+pgSequences[seqJobs]+`'), kind, NULL, payload, 'pending', run_at, 0, '', '', 0, run_at, 0, trace
			FROM (SELECT v.* FROM v JOIN seen ON seen.sent_key = v.k WHERE v.kind IS NOT NULL ORDER BY v.ord) fresh)
		SELECT sent_key FROM seen`,
		ordinals(n), keys, ats, kinds, payloads, runAts, traces)
	if err != nil {
		return nil, fmt.Errorf("mark %d keys seen and queue their jobs: %w", n, err)
	}
	defer rows.Close()
	inserted := make(map[string]bool, n)
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		inserted[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	fresh := make([]bool, n)
	for i, k := range keys {
		fresh[i] = inserted[k]
	}
	return fresh, nil
}

// ordinals is 0, 1, ..., n-1.
func ordinals(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i)
	}
	return out
}

// markSeen records the keys the arrivals name as seen, by statements of
// many rows, and returns those recorded now (not before) and, for each
// key, the first arrival naming it.
func (t *tx) markSeen(arrivals []workflows.Arrival) (inserted map[string]bool, first map[string]int, err error) {
	first = map[string]int{}
	var keys []string
	var ats []int64
	for i, a := range arrivals {
		for _, k := range a.Seen {
			if _, dup := first[k]; !dup {
				first[k] = i
				keys = append(keys, k)
				ats = append(ats, unixNanos(a.At))
			}
		}
	}
	// Keys go in in one order, whatever the arrivals': two replicas
	// taking in overlapping batches then wait for each other (the second
	// finds the first's key once it commits) rather than deadlock, which
	// PostgreSQL breaks only after a second, aborting one of them.
	sortTogether(keys, ats)
	inserted = make(map[string]bool, len(keys))
	for len(keys) > 0 {
		n := rowsPerInsert(len(keys))
		args := make([]any, 0, 2*n)
		for i := range n {
			args = append(args, keys[i], ats[i])
		}
		rows, err := t.query(`INSERT INTO sent (sent_key, at) VALUES `+strings.TrimSuffix(strings.Repeat("(?, ?), ", n), ", ")+`
			ON CONFLICT (sent_key) DO NOTHING RETURNING sent_key`, args...)
		if err != nil {
			return nil, nil, fmt.Errorf("mark %d keys seen: %w", n, err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, nil, err
			}
			inserted[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
		keys, ats = keys[n:], ats[n:]
	}
	return inserted, first, nil
}

// sortTogether sorts keys, and ats in step with them.
func sortTogether(keys []string, ats []int64) {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
	k2, a2 := make([]string, len(keys)), make([]int64, len(ats))
	for i, j := range idx {
		k2[i], a2[i] = keys[j], ats[j]
	}
	copy(keys, k2)
	copy(ats, a2)
}

// enqueueAll queues jobs as Enqueue does, numbered from one range of IDs
// and inserted by one prepared statement.
func (t *tx) enqueueAll(jobs []workflows.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	for _, j := range jobs {
		if j.Kind == "" {
			return fmt.Errorf("enqueue job %q: no kind", j.Key)
		}
		if err := workflows.ValidatePayload(j); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
	}
	ids, err := nextSeqs(t, seqJobs, len(jobs))
	if err != nil {
		return fmt.Errorf("number %d jobs: %w", len(jobs), err)
	}
	// A batch is written under a context of its own: each job's trace
	// was put in it from its request's (GroupCommit.Stamp).
	trace := func(j workflows.Job) string {
		if j.Trace != "" {
			return j.Trace
		}
		return telemetry.Traceparent(t.ctx)
	}
	// Jobs without a key never conflict: they go in by statements of
	// many rows (a storm's PagerDuty events), each run costing about what
	// one row's does.
	var keyed []int
	var keyless []int
	for i, j := range jobs {
		if j.Key != "" {
			keyed = append(keyed, i)
		} else {
			keyless = append(keyless, i)
		}
	}
	for len(keyless) > 0 {
		n := rowsPerInsert(len(keyless))
		args := make([]any, 0, n*6)
		for _, i := range keyless[:n] {
			j := jobs[i]
			args = append(args, ids[i], j.Kind, j.Payload, unixNanos(j.RunAt), unixNanos(j.RunAt), trace(j))
		}
		if _, err := t.exec(`INSERT INTO jobs (id, kind, job_key, payload, state, run_at, attempts, last_error,
				owner, locked_until, created_at, finished_at, trace_parent)
			VALUES `+strings.TrimSuffix(strings.Repeat(`(?, ?, NULL, ?, 'pending', ?, 0, '', '', 0, ?, 0, ?), `, n), ", "), args...); err != nil {
			return fmt.Errorf("enqueue %d jobs: %w", n, err)
		}
		keyless = keyless[n:]
	}
	if len(keyed) == 0 {
		return nil
	}
	insert, err := t.prepare(`INSERT INTO jobs (id, kind, job_key, payload, state, run_at, attempts, last_error,
			owner, locked_until, created_at, finished_at, trace_parent)
		VALUES (?, ?, ?, ?, 'pending', ?, 0, '', '', 0, ?, 0, ?)
		ON CONFLICT (job_key) WHERE state = 'pending'
		DO UPDATE SET kind = excluded.kind, payload = excluded.payload, run_at = excluded.run_at,
			attempts = 0, last_error = '', trace_parent = excluded.trace_parent`)
	if err != nil {
		return err
	}
	defer insert.Close()
	// In key order, as markSeen's keys, so that replicas do not deadlock;
	// stable, so that of two arrivals with one key the later still wins.
	sort.SliceStable(keyed, func(a, b int) bool { return jobs[keyed[a]].Key < jobs[keyed[b]].Key })
	for _, i := range keyed {
		j := jobs[i]
		if _, err := insert.ExecContext(t.ctx, ids[i], j.Kind, j.Key, j.Payload, unixNanos(j.RunAt), unixNanos(j.RunAt), trace(j)); err != nil {
			return fmt.Errorf("enqueue %s job %q: %w", j.Kind, j.Key, err)
		}
	}
	return nil
}

// rowsPerInsert is how many of n rows the next statement inserts: 32, 8
// or 1 at a time, so that few statement texts are prepared and cached.
func rowsPerInsert(n int) int {
	for _, k := range []int{32, 8} {
		if n >= k {
			return k
		}
	}
	return 1
}

// prepare prepares a statement in the transaction, to run many times.
func (t *tx) prepare(query string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(t.ctx, t.db.q(query))
}

// nextSeqs takes n numbers of a named sequence at once: a block of the
// counters row on SQLite, n values of the sequence on PostgreSQL (where
// the counters row of a name with a sequence is no longer used).
func nextSeqs(t *tx, name string, n int) ([]int64, error) {
	ids := make([]int64, 0, n)
	if seq, ok := pgSequences[name]; ok && t.db.dialect == dialectPostgres {
		rows, err := t.tx.QueryContext(t.ctx, "SELECT nextval($1) FROM generate_series(1, $2)", seq, n)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		return ids, rows.Err()
	}
	var top int64
	err := t.queryRow(`INSERT INTO counters (name, n) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET n = counters.n + ?
		RETURNING n`, name, n, n).Scan(&top)
	if err != nil {
		return nil, err
	}
	for id := top - int64(n) + 1; id <= top; id++ {
		ids = append(ids, id)
	}
	return ids, nil
}
