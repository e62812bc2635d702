package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

const requestColumns = `id, owner_slack, owner_email, owner_email_key, team, template, reason,
	state, state_reason, duration, hourly_rate, estimate, client_token,
	instance_id, instance_region, instance_type, instance_state, instance_launch_time,
	instance_private_ip, instance_private_dns, instance_tags,
	lease_start, lease_end, extensions, ending_at, created_at, updated_at, launch_spec,
	handed_from_slack, handed_from_email, handed_at`

// requestArgs lists r's values in requestColumns order.
func requestArgs(r *workflows.ServerRequest) ([]any, error) {
	tags, err := tagsText(r.Instance.Tags)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", r.ID, err)
	}
	spec, err := specText(r.Spec)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", r.ID, err)
	}
	in := r.Instance
	return []any{
		r.ID, r.Owner.SlackID, r.Owner.Email, emailKey(r.Owner.Email), r.Team, r.Template, r.Reason,
		string(r.State), r.StateReason, int64(r.Duration), int64(r.HourlyRate), int64(r.Estimate), r.ClientToken,
		in.ID, in.Region, in.Type, string(in.State), unixNanos(in.LaunchTime),
		in.PrivateIP, in.PrivateDNS, tags,
		unixNanos(r.LeaseStart), unixNanos(r.LeaseEnd), int64(r.Extensions), unixNanos(r.EndingAt),
		unixNanos(r.CreatedAt), unixNanos(r.UpdatedAt), spec,
		r.HandedFrom.SlackID, r.HandedFrom.Email, unixNanos(r.HandedAt),
	}, nil
}

// CreateRequest stores a new server request; an existing ID is
// ErrDuplicate.
func (t *tx) CreateRequest(r *workflows.ServerRequest) error {
	args, err := requestArgs(r)
	if err != nil {
		return err
	}
	res, err := t.exec(`INSERT INTO requests (`+requestColumns+`, next_due_at, next_idle_at)
		VALUES (`+placeholders(len(args))+`, 0, 0) ON CONFLICT (id) DO NOTHING`, args...)
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	return mustChange(res, fmt.Sprintf("create request %s", r.ID), workflows.ErrDuplicate)
}

// SaveRequest writes every field of an existing request.
func (t *tx) SaveRequest(r *workflows.ServerRequest) error {
	args, err := requestArgs(r)
	if err != nil {
		return err
	}
	cols := strings.Split(requestColumns, ",")
	sets := make([]string, 0, len(cols)-1)
	for _, c := range cols[1:] {
		sets = append(sets, strings.TrimSpace(c)+" = ?")
	}
	// Due at once: the next tick (and idle check) works out what its
	// change made due (due.go).
	res, err := t.exec(`UPDATE requests SET `+strings.Join(sets, ", ")+`, next_due_at = 0, next_idle_at = 0 WHERE id = ?`,
		append(args[1:], r.ID)...)
	if err != nil {
		return fmt.Errorf("save request %s: %w", r.ID, err)
	}
	return mustChange(res, fmt.Sprintf("save request %s", r.ID), workflows.ErrNotFound)
}

// Request returns one request, or ErrNotFound.
func (t *tx) Request(id string) (*workflows.ServerRequest, error) {
	rs, err := t.requests(`SELECT `+requestColumns+` FROM requests WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("read request %s: %w", id, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("request %s: %w", id, workflows.ErrNotFound)
	}
	if err := t.fillStops(rs); err != nil {
		return nil, fmt.Errorf("read request %s: %w", id, err)
	}
	return rs[0], nil
}

// Requests returns the requests f selects, oldest first. Owner matches
// on Slack ID or on email (case-insensitively), like Person.Is.
func (t *tx) Requests(f workflows.RequestFilter) ([]*workflows.ServerRequest, error) {
	q, args := requestQuery(requestColumns, f)
	rs, err := t.requests(q, args...)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	if err := t.fillStops(rs); err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	return rs, nil
}

// LeaseCosts returns the requests f selects, in no order, with only ID,
// state, hourly rate, lease start and end, last update and stops read.
func (t *tx) LeaseCosts(f workflows.RequestFilter) ([]*workflows.ServerRequest, error) {
	q, args := requestQuery(`id, state, hourly_rate, lease_start, lease_end, updated_at`, f)
	// A sum needs no order: the sort of every live lease is saved.
	rows, err := t.query(strings.TrimSuffix(q, requestOrder), args...)
	if err != nil {
		return nil, fmt.Errorf("list lease costs: %w", err)
	}
	defer rows.Close()
	var out []*workflows.ServerRequest
	for rows.Next() {
		var (
			r                         workflows.ServerRequest
			state                     string
			rate, start, end, updated int64
		)
		if err := rows.Scan(&r.ID, &state, &rate, &start, &end, &updated); err != nil {
			return nil, fmt.Errorf("list lease costs: %w", err)
		}
		r.State, r.HourlyRate = workflows.State(state), workflows.Money(rate)
		r.LeaseStart, r.LeaseEnd, r.UpdatedAt = fromNanos(start), fromNanos(end), fromNanos(updated)
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list lease costs: %w", err)
	}
	rows.Close()
	if err := t.fillStops(out); err != nil {
		return nil, fmt.Errorf("list lease costs: %w", err)
	}
	return out, nil
}

// requestQuery builds the SELECT of cols for the requests f selects.
func requestQuery(cols string, f workflows.RequestFilter) (string, []any) {
	var where []string
	var args []any
	switch o := f.Owner; {
	case o.SlackID != "" && o.Email != "":
		where = append(where, "(owner_slack = ? OR owner_email_key = ?)")
		args = append(args, o.SlackID, emailKey(o.Email))
	case o.SlackID != "":
		where = append(where, "owner_slack = ?")
		args = append(args, o.SlackID)
	case o.Email != "":
		where = append(where, "owner_email_key = ?")
		args = append(args, emailKey(o.Email))
	}
	if f.Team != "" {
		where = append(where, "team = ?")
		args = append(args, f.Team)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	if !f.EndsAfter.IsZero() {
		where = append(where, "lease_end >= ?")
		args = append(args, unixNanos(f.EndsAfter))
	}
	if !f.LiveOrSince.IsZero() {
		live := workflows.LiveStates()
		where = append(where, "(state IN ("+placeholders(len(live))+") OR updated_at >= ?)")
		for _, s := range live {
			args = append(args, string(s))
		}
		args = append(args, unixNanos(f.LiveOrSince))
	}
	q := `SELECT ` + cols + ` FROM requests`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.AnyOrder {
		return q, args
	}
	return q + requestOrder, args
}

const requestOrder = " ORDER BY created_at, id"

func (t *tx) requests(q string, args ...any) ([]*workflows.ServerRequest, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*workflows.ServerRequest
	for rows.Next() {
		var (
			r                                          workflows.ServerRequest
			emailKey, state, instState, tags, spec     string
			dur, rate, est, launch, start, end, ending int64
			exts, created, updated, handed             int64
		)
		err := rows.Scan(&r.ID, &r.Owner.SlackID, &r.Owner.Email, &emailKey, &r.Team, &r.Template, &r.Reason,
			&state, &r.StateReason, &dur, &rate, &est, &r.ClientToken,
			&r.Instance.ID, &r.Instance.Region, &r.Instance.Type, &instState, &launch,
			&r.Instance.PrivateIP, &r.Instance.PrivateDNS, &tags,
			&start, &end, &exts, &ending, &created, &updated, &spec,
			&r.HandedFrom.SlackID, &r.HandedFrom.Email, &handed)
		if err != nil {
			return nil, err
		}
		r.State, r.Instance.State = workflows.State(state), workflows.InstanceState(instState)
		r.Duration, r.HourlyRate, r.Estimate = time.Duration(dur), workflows.Money(rate), workflows.Money(est)
		r.Instance.LaunchTime = fromNanos(launch)
		r.HandedAt = fromNanos(handed)
		if r.Instance.Tags, err = tagsFromText(tags); err != nil {
			return nil, fmt.Errorf("request %s: %w", r.ID, err)
		}
		if r.Spec, err = specFromText(spec); err != nil {
			return nil, fmt.Errorf("request %s: %w", r.ID, err)
		}
		if r.Spec != nil && r.Instance.ID != "" {
			// The account is the launch's, kept in its snapshot: an
			// instance never moves between accounts.
			r.Instance.Account = r.Spec.Account
		}
		r.LeaseStart, r.LeaseEnd, r.EndingAt = fromNanos(start), fromNanos(end), fromNanos(ending)
		r.Extensions = int(exts)
		r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
		out = append(out, &r)
	}
	return out, rows.Err()
}

// AddExtension records a change of a lease's end.
func (t *tx) AddExtension(e workflows.Extension) error {
	id, err := nextSeq(t.ctx, t.db, t.tx, seqExtensions)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO extensions (id, request_id, by_slack, by_email, from_at, to_at, reason, cost, approved, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, e.RequestID, e.By.SlackID, e.By.Email, unixNanos(e.From), unixNanos(e.To),
		e.Reason, int64(e.Cost), boolInt(e.Approved), unixNanos(e.At))
	if err != nil {
		return fmt.Errorf("add extension of %s: %w", e.RequestID, err)
	}
	return nil
}

// Extensions returns a request's extensions in the order they were made.
func (t *tx) Extensions(requestID string) ([]workflows.Extension, error) {
	rows, err := t.query(`SELECT request_id, by_slack, by_email, from_at, to_at, reason, cost, approved, at
		FROM extensions WHERE request_id = ? ORDER BY at, id`, requestID)
	if err != nil {
		return nil, fmt.Errorf("list extensions of %s: %w", requestID, err)
	}
	defer rows.Close()
	var out []workflows.Extension
	for rows.Next() {
		var e workflows.Extension
		var from, to, cost, approved, at int64
		if err := rows.Scan(&e.RequestID, &e.By.SlackID, &e.By.Email, &from, &to, &e.Reason, &cost, &approved, &at); err != nil {
			return nil, fmt.Errorf("list extensions of %s: %w", requestID, err)
		}
		e.From, e.To, e.At = fromNanos(from), fromNanos(to), fromNanos(at)
		e.Cost, e.Approved = workflows.Money(cost), approved != 0
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list extensions of %s: %w", requestID, err)
	}
	return out, nil
}

// mustChange turns "no row was inserted or updated" into errNone.
func mustChange(res sql.Result, what string, errNone error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, errNone)
	}
	return nil
}

// specText stores a launch snapshot as the JSON of the whole LaunchSpec,
// so a field added to the launch is snapshotted with no change here. The
// request ID, client token and lease-end tag are set at launch, not kept.
func specText(s *workflows.LaunchSpec) (string, error) {
	if s == nil {
		return "", nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode launch spec: %w", err)
	}
	return string(b), nil
}

func specFromText(text string) (*workflows.LaunchSpec, error) {
	if text == "" {
		return nil, nil
	}
	var s workflows.LaunchSpec
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return nil, fmt.Errorf("decode launch spec: %w", err)
	}
	return &s, nil
}
