package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/templates"
)

// Action IDs of incident buttons.
const (
	ActIncidentAck     = "incident.ack"     // value: incident ID
	ActIncidentResolve = "incident.resolve" // value: incident ID
	ActNagSnooze       = "nag.snooze"       // value: "inc-7 update 1h"
)

func (s *Incidents) summaryMessage(inc *Incident, now time.Time) Message {
	team := s.team(inc)
	m := Message{Key: "incident-summary:" + inc.ID, Channel: inc.ChannelID, Pin: true}
	m.Title = fmt.Sprintf("%s %s: %s", severityMark(inc.Severity), inc.ID, UserText(inc.Title))
	role := func(label string, p Person) Field {
		if ref := person(p); ref != "" {
			return Field{Label: label, Person: ref}
		}
		return Field{Label: label, Value: "nobody yet"}
	}
	m.Fields = []Field{
		{Label: "Severity", Value: string(inc.Severity)},
		{Label: "Status", Value: statusText(inc)},
		role("Commander", inc.Commander),
		role("Comms", inc.Comms),
		role("Scribe", inc.Scribe),
	}
	last := "none yet"
	if inc.LastUpdate != "" {
		// The update's own time: a later status change or resolve moves
		// LastUpdateAt (for the nag), not this.
		last = UserText(inc.LastUpdate) + " (" + team.LocalTime(earliest(inc.UpdatePostedAt, inc.LastUpdateAt)) + ")"
	}
	m.Fields = append(m.Fields, Field{Label: "Last update", Value: last})
	if svc := serviceName(inc); svc != "" {
		m.Fields = append(m.Fields, Field{Label: "Service", Value: svc})
	}
	if inc.PDURL != "" {
		m.Fields = append(m.Fields, Field{Label: "PagerDuty", Value: inc.PDURL + " (" + orDefault(inc.PDStatus, "unknown") + ")"})
	}
	if inc.Open() {
		m.Fields = append(m.Fields, Field{Label: "Elapsed", Value: FormatDuration(inc.Duration(now)) + " since " + team.LocalTime(inc.CreatedAt)})
	} else {
		m.Fields = append(m.Fields, Field{Label: "Duration", Value: FormatDuration(inc.Duration(now)) + ", resolved " + team.LocalTime(inc.ResolvedAt)})
	}
	if inc.PostmortemURL != "" {
		m.Fields = append(m.Fields, Field{Label: "Post-mortem", Value: inc.PostmortemURL})
	}
	if !inc.MeetingAt.IsZero() {
		m.Fields = append(m.Fields, Field{Label: "Review meeting", Value: team.meetingTime(inc.MeetingAt)})
	}
	if inc.PDIncidentID != "" && inc.PDStatus == PDTriggered && inc.Open() {
		m.Actions = append(m.Actions, Action{ID: ActIncidentAck, Label: "Acknowledge", Value: inc.ID, Style: StylePrimary})
	}
	if inc.Open() {
		m.Actions = append(m.Actions, Action{ID: ActIncidentResolve, Label: "Resolve", Value: inc.ID, Style: StyleDanger})
	}
	m.Note = "Updated " + team.LocalTime(now) + " · /incident help"
	return m
}

// statusText is the status as the summary shows it: a cancelled incident
// says so rather than "resolved".
func statusText(inc *Incident) string {
	if inc.Cancelled {
		return "cancelled (declared by mistake)"
	}
	return string(inc.Status)
}

func (s *Incidents) checklistMessage(inc *Incident) Message {
	text := s.policy().ChecklistFor(inc.Severity, inc.PDService)
	if text == "" {
		text = templates.Checklist
	}
	data := templates.ChecklistData{ID: inc.ID, Title: UserText(oneLine(inc.Title)), Severity: string(inc.Severity), Team: inc.Team,
		PDURL: inc.PDURL, Channel: inc.ChannelName}
	if ref := person(inc.Commander); ref != "" {
		data.Commander = Mention(ref)
	}
	blocks, err := templates.ChecklistBlocks(text, data)
	if err != nil {
		s.Log.Error("render checklist", "incident", inc.ID, "err", err)
		blocks = templates.ParseBlocks("Roles: incident commander, scribe, comms liaison. Post updates with /incident update.")
	}
	return Message{Key: "incident-checklist:" + inc.ID, Channel: inc.ChannelID, Title: "Response checklist for " + inc.ID, Text: chatText(blocks)}
}

// chatText lays out template blocks as plain chat text: headings on their
// own line, bullets and to-do boxes as characters.
func chatText(blocks []templates.Block) string {
	var lines []string
	n := 0
	for _, b := range blocks {
		if b.Kind != string(DocNumbered) {
			n = 0
		}
		switch DocBlockKind(b.Kind) {
		case DocHeading1, DocHeading2, DocHeading3:
			if len(lines) > 0 {
				lines = append(lines, "")
			}
			lines = append(lines, strings.ToUpper(b.Text))
		case DocBullet:
			lines = append(lines, "• "+b.Text)
		case DocNumbered:
			n++
			lines = append(lines, fmt.Sprintf("%d. %s", n, b.Text))
		case DocTodo:
			box := "☐ "
			if b.Checked {
				box = "☑ "
			}
			lines = append(lines, box+b.Text)
		case DocQuote:
			lines = append(lines, "“"+b.Text+"”")
		case DocDivider:
			lines = append(lines, "———")
		default:
			lines = append(lines, b.Text)
		}
	}
	return strings.Join(lines, "\n")
}

// announcement is the incident's line in the team's incidents channel,
// edited as the incident changes. Private incidents have none.
func (s *Incidents) announcement(inc *Incident) (Message, bool) {
	team := s.team(inc)
	if team.AnnounceChannel == "" || inc.Private {
		return Message{}, false
	}
	m := Message{Key: "incident-announce:" + inc.ID, Channel: team.AnnounceChannel, Mention: []string{inc.ChannelID}}
	switch {
	case inc.Cancelled:
		m.Text = fmt.Sprintf("⚪ %s (%s) cancelled, declared by mistake: %s", inc.ID, inc.Severity, UserText(inc.Title))
	case !inc.Open():
		m.Text = fmt.Sprintf("✅ %s (%s) resolved after %s: %s", inc.ID, inc.Severity, FormatDuration(inc.Duration(inc.ResolvedAt)), UserText(inc.Title))
	case inc.Status == StatusInvestigating:
		m.Text = fmt.Sprintf("%s %s (%s) opened: %s · join", severityMark(inc.Severity), inc.ID, inc.Severity, UserText(inc.Title))
	default:
		m.Text = fmt.Sprintf("%s %s (%s) %s: %s · join", severityMark(inc.Severity), inc.ID, inc.Severity, inc.Status, UserText(inc.Title))
	}
	return m, true
}

// views are the messages that show an incident's state: the pinned
// summary, the checklist and the announcement. They are rendered from the
// same state and queued together, so they never contradict each other.
func (s *Incidents) views(inc *Incident, now time.Time) []Message {
	out := []Message{s.checklistMessage(inc), s.summaryMessage(inc, now)}
	if m, ok := s.announcement(inc); ok {
		out = append(out, m)
	}
	return out
}

// serviceName is the PagerDuty service as people know it: its name once
// PagerDuty told it, else its ID.
func serviceName(inc *Incident) string {
	return orDefault(inc.PDServiceName, inc.PDService)
}

// oneLine joins the lines of s with spaces, for text laid out by lines.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// line posts a short line about a change in the incident channel.
func (s *Incidents) line(tx Tx, inc *Incident, text string, now time.Time) error {
	if inc.ChannelID == "" {
		return nil
	}
	return enqueueMessage(tx, Message{Channel: inc.ChannelID, Text: text}, now)
}

func (s *Incidents) nagMessage(inc *Incident, n NagDue) Message {
	team := s.team(inc)
	snooze := func(d string) Action {
		return Action{ID: ActNagSnooze, Label: "Snooze " + d, Value: fmt.Sprintf("%s %s %s", inc.ID, n.Kind, d)}
	}
	key := n.Key(inc.ID)
	switch n.Kind {
	case NagUpdate:
		m := Message{Key: key, Channel: inc.ChannelID, Actions: []Action{snooze("30m"), snooze("2h")}}
		if ref := person(inc.Commander); ref != "" {
			m.Text = fmt.Sprintf("It's been %s with no update on %s. Commander, please post one with /incident update.", Elapsed(n.Since), inc.ID)
			m.Mention = []string{ref}
		} else {
			m.Text = fmt.Sprintf("It's been %s with no update on %s, and nobody is commander. Take it with /incident role commander @you.", Elapsed(n.Since), inc.ID)
		}
		return m
	case NagMeeting:
		return Message{Key: key, Channel: inc.ChannelID, Actions: []Action{snooze("1d")},
			Text: fmt.Sprintf("%s was resolved %s ago and no post-mortem meeting is recorded. Someone schedule the post-mortem meeting, then record it with /incident postmortem scheduled DATE TIME.",
				inc.ID, Elapsed(n.Since))}
	default:
		owner := person(inc.Commander)
		if owner != "" {
			team = s.readerTeam(inc.Commander, inc) // a DM: the commander's zone
		}
		m := Message{Key: key, Actions: []Action{snooze("1d")},
			Text: fmt.Sprintf("The post-mortem of %s (%s) was due %s (%s ago) and is not marked done. Finish it, then run /incident postmortem done in #%s.",
				inc.ID, UserText(inc.Title), team.LocalTime(inc.PostmortemDue), Elapsed(n.Since), inc.ChannelName)}
		if owner != "" {
			m.User = owner
		} else {
			m.Channel = inc.ChannelID
		}
		return m
	}
}

// readerTeam is the team whose time zone a DM to p tells times in: p's own
// team, else the incident's.
func (s *Incidents) readerTeam(p Person, inc *Incident) *Team {
	if t, ok := s.Catalog.TeamOf(p); ok {
		return t
	}
	return s.team(inc)
}

// meetingTime tells a meeting's time in the team's zone; a meeting set
// as a day alone (local midnight) is told as the day: "Tue 24 Nov".
func (t *Team) meetingTime(at time.Time) string {
	if l := at.In(t.zone()); l.Hour() == 0 && l.Minute() == 0 && l.Second() == 0 {
		return l.Format("Mon 2 Jan")
	}
	return t.LocalTime(at)
}
