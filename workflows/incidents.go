package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Job kinds of the incidents workflow.
const (
	JobPagerEvent   = "incident.pd-event"   // payload: a PagerEvent as JSON
	JobOpenChannel  = "incident.channel"    // payload: incident ID
	JobInvite       = "incident.invite"     // payload: incident ID
	JobPage         = "incident.page"       // payload: incident ID
	JobPDStatus     = "incident.pd-status"  // payload: "inc-7 acknowledged from@example.com"
	JobPostmortem   = "incident.postmortem" // payload: incident ID
	JobMeetingWrite = "incident.meeting"    // payload: incident ID
	// JobPostmortemSync updates a written post-mortem; payload: incident ID.
	JobPostmortemSync = "incident.postmortem-sync"
)

// Incidents runs incident response: it opens incidents from PagerDuty
// events or Slack, keeps their channel and summary current, syncs state
// with PagerDuty both ways, records the timeline, nags, and writes the
// post-mortem. Like Servers, every change is one transaction that queues
// its outside work.
type Incidents struct {
	Store    Store
	Clock    Clock
	Catalog  *Catalog
	Log      *slog.Logger
	Pager    Pager     // nil without PagerDuty
	Channels Channels  // Slack
	Docs     DocWriter // nil without Notion
	// Directory gives people's real names for the post-mortem; nil shows
	// their emails.
	Directory Directory
	// History reads PagerDuty's past for the alert review; nil without
	// PagerDuty.
	History AlertHistory
	// Pages writes the alert review's page when incidents.review names a
	// database; nil without Notion.
	Pages ReviewPages
	Wake  func()
	// Intake, when set, takes PagerDuty events in (a GroupCommit, or the
	// SQLite intake journal); otherwise each is a transaction of its own.
	Intake Intake

	// docChecked remembers the meeting nags whose document was read, so
	// Notion is asked once per nag, not on every tick.
	docChecked sync.Map
}

// Handlers returns the incidents workflow's job handlers.
// Batches are the kinds of incident jobs worked many at once (see
// BatchHandler).
func (s *Incidents) Batches() map[string]BatchHandler {
	return map[string]BatchHandler{JobPagerEvent: s.applyPagerEvents}
}

func (s *Incidents) Handlers() map[string]JobHandler {
	hs := map[string]JobHandler{
		JobPagerEvent:     s.applyPagerEvent,
		JobOpenChannel:    s.openChannel,
		JobInvite:         s.invite,
		JobPage:           s.page,
		JobPDStatus:       s.pushStatus,
		JobPostmortem:     s.writePostmortem,
		JobMeetingWrite:   s.writeMeeting,
		JobPostmortemSync: s.syncPostmortem,
		JobActionWrite:    s.writeAction,
		JobPDNote:         s.addPDNote,
		JobLink:           s.announceLink,
	}
	for k, h := range s.reviewHandlers() {
		hs[k] = h
	}
	return hs
}

func (s *Incidents) policy() *IncidentPolicy {
	if s.Catalog.Incidents != nil {
		return s.Catalog.Incidents
	}
	return &IncidentPolicy{}
}

func (s *Incidents) update(ctx context.Context, fn func(Tx) error) error {
	err := s.Store.Update(ctx, fn)
	if err == nil && s.Wake != nil {
		s.Wake()
	}
	return err
}

// Receive records a PagerDuty webhook event durably, once per event ID,
// and queues its processing. It is all the webhook handler waits for.
func (s *Incidents) Receive(ctx context.Context, ev PagerEvent) error {
	b := ev.appendJSON(make([]byte, 0, 1024)) // as json.Marshal writes it, at a fraction of the cost
	if s.Intake != nil {
		now := s.Clock.Now()
		return s.Intake.Take(ctx, Arrival{At: now, Seen: []string{"pd-event:" + ev.ID},
			Job: &Job{Kind: JobPagerEvent, Payload: string(b), RunAt: now}})
	}
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		fresh, err := tx.MarkSent("pd-event:"+ev.ID, now)
		if err != nil || !fresh {
			return err
		}
		// No job key: a key would let a later event replace a waiting one.
		// Events of one incident may run in any order; each transaction
		// re-reads the incident, so the outcome does not depend on it.
		return tx.Enqueue(Job{Kind: JobPagerEvent, Payload: string(b), RunAt: now})
	})
}

// DeclareInput is what /incident declare asks for.
type DeclareInput struct {
	Title    string
	Severity Severity
	Team     string // empty: the declarer's team
	Private  bool   // a private channel, no announcement (see incident_private.go)
}

// Declare opens an incident from Slack, and pages PagerDuty when the
// team has a service for it.
func (s *Incidents) Declare(ctx context.Context, actor Person, in DeclareInput) (*Incident, error) {
	if strings.TrimSpace(in.Title) == "" {
		return nil, Errorf(EInvalid, "An incident needs a title, like `/incident declare Checkout is failing sev2`.")
	}
	if s.Catalog.Incidents == nil {
		return nil, Errorf(EConflict, "Incidents are not configured in opsbot's config (the `incidents:` section).")
	}
	team, ok := s.Catalog.TeamOf(actor)
	if in.Team != "" {
		team, ok = s.Catalog.Team(in.Team)
	}
	if !ok {
		team, ok = s.Catalog.Team(s.policy().DefaultTeam)
	}
	if !ok {
		return nil, Errorf(EForbidden, "opsbot cannot tell which team this incident is for: you are in no team and there is no default team.")
	}
	switch in.Severity {
	case "":
		in.Severity = Sev3
	case Sev1, Sev2, Sev3:
	default:
		return nil, Errorf(EInvalid, "%q is not a severity: use sev1 (worst), sev2 or sev3.", in.Severity)
	}
	var out *Incident
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		if err := s.checkDeclareLimit(tx, actor, team, now); err != nil {
			return err
		}
		id, err := tx.NextID("inc")
		if err != nil {
			return err
		}
		inc := &Incident{
			ID: id, Title: oneLine(in.Title), Severity: in.Severity, Status: StatusInvestigating, Team: team.Name,
			PDService: team.PagerDutyService, Commander: actor, DeclaredBy: actor, CreatedAt: now, LastUpdateAt: now, UpdatedAt: now,
			Private: in.Private,
		}
		if err := tx.CreateIncident(inc); err != nil {
			return err
		}
		if err := s.record(tx, inc, TimelineEntry{At: now, Kind: TLDeclared, Actor: actor.String(), Text: fmt.Sprintf("Declared (%s): %s", inc.Severity, inc.Title)}); err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "incident.declare", Subject: id, Detail: inc.Title}); err != nil {
			return err
		}
		if s.Pager != nil && team.PagerDutyService != "" {
			if actor.Email == "" {
				// PagerDuty needs a From email; say so rather than fail later.
				if err := s.record(tx, inc, TimelineEntry{At: now, Kind: TLNote, Actor: "opsbot",
					Text: "PagerDuty was not paged: Slack did not give opsbot the declarer's email. Page on-call by hand."}); err != nil {
					return err
				}
				inc.notPaged = true
			} else if err := tx.Enqueue(Job{Kind: JobPage, Key: JobPage + ":" + id, Payload: id, RunAt: now}); err != nil {
				return err
			}
		}
		out = inc
		if err := tx.Enqueue(Job{Kind: JobOpenChannel, Key: JobOpenChannel + ":" + id, Payload: id, RunAt: now}); err != nil {
			return err
		}
		return queueAnswer(ctx, tx, inc, now)
	})
	return out, err
}

// applyPagerEvent opens or updates the incident a PagerDuty event is
// about. Events caused by opsbot's own changes find the state already
// so and change nothing, so they do not echo back as a second update.
func (s *Incidents) applyPagerEvent(ctx context.Context, j Job) error {
	ev, ok, err := s.pagerEventOf(ctx, j)
	if err != nil || !ok {
		return err
	}
	return s.update(ctx, func(tx Tx) error { return s.applyInTx(ctx, tx, ev) })
}

// applyPagerEvents is applyPagerEvent for many events at once (a
// BatchHandler): one transaction takes up to limit of the waiting events'
// jobs and applies each, so a storm of webhooks is worked at a
// transaction per batch, not three (claim, work, done) per event. Events
// are applied in the order they were queued; two about one incident in
// a batch see each other as they would in two transactions.
func (s *Incidents) applyPagerEvents(ctx context.Context, now time.Time, limit int) (taken int, err error) {
	// Not s.update: an empty batch must not wake the runner that asked.
	err = s.Store.Update(ctx, func(tx Tx) error {
		jobs, err := tx.TakeDueJobs(JobPagerEvent, now, limit)
		if err != nil {
			return err
		}
		taken = len(jobs)
		for _, j := range jobs {
			ev, ok, err := s.pagerEventOf(ctx, j)
			if err != nil {
				return fmt.Errorf("job %d: %w", j.ID, err)
			}
			if !ok {
				continue
			}
			if err := s.applyInTx(ctx, tx, ev); err != nil {
				return fmt.Errorf("PagerDuty event %s: %w", ev.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if taken > 0 && s.Wake != nil {
		s.Wake() // the jobs the events queued
	}
	return taken, nil
}

// pagerEventOf reads the event a job carries; ok is false for an event
// opsbot does not act on (not about an incident).
func (s *Incidents) pagerEventOf(ctx context.Context, j Job) (ev PagerEvent, ok bool, err error) {
	if err := json.Unmarshal([]byte(j.Payload), &ev); err != nil {
		return ev, false, Permanent(fmt.Errorf("decode PagerDuty event: %w", err))
	}
	if !strings.HasPrefix(ev.Type, "incident.") || ev.Incident.ID == "" {
		s.Log.InfoContext(ctx, "ignored PagerDuty event", "type", ev.Type, "id", ev.ID)
		return ev, false, nil
	}
	return ev, true, nil
}

// applyInTx opens or updates the incident ev is about.
func (s *Incidents) applyInTx(ctx context.Context, tx Tx, ev PagerEvent) error {
	now := s.Clock.Now()
	at := ev.OccurredAt
	if at.IsZero() {
		at = now
	}
	inc, err := tx.IncidentByPagerDuty(ev.Incident.ID)
	if errors.Is(err, ErrNotFound) {
		inc, err = s.declaredFor(tx, ev, now)
	}
	if errors.Is(err, ErrNotFound) {
		switch ev.Type {
		case "incident.triggered", "incident.reopened", "incident.acknowledged":
			return s.openFromPager(tx, ev, at, now)
		case "incident.resolved":
			// Delivered before its trigger (PagerDuty does not promise
			// order): open it and resolve it, so the later trigger
			// finds it closed instead of opening one that never ends.
			if err := s.openFromPager(tx, ev, at, now); err != nil {
				return err
			}
			inc, err := tx.IncidentByPagerDuty(ev.Incident.ID)
			if err != nil {
				return err
			}
			return s.updateFromPager(tx, inc, ev, at, now)
		}
		s.Log.DebugContext(ctx, "PagerDuty event for an incident opsbot does not track", "type", ev.Type, "pd", ev.Incident.ID)
		return nil
	}
	if err != nil {
		return err
	}
	if !inc.Open() && !at.After(inc.ResolvedAt) {
		switch ev.Type {
		case "incident.triggered":
			return nil // a late trigger of an incident already seen resolved
		case "incident.acknowledged", "incident.unacknowledged", "incident.reopened":
			// Older than the resolution, delivered after it (PagerDuty
			// does not promise order): history for the timeline (the
			// first acknowledgement counts in the stats), not the state.
			if _, err := tx.AddTimeline(TimelineEntry{IncidentID: inc.ID, At: at, Kind: TLPagerDuty, Actor: orDefault(ev.Agent, "PagerDuty"),
				Text: lateEventText(ev.Type), Source: "pagerduty-event", ExternalID: ev.ID, Action: ev.Type}); err != nil {
				return err
			}
			return s.queueDocSync(tx, inc, now)
		}
	}
	return s.updateFromPager(tx, inc, ev, at, now)
}

// lateEventText is the timeline's text of a PagerDuty event older than
// the incident's resolution.
func lateEventText(evType string) string {
	switch evType {
	case "incident.acknowledged":
		return "Acknowledged in PagerDuty"
	case "incident.unacknowledged":
		return "Unacknowledged in PagerDuty (the acknowledgement timed out)"
	}
	return "Reopened in PagerDuty"
}

// declaredFor finds the incident declared in Slack that a PagerDuty event
// is about, by the incident_key opsbot paged with, before the page job has
// recorded the PagerDuty ID; it records it.
func (s *Incidents) declaredFor(tx Tx, ev PagerEvent, now time.Time) (*Incident, error) {
	id, ok := strings.CutPrefix(ev.Incident.Key, "opsbot-")
	if !ok {
		return nil, ErrNotFound
	}
	inc, err := tx.Incident(id)
	if err != nil {
		return nil, err
	}
	if inc.PDIncidentID != "" && inc.PDIncidentID != ev.Incident.ID {
		return nil, ErrNotFound
	}
	// The page job may not have recorded it (a crash between the page
	// and its record): record it as the page job would.
	pd := PDIncident{ID: ev.Incident.ID, URL: ev.Incident.URL, Status: PDTriggered, ServiceName: ev.Incident.ServiceName}
	if ev.Type == "incident.triggered" {
		pd.CreatedAt = ev.OccurredAt // the trigger is when it was opened
	}
	if ev.Incident.Service != inc.PDService {
		pd.ServiceName = ""
	}
	return inc, s.recordPaged(tx, inc, pd, now)
}

func (s *Incidents) openFromPager(tx Tx, ev PagerEvent, at, now time.Time) error {
	team, ok := s.Catalog.TeamForService(ev.Incident.Service)
	if !ok {
		s.Log.Warn("PagerDuty incident for a service no team owns", "service", ev.Incident.Service, "pd", ev.Incident.ID)
		return nil
	}
	id, err := tx.NextID("inc")
	if err != nil {
		return err
	}
	inc := &Incident{
		ID: id, Title: oneLine(ev.Incident.Title), Severity: severityFor(ev), Status: StatusInvestigating, Team: team.Name,
		PDIncidentID: ev.Incident.ID, PDService: ev.Incident.Service, PDServiceName: ev.Incident.ServiceName, PDURL: ev.Incident.URL, PDStatus: ev.Incident.Status,
		CreatedAt: at, LastUpdateAt: at, UpdatedAt: now,
	}
	if inc.PDStatus == "" {
		inc.PDStatus = PDTriggered
	}
	parent, n, err := s.stormParent(tx, inc.PDService, at)
	if err != nil {
		return err
	}
	if parent != nil {
		inc.LinkedTo = parent.ID
	}
	if err := tx.CreateIncident(inc); err != nil {
		return err
	}
	if err := s.record(tx, inc, TimelineEntry{At: at, Kind: TLPagerDuty, Actor: orDefault(ev.Agent, "PagerDuty"),
		Text: "Triggered in PagerDuty: " + inc.Title, Source: "pagerduty-event", ExternalID: ev.ID, Action: triggeredAction(ev.Type)}); err != nil {
		return err
	}
	if ev.Type == "incident.acknowledged" {
		// First seen acknowledged (its trigger's delivery comes later, and
		// then finds nothing to do): the acknowledgement is on the
		// timeline too, at its time, for the post-mortem and the stats.
		if err := s.record(tx, inc, TimelineEntry{At: at, Kind: TLPagerDuty, Actor: orDefault(ev.Agent, "PagerDuty"),
			Text: "Acknowledged in PagerDuty", Source: "pagerduty-event", ExternalID: ev.ID + ":acknowledged", Action: ev.Type}); err != nil {
			return err
		}
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: "pagerduty", Action: "incident.open", Subject: id, Detail: ev.Incident.ID}); err != nil {
		return err
	}
	if parent != nil {
		return s.linkInto(tx, inc, parent, n, at, now)
	}
	return tx.Enqueue(Job{Kind: JobOpenChannel, Key: JobOpenChannel + ":" + id, Payload: id, RunAt: now})
}

// triggeredAction is the action of the "Triggered" entry of an incident
// opened from ev: the trigger itself only when ev is the trigger (an
// incident first seen acknowledged was triggered earlier, at a time the
// PagerDuty log has).
func triggeredAction(evType string) string {
	if evType == "incident.triggered" {
		return evType
	}
	return ""
}

// severityFor maps PagerDuty's priority (P1..P3) or urgency to a severity.
func severityFor(ev PagerEvent) Severity {
	switch strings.ToUpper(ev.Priority) {
	case "P1":
		return Sev1
	case "P2":
		return Sev2
	case "P3", "P4", "P5":
		return Sev3
	}
	if ev.Urgency == "high" {
		return Sev2
	}
	return Sev3
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (s *Incidents) updateFromPager(tx Tx, inc *Incident, ev PagerEvent, at, now time.Time) error {
	who := orDefault(ev.Agent, "PagerDuty")
	var text string
	changed := false
	switch ev.Type {
	case "incident.acknowledged":
		if inc.PDStatus == PDAcknowledged {
			return nil
		}
		inc.PDStatus, text, changed = PDAcknowledged, "Acknowledged in PagerDuty", true
	case "incident.unacknowledged":
		if inc.PDStatus == PDTriggered {
			return nil
		}
		inc.PDStatus, text, changed = PDTriggered, "Unacknowledged in PagerDuty (the acknowledgement timed out)", true
	case "incident.resolved":
		if inc.PDStatus == PDResolved && !inc.Open() {
			return nil
		}
		inc.PDStatus, text, changed = PDResolved, "Resolved in PagerDuty", true
		if inc.Open() {
			s.resolve(inc, at, now)
			if err := s.queuePostmortem(tx, inc, now); err != nil {
				return err
			}
		}
	case "incident.reopened", "incident.triggered":
		if inc.Open() && inc.PDStatus != PDResolved {
			return nil
		}
		inc.PDStatus, inc.Status, inc.ResolvedAt, inc.LastUpdateAt = PDTriggered, StatusInvestigating, time.Time{}, now
		inc.Cancelled = false // reopened in PagerDuty: no longer a mistake
		inc.homesStale = true
		text, changed = "Reopened in PagerDuty", true
	case "incident.reassigned", "incident.escalated":
		text = "Reassigned in PagerDuty"
		if ev.Type == "incident.escalated" {
			text = "Escalated in PagerDuty"
		}
		if len(ev.Assignees) > 0 {
			text += " to " + strings.Join(ev.Assignees, ", ")
		}
		if inc.ChannelID != "" {
			if err := tx.Enqueue(Job{Kind: JobInvite, Key: JobInvite + ":" + inc.ID, Payload: inc.ID, RunAt: now}); err != nil {
				return err
			}
		}
	case "incident.priority_updated":
		text = "Priority changed in PagerDuty to " + orDefault(ev.Priority, "none")
		if sev := severityFor(ev); ev.Priority != "" && sev != inc.Severity {
			inc.Severity, changed = sev, true
			text += fmt.Sprintf(" (severity now %s)", sev)
		}
	case "incident.annotated":
		text = "Note in PagerDuty: " + ev.Note
	default:
		s.Log.Info("ignored PagerDuty event", "type", ev.Type, "incident", inc.ID)
		return nil
	}
	if n := ev.Incident.ServiceName; n != "" && n != inc.PDServiceName && ev.Incident.Service == inc.PDService {
		inc.PDServiceName, changed = n, true
	}
	inc.UpdatedAt = now
	if err := tx.SaveIncident(inc); err != nil {
		return err
	}
	if inc.homesStale {
		if err := s.refreshHomes(tx, inc, now); err != nil {
			return err
		}
	}
	fresh, err := tx.AddTimeline(TimelineEntry{IncidentID: inc.ID, At: at, Kind: TLPagerDuty, Actor: who, Text: text, Source: "pagerduty-event", ExternalID: ev.ID, Action: ev.Type})
	if err != nil {
		return err
	}
	if err := s.queueDocSync(tx, inc, now); err != nil {
		return err
	}
	if fresh && text != "" && ev.Type != "incident.annotated" {
		// Changes made in PagerDuty get the channel's short line too.
		if err := s.line(tx, inc, text+", by "+UserText(who), now); err != nil {
			return err
		}
	}
	if changed || ev.Type == "incident.annotated" || strings.HasPrefix(ev.Type, "incident.re") || ev.Type == "incident.escalated" {
		return s.refresh(tx, inc, now)
	}
	return nil
}

// resolve marks an incident resolved at `at`.
func (s *Incidents) resolve(inc *Incident, at, now time.Time) {
	inc.homesStale = true
	inc.Status, inc.ResolvedAt, inc.LastUpdateAt = StatusResolved, at, now
	if !inc.PostmortemDone {
		// Due from the latest resolution: a reopened incident's clock
		// starts again.
		due := s.policy().PostmortemDue
		if due <= 0 {
			due = 5 * 24 * time.Hour
		}
		inc.PostmortemDue = at.Add(due)
	}
}

func (s *Incidents) queuePostmortem(tx Tx, inc *Incident, now time.Time) error {
	if s.Docs == nil || inc.Cancelled {
		return nil
	}
	if inc.PostmortemPageID != "" {
		return s.queueDocSync(tx, inc, now) // started early: rewritten with the final data
	}
	return tx.Enqueue(Job{Kind: JobPostmortem, Key: JobPostmortem + ":" + inc.ID, Payload: inc.ID, RunAt: now})
}

// record adds a timeline entry.
func (s *Incidents) record(tx Tx, inc *Incident, e TimelineEntry) error {
	e.IncidentID = inc.ID
	_, err := tx.AddTimeline(e)
	return err
}

// refreshHomes queues a Home refresh for everyone in the incident's team:
// open incidents show on every Home tab.
func (s *Incidents) refreshHomes(tx Tx, inc *Incident, now time.Time) error {
	if inc.Private {
		var people []string
		for _, p := range append([]Person{inc.DeclaredBy, inc.Commander, inc.Comms, inc.Scribe}, inc.Added...) {
			if ref := person(p); ref != "" {
				people = append(people, ref)
			}
		}
		return RefreshHome(tx, now, dedupe(people)...)
	}
	team := s.team(inc)
	people := append(append(append([]string{}, team.Members...), team.Approvers...), team.IncidentMembers...)
	return RefreshHome(tx, now, dedupe(people)...)
}

// refresh queues the edits of the incident's views (once the channel
// exists): summary, checklist and announcement, from the same state.
func (s *Incidents) refresh(tx Tx, inc *Incident, now time.Time) error {
	if inc.ChannelID == "" {
		return nil
	}
	for _, m := range s.views(inc, now) {
		if err := enqueueMessage(tx, m, now); err != nil {
			return err
		}
	}
	return nil
}

func (s *Incidents) team(inc *Incident) *Team {
	if t, ok := s.Catalog.Team(inc.Team); ok {
		return t
	}
	return &Team{Name: inc.Team}
}
