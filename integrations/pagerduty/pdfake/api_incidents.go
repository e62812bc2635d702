package pdfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// requester is the user the From header names: PagerDuty requires one for
// every change. Caller holds mu.
func (s *Server) requester(r *http.Request) (*User, *change) {
	from := r.Header.Get("From")
	if from == "" {
		return nil, &change{status: http.StatusBadRequest, code: 2016, msg: `You must specify a user's email address in the "From" header to perform this action`}
	}
	u := s.userByEmail(from)
	if u == nil {
		// What PagerDuty answers when From names no user of the account:
		// 400, code 1008, no detail.
		return nil, &change{status: http.StatusBadRequest, code: 1008, msg: "Requester User Not Found"}
	}
	return u, nil
}

// reference is {"id": ..., "type": ...} in request bodies.
type reference struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// POST /incidents
func (s *Server) createIncident(r *http.Request, body []byte) (int, any) {
	u, c := s.requester(r)
	if c != nil {
		return c.answer()
	}
	var req struct {
		Incident *struct {
			Type        string     `json:"type"`
			Title       string     `json:"title"`
			Service     *reference `json:"service"`
			Priority    *reference `json:"priority"`
			Urgency     string     `json:"urgency"`
			IncidentKey string     `json:"incident_key"`
			Body        *struct {
				Details string `json:"details"`
			} `json:"body"`
			Assignments []struct {
				Assignee reference `json:"assignee"`
			} `json:"assignments"`
		} `json:"incident"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Incident == nil {
		return invalid("Request body must be an object with an incident.")
	}
	ri := req.Incident
	if ri.Type != "incident" {
		return invalid(`Incident type must be "incident".`)
	}
	n := newIncident{title: ri.Title, key: ri.IncidentKey, urgency: ri.Urgency, by: userAgent(u.ID), channel: "api", from: u.Email}
	if ri.Service != nil {
		n.serviceID = ri.Service.ID
	}
	if ri.Body != nil {
		n.details = ri.Body.Details
	}
	if ri.Priority != nil {
		name, ok := priorityName(ri.Priority.ID)
		if !ok {
			return invalid("Priority not found.")
		}
		n.priority = name
	}
	for _, a := range ri.Assignments {
		n.assignees = append(n.assignees, a.Assignee.ID)
	}
	in, c := s.open(n)
	if c != nil {
		return c.answer()
	}
	return http.StatusCreated, map[string]any{"incident": s.incidentJSON(in)}
}

// GET /incidents with incident_key, statuses[], service_ids[] filters.
func (s *Server) listIncidents(r *http.Request, _ []byte) (int, any) {
	q := r.URL.Query()
	limit, offset, c := s.paging(q)
	if c != nil {
		return c.answer()
	}
	since, until, c := dateRange(q)
	if c != nil {
		return c.answer()
	}
	statuses, services, urgencies := q["statuses[]"], q["service_ids[]"], q["urgencies[]"]
	key := q.Get("incident_key")
	var items []any
	for _, id := range s.incOrder {
		in := s.incidents[id]
		if (key != "" && in.Key != key) ||
			(len(statuses) > 0 && !slices.Contains(statuses, in.Status)) ||
			(len(services) > 0 && !slices.Contains(services, in.ServiceID)) ||
			(len(urgencies) > 0 && !slices.Contains(urgencies, in.Urgency)) ||
			!inRange(in.CreatedAt, since, until) {
			continue
		}
		items = append(items, s.incidentJSON(in))
	}
	// Created order, as PagerDuty sorts by created_at (incidents added
	// as history may have been added out of order).
	switch q.Get("sort_by") {
	case "created_at", "created_at:asc":
		slices.SortStableFunc(items, byCreated)
	case "created_at:desc":
		slices.SortStableFunc(items, byCreated)
		slices.Reverse(items)
	}
	page, more := window(items, limit, offset)
	return http.StatusOK, withTotal(listPage("incidents", page, limit, offset, more), q, len(items))
}

// GET /incidents/{id}
func (s *Server) getIncident(r *http.Request, _ []byte) (int, any) {
	in, ok := s.incidents[r.PathValue("id")]
	if !ok {
		return fail(http.StatusNotFound, 2100, "Not Found")
	}
	return http.StatusOK, map[string]any{"incident": s.incidentJSON(in)}
}

// PUT /incidents: manage several incidents at once, as the From user.
// Every update is checked before any is applied.
func (s *Server) manageIncidents(r *http.Request, body []byte) (int, any) {
	u, c := s.requester(r)
	if c != nil {
		return c.answer()
	}
	var req struct {
		Incidents []struct {
			ID              string     `json:"id"`
			Type            string     `json:"type"`
			Status          string     `json:"status"`
			EscalationLevel int        `json:"escalation_level"`
			Priority        *reference `json:"priority"`
			Assignments     []struct {
				Assignee reference `json:"assignee"`
			} `json:"assignments"`
		} `json:"incidents"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Incidents) == 0 {
		return invalid("Request body must be an object with a non-empty incidents array.")
	}
	for _, ri := range req.Incidents {
		if _, ok := s.incidents[ri.ID]; !ok {
			return fail(http.StatusNotFound, 2100, "Not Found", "Incident "+ri.ID+" not found.")
		}
		switch ri.Status {
		case "", "acknowledged", "resolved":
		default:
			return invalid("Status must be acknowledged or resolved.")
		}
		if ri.Status == "acknowledged" && s.incidents[ri.ID].Status == "resolved" {
			return invalid("Incident Already Resolved")
		}
		if ri.Priority != nil {
			if _, ok := priorityName(ri.Priority.ID); !ok {
				return invalid("Priority not found.")
			}
		}
		for _, a := range ri.Assignments {
			if _, ok := s.users[a.Assignee.ID]; !ok {
				return invalid("Assignee " + a.Assignee.ID + " not found.")
			}
		}
	}
	by := userAgent(u.ID)
	var out []any
	for _, ri := range req.Incidents {
		in := s.incidents[ri.ID]
		var c *change
		if ri.Priority != nil {
			name, _ := priorityName(ri.Priority.ID)
			c = s.setPriority(in, by, name)
		}
		if c == nil && len(ri.Assignments) > 0 {
			var users []string
			for _, a := range ri.Assignments {
				users = append(users, a.Assignee.ID)
			}
			c = s.reassign(in, by, users)
		}
		if c == nil && ri.EscalationLevel > 0 {
			c = s.escalate(in, by, ri.EscalationLevel)
		}
		if c == nil {
			switch ri.Status {
			case "acknowledged":
				c = s.acknowledge(in, by)
			case "resolved":
				c = s.resolve(in, by)
			}
		}
		if c != nil {
			return c.answer()
		}
		out = append(out, s.incidentJSON(in))
	}
	return http.StatusOK, listPage("incidents", out, len(out), 0, false)
}

// GET /incidents/{id}/log_entries, newest first, paginated.
func (s *Server) listLogEntries(r *http.Request, _ []byte) (int, any) {
	in, ok := s.incidents[r.PathValue("id")]
	if !ok {
		return fail(http.StatusNotFound, 2100, "Not Found")
	}
	limit, offset, c := s.paging(r.URL.Query())
	if c != nil {
		return c.answer()
	}
	overview, _ := strconv.ParseBool(r.URL.Query().Get("is_overview"))
	items := make([]any, 0, len(in.Log))
	for i := len(in.Log) - 1; i >= 0; i-- {
		if overview && !overviewTypes[in.Log[i].Type] {
			continue
		}
		items = append(items, s.logEntryJSON(in, in.Log[i]))
	}
	page, more := window(items, limit, offset)
	return http.StatusOK, listPage("log_entries", page, limit, offset, more)
}

// GET /incidents/{id}/notes
func (s *Server) listNotes(r *http.Request, _ []byte) (int, any) {
	in, ok := s.incidents[r.PathValue("id")]
	if !ok {
		return fail(http.StatusNotFound, 2100, "Not Found")
	}
	notes := []any{}
	for _, n := range in.Notes {
		notes = append(notes, s.noteJSON(n))
	}
	return http.StatusOK, map[string]any{"notes": notes}
}

// POST /incidents/{id}/notes, as the From user.
func (s *Server) createNote(r *http.Request, body []byte) (int, any) {
	in, ok := s.incidents[r.PathValue("id")]
	if !ok {
		return fail(http.StatusNotFound, 2100, "Not Found")
	}
	u, c := s.requester(r)
	if c != nil {
		return c.answer()
	}
	var req struct {
		Note *struct {
			Content string `json:"content"`
		} `json:"note"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Note == nil {
		return invalid("Request body must be an object with a note.")
	}
	n, c := s.annotate(in, userAgent(u.ID), req.Note.Content)
	if c != nil {
		return c.answer()
	}
	return http.StatusCreated, map[string]any{"note": s.noteJSON(n)}
}

func (s *Server) noteJSON(n Note) map[string]any {
	return map[string]any{"id": n.ID, "user": s.userRef(n.UserID), "content": n.Content, "created_at": n.At.Format(restTime)}
}

// DefaultOffsetCap is PagerDuty's cap on classic (offset) pagination:
// offset+limit may not exceed 10,000; a request past it is refused, and a
// client must narrow its query (a shorter time window) instead.
const DefaultOffsetCap = 10000

// paging reads limit (default 25, at most 100) and offset, refusing a
// page past the offset cap as PagerDuty does.
func (s *Server) paging(q url.Values) (limit, offset int, c *change) {
	limit, offset = 25, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, refused("Limit must be a positive integer.")
		}
		limit = min(n, 100)
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, refused("Offset must be a non-negative integer.")
		}
		offset = n
	}
	if cap := s.offsetCap(); offset+limit > cap {
		return 0, 0, refused(fmt.Sprintf("Offset plus limit must not exceed %d; narrow the query (since/until) instead.", cap))
	}
	return limit, offset, nil
}

func (s *Server) offsetCap() int {
	if s.opts.OffsetCap > 0 {
		return s.opts.OffsetCap
	}
	return DefaultOffsetCap
}

// window cuts one page out of items.
func window(items []any, limit, offset int) ([]any, bool) {
	if offset >= len(items) {
		return nil, false
	}
	end := min(offset+limit, len(items))
	return items[offset:end], end < len(items)
}

// byCreated orders incidents as JSON by created_at (all written in UTC
// with restTime, so the strings order as the times do).
func byCreated(a, b any) int {
	x, _ := a.(map[string]any)["created_at"].(string)
	y, _ := b.(map[string]any)["created_at"].(string)
	return strings.Compare(x, y)
}
