package store

import (
	"fmt"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/actions"
)

var _ actions.Tx = (*tx)(nil)

const opColumns = `id, server, action, actor_slack, actor_email, state, approver_slack, approver_email, result, detail, button, created_at, updated_at`

func opArgs(o *actions.Op) []any {
	return []any{o.ID, o.Server, string(o.Action), o.Actor.SlackID, o.Actor.Email, string(o.State), o.Approver.SlackID, o.Approver.Email,
		o.Result, o.Detail, o.Button, unixNanos(o.CreatedAt), unixNanos(o.UpdatedAt)}
}

// CreateOp records a new server action; an ID or button used before is
// workflows.ErrDuplicate.
func (t *tx) CreateOp(o *actions.Op) error {
	res, err := t.exec(`INSERT INTO server_ops (`+opColumns+`) VALUES (`+placeholders(13)+`) ON CONFLICT DO NOTHING`, opArgs(o)...)
	if err != nil {
		return fmt.Errorf("create action %s: %w", o.ID, err)
	}
	return mustChange(res, fmt.Sprintf("create action %s", o.ID), workflows.ErrDuplicate)
}

// SaveOp updates a server action.
func (t *tx) SaveOp(o *actions.Op) error {
	res, err := t.exec(`UPDATE server_ops SET state = ?, approver_slack = ?, approver_email = ?, result = ?, detail = ?, updated_at = ? WHERE id = ?`,
		string(o.State), o.Approver.SlackID, o.Approver.Email, o.Result, o.Detail, unixNanos(o.UpdatedAt), o.ID)
	if err != nil {
		return fmt.Errorf("save action %s: %w", o.ID, err)
	}
	return mustChange(res, fmt.Sprintf("save action %s", o.ID), workflows.ErrNotFound)
}

// Op returns one server action.
func (t *tx) Op(id string) (*actions.Op, error) {
	os, err := t.ops(`WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(os) == 0 {
		return nil, fmt.Errorf("action %s: %w", id, workflows.ErrNotFound)
	}
	return os[0], nil
}

// Ops lists a server's actions, oldest first.
func (t *tx) Ops(server string) ([]*actions.Op, error) {
	return t.ops(`WHERE server = ? ORDER BY created_at, id`, server)
}

func (t *tx) ops(where string, args ...any) ([]*actions.Op, error) {
	rows, err := t.query(`SELECT `+opColumns+` FROM server_ops `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read actions: %w", err)
	}
	defer rows.Close()
	var out []*actions.Op
	for rows.Next() {
		o := &actions.Op{}
		var action, state string
		var created, updated int64
		if err := rows.Scan(&o.ID, &o.Server, &action, &o.Actor.SlackID, &o.Actor.Email, &state, &o.Approver.SlackID, &o.Approver.Email,
			&o.Result, &o.Detail, &o.Button, &created, &updated); err != nil {
			return nil, fmt.Errorf("read actions: %w", err)
		}
		o.Action, o.State = workflows.ServerAction(action), actions.OpState(state)
		o.CreatedAt, o.UpdatedAt = fromNanos(created), fromNanos(updated)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read actions: %w", err)
	}
	return out, nil
}

const snapshotColumns = `id, server, region, volume_id, op_id, kept, deleted, created_at, updated_at`

// SaveSnapshot creates or updates a snapshot's record.
func (t *tx) SaveSnapshot(s *actions.Snapshot) error {
	_, err := t.exec(`INSERT INTO server_snapshots (`+snapshotColumns+`) VALUES (`+placeholders(9)+`)
		ON CONFLICT (id) DO UPDATE SET kept = excluded.kept, deleted = excluded.deleted, updated_at = excluded.updated_at`,
		s.ID, s.Server, s.Region, s.VolumeID, s.Op, boolInt(s.Kept), boolInt(s.Deleted), unixNanos(s.CreatedAt), unixNanos(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("save snapshot %s: %w", s.ID, err)
	}
	return nil
}

// Snapshots lists a server's snapshots, oldest first.
func (t *tx) Snapshots(server string) ([]*actions.Snapshot, error) {
	return t.snapshots(`WHERE server = ? ORDER BY created_at, id`, server)
}

// SnapshotByID returns one snapshot opsbot made.
func (t *tx) SnapshotByID(id string) (*actions.Snapshot, error) {
	ss, err := t.snapshots(`WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("snapshot %s: %w", id, workflows.ErrNotFound)
	}
	return ss[0], nil
}

func (t *tx) snapshots(where string, args ...any) ([]*actions.Snapshot, error) {
	rows, err := t.query(`SELECT `+snapshotColumns+` FROM server_snapshots `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read snapshots: %w", err)
	}
	defer rows.Close()
	var out []*actions.Snapshot
	for rows.Next() {
		s := &actions.Snapshot{}
		var kept, deleted, created, updated int64
		if err := rows.Scan(&s.ID, &s.Server, &s.Region, &s.VolumeID, &s.Op, &kept, &deleted, &created, &updated); err != nil {
			return nil, fmt.Errorf("read snapshots: %w", err)
		}
		s.Kept, s.Deleted = kept != 0, deleted != 0
		s.CreatedAt, s.UpdatedAt = fromNanos(created), fromNanos(updated)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read snapshots: %w", err)
	}
	return out, nil
}
