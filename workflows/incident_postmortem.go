package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/templates"
)

// writePostmortem creates the post-mortem document once: the PagerDuty log
// is merged into the timeline first, the body comes from the team's
// template, and the writer finds an existing page for the incident
// instead of making a second.
func (s *Incidents) writePostmortem(ctx context.Context, j Job) error {
	inc, err := s.load(ctx, j.Payload)
	if err != nil {
		return err
	}
	if inc.PostmortemPageID != "" || s.Docs == nil {
		return nil
	}
	doc, err := s.currentDoc(ctx, inc)
	if err != nil {
		return err
	}
	ref, err := s.Docs.WritePostmortem(ctx, doc)
	var setup *DocSetupError
	if errors.As(err, &setup) {
		s.tellSetup(ctx, inc, setup)
	}
	if err != nil {
		return fmt.Errorf("write post-mortem of %s: %w", inc.ID, err)
	}
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		cur, err := tx.Incident(inc.ID)
		if err != nil {
			return err
		}
		cur.PostmortemPageID, cur.PostmortemURL, cur.UpdatedAt = ref.PageID, ref.URL, now
		if err := tx.SaveIncident(cur); err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "notion.postmortem", Subject: inc.ID, Detail: ref.PageID}); err != nil {
			return err
		}
		if !cur.MeetingAt.IsZero() {
			if err := tx.Enqueue(Job{Kind: JobMeetingWrite, Key: JobMeetingWrite + ":" + inc.ID, Payload: inc.ID, RunAt: now}); err != nil {
				return err
			}
		}
		if cur.ChannelID != "" {
			if err := enqueueMessage(tx, Message{Key: "incident-postmortem:" + inc.ID, Channel: cur.ChannelID,
				Title: "Post-mortem for " + inc.ID, Text: "The draft is ready, with the timeline filled in: " + ref.URL}, now); err != nil {
				return err
			}
		}
		return s.refresh(tx, cur, now)
	})
}

// Windows within which a PagerDuty log entry and a timeline entry of the
// same action are one event. A state change opsbot made is on the
// timeline when the person clicked and in PagerDuty's log when the job
// ran, seconds later; notes are matched closely, since two can come
// within a minute.
//
// pushWindow is how much later than opsbot's own change (an
// acknowledgement or resolution from Slack) PagerDuty may log it: the job
// that tells PagerDuty can be delayed by retries, an outage or a crash
// and a restart, minutes or hours after the click. Such a late log entry
// is still the same event, not a second one.
const (
	sameEventWindow = time.Minute
	sameNoteWindow  = 2 * time.Second
	pushWindow      = 24 * time.Hour
)

// NewLogEntries returns the PagerDuty log entries that are not on the
// timeline yet. A log entry already merged has its own ID there (and the
// store would refuse it anyway); one the webhook or opsbot's own change
// recorded is the same action at nearly the same time. Close matches are
// made first, for every log entry; only then may a log entry left over
// stand for one of opsbot's own changes made earlier (pushWindow), so a
// late push never takes the match of an entry that has an exact one.
func NewLogEntries(timeline, log []TimelineEntry) []TimelineEntry {
	used := make([]bool, len(timeline)) // each timeline entry stands for one log entry
	matched := make([]bool, len(log))
	for j, e := range log {
		if i := sameEvent(timeline, used, e); i >= 0 {
			used[i], matched[j] = true, true
		}
	}
	var out []TimelineEntry
	for j, e := range log {
		if matched[j] {
			continue
		}
		if i := pushedEarlier(timeline, used, e); i >= 0 {
			used[i] = true
			continue
		}
		out = append(out, e)
	}
	return out
}

// pushedEarlier returns the index of the unused timeline entry recording
// a change opsbot made itself (from Slack: no outside source) of e's
// action, at most pushWindow before e, or -1.
func pushedEarlier(timeline []TimelineEntry, used []bool, e TimelineEntry) int {
	if e.Action == "" || e.Action == "incident.annotated" {
		return -1
	}
	for i, t := range timeline {
		if used[i] || t.Action != e.Action || t.Source != "" {
			continue
		}
		if d := e.At.Sub(t.At); d >= 0 && d <= pushWindow {
			return i
		}
	}
	return -1
}

// sameEvent returns the index of the unused timeline entry that records
// the same event as e, or -1.
func sameEvent(timeline []TimelineEntry, used []bool, e TimelineEntry) int {
	window := sameEventWindow
	if e.Action == "incident.annotated" {
		window = sameNoteWindow
	}
	for i, t := range timeline {
		if used[i] {
			continue
		}
		if t.Source == e.Source && t.ExternalID == e.ExternalID && e.ExternalID != "" {
			return i
		}
		if e.Action != "" && t.Action == e.Action && t.Source != e.Source && absDuration(t.At.Sub(e.At)) <= window {
			return i
		}
	}
	return -1
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// tellSetup tells the incident channel, once per set of problems, what
// keeps the post-mortem from being written; the job keeps retrying.
func (s *Incidents) tellSetup(ctx context.Context, inc *Incident, setup *DocSetupError) {
	if inc.ChannelID == "" {
		return
	}
	problems := strings.Join(setup.Problems, "; ")
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		fresh, err := tx.MarkSent("postmortem-setup:"+inc.ID+":"+problems, now)
		if err != nil || !fresh {
			return err
		}
		return enqueueMessage(tx, Message{Channel: inc.ChannelID, Title: "The post-mortem of " + inc.ID + " is waiting",
			Text: "opsbot cannot write the post-mortem in Notion yet: " + problems +
				". Fix the post-mortem database in Notion (see docs/incidents.md, Setting up Notion); opsbot keeps trying and writes it as soon as the database is right. Nothing is lost."}, now)
	})
	if err != nil {
		s.Log.ErrorContext(ctx, "tell the channel about the Notion set-up", "incident", inc.ID, "err", err)
	}
}

// currentDoc builds the document from the incident and its timeline, with
// the PagerDuty log merged in first (once resolved, when it is complete).
func (s *Incidents) currentDoc(ctx context.Context, inc *Incident) (Postmortem, error) {
	if s.Pager != nil && inc.PDIncidentID != "" && !inc.Open() {
		entries, err := s.Pager.LogEntries(ctx, inc.PDIncidentID)
		if err != nil {
			return Postmortem{}, fmt.Errorf("PagerDuty log of %s: %w", inc.ID, err)
		}
		if err := s.Store.Update(ctx, func(tx Tx) error {
			timeline, err := tx.Timeline(inc.ID)
			if err != nil {
				return err
			}
			for _, e := range NewLogEntries(timeline, entries) {
				e.IncidentID = inc.ID
				if _, err := tx.AddTimeline(e); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return Postmortem{}, fmt.Errorf("record PagerDuty log of %s: %w", inc.ID, err)
		}
	}
	var timeline []TimelineEntry
	var items []*ActionItem
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		if timeline, err = tx.Timeline(inc.ID); err != nil {
			return err
		}
		items, err = tx.Actions(inc.ID)
		return err
	}); err != nil {
		return Postmortem{}, fmt.Errorf("read timeline of %s: %w", inc.ID, err)
	}
	doc, err := s.postmortemDoc(inc, timeline, s.names(ctx))
	if err != nil {
		return Postmortem{}, Permanent(err)
	}
	doc.Body = append(doc.Body, s.actionBlocks(inc, items)...)
	return doc, nil
}

// syncPostmortem keeps a written post-mortem in step with the incident
// until the post-mortem is done: properties always, the body while only
// opsbot has written it (the writer decides). A page opened early is so
// rewritten with the final data at resolution.
func (s *Incidents) syncPostmortem(ctx context.Context, j Job) error {
	inc, err := s.load(ctx, j.Payload)
	if err != nil {
		return err
	}
	if s.Docs == nil || inc.PostmortemPageID == "" || inc.PostmortemDone {
		return nil
	}
	doc, err := s.currentDoc(ctx, inc)
	if err != nil {
		return err
	}
	if err := s.Docs.UpdatePostmortem(ctx, DocRef{PageID: inc.PostmortemPageID, URL: inc.PostmortemURL}, doc); err != nil {
		return fmt.Errorf("update post-mortem of %s: %w", inc.ID, err)
	}
	return nil
}

// queueDocSync queues the post-mortem's update after a change, while
// there is a page and the post-mortem is not done. Changes in a burst
// share one update: a waiting job is replaced.
func (s *Incidents) queueDocSync(tx Tx, inc *Incident, now time.Time) error {
	if s.Docs == nil || inc.PostmortemPageID == "" || inc.PostmortemDone {
		return nil
	}
	return tx.Enqueue(Job{Kind: JobPostmortemSync, Key: JobPostmortemSync + ":" + inc.ID, Payload: inc.ID, RunAt: now})
}

// postmortemDoc renders the post-mortem. People read it outside Slack,
// so it names people by their real names, never by Slack IDs.
func (s *Incidents) postmortemDoc(inc *Incident, timeline []TimelineEntry, who *nameBook) (Postmortem, error) {
	team := s.team(inc)
	loc := team.zone()
	end := inc.ResolvedAt
	if end.IsZero() {
		end = s.Clock.Now()
	}
	data := templates.PostmortemData{
		ID: inc.ID, Title: inc.Title, Severity: string(inc.Severity), Status: string(inc.Status), Team: inc.Team,
		Start: team.LocalTime(inc.CreatedAt), End: team.LocalTime(end), Duration: FormatDuration(end.Sub(inc.CreatedAt)),
		Commander: who.of(inc.Commander), Comms: who.of(inc.Comms), Scribe: who.of(inc.Scribe),
		LastUpdate: inc.LastUpdate, PDURL: inc.PDURL,
		Summary: inc.LastUpdate, Impact: fmt.Sprintf("%s incident lasting %s.", inc.Severity, FormatDuration(end.Sub(inc.CreatedAt))),
	}
	if inc.PDService != "" {
		data.Services = []string{serviceName(inc)}
	}
	for _, e := range timeline {
		data.Timeline = append(data.Timeline, templates.TimelineItem{At: e.At.In(loc).Format("Jan 2 15:04 MST"), Kind: string(e.Kind), Actor: who.actor(e.Actor), Text: who.text(e)})
	}
	text := s.policy().PostmortemFor(inc.Severity, inc.PDService)
	if text == "" {
		text = templates.Postmortem
	}
	blocks, err := templates.PostmortemBlocks(text, data)
	if err != nil {
		return Postmortem{}, err
	}
	doc := Postmortem{
		IncidentID: inc.ID, Title: fmt.Sprintf("%s: %s", inc.ID, inc.Title), Severity: inc.Severity, Status: inc.Status,
		Start: inc.CreatedAt, End: inc.ResolvedAt, Duration: end.Sub(inc.CreatedAt), Commander: who.of(inc.Commander), CommanderEmail: inc.Commander.Email,
		Services: data.Services, Meeting: inc.MeetingAt,
	}
	for _, b := range blocks {
		doc.Body = append(doc.Body, DocBlock{Kind: DocBlockKind(b.Kind), Text: b.Text, Checked: b.Checked})
	}
	return doc, nil
}

// writeMeeting writes the recorded meeting date on the post-mortem.
func (s *Incidents) writeMeeting(ctx context.Context, j Job) error {
	inc, err := s.load(ctx, j.Payload)
	if err != nil {
		return err
	}
	if s.Docs == nil || inc.PostmortemPageID == "" || inc.MeetingAt.IsZero() {
		return nil
	}
	if err := s.Docs.SetMeeting(ctx, DocRef{PageID: inc.PostmortemPageID, URL: inc.PostmortemURL}, inc.MeetingAt); err != nil {
		return fmt.Errorf("write meeting date of %s: %w", inc.ID, err)
	}
	return nil
}
