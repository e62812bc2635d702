package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

const approvalColumns = `id, request_id, kind, team, requester_slack, requester_email, extend,
	reason, cost, overrun, required, state, decided_by, note,
	created_at, expires_at, decided_at, reminded_at, initiator_slack, initiator_email`

func approvalArgs(a *workflows.Approval) ([]any, error) {
	by, err := peopleText(a.DecidedBy)
	if err != nil {
		return nil, fmt.Errorf("approval %s: %w", a.ID, err)
	}
	return []any{
		a.ID, a.RequestID, string(a.Kind), a.Team, a.Requester.SlackID, a.Requester.Email, int64(a.Extend),
		a.Reason, int64(a.Cost), int64(a.Overrun), int64(a.Required), string(a.State), by, a.Note,
		unixNanos(a.CreatedAt), unixNanos(a.ExpiresAt), unixNanos(a.DecidedAt), unixNanos(a.RemindedAt),
		a.Initiator.SlackID, a.Initiator.Email,
	}, nil
}

// CreateApproval stores a new approval; an existing ID is ErrDuplicate.
func (t *tx) CreateApproval(a *workflows.Approval) error {
	args, err := approvalArgs(a)
	if err != nil {
		return err
	}
	res, err := t.exec(`INSERT INTO approvals (`+approvalColumns+`, next_due_at)
		VALUES (`+placeholders(len(args))+`, 0) ON CONFLICT (id) DO NOTHING`, args...)
	if err != nil {
		return fmt.Errorf("create approval %s: %w", a.ID, err)
	}
	return mustChange(res, fmt.Sprintf("create approval %s", a.ID), workflows.ErrDuplicate)
}

// SaveApproval writes every field of an existing approval.
func (t *tx) SaveApproval(a *workflows.Approval) error {
	args, err := approvalArgs(a)
	if err != nil {
		return err
	}
	cols := strings.Split(approvalColumns, ",")
	sets := make([]string, 0, len(cols)-1)
	for _, c := range cols[1:] {
		sets = append(sets, strings.TrimSpace(c)+" = ?")
	}
	// Due at once: the next tick works out what its change made due (due.go).
	res, err := t.exec(`UPDATE approvals SET `+strings.Join(sets, ", ")+`, next_due_at = 0 WHERE id = ?`,
		append(args[1:], a.ID)...)
	if err != nil {
		return fmt.Errorf("save approval %s: %w", a.ID, err)
	}
	return mustChange(res, fmt.Sprintf("save approval %s", a.ID), workflows.ErrNotFound)
}

// Approval returns one approval, or ErrNotFound.
func (t *tx) Approval(id string) (*workflows.Approval, error) {
	as, err := t.approvals(`SELECT `+approvalColumns+` FROM approvals WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("read approval %s: %w", id, err)
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("approval %s: %w", id, workflows.ErrNotFound)
	}
	return as[0], nil
}

// Approvals returns the approvals f selects, oldest first.
func (t *tx) Approvals(f workflows.ApprovalFilter) ([]*workflows.Approval, error) {
	var where []string
	var args []any
	if f.Team != "" {
		where = append(where, "team = ?")
		args = append(args, f.Team)
	}
	if f.RequestID != "" {
		where = append(where, "request_id = ?")
		args = append(args, f.RequestID)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	q := `SELECT ` + approvalColumns + ` FROM approvals`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	as, err := t.approvals(q+" ORDER BY created_at, id", args...)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	return as, nil
}

func (t *tx) approvals(q string, args ...any) ([]*workflows.Approval, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*workflows.Approval
	for rows.Next() {
		var (
			a                                   workflows.Approval
			kind, state, by                     string
			extend, cost, overrun, required     int64
			created, expires, decided, reminded int64
		)
		err := rows.Scan(&a.ID, &a.RequestID, &kind, &a.Team, &a.Requester.SlackID, &a.Requester.Email, &extend,
			&a.Reason, &cost, &overrun, &required, &state, &by, &a.Note,
			&created, &expires, &decided, &reminded, &a.Initiator.SlackID, &a.Initiator.Email)
		if err != nil {
			return nil, err
		}
		a.Kind, a.State = workflows.ApprovalKind(kind), workflows.ApprovalState(state)
		a.Extend, a.Cost, a.Overrun, a.Required = time.Duration(extend), workflows.Money(cost), workflows.Money(overrun), int(required)
		if a.DecidedBy, err = peopleFromText(by); err != nil {
			return nil, fmt.Errorf("approval %s: %w", a.ID, err)
		}
		a.CreatedAt, a.ExpiresAt = fromNanos(created), fromNanos(expires)
		a.DecidedAt, a.RemindedAt = fromNanos(decided), fromNanos(reminded)
		out = append(out, &a)
	}
	return out, rows.Err()
}

// AddDecision records a vote. A second vote on the same approval by the
// same approver (same Slack ID, or same email in any case) is
// ErrDuplicate and records nothing.
func (t *tx) AddDecision(d workflows.Decision) error {
	if d.Approver.SlackID == "" && d.Approver.Email == "" {
		return fmt.Errorf("add decision on %s: the approver has neither Slack ID nor email", d.ApprovalID)
	}
	id, err := nextSeq(t.ctx, t.db, t.tx, seqDecisions)
	if err != nil {
		return err
	}
	res, err := t.exec(`INSERT INTO decisions (id, approval_id, approver_slack, approver_email, approver_email_key, approve, reason, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		id, d.ApprovalID, d.Approver.SlackID, d.Approver.Email, emailKey(d.Approver.Email),
		boolInt(d.Approve), d.Reason, unixNanos(d.At))
	if err != nil {
		return fmt.Errorf("add decision of %s on %s: %w", d.Approver, d.ApprovalID, err)
	}
	return mustChange(res, fmt.Sprintf("add decision of %s on %s", d.Approver, d.ApprovalID), workflows.ErrDuplicate)
}

// Decisions returns the votes on an approval in the order they were cast.
func (t *tx) Decisions(approvalID string) ([]workflows.Decision, error) {
	rows, err := t.query(`SELECT approval_id, approver_slack, approver_email, approve, reason, at
		FROM decisions WHERE approval_id = ? ORDER BY at, id`, approvalID)
	if err != nil {
		return nil, fmt.Errorf("list decisions on %s: %w", approvalID, err)
	}
	defer rows.Close()
	var out []workflows.Decision
	for rows.Next() {
		var d workflows.Decision
		var approve, at int64
		if err := rows.Scan(&d.ApprovalID, &d.Approver.SlackID, &d.Approver.Email, &approve, &d.Reason, &at); err != nil {
			return nil, fmt.Errorf("list decisions on %s: %w", approvalID, err)
		}
		d.Approve, d.At = approve != 0, fromNanos(at)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list decisions on %s: %w", approvalID, err)
	}
	return out, nil
}

// AddLedger records a movement of committed spend.
func (t *tx) AddLedger(e workflows.LedgerEntry) error {
	id, err := nextSeq(t.ctx, t.db, t.tx, seqLedger)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO ledger (id, team, month, request_id, kind, amount, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, e.Team, e.Month, e.RequestID, string(e.Kind), int64(e.Amount), unixNanos(e.At))
	if err != nil {
		return fmt.Errorf("add ledger %s of %s for %s: %w", e.Kind, e.RequestID, e.Team, err)
	}
	return nil
}

// Ledger returns the entries f selects, in time order.
func (t *tx) Ledger(f workflows.LedgerFilter) ([]workflows.LedgerEntry, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, val string }{{"team", f.Team}, {"month", f.Month}, {"request_id", f.RequestID}} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	q := `SELECT team, month, request_id, kind, amount, at FROM ledger`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := t.query(q+" ORDER BY at, id", args...)
	if err != nil {
		return nil, fmt.Errorf("list ledger: %w", err)
	}
	defer rows.Close()
	var out []workflows.LedgerEntry
	for rows.Next() {
		var e workflows.LedgerEntry
		var kind string
		var amount, at int64
		if err := rows.Scan(&e.Team, &e.Month, &e.RequestID, &kind, &amount, &at); err != nil {
			return nil, fmt.Errorf("list ledger: %w", err)
		}
		e.Kind, e.Amount, e.At = workflows.LedgerKind(kind), workflows.Money(amount), fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list ledger: %w", err)
	}
	return out, nil
}
