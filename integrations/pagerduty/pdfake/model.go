package pdfake

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// User is a PagerDuty user. The From header names one by email.
type User struct {
	ID    string
	Name  string
	Email string
}

// EscalationPolicy says who is on call for the services that use it:
// Levels[0] holds the user IDs on call at level 1, Levels[1] at level 2,
// and so on. On-call here is permanent; there are no schedules.
type EscalationPolicy struct {
	ID     string
	Name   string
	Levels [][]string
}

// Service is a PagerDuty service and the escalation policy it pages.
type Service struct {
	ID                 string
	Name               string
	EscalationPolicyID string
}

// Incident is the fake's record of one incident.
type Incident struct {
	ID          string
	Number      int
	Title       string
	Key         string // incident_key
	Status      string // triggered, acknowledged, resolved
	Urgency     string
	Priority    string // "P1".."P5" or ""
	Details     string
	ServiceID   string
	PolicyID    string
	Level       int      // escalation level now, from 1
	Assignees   []string // user IDs
	AckedBy     []string // user IDs, in order
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ResolvedAt  time.Time
	Log         []LogEntry // oldest first
	Notes       []Note
	CreatedFrom string // the From email of the creating call, if any
	// Alerts are what monitoring sent that the incident groups; incidents
	// opened through the REST API or the website have none.
	Alerts []Alert
}

// Alert is one alert of an incident, as a monitoring integration raised it.
type Alert struct {
	ID        string
	Key       string // alert_key, the sender's dedup key
	Summary   string
	Severity  string // critical, error, warning, info
	Status    string // triggered, resolved
	CreatedAt time.Time
}

// LogEntry is one line of an incident's log.
type LogEntry struct {
	ID             string
	Type           string // trigger_log_entry, acknowledge_log_entry, ...
	Summary        string
	At             time.Time
	AgentType      string // user_reference, service_reference, or "" for PagerDuty itself
	AgentID        string
	ChannelType    string // api, web_trigger, note, timeout, ...
	ChannelSummary string
}

// Note is a note on an incident.
type Note struct {
	ID      string
	UserID  string
	Content string
	At      time.Time
}

// priorities are the account's incident priorities, by name.
var priorities = []string{"P1", "P2", "P3", "P4", "P5"}

// priorityID is the ID of a priority name ("P1" → "PPRI001").
func priorityID(name string) string { return "PPRI00" + strings.TrimPrefix(name, "P") }

// priorityName finds a priority by ID.
func priorityName(id string) (string, bool) {
	for _, p := range priorities {
		if priorityID(p) == id {
			return p, true
		}
	}
	return "", false
}

// newID returns a PagerDuty-looking ID: a letter and base-36 digits.
// Caller holds mu.
func (s *Server) newID(prefix string, width int) string {
	s.seq++
	n := strings.ToUpper(strconv.FormatInt(int64(s.seq), 36))
	return prefix + strings.Repeat("0", max(width-len(prefix)-len(n), 0)) + n
}

// AddUser adds a user (an ID is made up when u.ID is empty) and returns it.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		u.ID = s.newID("PU", 7)
	}
	if _, ok := s.users[u.ID]; !ok {
		s.userOrder = append(s.userOrder, u.ID)
	}
	s.users[u.ID] = &u
	return u
}

// AddEscalationPolicy adds a policy and returns it.
func (s *Server) AddEscalationPolicy(p EscalationPolicy) EscalationPolicy {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.ID == "" {
		p.ID = s.newID("PE", 7)
	}
	if _, ok := s.policies[p.ID]; !ok {
		s.polOrder = append(s.polOrder, p.ID)
	}
	p.Levels = cloneLevels(p.Levels)
	s.policies[p.ID] = &p
	return p
}

// SetOnCall puts users on call at level (from 1) of a policy.
func (s *Server) SetOnCall(policyID string, level int, userIDs ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.policies[policyID]
	if !ok || level < 1 {
		return fmt.Errorf("pdfake: no policy %q or bad level %d", policyID, level)
	}
	for len(p.Levels) < level {
		p.Levels = append(p.Levels, nil)
	}
	p.Levels[level-1] = slices.Clone(userIDs)
	return nil
}

// AddService adds a service and returns it.
func (s *Server) AddService(svc Service) Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	if svc.ID == "" {
		svc.ID = s.newID("PS", 7)
	}
	s.services[svc.ID] = &svc
	return svc
}

// Incidents returns a snapshot of every incident, oldest first.
func (s *Server) Incidents() []Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Incident, 0, len(s.incOrder))
	for _, id := range s.incOrder {
		out = append(out, s.incidents[id].clone())
	}
	return out
}

// Incident returns a snapshot of one incident.
func (s *Server) Incident(id string) (Incident, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.incidents[id]
	if !ok {
		return Incident{}, false
	}
	return in.clone(), true
}

func (in *Incident) clone() Incident {
	c := *in
	c.Assignees = slices.Clone(in.Assignees)
	c.AckedBy = slices.Clone(in.AckedBy)
	c.Log = slices.Clone(in.Log)
	c.Notes = slices.Clone(in.Notes)
	c.Alerts = slices.Clone(in.Alerts)
	return c
}

func cloneLevels(l [][]string) [][]string {
	out := make([][]string, len(l))
	for i, us := range l {
		out[i] = slices.Clone(us)
	}
	return out
}

// userByEmail finds a user by email, ignoring case. Caller holds mu.
func (s *Server) userByEmail(email string) *User {
	for _, id := range s.userOrder {
		if u := s.users[id]; strings.EqualFold(u.Email, email) {
			return u
		}
	}
	return nil
}

// userName is a user's name, or the ID when unknown. Caller holds mu.
func (s *Server) userName(id string) string {
	if u, ok := s.users[id]; ok {
		return u.Name
	}
	return id
}

// levelUsers returns who is on call at level of policy. Caller holds mu.
func (s *Server) levelUsers(policyID string, level int) []string {
	p, ok := s.policies[policyID]
	if !ok || level < 1 || level > len(p.Levels) {
		return nil
	}
	return slices.Clone(p.Levels[level-1])
}
