package pdfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// snapshotVersion is written into every snapshot so a later shape can
// tell an older one apart; Restore reads any version, ignoring fields it
// does not know and leaving missing ones zero.
const snapshotVersion = 1

// snapshot is the persisted form of the account: everything the API or
// the sandbox page shows, and the counters that make the next IDs.
// Call logs, injected faults and the options are left out.
type snapshot struct {
	Version   int                `json:"version"`
	Seq       int                `json:"seq"`             // the last ID sequence number handed out
	Number    int                `json:"incident_number"` // the last incident number
	Users     []userSnapshot     `json:"users"`           // in the order they were added
	Policies  []policySnapshot   `json:"escalation_policies"`
	Services  []serviceSnapshot  `json:"services"`
	Incidents []incidentSnapshot `json:"incidents"` // oldest first
	Events    []eventSnapshot    `json:"events"`    // oldest first
}

type userSnapshot struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type policySnapshot struct {
	ID     string     `json:"id"`
	Name   string     `json:"name"`
	Levels [][]string `json:"levels"` // user IDs on call, level 1 first
}

type serviceSnapshot struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	PolicyID string `json:"escalation_policy_id"`
}

type incidentSnapshot struct {
	ID          string        `json:"id"`
	Number      int           `json:"number"`
	Title       string        `json:"title"`
	Key         string        `json:"incident_key"`
	Status      string        `json:"status"`
	Urgency     string        `json:"urgency"`
	Priority    string        `json:"priority,omitempty"`
	Details     string        `json:"details,omitempty"`
	ServiceID   string        `json:"service_id"`
	PolicyID    string        `json:"escalation_policy_id"`
	Level       int           `json:"level"`
	Assignees   []string      `json:"assignees"`
	AckedBy     []string      `json:"acked_by,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	ResolvedAt  time.Time     `json:"resolved_at"`
	Log         []logSnapshot `json:"log_entries"`
	Notes       []noteJSON    `json:"notes,omitempty"`
	CreatedFrom string        `json:"created_from,omitempty"`
	Alerts      []alertJSON   `json:"alerts,omitempty"`
}

type alertJSON struct {
	ID        string    `json:"id"`
	Key       string    `json:"alert_key"`
	Summary   string    `json:"summary"`
	Severity  string    `json:"severity,omitempty"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

type logSnapshot struct {
	ID             string    `json:"id"`
	Type           string    `json:"type"`
	Summary        string    `json:"summary"`
	At             time.Time `json:"at"`
	AgentType      string    `json:"agent_type,omitempty"`
	AgentID        string    `json:"agent_id,omitempty"`
	ChannelType    string    `json:"channel_type,omitempty"`
	ChannelSummary string    `json:"channel_summary,omitempty"`
}

type noteJSON struct {
	ID      string    `json:"id"`
	UserID  string    `json:"user_id"`
	Content string    `json:"content"`
	At      time.Time `json:"at"`
}

// eventSnapshot keeps the exact signed body, as JSON rather than base64,
// so WebhookRequest still rebuilds the same request after a restart.
type eventSnapshot struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	IncidentID string          `json:"incident_id"`
	OccurredAt time.Time       `json:"occurred_at"`
	Body       json.RawMessage `json:"body,omitempty"`
	Status     int             `json:"status,omitempty"`
	Err        string          `json:"error,omitempty"`
}

// Snapshot returns the account's state as JSON, so a sandbox restarted on
// the same database still has the incidents opsbot remembers.
func (s *Server) Snapshot() ([]byte, error) {
	s.mu.Lock()
	snap := snapshot{Version: snapshotVersion, Seq: s.seq, Number: s.number}
	for _, id := range s.userOrder {
		u := s.users[id]
		snap.Users = append(snap.Users, userSnapshot{ID: u.ID, Name: u.Name, Email: u.Email})
	}
	for _, id := range s.polOrder {
		p := s.policies[id]
		snap.Policies = append(snap.Policies, policySnapshot{ID: p.ID, Name: p.Name, Levels: cloneLevels(p.Levels)})
	}
	for _, id := range slices.Sorted(maps.Keys(s.services)) {
		svc := s.services[id]
		snap.Services = append(snap.Services, serviceSnapshot{ID: svc.ID, Name: svc.Name, PolicyID: svc.EscalationPolicyID})
	}
	for _, id := range s.incOrder {
		snap.Incidents = append(snap.Incidents, incidentToSnapshot(s.incidents[id]))
	}
	for _, e := range s.events {
		snap.Events = append(snap.Events, eventSnapshot{ID: e.ID, Type: e.Type, IncidentID: e.IncidentID,
			OccurredAt: e.OccurredAt, Body: json.RawMessage(slices.Clone(e.Body)), Status: e.Status, Err: e.Err})
	}
	s.mu.Unlock()
	b, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("encode pdfake snapshot: %w", err)
	}
	return b, nil
}

func incidentToSnapshot(in *Incident) incidentSnapshot {
	x := incidentSnapshot{ID: in.ID, Number: in.Number, Title: in.Title, Key: in.Key, Status: in.Status,
		Urgency: in.Urgency, Priority: in.Priority, Details: in.Details, ServiceID: in.ServiceID, PolicyID: in.PolicyID,
		Level: in.Level, Assignees: slices.Clone(in.Assignees), AckedBy: slices.Clone(in.AckedBy),
		CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt, ResolvedAt: in.ResolvedAt, CreatedFrom: in.CreatedFrom}
	for _, l := range in.Log {
		x.Log = append(x.Log, logSnapshot(l))
	}
	for _, n := range in.Notes {
		x.Notes = append(x.Notes, noteJSON(n))
	}
	for _, a := range in.Alerts {
		x.Alerts = append(x.Alerts, alertJSON(a))
	}
	return x
}

func incidentFromSnapshot(x incidentSnapshot) *Incident {
	in := &Incident{ID: x.ID, Number: x.Number, Title: x.Title, Key: x.Key, Status: x.Status,
		Urgency: x.Urgency, Priority: x.Priority, Details: x.Details, ServiceID: x.ServiceID, PolicyID: x.PolicyID,
		Level: max(x.Level, 1), Assignees: slices.Clone(x.Assignees), AckedBy: slices.Clone(x.AckedBy),
		CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt, ResolvedAt: x.ResolvedAt, CreatedFrom: x.CreatedFrom}
	for _, l := range x.Log {
		in.Log = append(in.Log, LogEntry(l))
	}
	for _, n := range x.Notes {
		in.Notes = append(in.Notes, Note(n))
	}
	for _, a := range x.Alerts {
		in.Alerts = append(in.Alerts, Alert(a))
	}
	return in
}

// Restore replaces the account's state with a snapshot made by Snapshot.
// Options, the call log and armed faults are kept. Events come back with
// their delivery results and are not sent again. Entries without an ID
// or repeating one are skipped; a snapshot without the ID counter gets
// it back from the IDs it holds, so no ID is handed out twice.
func (s *Server) Restore(b []byte) error {
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("decode pdfake snapshot: %w", err)
	}
	users, userOrder := map[string]*User{}, []string{}
	seq := 0 // the highest sequence number the restored IDs show
	for _, x := range snap.Users {
		if x.ID != "" && users[x.ID] == nil {
			users[x.ID] = &User{ID: x.ID, Name: x.Name, Email: x.Email}
			userOrder = append(userOrder, x.ID)
			seq = max(seq, seqOf(x.ID, "PU"))
		}
	}
	policies, polOrder := map[string]*EscalationPolicy{}, []string{}
	for _, x := range snap.Policies {
		if x.ID != "" && policies[x.ID] == nil {
			policies[x.ID] = &EscalationPolicy{ID: x.ID, Name: x.Name, Levels: cloneLevels(x.Levels)}
			polOrder = append(polOrder, x.ID)
			seq = max(seq, seqOf(x.ID, "PE"))
		}
	}
	services := map[string]*Service{}
	for _, x := range snap.Services {
		if x.ID != "" && services[x.ID] == nil {
			services[x.ID] = &Service{ID: x.ID, Name: x.Name, EscalationPolicyID: x.PolicyID}
			seq = max(seq, seqOf(x.ID, "PS"))
		}
	}
	incidents, incOrder, number := map[string]*Incident{}, []string{}, snap.Number
	for _, x := range snap.Incidents {
		if x.ID == "" || incidents[x.ID] != nil {
			continue
		}
		in := incidentFromSnapshot(x)
		incidents[in.ID] = in
		incOrder = append(incOrder, in.ID)
		number = max(number, in.Number)
		seq = max(seq, seqOf(in.ID, "Q"))
		for _, l := range in.Log {
			seq = max(seq, seqOf(l.ID, "R"))
		}
		for _, n := range in.Notes {
			seq = max(seq, seqOf(n.ID, "PN"))
		}
		for _, a := range in.Alerts {
			seq = max(seq, seqOf(a.ID, "PA"))
		}
	}
	events := make([]Event, 0, len(snap.Events))
	for _, x := range snap.Events {
		events = append(events, Event{ID: x.ID, Type: x.Type, IncidentID: x.IncidentID, OccurredAt: x.OccurredAt,
			Body: slices.Clone([]byte(x.Body)), Status: x.Status, Err: x.Err})
		seq = max(seq, seqOf(x.ID, "01"))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq, s.number = snap.Seq, number
	if snap.Seq == 0 { // a snapshot without the counter
		s.seq = seq
	}
	s.users, s.userOrder = users, userOrder
	s.policies, s.polOrder = policies, polOrder
	s.services = services
	s.incidents, s.incOrder = incidents, incOrder
	s.events, s.pending = events, nil
	return nil
}

// seqOf reads the sequence number back out of an ID newID made with
// prefix; 0 for IDs made some other way (e.g. given to AddUser).
func seqOf(id, prefix string) int {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || rest == "" || strings.ToUpper(rest) != rest {
		return 0
	}
	n, err := strconv.ParseInt(rest, 36, 64)
	if err != nil || n > 1<<40 {
		return 0
	}
	return int(n)
}
