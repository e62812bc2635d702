package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Due times (migration NNNN_due_times.sql). Each of requests, approvals, incidents and
// action_items has next_due_at: NULL when nothing can fall due for the
// row until it is saved again (ended, decided, closed: such rows are left
// out of the partial index and never read by a tick), 0 when the row was
// saved since a tick last looked at it, else the Unix nanoseconds of the
// next look. Every save writes 0: what is due depends on the config, which
// only workflows knows, so the next tick works the time out (see
// workflows/due.go). A save can therefore never leave a stale time behind.

// dueTables maps each kind to its table, and dueColumns to its column
// when not next_due_at (the idle check's time rides on requests beside
// the lease's, migration 0024). Only these names are ever put into a
// statement.
var dueTables = map[workflows.DueKind]string{
	workflows.DueKindLease:    "requests",
	workflows.DueKindApproval: "approvals",
	workflows.DueKindIncident: "incidents",
	workflows.DueKindAction:   "action_items",
	workflows.DueKindIdle:     "requests",
	workflows.DueKindRunbook:  "runbook_runs",
}

var dueColumns = map[workflows.DueKind]string{
	workflows.DueKindIdle: "next_idle_at",
}

// dueColumn is kind's due-time column.
func dueColumn(kind workflows.DueKind) string {
	if c, ok := dueColumns[kind]; ok {
		return c
	}
	return "next_due_at"
}

// dueNow is the next_due_at every save writes: due at once.
const dueNow = 0

func dueTable(kind workflows.DueKind) (string, error) {
	t, ok := dueTables[kind]
	if !ok {
		return "", fmt.Errorf("due times: unknown kind %q", kind)
	}
	return t, nil
}

// DueSubjects returns the IDs of kind's rows due at or before now,
// earliest first, read through the table's next_due index.
func (t *tx) DueSubjects(kind workflows.DueKind, now time.Time) ([]string, error) {
	table, err := dueTable(kind)
	if err != nil {
		return nil, err
	}
	col := dueColumn(kind)
	rows, err := t.query(`SELECT id FROM `+table+` WHERE `+col+` IS NOT NULL AND `+col+` <= ?
		ORDER BY `+col+`, id`, unixNanos(now))
	if err != nil {
		return nil, fmt.Errorf("list due %ss: %w", kind, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list due %ss: %w", kind, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list due %ss: %w", kind, err)
	}
	return out, nil
}

// SetDue stores a row's next due time; the zero time stores NULL.
func (t *tx) SetDue(kind workflows.DueKind, id string, at time.Time) error {
	table, err := dueTable(kind)
	if err != nil {
		return err
	}
	var v any // NULL
	if !at.IsZero() {
		v = unixNanos(at)
	}
	res, err := t.exec(`UPDATE `+table+` SET `+dueColumn(kind)+` = ? WHERE id = ?`, v, id)
	if err != nil {
		return fmt.Errorf("set due time of %s %s: %w", kind, id, err)
	}
	return mustChange(res, fmt.Sprintf("set due time of %s %s", kind, id), workflows.ErrNotFound)
}

// dueChunk is how many due times one SetDues statement writes. It is
// fixed (a shorter chunk repeats its last pair), so each table has one
// statement text, prepared once per connection.
const dueChunk = 64

// dueBatchSQL holds each kind's SetDues statement, on its table and its
// column (the idle check's and the lease's share a table, not a column):
//
//	UPDATE t SET next_due_at = CASE id WHEN ? THEN CAST(? AS BIGINT) ... END
//	WHERE id IN (?, ...)
//
// CASE and IN are what both engines share; the CAST types the value for
// PostgreSQL, NULL included.
var dueBatchSQL = func() map[workflows.DueKind]string {
	m := map[workflows.DueKind]string{}
	for kind, table := range dueTables {
		var b strings.Builder
		b.WriteString("UPDATE " + table + " SET " + dueColumn(kind) + " = CASE id")
		for range dueChunk {
			b.WriteString(" WHEN ? THEN CAST(? AS BIGINT)")
		}
		b.WriteString(" END WHERE id IN (" + placeholders(dueChunk) + ")")
		m[kind] = b.String()
	}
	return m
}()

// SetDues stores several rows' next due times, dueChunk rows a
// statement: on PostgreSQL a round trip per chunk, not per row. Each ID
// should be listed once (one listed twice gets its first time). A row
// that does not exist is ErrNotFound, as with SetDue.
func (t *tx) SetDues(kind workflows.DueKind, dues []workflows.DueAt) error {
	if _, err := dueTable(kind); err != nil {
		return err
	}
	query := dueBatchSQL[kind]
	args := make([]any, 0, 3*dueChunk)
	for len(dues) > 0 {
		chunk := dues[:min(dueChunk, len(dues))]
		dues = dues[len(chunk):]
		args = args[:0]
		ids := make(map[string]bool, len(chunk))
		for i := range dueChunk {
			d := chunk[min(i, len(chunk)-1)]
			var v any // NULL
			if !d.At.IsZero() {
				v = unixNanos(d.At)
			}
			args = append(args, d.ID, v)
			ids[d.ID] = true
		}
		for i := range dueChunk {
			args = append(args, chunk[min(i, len(chunk)-1)].ID)
		}
		res, err := t.exec(query, args...)
		if err != nil {
			return fmt.Errorf("set due times of %d %ss: %w", len(chunk), kind, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("set due times of %d %ss: %w", len(chunk), kind, err)
		}
		if n != int64(len(ids)) {
			return fmt.Errorf("set due times of %d %ss: only %d found: %w", len(ids), kind, n, workflows.ErrNotFound)
		}
	}
	return nil
}

// ResetDue makes every row of kind that has a due time due at once.
func (t *tx) ResetDue(kind workflows.DueKind) (int64, error) {
	table, err := dueTable(kind)
	if err != nil {
		return 0, err
	}
	col := dueColumn(kind)
	res, err := t.exec(`UPDATE `+table+` SET `+col+` = ? WHERE `+col+` IS NOT NULL AND `+col+` <> ?`, dueNow, dueNow)
	if err != nil {
		return 0, fmt.Errorf("reset due times of %ss: %w", kind, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("reset due times of %ss: %w", kind, err)
	}
	return n, nil
}
