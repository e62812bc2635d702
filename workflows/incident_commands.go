package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// IncidentRef names the incident a command is about: an explicit ID, or
// the channel it was typed in.
type IncidentRef struct {
	ID      string
	Channel string
}

// find loads the incident a command refers to.
func (s *Incidents) find(tx Tx, ref IncidentRef) (*Incident, error) {
	if ref.ID != "" {
		inc, err := tx.Incident(strings.ToLower(ref.ID))
		if errors.Is(err, ErrNotFound) {
			return nil, Errorf(ENotFound, "There is no incident %s.", ref.ID)
		}
		return inc, err
	}
	inc, err := tx.IncidentByChannel(ref.Channel)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(EInvalid, "This is not an incident channel: run the command in the incident's channel, or name the incident (like inc-7).")
	}
	return inc, err
}

// change applies fn to the incident in one transaction, then edits the
// summary.
func (s *Incidents) change(ctx context.Context, ref IncidentRef, fn func(tx Tx, inc *Incident, now time.Time) error) (*Incident, error) {
	var out *Incident
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		inc, err := s.find(tx, ref)
		if err != nil {
			return err
		}
		if err := fn(tx, inc, now); err != nil {
			return err
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
		out = inc
		if err := s.queueDocSync(tx, inc, now); err != nil {
			return err
		}
		return s.refresh(tx, inc, now)
	})
	return out, err
}

// SetStatus moves the response to a new status. Resolving also resolves
// the PagerDuty incident and starts the post-mortem.
func (s *Incidents) SetStatus(ctx context.Context, actor Person, ref IncidentRef, st IncidentStatus) (*Incident, error) {
	what := "change its status"
	if st == StatusResolved {
		what = "resolve it"
		if err := s.authorize(ctx, actor, ref, what); err != nil {
			return nil, err
		}
		if err := s.checkPagerUser(ctx, actor, ref, PDResolved, what); err != nil {
			return nil, err
		}
	} else if err := s.authorize(ctx, actor, ref, what); err != nil {
		return nil, err
	}
	return s.change(ctx, ref, func(tx Tx, inc *Incident, now time.Time) error {
		if inc.Status == st {
			return Errorf(EConflict, "%s is already %s.", inc.ID, st)
		}
		old := inc.Status
		if inc.Cancelled {
			return Errorf(EConflict, "%s was cancelled (declared by mistake); declare a new incident if something is wrong.", inc.ID)
		}
		if st == StatusResolved {
			prevPD := inc.PDStatus
			s.resolve(inc, now, now)
			if err := s.pushPD(tx, inc, PDResolved, actor, now, old, prevPD); err != nil {
				return err
			}
			if err := s.queuePostmortem(tx, inc, now); err != nil {
				return err
			}
		} else {
			if old == StatusResolved {
				inc.ResolvedAt = time.Time{}
			}
			inc.Status, inc.LastUpdateAt = st, now
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "incident.status", Subject: inc.ID, Detail: fmt.Sprintf("%s → %s", old, st)}); err != nil {
			return err
		}
		if err := s.line(tx, inc, fmt.Sprintf("Status: %s → *%s*, by %s", old, st, Mention(actor.Ref())), now); err != nil {
			return err
		}
		e := TimelineEntry{At: now, Kind: TLStatus, Actor: actor.String(), Text: statusChangeText(old, st)}
		if st == StatusResolved && inc.PDIncidentID != "" {
			e.Action = "incident.resolved" // PagerDuty logs it too
		}
		return s.record(tx, inc, e)
	})
}

// pushPD records the PagerDuty state opsbot is about to set and queues the
// call; the webhook that follows then finds nothing to change. The job
// carries the states before (prevStatus, prevPD) so that a refusal by
// PagerDuty takes the record back to them.
func (s *Incidents) pushPD(tx Tx, inc *Incident, status string, actor Person, now time.Time, prevStatus IncidentStatus, prevPD string) error {
	if inc.PDIncidentID == "" || inc.PDStatus == status || (status == PDAcknowledged && inc.PDStatus == PDResolved) {
		return nil
	}
	inc.PDStatus = status
	payload := strings.Join([]string{inc.ID, status, orDefault(actor.Email, "-"), orDefault(actor.SlackID, "-"), string(prevStatus), orDefault(prevPD, "-")}, " ")
	return tx.Enqueue(Job{Kind: JobPDStatus, Key: JobPDStatus + ":" + inc.ID, Payload: payload, RunAt: now})
}

// Acknowledge acknowledges the PagerDuty incident as the actor.
func (s *Incidents) Acknowledge(ctx context.Context, actor Person, ref IncidentRef) (*Incident, error) {
	if err := s.authorize(ctx, actor, ref, "acknowledge it"); err != nil {
		return nil, err
	}
	if err := s.checkPagerUser(ctx, actor, ref, PDAcknowledged, "acknowledge it"); err != nil {
		return nil, err
	}
	return s.change(ctx, ref, func(tx Tx, inc *Incident, now time.Time) error {
		if inc.PDIncidentID == "" {
			return Errorf(EConflict, "%s has no PagerDuty incident to acknowledge.", inc.ID)
		}
		if inc.PDStatus != PDTriggered {
			return Errorf(EConflict, "%s is already %s in PagerDuty.", inc.ID, inc.PDStatus)
		}
		if actor.Email == "" {
			return Errorf(EForbidden, "PagerDuty needs your email to record who acknowledged, and Slack did not give opsbot yours.")
		}
		if err := s.pushPD(tx, inc, PDAcknowledged, actor, now, inc.Status, inc.PDStatus); err != nil {
			return err
		}
		return s.record(tx, inc, TimelineEntry{At: now, Kind: TLPagerDuty, Actor: actor.String(), Text: "Acknowledged from Slack", Action: "incident.acknowledged"})
	})
}

// SetSeverity changes the severity.
func (s *Incidents) SetSeverity(ctx context.Context, actor Person, ref IncidentRef, sev Severity) (*Incident, error) {
	return s.guarded(ctx, actor, ref, "change its severity", func(tx Tx, inc *Incident, now time.Time) error {
		if inc.Severity == sev {
			return Errorf(EConflict, "%s is already %s.", inc.ID, sev)
		}
		old := inc.Severity
		inc.Severity = sev
		if v := s.policy().BySeverity[sev]; v != nil && len(v.Invite) > 0 && inc.ChannelID != "" {
			// The new severity's extra people join.
			if err := tx.Enqueue(Job{Kind: JobInvite, Key: JobInvite + ":" + inc.ID, Payload: inc.ID, RunAt: now}); err != nil {
				return err
			}
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "incident.severity", Subject: inc.ID, Detail: fmt.Sprintf("%s → %s", old, sev)}); err != nil {
			return err
		}
		if err := s.line(tx, inc, fmt.Sprintf("Severity: %s → *%s*, by %s", old, sev, Mention(actor.Ref())), now); err != nil {
			return err
		}
		return s.record(tx, inc, TimelineEntry{At: now, Kind: TLSeverity, Actor: actor.String(), Text: fmt.Sprintf("Severity %s → %s", old, sev)})
	})
}

// SetRole gives a role to someone.
func (s *Incidents) SetRole(ctx context.Context, actor Person, ref IncidentRef, role Role, who Person) (*Incident, error) {
	return s.guarded(ctx, actor, ref, "give its roles", func(tx Tx, inc *Incident, now time.Time) error {
		inc.SetRole(role, who)
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "incident.role", Subject: inc.ID, Detail: fmt.Sprintf("%s: %s", role, who)}); err != nil {
			return err
		}
		if inc.ChannelID != "" {
			if err := tx.Enqueue(Job{Kind: JobInvite, Key: JobInvite + ":" + inc.ID, Payload: inc.ID, RunAt: now}); err != nil {
				return err
			}
		}
		if err := s.line(tx, inc, fmt.Sprintf("%s is now %s, named by %s", Mention(who.Ref()), role.Title(), Mention(actor.Ref())), now); err != nil {
			return err
		}
		if !samePerson(who, actor) && who.Ref() != "" {
			// Told directly too: they may not be in the channel yet.
			if err := enqueueMessage(tx, Message{User: who.Ref(),
				Text:    fmt.Sprintf("%s made you %s of %s (%s, %s): %s", Mention(actor.Ref()), role.Title(), inc.ID, inc.Severity, inc.Status, UserText(inc.Title)),
				Mention: channelLink(inc)}, now); err != nil {
				return err
			}
		}
		return s.record(tx, inc, TimelineEntry{At: now, Kind: TLRole, Actor: actor.String(), Text: fmt.Sprintf("%s: %s", role.Title(), who)})
	})
}

// Update posts a status update: it goes on the timeline and the summary,
// and resets the update nag.
func (s *Incidents) Update(ctx context.Context, actor Person, ref IncidentRef, text string) (*Incident, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, Errorf(EInvalid, "An update needs text, like `/incident update Rolled back the deploy; errors are dropping`.")
	}
	if err := s.checkOutsider(ctx, actor, ref, "post updates to it from outside its channel"); err != nil {
		return nil, err
	}
	return s.change(ctx, ref, func(tx Tx, inc *Incident, now time.Time) error {
		inc.LastUpdate, inc.LastUpdateAt, inc.UpdatePostedAt = text, now, now
		if inc.ChannelID != "" {
			// A message of its own, so people are notified; the summary
			// is edited too (by change).
			if err := enqueueMessage(tx, Message{Channel: inc.ChannelID, Title: "Update on " + inc.ID + " (" + string(inc.Status) + ")",
				Text: UserText(text), Note: "Posted by " + Mention(actor.Ref()) + " · " + s.team(inc).LocalTime(now)}, now); err != nil {
				return err
			}
		}
		return s.record(tx, inc, TimelineEntry{At: now, Kind: TLUpdate, Actor: actor.String(), Text: text})
	})
}

// channelLink links the incident channel, once there is one.
func channelLink(inc *Incident) []string {
	if inc.ChannelID == "" {
		return nil
	}
	return []string{inc.ChannelID}
}

// Activity counts any message in an incident channel as an update when
// the policy says so.
func (s *Incidents) Activity(ctx context.Context, channelID string, at time.Time) error {
	if !s.policy().AnyMessageResets {
		return nil
	}
	return s.Store.Update(ctx, func(tx Tx) error {
		inc, err := tx.IncidentByChannel(channelID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil || !inc.Open() || !at.After(inc.LastUpdateAt) {
			return err
		}
		inc.LastUpdateAt = at
		return tx.SaveIncident(inc)
	})
}

// Pinned puts a channel message marked with the timeline reaction on the
// timeline, at the message's own time, once.
func (s *Incidents) Pinned(ctx context.Context, channelID, ts string, at time.Time, author, text string) error {
	return s.Store.Update(ctx, func(tx Tx) error {
		inc, err := tx.IncidentByChannel(channelID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.queueDocSync(tx, inc, at); err != nil {
			return err
		}
		return s.record(tx, inc, TimelineEntry{At: at, Kind: TLPinned, Actor: author, Text: text, Source: "slack", ExternalID: ts})
	})
}

// TimelineReaction is the reaction that marks a message for the timeline.
func (s *Incidents) TimelineReaction() string {
	return orDefault(s.policy().TimelineReaction, "pushpin")
}

// Postmortem returns the post-mortem link, or starts writing it.
func (s *Incidents) Postmortem(ctx context.Context, actor Person, ref IncidentRef) (*Incident, error) {
	if s.Docs == nil {
		return nil, Errorf(EConflict, "Post-mortems are not configured: opsbot needs NOTION_TOKEN and incidents.notion_database.")
	}
	if err := s.checkOutsider(ctx, actor, ref, "start its post-mortem from outside its channel"); err != nil {
		return nil, err
	}
	var out *Incident
	err := s.update(ctx, func(tx Tx) error {
		inc, err := s.find(tx, ref)
		if err != nil {
			return err
		}
		out = inc
		return s.queuePostmortem(tx, inc, s.Clock.Now())
	})
	return out, err
}

// ScheduleMeeting records the post-mortem review meeting, which ends the
// meeting nag, and writes it on the document.
func (s *Incidents) ScheduleMeeting(ctx context.Context, actor Person, ref IncidentRef, at time.Time) (*Incident, error) {
	return s.guarded(ctx, actor, ref, "record its post-mortem meeting", func(tx Tx, inc *Incident, now time.Time) error {
		// A meeting already held is recorded; one before the incident
		// began is a mistyped date, and would end the meeting reminder.
		if loc := s.team(inc).zone(); at.Before(inc.CreatedAt) {
			return Errorf(EInvalid, "%s is before %s began (%s): give the meeting's date and time, like %s.",
				at.In(loc).Format("2006-01-02 15:04"), inc.ID, inc.CreatedAt.In(loc).Format("2006-01-02 15:04"), now.In(loc).AddDate(0, 0, 1).Format("2006-01-02")+" 15:00")
		}
		inc.MeetingAt = at
		if inc.PostmortemPageID != "" && s.Docs != nil {
			if err := tx.Enqueue(Job{Kind: JobMeetingWrite, Key: JobMeetingWrite + ":" + inc.ID, Payload: inc.ID, RunAt: now}); err != nil {
				return err
			}
		}
		return s.record(tx, inc, TimelineEntry{At: now, Kind: TLNote, Actor: actor.String(), Text: "Post-mortem meeting scheduled for " + s.team(inc).LocalTime(at)})
	})
}

// PostmortemDone marks the post-mortem finished, which ends its nag.
func (s *Incidents) PostmortemDone(ctx context.Context, actor Person, ref IncidentRef) (*Incident, error) {
	return s.guarded(ctx, actor, ref, "mark its post-mortem done", func(tx Tx, inc *Incident, now time.Time) error {
		if inc.PostmortemDone {
			return Errorf(EConflict, "%s's post-mortem is already marked done.", inc.ID)
		}
		inc.PostmortemDone = true
		return s.record(tx, inc, TimelineEntry{At: now, Kind: TLNote, Actor: actor.String(), Text: "Post-mortem marked done"})
	})
}

// Snooze holds back one kind of nag for d, at most the policy's
// MaxSnooze: the duration comes from a button's value, which a client can
// forge.
func (s *Incidents) Snooze(ctx context.Context, actor Person, id string, kind NagKind, d time.Duration) (*Incident, error) {
	switch kind {
	case NagUpdate, NagMeeting, NagPostmortem:
	default:
		return nil, Errorf(EInvalid, "%q is not a kind of reminder.", kind)
	}
	if max := orDuration(s.policy().MaxSnooze, 7*24*time.Hour); d <= 0 || d > max {
		return nil, Errorf(EInvalid, "A reminder can be snoozed for at most %s, not %s.", FormatDuration(max), FormatDuration(d))
	}
	return s.guarded(ctx, actor, IncidentRef{ID: id}, "snooze its reminders", func(tx Tx, inc *Incident, now time.Time) error {
		if inc.Snoozed == nil {
			inc.Snoozed = map[string]time.Time{}
		}
		inc.Snoozed[string(kind)] = now.Add(d)
		return tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "nag.snooze", Subject: inc.ID, Detail: fmt.Sprintf("%s for %s", kind, FormatDuration(d))})
	})
}

// OpenIncidents lists unresolved incidents, newest first.
func (s *Incidents) OpenIncidents(ctx context.Context) ([]*Incident, error) {
	var out []*Incident
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		out, err = tx.Incidents(IncidentFilter{Open: true})
		return err
	})
	return out, err
}
