package store

import (
	"database/sql"
	"fmt"

	"github.com/opsbot/opsbot/internal/telemetry"
	"github.com/opsbot/opsbot/workflows"
)

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
	mark, err := t.prepare(`INSERT INTO sent (sent_key, at) VALUES (?, ?) ON CONFLICT (sent_key) DO NOTHING`)
	if err != nil {
		return nil, err
	}
	defer mark.Close()
	fresh = make([]bool, len(arrivals))
	var jobs []workflows.Job
	var cancels []string
	for i, a := range arrivals {
		fresh[i] = true
		for _, k := range a.Seen {
			res, err := mark.ExecContext(t.ctx, k, unixNanos(a.At))
			if err != nil {
				return nil, err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, err
			}
			fresh[i] = fresh[i] && n == 1
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
	for i, j := range jobs {
		id := ids[i]
		var key any // NULL: a job without a key never conflicts
		if j.Key != "" {
			key = j.Key
		}
		// A batch is written under a context of its own: each job's
		// trace was put in it from its request's (GroupCommit.Stamp).
		tp := j.Trace
		if tp == "" {
			tp = telemetry.Traceparent(t.ctx)
		}
		if _, err := insert.ExecContext(t.ctx, id, j.Kind, key, j.Payload, unixNanos(j.RunAt), unixNanos(j.RunAt), tp); err != nil {
			return fmt.Errorf("enqueue %s job %q: %w", j.Kind, j.Key, err)
		}
	}
	return nil
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
