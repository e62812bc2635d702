package store

import (
	"fmt"
	"time"
)

// RecordReminder records that the reminder (subject, kind, due) is being
// sent. It returns false, and writes nothing, when that reminder was
// recorded before: the caller then sends nothing.
func (t *tx) RecordReminder(subject, kind string, due, at time.Time) (bool, error) {
	res, err := t.exec(`INSERT INTO reminders (subject, kind, due_at, sent_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (subject, kind, due_at) DO NOTHING`, subject, kind, unixNanos(due), unixNanos(at))
	if err != nil {
		return false, fmt.Errorf("record %s reminder of %s: %w", kind, subject, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record %s reminder of %s: %w", kind, subject, err)
	}
	return n == 1, nil
}

// LastReminders returns, per kind, the due time of the latest reminder
// recorded for subject.
func (t *tx) LastReminders(subject string) (map[string]time.Time, error) {
	rows, err := t.query(`SELECT kind, MAX(due_at) FROM reminders WHERE subject = ? GROUP BY kind`, subject)
	if err != nil {
		return nil, fmt.Errorf("read reminders of %s: %w", subject, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var kind string
		var due int64
		if err := rows.Scan(&kind, &due); err != nil {
			return nil, fmt.Errorf("read reminders of %s: %w", subject, err)
		}
		out[kind] = fromNanos(due)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read reminders of %s: %w", subject, err)
	}
	return out, nil
}
