package workflows

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Severity is how bad an incident is; sev1 is the worst.
type Severity string

// Severities.
const (
	Sev1 Severity = "sev1"
	Sev2 Severity = "sev2"
	Sev3 Severity = "sev3"
)

// ParseSeverity reads a severity. Accepted spellings, in any case:
// "sev1", "sev-1", "sev_1", and the bare digit "1" (for
// `/incident severity 2`); only 1, 2 and 3 exist. Anything else, "sev0",
// "sev4", "SEV-9", "P1", is not a severity.
func ParseSeverity(s string) (Severity, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if rest, ok := strings.CutPrefix(s, "sev"); ok {
		s = strings.TrimLeft(rest, "-_")
	}
	switch sev := Severity("sev" + s); sev {
	case Sev1, Sev2, Sev3:
		return sev, true
	}
	return "", false
}

// LooksLikeSeverity reports whether a word was meant as a severity, known
// or not ("sev0", "SEV-4", "sev"), so a mistyped one is refused instead of
// becoming part of an incident's title.
func LooksLikeSeverity(s string) bool {
	return severityWord.MatchString(strings.TrimSpace(s))
}

var severityWord = regexp.MustCompile(`(?i)^sev[-_]?[0-9]*$`)

// IncidentStatus is where the response stands.
type IncidentStatus string

// Statuses of an incident, in the order a response usually goes.
const (
	StatusInvestigating IncidentStatus = "investigating"
	StatusIdentified    IncidentStatus = "identified"
	StatusMonitoring    IncidentStatus = "monitoring"
	StatusResolved      IncidentStatus = "resolved"
)

// ParseStatus reads a status name.
func ParseStatus(s string) (IncidentStatus, bool) {
	switch st := IncidentStatus(strings.ToLower(strings.TrimSpace(s))); st {
	case StatusInvestigating, StatusIdentified, StatusMonitoring, StatusResolved:
		return st, true
	}
	return "", false
}

// Role is a job in an incident response.
type Role string

// Incident roles.
const (
	RoleCommander Role = "commander"
	RoleComms     Role = "comms"
	RoleScribe    Role = "scribe"
)

// ParseRole reads a role name.
func ParseRole(s string) (Role, bool) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleCommander, RoleComms, RoleScribe:
		return r, true
	}
	return "", false
}

// Title is the role's name as people read it.
func (r Role) Title() string {
	switch r {
	case RoleCommander:
		return "Incident commander"
	case RoleComms:
		return "Comms liaison"
	case RoleScribe:
		return "Scribe"
	}
	return string(r)
}

// PagerDuty incident states, as PagerDuty names them.
const (
	PDTriggered    = "triggered"
	PDAcknowledged = "acknowledged"
	PDResolved     = "resolved"
)

// Incident is one incident and the state of its response. Its ID
// ("inc-7") names it in every message and command.
type Incident struct {
	ID       string
	Title    string
	Severity Severity
	Status   IncidentStatus
	Team     string

	// PagerDuty side; empty for an incident declared without one.
	PDIncidentID string
	PDService    string
	// PDServiceName is the service's name as PagerDuty shows it ("Checkout
	// API"), once known.
	PDServiceName string
	PDURL         string
	PDStatus      string // triggered, acknowledged or resolved, as last known

	// ChannelID is the incident's Slack channel once created.
	ChannelID   string
	ChannelName string

	Commander Person
	Comms     Person
	Scribe    Person

	DeclaredBy   Person
	CreatedAt    time.Time
	ResolvedAt   time.Time
	LastUpdateAt time.Time // the last status update; the update nag counts from here
	LastUpdate   string
	// UpdatePostedAt is when LastUpdate was posted. LastUpdateAt moves on
	// with other activity (a status change, a resolve); this does not.
	UpdatePostedAt time.Time

	// Private incidents have a private channel, no announcement, and a
	// post-mortem linked only in that channel until it is published.
	Private             bool
	PostmortemPublished bool

	// Post-mortem.
	PostmortemPageID string
	PostmortemURL    string
	MeetingAt        time.Time // the review meeting, once recorded
	PostmortemDue    time.Time
	PostmortemDone   bool

	// Snoozed holds, per nag kind, when its snooze ends.
	Snoozed map[string]time.Time

	// Added are the people given the right to change the incident with
	// /incident add, beyond those who have it by team, config, role or
	// PagerDuty assignment.
	Added []Person
	// Cancelled marks an incident declared by mistake and cancelled: it is
	// closed, with no post-mortem and no reminders.
	Cancelled bool
	// LinkedTo is the incident whose channel this one was linked into
	// during an alert storm, instead of getting a channel of its own.
	LinkedTo string

	UpdatedAt time.Time

	// homesStale marks, within one transaction, a change that shows on
	// people's Home tabs (opened, resolved). Not stored.
	homesStale bool
	// notPaged marks, for the declarer's answer, a declaration that could
	// not page PagerDuty. Not stored.
	notPaged bool
}

// NotPaged reports that a just-declared incident could not page PagerDuty.
func (i *Incident) NotPaged() bool { return i.notPaged }

// RoleHolder returns who holds a role.
func (i *Incident) RoleHolder(r Role) Person {
	switch r {
	case RoleCommander:
		return i.Commander
	case RoleComms:
		return i.Comms
	case RoleScribe:
		return i.Scribe
	}
	return Person{}
}

// SetRole gives a role to p.
func (i *Incident) SetRole(r Role, p Person) {
	switch r {
	case RoleCommander:
		i.Commander = p
	case RoleComms:
		i.Comms = p
	case RoleScribe:
		i.Scribe = p
	}
}

// Open reports whether the incident is not resolved.
func (i *Incident) Open() bool { return i.Status != StatusResolved }

// Duration is how long the incident lasted, or has lasted so far.
func (i *Incident) Duration(now time.Time) time.Duration {
	end := now
	if !i.ResolvedAt.IsZero() {
		end = i.ResolvedAt
	}
	return end.Sub(i.CreatedAt)
}

// TimelineKind says what a timeline entry records.
type TimelineKind string

// Kinds of timeline entries.
const (
	TLDeclared  TimelineKind = "declared"
	TLStatus    TimelineKind = "status"
	TLSeverity  TimelineKind = "severity"
	TLRole      TimelineKind = "role"
	TLUpdate    TimelineKind = "update"
	TLPagerDuty TimelineKind = "pagerduty"
	TLPinned    TimelineKind = "pinned" // a channel message marked with the timeline reaction
	TLNote      TimelineKind = "note"
)

// TimelineEntry is one thing that happened, at its original time.
type TimelineEntry struct {
	IncidentID string
	At         time.Time
	Kind       TimelineKind
	Actor      string // a person or system
	Text       string
	// Source and ExternalID identify an entry that came from elsewhere (a
	// PagerDuty log entry, a Slack message), so it is recorded once.
	Source     string
	ExternalID string
	// Action is the PagerDuty event the entry records, when it is one
	// ("incident.acknowledged"), whoever reported it: the webhook, the
	// PagerDuty log, or opsbot acting in PagerDuty. It lets the log be
	// merged into the timeline without listing an event twice.
	Action string
}

// ChannelName builds an incident channel's name from a pattern with
// {id}, {title} and {date} (YYYY-MM-DD), following Slack's rules:
// lowercase letters, digits, hyphens and underscores, at most 80
// characters.
func ChannelName(pattern string, inc *Incident, loc *time.Location) string {
	if pattern == "" {
		pattern = "{id}-{title}"
	}
	if loc == nil {
		loc = time.UTC
	}
	r := strings.NewReplacer("{id}", inc.ID, "{title}", inc.Title, "{date}", inc.CreatedAt.In(loc).Format("2006-01-02"), "{severity}", string(inc.Severity))
	return SlackName(r.Replace(pattern), 80)
}

// SlackName makes s a valid Slack channel name of at most max characters.
func SlackName(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			b.WriteRune(c)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > max {
		out = strings.TrimRight(out[:max], "-")
	}
	if out == "" {
		out = "incident"
	}
	return out
}

// WithSuffix returns name with "-n" appended, kept within max.
func WithSuffix(name string, n, max int) string {
	suffix := fmt.Sprintf("-%d", n)
	if len(name)+len(suffix) > max {
		name = strings.TrimRight(name[:max-len(suffix)], "-")
	}
	return name + suffix
}
