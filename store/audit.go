package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/audit"
)

// AuditLog returns the audit entries about subject ("srv-42"), oldest
// first; an empty subject returns every entry. It is for admins and
// tests: workflows write the log through Tx.Audit.
func (db *DB) AuditLog(ctx context.Context, subject string) ([]workflows.AuditEntry, error) {
	q := `SELECT at, actor, action, subject, reason, detail FROM audit`
	var args []any
	if subject != "" {
		q += ` WHERE subject = ?`
		args = append(args, subject)
	}
	rows, err := db.read.QueryContext(ctx, db.q(q+` ORDER BY at, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log of %q: %w", subject, err)
	}
	defer rows.Close()
	var out []workflows.AuditEntry
	for rows.Next() {
		var e workflows.AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.Subject, &e.Reason, &e.Detail); err != nil {
			return nil, fmt.Errorf("read audit log of %q: %w", subject, err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log of %q: %w", subject, err)
	}
	return out, nil
}

var _ audit.Reader = (*DB)(nil)

// AuditEntries reads the audit log as f selects it: newest first unless
// f.Ascending, at most f.Limit entries (0: all).
func (db *DB) AuditEntries(ctx context.Context, f audit.Filter) ([]workflows.AuditEntry, error) {
	var where []string
	var args []any
	if len(f.Subjects) > 0 {
		where = append(where, `subject IN (`+placeholders(len(f.Subjects))+`)`)
		for _, s := range f.Subjects {
			args = append(args, s)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, `at >= ?`)
		args = append(args, unixNanos(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, `at < ?`)
		args = append(args, unixNanos(f.Until))
	}
	if f.AfterID > 0 {
		where = append(where, `id > ?`)
		args = append(args, f.AfterID)
	}
	q := `SELECT id, at, actor, action, subject, reason, detail FROM audit`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	if f.Ascending {
		q += ` ORDER BY at, id`
	} else {
		q += ` ORDER BY at DESC, id DESC`
	}
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := db.read.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	defer rows.Close()
	var out []workflows.AuditEntry
	for rows.Next() {
		var e workflows.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Subject, &e.Reason, &e.Detail); err != nil {
			return nil, fmt.Errorf("read the audit log: %w", err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	return out, nil
}
