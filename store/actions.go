package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/opsbot/opsbot/workflows"
)

const actionColumns = `id, incident_id, body, owner_slack, owner_email, due_at, done_at, created_by, created_at`

// SaveAction creates or replaces an action item.
func (t *tx) SaveAction(a *workflows.ActionItem) error {
	// Due at once: the next tick works out when its owner is reminded (due.go).
	_, err := t.exec(`INSERT INTO action_items (`+actionColumns+`, next_due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
		ON CONFLICT (id) DO UPDATE SET body = excluded.body, owner_slack = excluded.owner_slack, owner_email = excluded.owner_email,
		due_at = excluded.due_at, done_at = excluded.done_at, next_due_at = 0`,
		a.ID, a.IncidentID, a.Text, a.Owner.SlackID, a.Owner.Email, unixNanos(a.Due), unixNanos(a.DoneAt), a.CreatedBy, unixNanos(a.CreatedAt))
	if err != nil {
		return fmt.Errorf("save action item %s: %w", a.ID, err)
	}
	return nil
}

// Action returns one action item, or workflows.ErrNotFound.
func (t *tx) Action(id string) (*workflows.ActionItem, error) {
	as, err := t.actions(`WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("action item %s: %w", id, workflows.ErrNotFound)
	}
	return as[0], nil
}

// Actions lists action items, oldest first: an incident's (incidentID
// set), or every open one (incidentID empty).
func (t *tx) Actions(incidentID string) ([]*workflows.ActionItem, error) {
	if incidentID == "" {
		return t.actions(`WHERE done_at = 0 ORDER BY created_at, id`)
	}
	return t.actions(`WHERE incident_id = ? ORDER BY created_at, id`, incidentID)
}

func (t *tx) actions(where string, args ...any) ([]*workflows.ActionItem, error) {
	rows, err := t.query(`SELECT `+actionColumns+` FROM action_items `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read action items: %w", err)
	}
	defer rows.Close()
	var out []*workflows.ActionItem
	for rows.Next() {
		a := &workflows.ActionItem{}
		var due, done, created int64
		if err := rows.Scan(&a.ID, &a.IncidentID, &a.Text, &a.Owner.SlackID, &a.Owner.Email, &due, &done, &a.CreatedBy, &created); err != nil {
			return nil, fmt.Errorf("read action items: %w", err)
		}
		a.Due, a.DoneAt, a.CreatedAt = fromNanos(due), fromNanos(done), fromNanos(created)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read action items: %w", err)
	}
	return out, nil
}
