package pagerduty

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// The incident event types of V3 webhooks that opsbot reads in full.
// Other event types are accepted with only their ID and type.
const (
	EventTriggered       = "incident.triggered"
	EventAcknowledged    = "incident.acknowledged"
	EventUnacknowledged  = "incident.unacknowledged"
	EventReassigned      = "incident.reassigned"
	EventEscalated       = "incident.escalated"
	EventPriorityUpdated = "incident.priority_updated"
	EventAnnotated       = "incident.annotated"
	EventResolved        = "incident.resolved"
	EventReopened        = "incident.reopened"
)

// incidentEvents carry an "incident" object as their data.
var incidentEvents = map[string]bool{
	EventTriggered: true, EventAcknowledged: true, EventUnacknowledged: true,
	EventReassigned: true, EventEscalated: true, EventPriorityUpdated: true,
	EventResolved: true, EventReopened: true,
}

// v3Envelope is the body of every V3 webhook: one event.
type v3Envelope struct {
	Event *v3Event `json:"event"`
}

// v3Event is the part common to all outbound events; Data depends on
// EventType.
type v3Event struct {
	v3Head
	Data json.RawMessage `json:"data"`
}

// v3Head is what every event carries beside its data.
type v3Head struct {
	ID           string       `json:"id"`
	EventType    string       `json:"event_type"`
	ResourceType string       `json:"resource_type"`
	OccurredAt   string       `json:"occurred_at"`
	Agent        *v3Reference `json:"agent"`
	Client       *v3Client    `json:"client"`
}

// v3OnePass is an envelope read in one pass, its data as an incident or
// a note (v3Data): the events opsbot acts on, read without going over
// their data twice (as raw JSON, then as its type), which was a fifth of
// the parse. ParseEvent falls back to the two passes for any other
// event, or any data this does not fit
// (FuzzParseEvent_OnePassAgreesWithTwo).
type v3OnePass struct {
	Event *struct {
		v3Head
		Data *v3Data `json:"data"`
	} `json:"event"`
}

// v3Data holds the fields of an incident and those of a note; no name
// is in both.
type v3Data struct {
	v3Incident
	Content  string      `json:"content"`
	Trimmed  bool        `json:"trimmed"`
	Incident v3Reference `json:"incident"`
}

// v3Reference is PagerDuty's reference to another object (a user, a
// service, a team...).
type v3Reference struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
	Self    string `json:"self"`
	HTMLURL string `json:"html_url"`
}

// v3Client says where an event was triggered from.
type v3Client struct {
	Name string `json:"name"`
}

// v3Incident is the data of the incident.* events other than annotated.
type v3Incident struct {
	ID               string              `json:"id"`
	Type             string              `json:"type"`
	Self             string              `json:"self"`
	HTMLURL          string              `json:"html_url"`
	Number           int                 `json:"number"`
	Status           string              `json:"status"`
	IncidentKey      string              `json:"incident_key"`
	CreatedAt        string              `json:"created_at"`
	Title            string              `json:"title"`
	Service          *v3Reference        `json:"service"`
	Assignees        []v3Reference       `json:"assignees"`
	EscalationPolicy *v3Reference        `json:"escalation_policy"`
	Teams            []v3Reference       `json:"teams"`
	Priority         *v3Reference        `json:"priority"`
	Urgency          string              `json:"urgency"`
	ConferenceBridge *v3ConferenceBridge `json:"conference_bridge"`
	ResolveReason    json.RawMessage     `json:"resolve_reason"`
}

// v3ConferenceBridge is an incident's bridge. The number is a string in
// PagerDuty's documentation but a number in some payloads (go-pagerduty's
// own test vector), so it takes either.
type v3ConferenceBridge struct {
	ConferenceNumber flexString `json:"conference_number"`
	ConferenceURL    string     `json:"conference_url"`
}

// v3IncidentNote is the data of incident.annotated.
type v3IncidentNote struct {
	ID       string      `json:"id"`
	Type     string      `json:"type"`
	Content  string      `json:"content"`
	Trimmed  bool        `json:"trimmed"`
	Incident v3Reference `json:"incident"`
}

// flexString decodes a JSON string or number as a string.
type flexString string

// UnmarshalJSON takes a string, a number or null.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("conference_number: %w", err)
		}
		*f = flexString(n.String())
	}
	return nil
}

// errMalformed marks a webhook body that is not a V3 event.
var errMalformed = errors.New("not a PagerDuty V3 webhook event")

// ParseEvent reads a V3 webhook body into a neutral event. Every event
// needs an ID and a type; the incident events opsbot knows are read in
// full, any other type comes back with just its ID, type, time and agent.
func ParseEvent(body []byte) (workflows.PagerEvent, error) {
	var one v3OnePass
	if json.Unmarshal(body, &one) == nil && one.Event != nil && one.Event.Data != nil {
		e, d := one.Event, one.Event.Data
		switch {
		case e.EventType == EventAnnotated:
			return event(e.v3Head, nil, &v3IncidentNote{ID: d.ID, Type: d.Type, Content: d.Content, Trimmed: d.Trimmed, Incident: d.Incident})
		case incidentEvents[e.EventType]:
			return event(e.v3Head, &d.v3Incident, nil)
		}
	}
	return parseTwoPasses(body)
}

// parseTwoPasses reads body's envelope with its data as raw JSON, then
// the data by the event's type: any event, and the errors for data
// that is not of its type.
func parseTwoPasses(body []byte) (workflows.PagerEvent, error) {
	var env v3Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return workflows.PagerEvent{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	e := env.Event
	if e == nil || e.ID == "" || e.EventType == "" {
		return workflows.PagerEvent{}, fmt.Errorf("%w: event, event.id or event.event_type missing", errMalformed)
	}
	switch {
	case e.EventType == EventAnnotated:
		var n v3IncidentNote
		if err := decodeData(e, &n); err != nil {
			return workflows.PagerEvent{}, err
		}
		return event(e.v3Head, nil, &n)
	case incidentEvents[e.EventType]:
		var in v3Incident
		if err := decodeData(e, &in); err != nil {
			return workflows.PagerEvent{}, err
		}
		return event(e.v3Head, &in, nil)
	}
	return event(e.v3Head, nil, nil)
}

// event builds the event from its head and its data read as an incident
// (in) or a note (n); neither for the types opsbot does not read.
func event(e v3Head, in *v3Incident, n *v3IncidentNote) (workflows.PagerEvent, error) {
	if e.ID == "" || e.EventType == "" {
		return workflows.PagerEvent{}, fmt.Errorf("%w: event, event.id or event.event_type missing", errMalformed)
	}
	ev := workflows.PagerEvent{ID: e.ID, Type: e.EventType}
	if e.OccurredAt != "" {
		at, err := time.Parse(time.RFC3339, e.OccurredAt)
		if err != nil {
			return workflows.PagerEvent{}, fmt.Errorf("%w: event %s: occurred_at: %v", errMalformed, e.ID, err)
		}
		ev.OccurredAt = at.UTC()
	}
	if e.Agent != nil {
		ev.Agent = e.Agent.Summary
	}
	switch {
	case n != nil:
		ev.Incident = workflows.PDIncident{ID: n.Incident.ID, URL: n.Incident.HTMLURL, Title: n.Incident.Summary}
		ev.Note = n.Content
	case in != nil:
		ev.Incident = workflows.PDIncident{
			ID: in.ID, Number: in.Number, URL: in.HTMLURL, Status: in.Status, Title: in.Title, Key: in.IncidentKey,
		}
		if in.Service != nil {
			ev.Incident.Service, ev.Incident.ServiceName = in.Service.ID, in.Service.Summary
		}
		ev.Urgency = in.Urgency
		if in.Priority != nil {
			ev.Priority = in.Priority.Summary
		}
		for _, a := range in.Assignees {
			ev.Assignees = append(ev.Assignees, a.Summary)
		}
	}
	// Text people typed in PagerDuty enters opsbot as data: without the
	// marks opsbot uses inside its own messages (workflows.UserText).
	clean := workflows.PlainText
	ev.Agent, ev.Note, ev.Priority = clean(ev.Agent), clean(ev.Note), clean(ev.Priority)
	ev.Incident.Title, ev.Incident.ServiceName = clean(ev.Incident.Title), clean(ev.Incident.ServiceName)
	for i, a := range ev.Assignees {
		ev.Assignees[i] = clean(a)
	}
	return ev, nil
}

// decodeData reads an event's data into v; the data must be an object.
func decodeData(e *v3Event, v any) error {
	if d := bytes.TrimSpace(e.Data); len(d) == 0 || d[0] != '{' {
		return fmt.Errorf("%w: event %s (%s) has no data object", errMalformed, e.ID, e.EventType)
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("%w: event %s (%s) data: %v", errMalformed, e.ID, e.EventType, err)
	}
	return nil
}

// ParseSecrets splits PAGERDUTY_WEBHOOK_SECRET: several secrets,
// comma-separated, during a rotation. Blanks are dropped.
func ParseSecrets(env string) []string {
	var out []string
	for _, s := range strings.Split(env, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
