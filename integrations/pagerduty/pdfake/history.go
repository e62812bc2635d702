package pdfake

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Past is an incident that happened before the fake started: the alert
// review's history. AddPast records it with its alerts and its log at the
// times given, and sends no webhook (opsbot was not there to hear it).
type Past struct {
	ServiceID string
	Title     string
	Urgency   string // high (default) or low
	CreatedAt time.Time
	// AckedAt and AckedBy (a user ID) record the first acknowledgement;
	// zero when nobody acknowledged.
	AckedAt time.Time
	AckedBy string
	// ResolvedAt is zero for an incident still open. ResolvedBy is a user
	// ID, or "" when the integration resolved it (the alert cleared).
	ResolvedAt time.Time
	ResolvedBy string
	Alerts     []Alert // IDs and times are filled in when empty
}

// AddPast records a past incident and returns it. Incidents stay listed
// in the order they were created, whatever the order they were added in.
func (s *Server) AddPast(p Past) (Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.services[p.ServiceID]
	if !ok {
		return Incident{}, fmt.Errorf("pdfake: add past incident: no service %q", p.ServiceID)
	}
	if p.Urgency == "" {
		p.Urgency = "high"
	}
	s.number++
	in := &Incident{
		ID: s.newID("Q", 14), Number: s.number, Title: p.Title, Key: fmt.Sprintf("%032x", s.seq+1),
		Status: "triggered", Urgency: p.Urgency, ServiceID: svc.ID, PolicyID: svc.EscalationPolicyID, Level: 1,
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.CreatedAt.UTC(),
		Assignees: s.levelUsers(svc.EscalationPolicyID, 1),
	}
	for _, a := range p.Alerts {
		if a.ID == "" {
			a.ID = s.newID("PA", 7)
		}
		if a.CreatedAt.IsZero() {
			a.CreatedAt = in.CreatedAt
		}
		if a.Status == "" {
			a.Status = "triggered"
		}
		in.Alerts = append(in.Alerts, a)
	}
	if len(in.Alerts) > 0 && in.Alerts[0].Key != "" {
		in.Key = in.Alerts[0].Key
	}
	by := serviceAgent(svc.ID)
	s.pastEntry(in, in.CreatedAt, "trigger_log_entry", "Triggered through the API.", by, "api")
	if len(in.Assignees) > 0 {
		s.pastEntry(in, in.CreatedAt, "assign_log_entry", "Assigned to "+s.names(in.Assignees)+".", by, "auto")
	}
	if !p.AckedAt.IsZero() {
		if _, ok := s.users[p.AckedBy]; !ok {
			return Incident{}, fmt.Errorf("pdfake: add past incident: no user %q acknowledged", p.AckedBy)
		}
		in.Status, in.AckedBy = "acknowledged", []string{p.AckedBy}
		s.pastEntry(in, p.AckedAt, "acknowledge_log_entry", "Acknowledged by "+s.userName(p.AckedBy)+".", userAgent(p.AckedBy), "api")
	}
	if !p.ResolvedAt.IsZero() {
		who := by
		if p.ResolvedBy != "" {
			if _, ok := s.users[p.ResolvedBy]; !ok {
				return Incident{}, fmt.Errorf("pdfake: add past incident: no user %q resolved", p.ResolvedBy)
			}
			who = userAgent(p.ResolvedBy)
		}
		in.Status, in.ResolvedAt = "resolved", p.ResolvedAt.UTC()
		for i := range in.Alerts {
			in.Alerts[i].Status = "resolved"
		}
		s.pastEntry(in, p.ResolvedAt, "resolve_log_entry", "Resolved by "+s.agentName(who)+".", who, "api")
	}
	s.incidents[in.ID] = in
	s.incOrder = append(s.incOrder, in.ID)
	slices.SortStableFunc(s.incOrder, func(a, b string) int {
		return s.incidents[a].CreatedAt.Compare(s.incidents[b].CreatedAt)
	})
	return in.clone(), nil
}

// pastEntry appends a log entry at a given time. Caller holds mu.
func (s *Server) pastEntry(in *Incident, at time.Time, typ, summary string, by agent, channel string) {
	at = at.UTC()
	in.UpdatedAt = at
	in.Log = append(in.Log, LogEntry{ID: s.newID("R", 26), Type: typ, Summary: summary, At: at,
		AgentType: by.kind, AgentID: by.id, ChannelType: channel})
}

// maxRange is the longest since..until PagerDuty accepts on GET /incidents.
const maxRange = 6 * 31 * 24 * time.Hour

// dateRange reads since and until (ISO 8601) of GET /incidents: both
// given, an incident is listed when it was created at or after since and
// before until. PagerDuty lists the last 30 days when neither is given;
// the fake lists everything then, so tests that look incidents up by key
// do not depend on the clock. date_range=all lists everything too.
func dateRange(q url.Values) (since, until time.Time, c *change) {
	parse := func(name string) (time.Time, *change) {
		v := q.Get(name)
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, refused("Invalid " + name + " parameter: " + v)
		}
		return t.UTC(), nil
	}
	if since, c = parse("since"); c != nil {
		return
	}
	if until, c = parse("until"); c != nil {
		return
	}
	switch {
	case q.Get("date_range") == "all":
		return time.Time{}, time.Time{}, nil
	case !since.IsZero() && !until.IsZero() && !until.After(since):
		return since, until, refused("until must be after since.")
	case !since.IsZero() && !until.IsZero() && until.Sub(since) > maxRange:
		return since, until, refused("The date range must be 6 months or less.")
	}
	return since, until, nil
}

// inRange reports whether t is within [since, until); zero bounds are open.
func inRange(t, since, until time.Time) bool {
	return (since.IsZero() || !t.Before(since)) && (until.IsZero() || t.Before(until))
}

// GET /incidents/{id}/alerts, oldest first, paginated.
func (s *Server) listAlerts(r *http.Request, _ []byte) (int, any) {
	in, ok := s.incidents[r.PathValue("id")]
	if !ok {
		return fail(http.StatusNotFound, 2100, "Not Found")
	}
	q := r.URL.Query()
	limit, offset, c := s.paging(q)
	if c != nil {
		return c.answer()
	}
	statuses := q["statuses[]"]
	items := []any{}
	for _, a := range in.Alerts {
		if len(statuses) > 0 && !slices.Contains(statuses, a.Status) {
			continue
		}
		items = append(items, s.alertJSON(in, a))
	}
	page, more := window(items, limit, offset)
	return http.StatusOK, withTotal(listPage("alerts", page, limit, offset, more), q, len(items))
}

// withTotal fills "total" when the request asked for it (total=true);
// PagerDuty answers null otherwise.
func withTotal(page map[string]any, q url.Values, n int) map[string]any {
	if ok, _ := strconv.ParseBool(q.Get("total")); ok {
		page["total"] = n
	}
	return page
}

// alertJSON is an alert as the REST API returns it. Caller holds mu.
func (s *Server) alertJSON(in *Incident, a Alert) map[string]any {
	out := s.ref("alert", a.ID, a.Summary, "/alerts/"+a.ID, "/alerts/"+a.ID)
	severity := a.Severity
	if severity == "" {
		severity = "critical"
	}
	for k, v := range map[string]any{
		"created_at":  a.CreatedAt.UTC().Format(restTime),
		"status":      a.Status,
		"alert_key":   a.Key,
		"service":     s.serviceRef(in.ServiceID),
		"incident":    s.incidentRef(in),
		"suppressed":  false,
		"severity":    severity,
		"integration": s.ref("events_api_v2_inbound_integration_reference", "PI"+in.ServiceID, "Events API V2", "/services/"+in.ServiceID+"/integrations", "/services/"+in.ServiceID+"/integrations"),
		"body":        map[string]any{"type": "alert_body", "contexts": []any{}, "details": map[string]any{"summary": a.Summary}},
	} {
		out[k] = v
	}
	return out
}

// overviewTypes are the log entries is_overview=true keeps: the changes
// of state, not the notifications and assignments.
var overviewTypes = map[string]bool{
	"trigger_log_entry": true, "acknowledge_log_entry": true, "unacknowledge_log_entry": true,
	"resolve_log_entry": true, "reopen_log_entry": true, "escalate_log_entry": true,
	"annotate_log_entry": true, "priority_change_log_entry": true,
}
