package pdfake

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// change is an error answer from a state change: the HTTP status and
// PagerDuty's error object. Controls turn it into a Go error.
type change struct {
	status int
	code   int
	msg    string
	errs   []string
}

// Error describes the refusal for controls, which return Go errors.
func (c *change) Error() string {
	return fmt.Sprintf("pdfake: %d %s: %s", c.status, c.msg, strings.Join(c.errs, "; "))
}

func (c *change) answer() (int, any) { return fail(c.status, c.code, c.msg, c.errs...) }

func refused(errs ...string) *change {
	return &change{status: http.StatusBadRequest, code: 2001, msg: "Invalid Input Provided", errs: errs}
}

// agent is who makes a change: a user, a service (an integration), or
// PagerDuty itself (both empty).
type agent struct{ kind, id string }

func userAgent(id string) agent    { return agent{"user_reference", id} }
func serviceAgent(id string) agent { return agent{"service_reference", id} }

// newIncident is what opening an incident needs.
type newIncident struct {
	serviceID, title, key, urgency, details, priority string
	assignees                                         []string // empty: the policy's level 1
	by                                                agent
	channel                                           string // api, web_trigger
	from                                              string
}

// open creates an incident, refusing a second open one with the same key
// on the service as PagerDuty does. Caller holds mu.
func (s *Server) open(n newIncident) (*Incident, *change) {
	svc, ok := s.services[n.serviceID]
	switch {
	case !ok:
		return nil, refused("Service not found.")
	case strings.TrimSpace(n.title) == "":
		return nil, refused("Title cannot be empty.")
	case n.urgency != "" && n.urgency != "high" && n.urgency != "low":
		return nil, refused("Urgency must be one of high, low.")
	}
	if n.key != "" {
		for _, id := range s.incOrder {
			if in := s.incidents[id]; in.Key == n.key && in.ServiceID == svc.ID && in.Status != "resolved" {
				return nil, refused("Open incident with matching dedup key already exists on this service")
			}
		}
	} else {
		n.key = fmt.Sprintf("%032x", s.seq+1)
	}
	if n.urgency == "" {
		n.urgency = "high"
	}
	for _, u := range n.assignees {
		if _, ok := s.users[u]; !ok {
			return nil, refused("Assignee " + u + " not found.")
		}
	}
	now := s.now()
	s.number++
	in := &Incident{
		ID: s.newID("Q", 14), Number: s.number, Title: n.title, Key: n.key,
		Status: "triggered", Urgency: n.urgency, Priority: n.priority, Details: n.details,
		ServiceID: svc.ID, PolicyID: svc.EscalationPolicyID, Level: 1,
		CreatedAt: now, UpdatedAt: now, CreatedFrom: n.from,
	}
	in.Assignees = n.assignees
	if len(in.Assignees) == 0 {
		in.Assignees = s.levelUsers(in.PolicyID, 1)
	}
	s.incidents[in.ID] = in
	s.incOrder = append(s.incOrder, in.ID)
	how := "the API"
	if n.channel == "web_trigger" {
		how = "the website"
	}
	s.logEntry(in, "trigger_log_entry", "Triggered through "+how+".", n.by, n.channel, "")
	if len(in.Assignees) > 0 {
		s.logEntry(in, "assign_log_entry", "Assigned to "+s.names(in.Assignees)+".", serviceAgent(svc.ID), "auto", "")
	}
	s.emit("incident.triggered", in, n.by, nil)
	return in, nil
}

// acknowledge moves a triggered incident to acknowledged.
func (s *Server) acknowledge(in *Incident, by agent) *change {
	switch in.Status {
	case "resolved":
		return refused("Incident Already Resolved")
	case "acknowledged":
		return nil
	}
	in.Status = "acknowledged"
	in.AckedBy = append(in.AckedBy, by.id)
	s.logEntry(in, "acknowledge_log_entry", "Acknowledged by "+s.agentName(by)+".", by, "api", "")
	s.emit("incident.acknowledged", in, by, nil)
	return nil
}

// unacknowledge puts an acknowledged incident back to triggered, as the
// acknowledgement timeout does.
func (s *Server) unacknowledge(in *Incident) *change {
	if in.Status != "acknowledged" {
		return refused("Incident is not acknowledged.")
	}
	in.Status = "triggered"
	s.logEntry(in, "unacknowledge_log_entry", "Unacknowledged due to timeout.", agent{}, "timeout", "")
	s.emit("incident.unacknowledged", in, agent{}, nil)
	return nil
}

// resolve resolves an incident; resolving a resolved one changes nothing.
func (s *Server) resolve(in *Incident, by agent) *change {
	if in.Status == "resolved" {
		return nil
	}
	in.Status = "resolved"
	in.ResolvedAt = s.now()
	s.logEntry(in, "resolve_log_entry", "Resolved by "+s.agentName(by)+".", by, "api", "")
	s.emit("incident.resolved", in, by, nil)
	return nil
}

// reopen puts a resolved incident back to triggered.
func (s *Server) reopen(in *Incident, by agent) *change {
	if in.Status != "resolved" {
		return refused("Incident is not resolved.")
	}
	in.Status = "triggered"
	in.ResolvedAt = time.Time{}
	s.logEntry(in, "reopen_log_entry", "Reopened by "+s.agentName(by)+".", by, "api", "")
	s.emit("incident.reopened", in, by, nil)
	return nil
}

// reassign gives the incident to users.
func (s *Server) reassign(in *Incident, by agent, users []string) *change {
	if len(users) == 0 {
		return refused("Assignments cannot be empty.")
	}
	for _, u := range users {
		if _, ok := s.users[u]; !ok {
			return refused("Assignee " + u + " not found.")
		}
	}
	if in.Status == "resolved" {
		return refused("Incident Already Resolved")
	}
	in.Assignees = slices.Clone(users)
	if in.Status == "acknowledged" {
		in.Status = "triggered" // a reassigned incident pages its new assignees
	}
	s.logEntry(in, "assign_log_entry", "Reassigned to "+s.names(users)+" by "+s.agentName(by)+".", by, "api", "")
	s.emit("incident.reassigned", in, by, nil)
	return nil
}

// escalate moves the incident to level of its policy (from 1).
func (s *Server) escalate(in *Incident, by agent, level int) *change {
	users := s.levelUsers(in.PolicyID, level)
	switch {
	case in.Status == "resolved":
		return refused("Incident Already Resolved")
	case len(users) == 0:
		return refused(fmt.Sprintf("Escalation level %d has no one on call.", level))
	}
	in.Level = level
	in.Assignees = users
	in.Status = "triggered"
	s.logEntry(in, "escalate_log_entry", fmt.Sprintf("Escalated to level %d by %s.", level, s.agentName(by)), by, "api", "")
	s.emit("incident.escalated", in, by, nil)
	return nil
}

// setPriority changes the incident's priority ("P1".."P5").
func (s *Server) setPriority(in *Incident, by agent, name string) *change {
	if !slices.Contains(priorities, name) {
		return refused("Priority not found.")
	}
	if in.Priority == name {
		return nil
	}
	in.Priority = name
	s.logEntry(in, "priority_change_log_entry", "Priority changed to "+name+" by "+s.agentName(by)+".", by, "api", "")
	s.emit("incident.priority_updated", in, by, nil)
	return nil
}

// annotate adds a note.
func (s *Server) annotate(in *Incident, by agent, content string) (Note, *change) {
	if strings.TrimSpace(content) == "" {
		return Note{}, refused("Note content cannot be empty.")
	}
	n := Note{ID: s.newID("PN", 7), UserID: by.id, Content: content, At: s.now()}
	in.Notes = append(in.Notes, n)
	s.logEntry(in, "annotate_log_entry", "Note added by "+s.agentName(by)+".", by, "note", content)
	s.emit("incident.annotated", in, by, &n)
	return n, nil
}

// logEntry appends to the incident's log and stamps the change.
func (s *Server) logEntry(in *Incident, typ, summary string, by agent, channel, channelSummary string) {
	now := s.now()
	in.UpdatedAt = now
	in.Log = append(in.Log, LogEntry{
		ID: s.newID("R", 26), Type: typ, Summary: summary, At: now,
		AgentType: by.kind, AgentID: by.id, ChannelType: channel, ChannelSummary: channelSummary,
	})
}

// agentName is who made a change, as PagerDuty writes it in summaries.
func (s *Server) agentName(a agent) string {
	switch a.kind {
	case "user_reference":
		return s.userName(a.id)
	case "service_reference":
		if svc, ok := s.services[a.id]; ok {
			return svc.Name
		}
	}
	return "PagerDuty"
}

// names joins user names for a summary.
func (s *Server) names(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = s.userName(id)
	}
	return strings.Join(out, ", ")
}
