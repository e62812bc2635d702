package pdfake

import "strconv"

// PagerDuty writes REST timestamps to the second and webhook timestamps
// to the millisecond, both in UTC.
const (
	restTime    = "2006-01-02T15:04:05Z"
	webhookTime = "2006-01-02T15:04:05.000Z"
)

// apiURL is the base of "self" links. Caller holds mu.
func (s *Server) apiURL() string {
	if s.opts.BaseURL != "" {
		return s.opts.BaseURL
	}
	return "https://api.pagerduty.com"
}

// webURL is the base of html_url links.
func (s *Server) webURL() string { return "https://" + s.opts.Subdomain + ".pagerduty.com" }

// ref is PagerDuty's reference object. Caller holds mu.
func (s *Server) ref(typ, id, summary, apiPath, webPath string) map[string]any {
	return map[string]any{
		"id": id, "type": typ, "summary": summary,
		"self": s.apiURL() + apiPath, "html_url": s.webURL() + webPath,
	}
}

func (s *Server) userRef(id string) map[string]any {
	return s.ref("user_reference", id, s.userName(id), "/users/"+id, "/users/"+id)
}

func (s *Server) serviceRef(id string) map[string]any {
	name := id
	if svc, ok := s.services[id]; ok {
		name = svc.Name
	}
	return s.ref("service_reference", id, name, "/services/"+id, "/service-directory/"+id)
}

func (s *Server) policyRef(id string) map[string]any {
	name := id
	if p, ok := s.policies[id]; ok {
		name = p.Name
	}
	return s.ref("escalation_policy_reference", id, name, "/escalation_policies/"+id, "/escalation_policies/"+id)
}

func (s *Server) incidentRef(in *Incident) map[string]any {
	return s.ref("incident_reference", in.ID, in.Title, "/incidents/"+in.ID, "/incidents/"+in.ID)
}

func (s *Server) priorityRef(name string) any {
	if name == "" {
		return nil
	}
	return s.ref("priority_reference", priorityID(name), name, "/priorities/"+priorityID(name), "/account/incident_priorities")
}

func (s *Server) agentRef(a agent) any {
	switch a.kind {
	case "user_reference":
		return s.userRef(a.id)
	case "service_reference":
		return s.serviceRef(a.id)
	}
	return nil
}

// userJSON is a full user object.
func (s *Server) userJSON(u *User) map[string]any {
	return map[string]any{
		"id": u.ID, "type": "user", "summary": u.Name, "name": u.Name, "email": u.Email,
		"self": s.apiURL() + "/users/" + u.ID, "html_url": s.webURL() + "/users/" + u.ID,
		"time_zone": "Etc/UTC", "role": "user", "teams": []any{}, "contact_methods": []any{},
	}
}

// incidentJSON is an incident as the REST API returns it.
func (s *Server) incidentJSON(in *Incident) map[string]any {
	assignments := []any{}
	for _, u := range in.Assignees {
		assignments = append(assignments, map[string]any{"at": in.UpdatedAt.Format(restTime), "assignee": s.userRef(u)})
	}
	acks := []any{}
	if in.Status == "acknowledged" {
		for _, u := range in.AckedBy {
			acks = append(acks, map[string]any{"at": in.UpdatedAt.Format(restTime), "acknowledger": s.userRef(u)})
		}
	}
	var resolvedAt any
	if !in.ResolvedAt.IsZero() {
		resolvedAt = in.ResolvedAt.Format(restTime)
	}
	out := s.ref("incident", in.ID, "[#"+strconv.Itoa(in.Number)+"] "+in.Title, "/incidents/"+in.ID, "/incidents/"+in.ID)
	for k, v := range map[string]any{
		"incident_number":       in.Number,
		"title":                 in.Title,
		"description":           in.Title,
		"created_at":            in.CreatedAt.Format(restTime),
		"updated_at":            in.UpdatedAt.Format(restTime),
		"last_status_change_at": in.UpdatedAt.Format(restTime),
		"resolved_at":           resolvedAt,
		"status":                in.Status,
		"incident_key":          in.Key,
		"service":               s.serviceRef(in.ServiceID),
		"escalation_policy":     s.policyRef(in.PolicyID),
		"assignments":           assignments,
		"acknowledgements":      acks,
		"assigned_via":          "escalation_policy",
		"urgency":               in.Urgency,
		"priority":              s.priorityRef(in.Priority),
		"teams":                 []any{},
		"pending_actions":       []any{},
		"is_mergeable":          true,
		"resolve_reason":        nil,
		"alert_counts":          alertCounts(in.Alerts),
		"body":                  map[string]any{"type": "incident_body", "details": in.Details},
	} {
		out[k] = v
	}
	return out
}

// logEntryJSON is a log entry as the REST API returns it.
func (s *Server) logEntryJSON(in *Incident, e LogEntry) map[string]any {
	channel := map[string]any{"type": e.ChannelType}
	if e.ChannelSummary != "" {
		channel["summary"] = e.ChannelSummary
	}
	return map[string]any{
		"id": e.ID, "type": e.Type, "summary": e.Summary,
		"self":          s.apiURL() + "/log_entries/" + e.ID,
		"html_url":      s.webURL() + "/incidents/" + in.ID + "/log_entries/" + e.ID,
		"created_at":    e.At.Format(restTime),
		"agent":         s.agentRef(agent{e.AgentType, e.AgentID}),
		"channel":       channel,
		"service":       s.serviceRef(in.ServiceID),
		"incident":      s.incidentRef(in),
		"teams":         []any{},
		"contexts":      []any{},
		"event_details": map[string]any{},
	}
}

// incidentData is the "incident" data of a V3 webhook event.
func (s *Server) incidentData(in *Incident) map[string]any {
	assignees := []any{}
	for _, u := range in.Assignees {
		assignees = append(assignees, s.userRef(u))
	}
	return map[string]any{
		"id": in.ID, "type": "incident",
		"self":              s.apiURL() + "/incidents/" + in.ID,
		"html_url":          s.webURL() + "/incidents/" + in.ID,
		"number":            in.Number,
		"status":            in.Status,
		"incident_key":      in.Key,
		"created_at":        in.CreatedAt.Format(restTime),
		"title":             in.Title,
		"service":           s.serviceRef(in.ServiceID),
		"assignees":         assignees,
		"escalation_policy": s.policyRef(in.PolicyID),
		"teams":             []any{},
		"priority":          s.priorityRef(in.Priority),
		"urgency":           in.Urgency,
		"conference_bridge": nil,
		"resolve_reason":    nil,
	}
}

// noteData is the "incident_note" data of incident.annotated.
func (s *Server) noteData(in *Incident, n *Note) map[string]any {
	return map[string]any{
		"incident": s.incidentRef(in),
		"id":       n.ID,
		"content":  n.Content,
		"trimmed":  false,
		"type":     "incident_note",
	}
}

// listPage is PagerDuty's offset pagination envelope.
func listPage(key string, items []any, limit, offset int, more bool) map[string]any {
	if items == nil {
		items = []any{}
	}
	return map[string]any{key: items, "limit": limit, "offset": offset, "more": more, "total": nil}
}

// alertCounts is an incident's alert_counts.
func alertCounts(alerts []Alert) map[string]any {
	triggered, resolved := 0, 0
	for _, a := range alerts {
		if a.Status == "resolved" {
			resolved++
		} else {
			triggered++
		}
	}
	return map[string]any{"all": len(alerts), "triggered": triggered, "resolved": resolved}
}
