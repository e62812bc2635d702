package store

import (
	"context"
	"fmt"

	"github.com/opsbot/opsbot/workflows"
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
