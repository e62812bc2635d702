package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ActionItem is something to do after an incident: a to-do on the
// post-mortem page, with an owner reminded until it is done.
type ActionItem struct {
	ID         string // "act-3"
	IncidentID string
	Text       string
	Owner      Person // may be empty
	Due        time.Time
	DoneAt     time.Time
	CreatedBy  string
	CreatedAt  time.Time

	// page is the incident, when its post-mortem page exists, for
	// reading the to-do back. Not stored.
	page *Incident
}

// Done reports whether the item is finished.
func (a *ActionItem) Done() bool { return !a.DoneAt.IsZero() }

// JobActionWrite writes an action item on the post-mortem page; payload:
// the action item's ID.
const JobActionWrite = "incident.action"

// NagAction is the reminder of an action item's owner.
const NagAction NagKind = "action"

// ActionInput is what /incident action asks for.
type ActionInput struct {
	Text  string
	Owner Person
	Due   time.Time // zero: no due date (no reminders)
	// DueDate, "2026-12-15", sets Due to 09:00 that day where the owner
	// works (their team's zone; the incident team's for an owner in no
	// team, or for no owner): the owner is reminded at the start of
	// their own morning, not at whatever hour 09:00 is in another team's
	// zone.
	DueDate string
}

// actionDueHour is the hour of the due day an action item falls due.
const actionDueHour = 9

// ownerZone is the zone an action item's reminders keep time in: its
// owner's team's, else the incident team's.
func (s *Incidents) ownerZone(owner Person, inc *Incident) *time.Location {
	return s.readerTeam(owner, inc).zone()
}

// AddAction records an action item of an incident, during or after it,
// and queues it onto the post-mortem page.
func (s *Incidents) AddAction(ctx context.Context, actor Person, ref IncidentRef, in ActionInput) (*ActionItem, error) {
	in.Text = strings.TrimSpace(in.Text)
	if in.Text == "" {
		return nil, Errorf(EInvalid, "An action item needs text, like `/incident action Add an index on orders.created_at @dana due 2026-12-15`.")
	}
	if err := s.checkOutsider(ctx, actor, ref, "add action items to it from outside its channel"); err != nil {
		return nil, err
	}
	var out *ActionItem
	_, err := s.change(ctx, ref, func(tx Tx, inc *Incident, now time.Time) error {
		team := s.readerTeam(in.Owner, inc) // the owner's, where the item falls due
		loc := team.zone()
		if in.DueDate != "" {
			day, err := time.ParseInLocation("2006-01-02", in.DueDate, loc)
			if err != nil {
				return Errorf(EInvalid, "%q is not a date like 2026-12-15.", in.DueDate)
			}
			in.Due = time.Date(day.Year(), day.Month(), day.Day(), actionDueHour, 0, 0, 0, loc)
		}
		// The owner is reminded from the due date on: one already past
		// is a mistake (a year mistyped), not a reminder due at once.
		if !in.Due.IsZero() && dayOf(in.Due, loc).Before(dayOf(now, loc)) {
			return Errorf(EInvalid, "The due date %s is in the past (today is %s in team %s's time zone). Give today or a later day.",
				in.Due.In(loc).Format("2006-01-02"), now.In(loc).Format("2006-01-02"), team.Name)
		}
		id, err := tx.NextID("act")
		if err != nil {
			return err
		}
		a := &ActionItem{ID: id, IncidentID: inc.ID, Text: in.Text, Owner: in.Owner, Due: in.Due, CreatedBy: actor.String(), CreatedAt: now}
		if err := tx.SaveAction(a); err != nil {
			return err
		}
		out = a
		if err := s.queueActionWrite(tx, inc, a, now); err != nil {
			return err
		}
		return s.record(tx, inc, TimelineEntry{At: now, Kind: TLNote, Actor: actor.String(), Text: "Action item " + id + ": " + a.Text})
	})
	return out, err
}

// queueActionWrite puts a new item on an existing page whose post-mortem
// is done. A page written later has the incident's items in its body; a
// page still kept in step gets it from the sync job the change queues
// (in its body, or appended when people have edited the body), so one
// job writes the page at a time: a second job appending the to-do while
// the sync rewrites the body put it there twice.
func (s *Incidents) queueActionWrite(tx Tx, inc *Incident, a *ActionItem, now time.Time) error {
	if s.Docs == nil || inc.PostmortemPageID == "" || !inc.PostmortemDone {
		return nil
	}
	return tx.Enqueue(Job{Kind: JobActionWrite, Key: JobActionWrite + ":" + a.ID, Payload: a.ID, RunAt: now})
}

// ActionDone marks an action item done from Slack. Its owner may, and the
// people who may change its incident (see incident_authz.go); anyone else
// is refused with no word of the item's text: marking it done ends its
// owner's reminders, and a private incident's items are not for everyone.
func (s *Incidents) ActionDone(ctx context.Context, actor Person, id string) (*ActionItem, error) {
	if err := s.authorizeAction(ctx, actor, id); err != nil {
		return nil, err
	}
	var out *ActionItem
	err := s.update(ctx, func(tx Tx) error {
		a, err := tx.Action(strings.ToLower(id))
		if errors.Is(err, ErrNotFound) {
			return Errorf(ENotFound, "There is no action item %s.", id)
		}
		if err != nil {
			return err
		}
		if a.Done() {
			return Errorf(EConflict, "%s is already done.", a.ID)
		}
		now := s.Clock.Now()
		a.DoneAt = now
		out = a
		if err := tx.SaveAction(a); err != nil {
			return err
		}
		inc, err := tx.Incident(a.IncidentID)
		if err != nil {
			return err
		}
		if err := s.queueDocSync(tx, inc, now); err != nil { // checked on the page too
			return err
		}
		_, err = tx.AddTimeline(TimelineEntry{IncidentID: a.IncidentID, At: now, Kind: TLNote, Actor: actor.String(), Text: "Action item " + a.ID + " done: " + a.Text})
		return err
	})
	return out, err
}

// authorizeAction lets the item's owner, and whoever may change its
// incident, mark it done.
func (s *Incidents) authorizeAction(ctx context.Context, actor Person, id string) error {
	var a *ActionItem
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		a, err = tx.Action(strings.ToLower(id))
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return Errorf(ENotFound, "There is no action item %s.", id)
	}
	if err != nil {
		return err
	}
	if a.Owner.Ref() != "" && samePerson(a.Owner, actor) {
		return nil
	}
	err = s.authorize(ctx, actor, IncidentRef{ID: a.IncidentID}, "mark "+a.ID+" done")
	var e *Error
	if errors.As(err, &e) && e.Code == EForbidden && a.Owner.Ref() != "" {
		e.People = dedupe(append(e.People, person(a.Owner))) // its owner may too
	}
	return err
}

// writeAction puts an action item on the post-mortem page as a to-do
// naming its owner and due date.
func (s *Incidents) writeAction(ctx context.Context, j Job) error {
	var a *ActionItem
	var inc *Incident
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		if a, err = tx.Action(j.Payload); err != nil {
			return err
		}
		inc, err = tx.Incident(a.IncidentID)
		return err
	}); err != nil {
		return fmt.Errorf("load action item %s: %w", j.Payload, err)
	}
	if s.Docs == nil || inc.PostmortemPageID == "" {
		return nil
	}
	if err := s.Docs.AddTodo(ctx, DocRef{PageID: inc.PostmortemPageID, URL: inc.PostmortemURL}, a.ID, s.todoText(inc, a), a.Done()); err != nil {
		return fmt.Errorf("write action item %s: %w", a.ID, err)
	}
	return nil
}

// actionBlocks are an incident's action items as to-dos, for the
// post-mortem body.
func (s *Incidents) actionBlocks(inc *Incident, items []*ActionItem) []DocBlock {
	if len(items) == 0 {
		return nil
	}
	out := []DocBlock{{Kind: DocHeading2, Text: "Action items tracked by opsbot"}}
	for _, a := range items {
		out = append(out, DocBlock{Kind: DocTodo, Text: s.todoText(inc, a), Checked: a.Done()})
	}
	return out
}

// todoText is the to-do's line: "act-3 · Add an index · owner Dana · due
// Tue 15 Dec 2026", the day the owner gave (in their own zone, as the
// item falls due there).
func (s *Incidents) todoText(inc *Incident, a *ActionItem) string {
	parts := []string{a.ID, a.Text}
	if person(a.Owner) != "" {
		parts = append(parts, "owner "+s.displayName(a.Owner))
	}
	if !a.Due.IsZero() {
		parts = append(parts, "due "+a.Due.In(s.ownerZone(a.Owner, inc)).Format("Mon 2 Jan 2006"))
	}
	return strings.Join(parts, " · ")
}

// displayName is a person as a document reader outside Slack reads them.
func (s *Incidents) displayName(p Person) string {
	if p.Email != "" {
		return p.Email
	}
	return p.String()
}

// remindActions reminds the owners of open action items past their due
// date, once per due time (daily), reading each to-do's checkbox first:
// one checked in the document is done. ids are the items whose stored due
// time has come.
func (s *Incidents) remindActions(ctx context.Context, ids []string) (int, error) {
	found := map[string]*ActionItem{}
	ids, err := settle(ctx, s.Store, s.Clock, DueKindAction, ids, func(tx Tx, id string, now time.Time) (time.Time, bool, error) {
		a, err := tx.Action(id)
		if err != nil {
			return time.Time{}, false, err
		}
		last, err := tx.LastReminders(a.ID)
		if err != nil {
			return time.Time{}, false, err
		}
		inc, err := tx.Incident(a.IncidentID)
		if err != nil {
			return time.Time{}, false, err
		}
		next := NextActionDue(a, last[string(NagAction)], s.ownerZone(a.Owner, inc))
		if next.IsZero() || now.Before(next) {
			return next, false, nil
		}
		// Only an item with a reminder due is read back from the
		// document: Notion is asked once per reminder, not per tick.
		if inc.PostmortemPageID != "" {
			a.page = inc
		}
		found[id] = a
		return time.Time{}, true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("load action items: %w", err)
	}
	sent := 0
	for _, id := range ids {
		a, ok := found[id]
		if !ok {
			s.Log.ErrorContext(ctx, "action item could not be read; looked at again next tick", "action", id)
			continue
		}
		if inc := a.page; inc != nil && s.Docs != nil {
			checked, err := s.Docs.TodoChecked(ctx, DocRef{PageID: inc.PostmortemPageID, URL: inc.PostmortemURL}, a.ID)
			if err != nil {
				s.Log.WarnContext(ctx, "read action item from the post-mortem", "action", a.ID, "err", err)
			} else if checked {
				if err := s.closeChecked(ctx, a.ID); err != nil {
					s.Log.ErrorContext(ctx, "record action item checked in the document", "action", a.ID, "err", err)
				}
				continue
			}
		}
		ok, err := s.sendActionReminder(ctx, a.ID)
		if err != nil {
			s.Log.ErrorContext(ctx, "remind action item", "action", a.ID, "err", err)
			continue
		}
		if ok {
			sent++
		}
	}
	return sent, nil
}

func (s *Incidents) closeChecked(ctx context.Context, id string) error {
	return s.update(ctx, func(tx Tx) error {
		a, err := tx.Action(id)
		if err != nil || a.Done() {
			return err
		}
		now := s.Clock.Now()
		a.DoneAt = now
		if err := tx.SaveAction(a); err != nil {
			return err
		}
		_, err = tx.AddTimeline(TimelineEntry{IncidentID: a.IncidentID, At: now, Kind: TLNote, Actor: "notion", Text: "Action item " + a.ID + " checked in the post-mortem"})
		return err
	})
}

func (s *Incidents) sendActionReminder(ctx context.Context, id string) (bool, error) {
	sent := false
	err := s.update(ctx, func(tx Tx) error {
		sent = false // a retried transaction starts again
		now := s.Clock.Now()
		a, err := tx.Action(id)
		if err != nil || a.Done() {
			return err
		}
		last, err := tx.LastReminders(a.ID)
		if err != nil {
			return err
		}
		inc, err := tx.Incident(a.IncidentID)
		if err != nil {
			return err
		}
		loc := s.ownerZone(a.Owner, inc)
		due, ok := actionRepeat(a, loc).Due(now, last[string(NagAction)])
		if !ok {
			return tx.SetDue(DueKindAction, a.ID, NextActionDue(a, last[string(NagAction)], loc))
		}
		if inc.Cancelled {
			// Declared by mistake: no reminders. Looked at again a period
			// on, in case PagerDuty reopens it.
			return tx.SetDue(DueKindAction, a.ID, NextActionDue(a, due, loc))
		}
		fresh, err := tx.RecordReminder(a.ID, string(NagAction), due, now)
		if err != nil {
			return err
		}
		if err := tx.SetDue(DueKindAction, a.ID, NextActionDue(a, due, loc)); err != nil || !fresh {
			return err
		}
		sent = true
		return enqueueMessage(tx, Message{Key: fmt.Sprintf("action-reminder:%s:%d", a.ID, due.Unix()), User: person(a.Owner),
			Text: fmt.Sprintf("Action item %s from %s (%s) was due %s (%s ago): %s. Check it off in the post-mortem, or run /incident action done %s.",
				a.ID, inc.ID, UserText(inc.Title), s.readerTeam(a.Owner, inc).LocalTime(a.Due), Elapsed(now.Sub(a.Due)), UserText(a.Text), a.ID)}, now)
	})
	return sent, err
}

// dayOf is the calendar day of t in loc, as midnight UTC (comparable).
func dayOf(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
