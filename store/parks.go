package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// AddPark records a stop within a lease.
func (t *tx) AddPark(p workflows.Park) error {
	res, err := t.exec(`INSERT INTO server_parks (request_id, stopped_at, started_at, team, why, hourly_rate)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (request_id, stopped_at) DO NOTHING`,
		p.RequestID, unixNanos(p.StoppedAt), unixNanos(p.StartedAt), p.Team, string(p.Why), int64(p.HourlyRate))
	if err != nil {
		return fmt.Errorf("record stop of %s: %w", p.RequestID, err)
	}
	return mustChange(res, fmt.Sprintf("record stop of %s", p.RequestID), workflows.ErrDuplicate)
}

// EndPark closes the open stop of requestID.
func (t *tx) EndPark(requestID string, at time.Time) error {
	if _, err := t.exec(`UPDATE server_parks SET started_at = ? WHERE request_id = ? AND started_at = 0`,
		unixNanos(at), requestID); err != nil {
		return fmt.Errorf("record start of %s: %w", requestID, err)
	}
	return nil
}

// stopsBatch bounds the request IDs of one read of their stops (SQLite's
// host parameters).
const stopsBatch = 500

// fillStops reads the stops of rs (server_parks) into each one's Stops,
// oldest first: a query per stopsBatch requests.
func (t *tx) fillStops(rs []*workflows.ServerRequest) error {
	byID := make(map[string]*workflows.ServerRequest, len(rs))
	for _, r := range rs {
		r.Stops = nil
		byID[r.ID] = r
	}
	for lo := 0; lo < len(rs); lo += stopsBatch {
		batch := rs[lo:min(lo+stopsBatch, len(rs))]
		args := make([]any, len(batch))
		for i, r := range batch {
			args[i] = r.ID
		}
		if err := t.readStops(byID, `SELECT request_id, why, stopped_at, started_at FROM server_parks
			WHERE request_id IN (`+placeholders(len(batch))+`) ORDER BY request_id, stopped_at`, args...); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) readStops(byID map[string]*workflows.ServerRequest, q string, args ...any) error {
	rows, err := t.query(q, args...)
	if err != nil {
		return fmt.Errorf("read stops: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, why string
		var at, until int64
		if err := rows.Scan(&id, &why, &at, &until); err != nil {
			return fmt.Errorf("read stops: %w", err)
		}
		if r := byID[id]; r != nil {
			r.Stops = append(r.Stops, workflows.Stop{Why: workflows.Why(why), At: fromNanos(at), Until: fromNanos(until)})
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read stops: %w", err)
	}
	return nil
}

const parkQuery = `SELECT p.request_id, p.team, p.why, p.hourly_rate, p.stopped_at, p.started_at, r.lease_end
	FROM server_parks p JOIN requests r ON r.id = p.request_id `

// OpenPark returns the stop of requestID not ended yet.
func (t *tx) OpenPark(requestID string) (workflows.Park, bool, error) {
	ps, err := t.parks(parkQuery+`WHERE p.request_id = ? AND p.started_at = 0 ORDER BY p.stopped_at DESC`, requestID)
	if err != nil || len(ps) == 0 {
		return workflows.Park{}, false, err
	}
	return ps[0], true, nil
}

// Parks returns the stops overlapping [from, to), with their lease's end.
func (t *tx) Parks(team string, from, to time.Time) ([]workflows.Park, error) {
	q := parkQuery + `WHERE p.stopped_at < ? AND (p.started_at = 0 OR p.started_at > ?)`
	args := []any{unixNanos(to), unixNanos(from)}
	if team != "" {
		q += ` AND p.team = ?`
		args = append(args, team)
	}
	return t.parks(q+` ORDER BY p.stopped_at, p.request_id`, args...)
}

func (t *tx) parks(q string, args ...any) ([]workflows.Park, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("read stops: %w", err)
	}
	defer rows.Close()
	var out []workflows.Park
	for rows.Next() {
		var p workflows.Park
		var why string
		var rate, stopped, started, leaseEnd int64
		if err := rows.Scan(&p.RequestID, &p.Team, &why, &rate, &stopped, &started, &leaseEnd); err != nil {
			return nil, fmt.Errorf("read stops: %w", err)
		}
		p.Why, p.HourlyRate = workflows.Why(why), workflows.Money(rate)
		p.StoppedAt, p.StartedAt, p.LeaseEnd = fromNanos(stopped), fromNanos(started), fromNanos(leaseEnd)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stops: %w", err)
	}
	return out, nil
}

const idleColumns = `request_id, team, since, peak_cpu, checked_at, flagged_at, kept_at, kept_by`

// PutIdle records what the last CPU check found of a server.
func (t *tx) PutIdle(v workflows.IdleServer) error {
	cols := strings.Split(idleColumns, ", ")
	sets := make([]string, 0, len(cols)-1)
	for _, c := range cols[1:] {
		sets = append(sets, c+" = excluded."+c)
	}
	_, err := t.exec(`INSERT INTO server_idle (`+idleColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (request_id) DO UPDATE SET `+strings.Join(sets, ", "),
		v.RequestID, v.Team, unixNanos(v.Since), v.PeakCPU, unixNanos(v.CheckedAt), unixNanos(v.FlaggedAt), unixNanos(v.KeptAt), v.KeptBy)
	if err != nil {
		return fmt.Errorf("record idle %s: %w", v.RequestID, err)
	}
	return nil
}

// DropIdle forgets what was recorded of requestID.
func (t *tx) DropIdle(requestID string) error {
	if _, err := t.exec(`DELETE FROM server_idle WHERE request_id = ?`, requestID); err != nil {
		return fmt.Errorf("forget idle %s: %w", requestID, err)
	}
	return nil
}

// IdleServer returns what is recorded of requestID.
func (t *tx) IdleServer(requestID string) (workflows.IdleServer, bool, error) {
	vs, err := t.idle(`WHERE request_id = ?`, requestID)
	if err != nil || len(vs) == 0 {
		return workflows.IdleServer{}, false, err
	}
	return vs[0], true, nil
}

// IdleServers lists the recorded idle servers of team (all when empty).
func (t *tx) IdleServers(team string) ([]workflows.IdleServer, error) {
	if team == "" {
		return t.idle(`ORDER BY request_id`)
	}
	return t.idle(`WHERE team = ? ORDER BY request_id`, team)
}

func (t *tx) idle(where string, args ...any) ([]workflows.IdleServer, error) {
	rows, err := t.query(`SELECT `+idleColumns+` FROM server_idle `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read idle servers: %w", err)
	}
	defer rows.Close()
	var out []workflows.IdleServer
	for rows.Next() {
		var v workflows.IdleServer
		var since, checked, flagged, kept int64
		if err := rows.Scan(&v.RequestID, &v.Team, &since, &v.PeakCPU, &checked, &flagged, &kept, &v.KeptBy); err != nil {
			return nil, fmt.Errorf("read idle servers: %w", err)
		}
		v.Since, v.CheckedAt, v.FlaggedAt, v.KeptAt = fromNanos(since), fromNanos(checked), fromNanos(flagged), fromNanos(kept)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read idle servers: %w", err)
	}
	return out, nil
}
