package store

import (
	"encoding/json"
	"fmt"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

var _ runbooks.Tx = (*tx)(nil)

const runColumns = `id, runbook, team, actor_slack, actor_email, params, state, approver_slack, approver_email, idem_key, trigger_id, attempts, status, result, body, seq, progress, accepted_at, created_at, updated_at`

// CreateRun records a new runbook run; an ID or trigger used before is
// workflows.ErrDuplicate.
func (t *tx) CreateRun(r *runbooks.Run) error {
	progress, err := encodeSteps(r)
	if err != nil {
		return err
	}
	res, err := t.exec(`INSERT INTO runbook_runs (`+runColumns+`, next_due_at) VALUES (`+placeholders(21)+`) ON CONFLICT DO NOTHING`,
		r.ID, r.Runbook, r.Team, r.Actor.SlackID, r.Actor.Email, r.Params, string(r.State), r.Approver.SlackID, r.Approver.Email,
		r.Key, r.Trigger, r.Attempts, r.Status, r.Result, r.Body, r.Seq, progress, unixNanos(r.AcceptedAt), unixNanos(r.CreatedAt), unixNanos(r.UpdatedAt), runDue(r))
	if err != nil {
		return fmt.Errorf("create run %s: %w", r.ID, err)
	}
	return mustChange(res, fmt.Sprintf("create run %s", r.ID), workflows.ErrDuplicate)
}

// SaveRun updates a runbook run.
func (t *tx) SaveRun(r *runbooks.Run) error {
	progress, err := encodeSteps(r)
	if err != nil {
		return err
	}
	res, err := t.exec(`UPDATE runbook_runs SET state = ?, approver_slack = ?, approver_email = ?, attempts = ?, status = ?, result = ?, body = ?, seq = ?, progress = ?, accepted_at = ?, updated_at = ?, next_due_at = ? WHERE id = ?`,
		string(r.State), r.Approver.SlackID, r.Approver.Email, r.Attempts, r.Status, r.Result, r.Body, r.Seq, progress, unixNanos(r.AcceptedAt), unixNanos(r.UpdatedAt), runDue(r), r.ID)
	if err != nil {
		return fmt.Errorf("save run %s: %w", r.ID, err)
	}
	return mustChange(res, fmt.Sprintf("save run %s", r.ID), workflows.ErrNotFound)
}

// RunbookRun returns one runbook run.
func (t *tx) RunbookRun(id string) (*runbooks.Run, error) {
	rows, err := t.query(`SELECT `+runColumns+` FROM runbook_runs WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("read run %s: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read run %s: %w", id, err)
		}
		return nil, fmt.Errorf("run %s: %w", id, workflows.ErrNotFound)
	}
	r := &runbooks.Run{}
	var state, progress string
	var accepted, created, updated int64
	if err := rows.Scan(&r.ID, &r.Runbook, &r.Team, &r.Actor.SlackID, &r.Actor.Email, &r.Params, &state, &r.Approver.SlackID, &r.Approver.Email,
		&r.Key, &r.Trigger, &r.Attempts, &r.Status, &r.Result, &r.Body, &r.Seq, &progress, &accepted, &created, &updated); err != nil {
		return nil, fmt.Errorf("read run %s: %w", id, err)
	}
	if progress != "" {
		if err := json.Unmarshal([]byte(progress), &r.Progress); err != nil {
			return nil, fmt.Errorf("read progress of run %s: %w", id, err)
		}
	}
	r.State = runbooks.State(state)
	r.AcceptedAt, r.CreatedAt, r.UpdatedAt = fromNanos(accepted), fromNanos(created), fromNanos(updated)
	return r, rows.Err()
}

// encodeSteps is a run's progress column: its callbacks as JSON, ” for none.
func encodeSteps(r *runbooks.Run) (string, error) {
	if len(r.Progress) == 0 {
		return "", nil
	}
	b, err := json.Marshal(r.Progress)
	if err != nil {
		return "", fmt.Errorf("encode progress of run %s: %w", r.ID, err)
	}
	return string(b), nil
}

// runDue is the next_due_at a save writes (store/due.go): due at once
// while the run waits for its endpoint's final callback (the tick then
// stores its deadline), NULL otherwise: nothing can fall due for it.
func runDue(r *runbooks.Run) any {
	if r.State == runbooks.StateAccepted {
		return dueNow
	}
	return nil
}
