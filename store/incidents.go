package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

const incidentColumns = `id, title, severity, status, team,
	pd_incident_id, pd_service, pd_url, pd_status, channel_id, channel_name,
	commander_slack, commander_email, comms_slack, comms_email, scribe_slack, scribe_email,
	declared_by_slack, declared_by_email, created_at, resolved_at, last_update_at, last_update,
	postmortem_page_id, postmortem_url, meeting_at, postmortem_due, postmortem_done,
	snoozed, updated_at, update_posted_at, pd_service_name, private, postmortem_published,
	added, cancelled, linked_to`

// incidentArgs lists i's values in incidentColumns order.
func incidentArgs(i *workflows.Incident) ([]any, error) {
	snoozed, err := snoozedText(i.Snoozed)
	if err != nil {
		return nil, fmt.Errorf("incident %s: %w", i.ID, err)
	}
	added, err := peopleText(i.Added)
	if err != nil {
		return nil, fmt.Errorf("incident %s: %w", i.ID, err)
	}
	return []any{
		i.ID, i.Title, string(i.Severity), string(i.Status), i.Team,
		i.PDIncidentID, i.PDService, i.PDURL, i.PDStatus, i.ChannelID, i.ChannelName,
		i.Commander.SlackID, i.Commander.Email, i.Comms.SlackID, i.Comms.Email, i.Scribe.SlackID, i.Scribe.Email,
		i.DeclaredBy.SlackID, i.DeclaredBy.Email,
		unixNanos(i.CreatedAt), unixNanos(i.ResolvedAt), unixNanos(i.LastUpdateAt), i.LastUpdate,
		i.PostmortemPageID, i.PostmortemURL, unixNanos(i.MeetingAt), unixNanos(i.PostmortemDue), boolInt(i.PostmortemDone),
		snoozed, unixNanos(i.UpdatedAt), unixNanos(i.UpdatePostedAt), i.PDServiceName, boolInt(i.Private), boolInt(i.PostmortemPublished),
		added, boolInt(i.Cancelled), i.LinkedTo,
	}, nil
}

// CreateIncident stores a new incident. An incident that reuses an ID, a
// PagerDuty incident ID or a channel ID already stored is ErrDuplicate,
// and nothing is written.
func (t *tx) CreateIncident(i *workflows.Incident) error {
	args, err := incidentArgs(i)
	if err != nil {
		return err
	}
	// No conflict target: a clash on any of the three unique keys is
	// ignored here and reported as ErrDuplicate below.
	res, err := t.exec(`INSERT INTO incidents (`+incidentColumns+`, next_due_at)
		VALUES (`+placeholders(len(args))+`, 0) ON CONFLICT DO NOTHING`, args...)
	if err != nil {
		return fmt.Errorf("create incident %s: %w", i.ID, err)
	}
	return mustChange(res, fmt.Sprintf("create incident %s", i.ID), workflows.ErrDuplicate)
}

// SaveIncident writes every field of an existing incident. Giving it a
// PagerDuty incident or a channel that another incident holds is
// ErrDuplicate; an unknown ID is ErrNotFound.
func (t *tx) SaveIncident(i *workflows.Incident) error {
	args, err := incidentArgs(i)
	if err != nil {
		return err
	}
	if err := t.incidentKeysFree(i); err != nil {
		return err
	}
	cols := strings.Split(incidentColumns, ",")
	sets := make([]string, 0, len(cols)-1)
	for _, c := range cols[1:] {
		sets = append(sets, strings.TrimSpace(c)+" = ?")
	}
	// Due at once: the next tick works out what its change made due (due.go).
	res, err := t.exec(`UPDATE incidents SET `+strings.Join(sets, ", ")+`, next_due_at = 0 WHERE id = ?`,
		append(args[1:], i.ID)...)
	if err != nil {
		return fmt.Errorf("save incident %s: %w", i.ID, err)
	}
	return mustChange(res, fmt.Sprintf("save incident %s", i.ID), workflows.ErrNotFound)
}

// incidentKeysFree checks that no other incident holds i's PagerDuty
// incident or channel, so a clash reads as ErrDuplicate rather than as an
// engine's constraint error. The unique indexes still guard the write.
// Each key is looked up on its own index, with the index's condition
// written out: one statement with OR could scan the table, which under
// SERIALIZABLE locks every incident against every other writer.
func (t *tx) incidentKeysFree(i *workflows.Incident) error {
	for _, k := range []struct{ col, val string }{{"pd_incident_id", i.PDIncidentID}, {"channel_id", i.ChannelID}} {
		if k.val == "" {
			continue
		}
		var other string
		err := t.queryRow(`SELECT id FROM incidents WHERE `+k.col+` = ? AND `+k.col+` <> '' AND id <> ?`, k.val, i.ID).Scan(&other)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return fmt.Errorf("save incident %s: check %s: %w", i.ID, k.col, err)
		}
		return fmt.Errorf("save incident %s: PagerDuty incident %q or channel %q belongs to %s: %w",
			i.ID, i.PDIncidentID, i.ChannelID, other, workflows.ErrDuplicate)
	}
	return nil
}

// Incident returns one incident, or ErrNotFound.
func (t *tx) Incident(id string) (*workflows.Incident, error) {
	return t.oneIncident("incident "+id, `id = ?`, id)
}

// IncidentByPagerDuty returns the incident opened for a PagerDuty
// incident, or ErrNotFound.
func (t *tx) IncidentByPagerDuty(pdIncidentID string) (*workflows.Incident, error) {
	if pdIncidentID == "" {
		return nil, fmt.Errorf("incident for PagerDuty incident \"\": %w", workflows.ErrNotFound)
	}
	// The index's own condition, written out, lets PostgreSQL's generic
	// plan (a statement's sixth run on) use the partial index: without
	// it the plan scanned the table, and under SERIALIZABLE that read
	// locks the whole table against every other transaction's new or
	// changed incident (40001 for one of each pair: a storm's incident
	// openings ran again and again).
	return t.oneIncident("incident for PagerDuty incident "+pdIncidentID, `pd_incident_id = ? AND pd_incident_id <> ''`, pdIncidentID)
}

// IncidentByChannel returns the incident whose Slack channel this is, or
// ErrNotFound.
func (t *tx) IncidentByChannel(channelID string) (*workflows.Incident, error) {
	if channelID == "" {
		return nil, fmt.Errorf("incident for channel \"\": %w", workflows.ErrNotFound)
	}
	return t.oneIncident("incident for channel "+channelID, `channel_id = ? AND channel_id <> ''`, channelID)
}

func (t *tx) oneIncident(what, where string, arg string) (*workflows.Incident, error) {
	is, err := t.incidents(`SELECT `+incidentColumns+` FROM incidents WHERE `+where, arg)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if len(is) == 0 {
		return nil, fmt.Errorf("%s: %w", what, workflows.ErrNotFound)
	}
	return is[0], nil
}

// Incidents returns the incidents f selects, newest first.
func (t *tx) Incidents(f workflows.IncidentFilter) ([]*workflows.Incident, error) {
	var where []string
	var args []any
	if f.Team != "" {
		where = append(where, "team = ?")
		args = append(args, f.Team)
	}
	if f.Open {
		where = append(where, "status <> ?")
		args = append(args, string(workflows.StatusResolved))
	}
	if f.Service != "" {
		where = append(where, "pd_service = ?")
		args = append(args, f.Service)
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, unixNanos(f.Since))
	}
	if p := f.DeclaredBy; p.SlackID != "" || p.Email != "" {
		// Either identity names the person; an empty one matches nothing.
		where = append(where, "((declared_by_slack <> '' AND declared_by_slack = ?) OR (declared_by_email <> '' AND LOWER(declared_by_email) = LOWER(?)))")
		args = append(args, p.SlackID, p.Email)
	}
	q := `SELECT ` + incidentColumns + ` FROM incidents`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	is, err := t.incidents(q+" ORDER BY created_at DESC, id DESC", args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return is, nil
}

func (t *tx) incidents(q string, args ...any) ([]*workflows.Incident, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*workflows.Incident
	for rows.Next() {
		var (
			i                             workflows.Incident
			severity, status, snoozed     string
			added                         string
			cancelled                     int64
			created, resolved, lastUpdate int64
			meeting, due, done, updated   int64
			posted, private, published    int64
		)
		err := rows.Scan(&i.ID, &i.Title, &severity, &status, &i.Team,
			&i.PDIncidentID, &i.PDService, &i.PDURL, &i.PDStatus, &i.ChannelID, &i.ChannelName,
			&i.Commander.SlackID, &i.Commander.Email, &i.Comms.SlackID, &i.Comms.Email, &i.Scribe.SlackID, &i.Scribe.Email,
			&i.DeclaredBy.SlackID, &i.DeclaredBy.Email, &created, &resolved, &lastUpdate, &i.LastUpdate,
			&i.PostmortemPageID, &i.PostmortemURL, &meeting, &due, &done,
			&snoozed, &updated, &posted, &i.PDServiceName, &private, &published,
			&added, &cancelled, &i.LinkedTo)
		if err != nil {
			return nil, err
		}
		i.Severity, i.Status = workflows.Severity(severity), workflows.IncidentStatus(status)
		i.CreatedAt, i.ResolvedAt, i.LastUpdateAt = fromNanos(created), fromNanos(resolved), fromNanos(lastUpdate)
		i.MeetingAt, i.PostmortemDue, i.PostmortemDone = fromNanos(meeting), fromNanos(due), done != 0
		if i.Snoozed, err = snoozedFromText(snoozed); err != nil {
			return nil, fmt.Errorf("incident %s: %w", i.ID, err)
		}
		i.UpdatedAt, i.UpdatePostedAt = fromNanos(updated), fromNanos(posted)
		i.Private, i.PostmortemPublished = private != 0, published != 0
		if i.Added, err = peopleFromText(added); err != nil {
			return nil, fmt.Errorf("incident %s: %w", i.ID, err)
		}
		i.Cancelled = cancelled != 0
		out = append(out, &i)
	}
	return out, rows.Err()
}

// snoozedText stores snooze ends as a JSON object of Unix nanoseconds, so
// they come back to the nanosecond in UTC like every other time; no
// snoozes is "".
func snoozedText(m map[string]time.Time) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = unixNanos(v)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode snoozes: %w", err)
	}
	return string(b), nil
}

func snoozedFromText(s string) (map[string]time.Time, error) {
	if s == "" {
		return nil, nil
	}
	var in map[string]int64
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("decode snoozes: %w", err)
	}
	out := make(map[string]time.Time, len(in))
	for k, v := range in {
		out[k] = fromNanos(v)
	}
	return out, nil
}
