package workflows

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Pager is PagerDuty as incidents need it. The PagerDuty integration
// implements it with go-pagerduty.
type Pager interface {
	// Trigger opens a PagerDuty incident on a service so on-call is paged.
	// It is idempotent on req.Key: a retry finds the incident the first
	// call opened instead of opening another.
	Trigger(ctx context.Context, req PageRequest) (PDIncident, error)
	// SetStatus acknowledges or resolves an incident, acting as the person
	// with email from (PagerDuty's From header).
	SetStatus(ctx context.Context, incidentID, status, from string) error
	// Responders returns the emails of the incident's assignees and of the
	// people on call now for its service. When one lookup fails it still
	// returns whom it found, with the error.
	Responders(ctx context.Context, incidentID, service string) ([]string, error)
	// Assignees returns the emails of the people the incident is assigned
	// to now.
	Assignees(ctx context.Context, incidentID string) ([]string, error)
	// HasUser reports whether PagerDuty has a user with this email, who
	// it would accept as the author of a change.
	HasUser(ctx context.Context, email string) (bool, error)
	// AddNote adds a note to the incident as the user with email from,
	// once per content.
	AddNote(ctx context.Context, incidentID, from, content string) error
	// LogEntries returns the incident's PagerDuty log as timeline entries,
	// oldest first, each with Source "pagerduty" and its log entry ID.
	LogEntries(ctx context.Context, incidentID string) ([]TimelineEntry, error)
}

// PagerRefusal is PagerDuty refusing a change (an unknown From user, an
// incident it no longer has): asking again gets the same answer.
type PagerRefusal struct{ Reason string }

func (r *PagerRefusal) Error() string { return "PagerDuty refused: " + r.Reason }

// PageRequest asks PagerDuty to open an incident.
type PageRequest struct {
	Key     string // idempotency key, e.g. "opsbot-inc-7"
	Service string // PagerDuty service ID
	Title   string
	Urgency string // "high" or "low"
	From    string // the email of the person declaring
	Details string
}

// PDIncident is what opsbot keeps of a PagerDuty incident.
type PDIncident struct {
	ID      string
	Key     string // incident_key: "opsbot-inc-7" for incidents opsbot opened
	Number  int
	URL     string
	Status  string
	Service string
	// ServiceName is the service's name as PagerDuty shows it, when the
	// answer or event carries it.
	ServiceName string
	Title       string
	// CreatedAt is when PagerDuty opened it (zero when not told).
	CreatedAt time.Time
}

// PagerEvent is a PagerDuty V3 webhook event, in neutral terms.
type PagerEvent struct {
	ID         string // the event's ID; PagerDuty retries with the same ID
	Type       string // "incident.triggered", "incident.acknowledged", ...
	OccurredAt time.Time
	Agent      string // who caused it (a name or email), when PagerDuty says
	Incident   PDIncident
	Urgency    string
	Priority   string // e.g. "P1", for priority_updated
	Assignees  []string
	Note       string // the note's text, for incident.annotated
}

// Channels makes and fills incident channels. The Slack integration
// implements it.
type Channels interface {
	// CreateChannel makes a channel, private when private is set. If name
	// is taken by a channel this bot created, that channel is returned (a
	// retried creation); taken by anyone else, ErrNameTaken.
	CreateChannel(ctx context.Context, name string, private bool) (MessageRef, error)
	// Invite adds people (Slack user IDs or emails) to a channel; it
	// returns the references no Slack user could be found for.
	Invite(ctx context.Context, channelID string, people []string) (missing []string, err error)
}

// ErrNameTaken is returned when a channel name belongs to someone else.
var ErrNameTaken = errors.New("channel name is taken")

// DocWriter writes post-mortem documents. The Notion integration
// implements it.
type DocWriter interface {
	// WritePostmortem creates the document for doc.IncidentID, or returns
	// the one already created for it: it never makes two.
	WritePostmortem(ctx context.Context, doc Postmortem) (DocRef, error)
	// UpdatePostmortem brings a written document in step with doc: its
	// properties, and its body while nobody but opsbot has edited it.
	UpdatePostmortem(ctx context.Context, ref DocRef, doc Postmortem) error
	// AddTodo puts the to-do of action item id (its text starts with the
	// ID) on the document, unless one is there already.
	AddTodo(ctx context.Context, ref DocRef, id, text string, checked bool) error
	// TodoChecked reads the checkbox of action item id's to-do back; false
	// when the document has none.
	TodoChecked(ctx context.Context, ref DocRef, id string) (bool, error)
	// SetMeeting writes the review meeting's date on the document.
	SetMeeting(ctx context.Context, ref DocRef, at time.Time) error
	// Meeting reads the meeting date back, when someone set it there.
	Meeting(ctx context.Context, ref DocRef) (DocDate, bool, error)
}

// DocDate is a date read from a document: an instant, or a day alone
// (DateOnly: At is that day's midnight UTC, a date in no zone, which the
// reader places in the team's).
type DocDate struct {
	At       time.Time
	DateOnly bool
}

// DocRef names a written document.
type DocRef struct {
	PageID string
	URL    string
}

// Postmortem is a post-mortem document: properties and a body of blocks
// rendered from the team's template.
type Postmortem struct {
	IncidentID string
	Title      string
	Severity   Severity
	Status     IncidentStatus
	Start, End time.Time
	Duration   time.Duration
	Commander  string // the commander's real name
	// CommanderEmail finds the commander among the document tool's own
	// users (a Notion person), when they are one.
	CommanderEmail string
	Services       []string
	Meeting        time.Time
	Body           []DocBlock
}

// DocBlockKind is the kind of one block of a document body.
type DocBlockKind string

// Document block kinds, a subset every document tool has.
const (
	DocHeading1  DocBlockKind = "heading_1"
	DocHeading2  DocBlockKind = "heading_2"
	DocHeading3  DocBlockKind = "heading_3"
	DocParagraph DocBlockKind = "paragraph"
	DocBullet    DocBlockKind = "bulleted_list_item"
	DocNumbered  DocBlockKind = "numbered_list_item"
	DocTodo      DocBlockKind = "to_do"
	DocQuote     DocBlockKind = "quote"
	DocDivider   DocBlockKind = "divider"
)

// DocBlock is one block of a document body. Text is plain; it may be
// longer than a tool allows in one piece, and the writer splits it.
type DocBlock struct {
	Kind    DocBlockKind
	Text    string
	Checked bool // for to-dos
	// Rows are a table's cells (DocTable), the first row its header.
	Rows [][]string `json:",omitempty"`
}

// DocSetupError says the document store is not set up for post-mortems
// (a property missing from the Notion database): no write can succeed
// until a person fixes it, so the post-mortem waits, retried, and the
// incident channel is told what to fix.
type DocSetupError struct {
	Problems []string // what makes writing impossible
	Skipped  []string // what will be left out of the document
	Err      error    // the service's refusal, when there was one
}

func (e *DocSetupError) Error() string {
	return "the post-mortem database is not set up: " + strings.Join(e.Problems, "; ")
}

// Unwrap returns the service's refusal.
func (e *DocSetupError) Unwrap() error { return e.Err }
