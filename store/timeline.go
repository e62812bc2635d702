package store

import (
	"fmt"

	"github.com/opsbot/opsbot/workflows"
)

// AddTimeline records an entry on an incident's timeline. An entry with a
// Source and ExternalID the incident already has (a PagerDuty log entry or
// Slack message seen again) is not recorded twice: AddTimeline returns
// false and writes nothing. Entries without an ExternalID are always
// recorded. The incident must exist by the time the transaction commits.
func (t *tx) AddTimeline(e workflows.TimelineEntry) (bool, error) {
	id, err := nextSeq(t.ctx, t.db, t.tx, seqTimeline)
	if err != nil {
		return false, err
	}
	// The conflict target names the partial unique index, so any other
	// constraint that fails is still an error.
	res, err := t.exec(`INSERT INTO timeline (id, incident_id, at, kind, actor, body, source, external_id, action)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (incident_id, source, external_id) WHERE external_id <> '' DO NOTHING`,
		id, e.IncidentID, unixNanos(e.At), string(e.Kind), e.Actor, e.Text, e.Source, e.ExternalID, e.Action)
	if err != nil {
		return false, fmt.Errorf("add %s timeline entry to %s: %w", e.Kind, e.IncidentID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("add %s timeline entry to %s: %w", e.Kind, e.IncidentID, err)
	}
	return n > 0, nil
}

// Timeline returns an incident's entries in time order; entries at the
// same instant keep the order they were recorded in.
func (t *tx) Timeline(incidentID string) ([]workflows.TimelineEntry, error) {
	rows, err := t.query(`SELECT incident_id, at, kind, actor, body, source, external_id, action
		FROM timeline WHERE incident_id = ? ORDER BY at, id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("read timeline of %s: %w", incidentID, err)
	}
	defer rows.Close()
	var out []workflows.TimelineEntry
	for rows.Next() {
		var e workflows.TimelineEntry
		var kind string
		var at int64
		if err := rows.Scan(&e.IncidentID, &at, &kind, &e.Actor, &e.Text, &e.Source, &e.ExternalID, &e.Action); err != nil {
			return nil, fmt.Errorf("read timeline of %s: %w", incidentID, err)
		}
		e.At, e.Kind = fromNanos(at), workflows.TimelineKind(kind)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read timeline of %s: %w", incidentID, err)
	}
	return out, nil
}
