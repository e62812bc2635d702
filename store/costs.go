package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// ReplaceCosts replaces view's lines for the days in [from, to) and
// records the refresh.
func (t *tx) ReplaceCosts(view, from, to string, lines []workflows.CostLine, at time.Time) error {
	if _, err := t.exec(`DELETE FROM cost_lines WHERE view = ? AND day >= ? AND day < ?`, view, from, to); err != nil {
		return fmt.Errorf("replace costs of %s: %w", view, err)
	}
	for _, l := range lines {
		if l.Day < from || l.Day >= to {
			return fmt.Errorf("replace costs of %s: day %s outside [%s, %s)", view, l.Day, from, to)
		}
		_, err := t.exec(`INSERT INTO cost_lines (view, day, key1, key2, amount, estimated) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (view, day, key1, key2) DO UPDATE SET amount = cost_lines.amount + excluded.amount, estimated = excluded.estimated`,
			view, l.Day, l.Key1, l.Key2, int64(l.Amount), boolInt(l.Estimated))
		if err != nil {
			return fmt.Errorf("replace costs of %s: %w", view, err)
		}
	}
	_, err := t.exec(`INSERT INTO cost_refreshes (view, through, at) VALUES (?, ?, ?)
		ON CONFLICT (view) DO UPDATE SET through = CASE WHEN excluded.through > cost_refreshes.through THEN excluded.through ELSE cost_refreshes.through END, at = excluded.at`,
		view, to, unixNanos(at))
	if err != nil {
		return fmt.Errorf("record the refresh of %s: %w", view, err)
	}
	return nil
}

// Costs lists view's lines for the days in [from, to).
func (t *tx) Costs(view, from, to string) ([]workflows.CostLine, error) {
	rows, err := t.query(`SELECT day, key1, key2, amount, estimated FROM cost_lines
		WHERE view = ? AND day >= ? AND day < ? ORDER BY day, key1, key2`, view, from, to)
	if err != nil {
		return nil, fmt.Errorf("read costs of %s: %w", view, err)
	}
	defer rows.Close()
	var out []workflows.CostLine
	for rows.Next() {
		var l workflows.CostLine
		var amount, est int64
		if err := rows.Scan(&l.Day, &l.Key1, &l.Key2, &amount, &est); err != nil {
			return nil, fmt.Errorf("read costs of %s: %w", view, err)
		}
		l.Amount, l.Estimated = workflows.Money(amount), est != 0
		out = append(out, l)
	}
	return out, rows.Err()
}

// CostRefresh says when view was last refreshed, and through which day.
func (t *tx) CostRefresh(view string) (time.Time, string, error) {
	var through string
	var at int64
	err := t.queryRow(`SELECT through, at FROM cost_refreshes WHERE view = ?`, view).Scan(&through, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, "", nil
	}
	if err != nil {
		return time.Time{}, "", fmt.Errorf("read the refresh of %s: %w", view, err)
	}
	return fromNanos(at), through, nil
}
