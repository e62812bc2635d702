package pdfake

import "fmt"

// The controls below act "inside PagerDuty", as a monitoring tool or a
// responder in PagerDuty's app would: each changes the incident, appends
// to its log and emits its webhook, like the API calls do. The sandbox's
// page and the tests drive them.

// Trigger opens an incident on a service as its monitoring integration
// would, paging the escalation policy's first level.
func (s *Server) Trigger(serviceID, title string) (Incident, error) {
	return s.TriggerWithKey(serviceID, title, "")
}

// TriggerWithKey opens an incident with an incident_key; a second open
// incident with the same key on the service is refused.
func (s *Server) TriggerWithKey(serviceID, title, key string) (Incident, error) {
	s.mu.Lock()
	in, c := s.open(newIncident{serviceID: serviceID, title: title, key: key, by: serviceAgent(serviceID), channel: "web_trigger"})
	var snap Incident
	if c == nil {
		snap = in.clone()
	}
	pending := s.takePending()
	s.mu.Unlock()
	s.dispatch(pending)
	if c != nil {
		return Incident{}, fmt.Errorf("trigger on %s: %w", serviceID, c)
	}
	return snap, nil
}

// Acknowledge acknowledges an incident as a user.
func (s *Server) Acknowledge(incidentID, userID string) error {
	return s.act(incidentID, userID, func(in *Incident, by agent) *change { return s.acknowledge(in, by) })
}

// Unacknowledge puts an acknowledged incident back to triggered, as the
// acknowledgement timeout does.
func (s *Server) Unacknowledge(incidentID string) error {
	return s.act(incidentID, "", func(in *Incident, _ agent) *change { return s.unacknowledge(in) })
}

// Resolve resolves an incident as a user.
func (s *Server) Resolve(incidentID, userID string) error {
	return s.act(incidentID, userID, func(in *Incident, by agent) *change { return s.resolve(in, by) })
}

// Reopen puts a resolved incident back to triggered as a user.
func (s *Server) Reopen(incidentID, userID string) error {
	return s.act(incidentID, userID, func(in *Incident, by agent) *change { return s.reopen(in, by) })
}

// Reassign gives an incident to other users, as userID.
func (s *Server) Reassign(incidentID, userID string, to ...string) error {
	return s.act(incidentID, userID, func(in *Incident, by agent) *change { return s.reassign(in, by, to) })
}

// Escalate moves an incident to the next level of its policy, as userID.
func (s *Server) Escalate(incidentID, userID string) error {
	return s.act(incidentID, userID, func(in *Incident, by agent) *change { return s.escalate(in, by, in.Level+1) })
}

// SetPriority sets an incident's priority ("P1".."P5") as userID.
func (s *Server) SetPriority(incidentID, userID, priority string) error {
	return s.act(incidentID, userID, func(in *Incident, by agent) *change { return s.setPriority(in, by, priority) })
}

// AddNote adds a note to an incident as userID.
func (s *Server) AddNote(incidentID, userID, content string) error {
	return s.act(incidentID, userID, func(in *Incident, by agent) *change {
		_, c := s.annotate(in, by, content)
		return c
	})
}

// act runs one change on an incident as a user ("" for PagerDuty itself)
// and delivers its webhooks.
func (s *Server) act(incidentID, userID string, fn func(*Incident, agent) *change) error {
	s.mu.Lock()
	in, ok := s.incidents[incidentID]
	var c *change
	switch _, known := s.users[userID]; {
	case !ok:
		c = &change{status: 404, code: 2100, msg: "Not Found", errs: []string{"incident " + incidentID}}
	case userID != "" && !known:
		c = refused("Requester User Not Found")
	default:
		by := agent{}
		if userID != "" {
			by = userAgent(userID)
		}
		c = fn(in, by)
	}
	pending := s.takePending()
	s.mu.Unlock()
	s.dispatch(pending)
	if c != nil {
		return fmt.Errorf("%s: %w", incidentID, c)
	}
	return nil
}
