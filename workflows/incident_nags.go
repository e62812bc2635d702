package workflows

import (
	"context"
	"fmt"
	"time"
)

// NagKind names a kind of reminder.
type NagKind string

// The nags.
const (
	NagUpdate     NagKind = "update"     // no status update for too long
	NagMeeting    NagKind = "meeting"    // resolved, and no post-mortem meeting recorded
	NagPostmortem NagKind = "postmortem" // post-mortem past its due date
)

// NagDue is one nag that should go out now. It is identified by
// (incident, Kind, Due): recorded under that in the transaction that
// queues it, it is sent at most once.
type NagDue struct {
	Kind NagKind
	Due  time.Time
	// Since is how long the condition has held at now: since the last
	// update, since the resolution, since the post-mortem fell due.
	Since time.Duration
}

// Key names the nag's message, so a retried delivery edits the message it
// posted instead of posting another.
func (n NagDue) Key(incidentID string) string {
	return fmt.Sprintf("nag:%s:%s:%d", incidentID, n.Kind, n.Due.Unix())
}

// NagsSent holds, per kind, the due time of the last nag sent for one
// incident.
type NagsSent map[NagKind]time.Time

// DueNags says which nags are due for inc at now, given the nags already
// sent. It is a pure function of its arguments.
//
//   - update: open, and no update for UpdateEvery[severity] since the
//     last update (or the start); then every period until an update;
//   - meeting: resolved MeetingNagAfter ago with no meeting recorded and
//     the post-mortem not done; then every MeetingNagEvery;
//   - postmortem: past its due date and not marked done; then daily.
//
// Each kind repeats a period after the last one sent (see Repeat.Due), so
// a severity change, a clock jump or a restart never sends two close
// together. Nags wait for business hours when the policy sets them
// (except an open sev1's update nag), and a snoozed kind waits for its snooze to
// end; either way one catch-up nag goes out after the wait.
func DueNags(now time.Time, inc *Incident, p *IncidentPolicy, loc *time.Location, sent NagsSent) []NagDue {
	if p == nil || inc.Cancelled {
		return nil // a cancelled incident was declared by mistake: nothing to remind
	}
	if inc.heldToBusinessHours() && !p.BusinessHours.Contains(now, loc) {
		return nil
	}
	var out []NagDue
	add := func(kind NagKind, since time.Time, r Repeat) {
		if now.Before(inc.Snoozed[string(kind)]) {
			return
		}
		if due, ok := r.Due(now, sent[kind]); ok {
			out = append(out, NagDue{Kind: kind, Due: due, Since: now.Sub(since)})
		}
	}
	if inc.Open() {
		if every := p.UpdateEvery[inc.Severity]; every > 0 {
			last := inc.nagBaseline()
			add(NagUpdate, last, Repeat{First: last.Add(every), Every: every})
		}
		return out
	}
	if inc.PostmortemDone {
		return out // done ends every post-mortem reminder
	}
	if inc.MeetingAt.IsZero() && !inc.ResolvedAt.IsZero() {
		add(NagMeeting, inc.ResolvedAt, meetingRepeat(inc, p, loc))
	}
	if !inc.PostmortemDue.IsZero() {
		add(NagPostmortem, inc.PostmortemDue, postmortemRepeat(inc, loc))
	}
	return out
}

// meetingRepeat and postmortemRepeat are the schedules of the nags after
// resolution; a period of whole days is counted in calendar days in the
// team's zone (loc), so the nag keeps its local time across a
// daylight-saving change.
func meetingRepeat(inc *Incident, p *IncidentPolicy, loc *time.Location) Repeat {
	return Repeat{First: inc.ResolvedAt.Add(orDuration(p.MeetingNagAfter, 24*time.Hour)), Every: orDuration(p.MeetingNagEvery, 24*time.Hour), Loc: loc}
}

func postmortemRepeat(inc *Incident, loc *time.Location) Repeat {
	return Repeat{First: inc.PostmortemDue, Every: 24 * time.Hour, Loc: loc}
}

// heldToBusinessHours says whether inc's nags wait for business hours:
// all but an open sev1's. Once resolved, a sev1's meeting and post-mortem
// nags are no more urgent than any other's: they do not come at night.
func (i *Incident) heldToBusinessHours() bool { return i.Severity != Sev1 || !i.Open() }

// nagBaseline is when the update nag starts counting: the last update, or
// the start of the incident when none came since.
func (i *Incident) nagBaseline() time.Time {
	if i.LastUpdateAt.Before(i.CreatedAt) {
		return i.CreatedAt
	}
	return i.LastUpdateAt
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// NagReport counts the nags one tick sent.
type NagReport struct{ Sent int }

// Tick sends every nag that is due. It reads only the incidents and
// action items whose stored due time has come (see due.go): closed
// incidents are never read again. Before nagging about the meeting it
// reads the document back: a date set directly in the post-mortem counts.
// Ticks may run at once (two replicas, a sandbox catch-up beside the
// scheduler): each nag is re-decided and recorded in one transaction, so
// only one of them sends it.
func (s *Incidents) Tick(ctx context.Context) (NagReport, error) {
	var rep NagReport
	if s.Catalog.Incidents == nil {
		return rep, nil
	}
	now := s.Clock.Now()
	var incs, acts []string
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		if incs, err = tx.DueSubjects(DueKindIncident, now); err != nil {
			return err
		}
		acts, err = tx.DueSubjects(DueKindAction, now)
		return err
	}); err != nil {
		return rep, fmt.Errorf("load due incidents: %w", err)
	}
	type candidate struct {
		inc *Incident
		due []NagDue
	}
	cands := map[string]candidate{}
	incs, err := settle(ctx, s.Store, s.Clock, DueKindIncident, incs, func(tx Tx, id string, now time.Time) (time.Time, bool, error) {
		inc, err := tx.Incident(id)
		if err == nil {
			var sent NagsSent
			if sent, err = s.nagsSent(tx, id); err == nil {
				return s.lookNags(inc, sent, now, func(due []NagDue) { cands[id] = candidate{inc, due} })
			}
		}
		s.Log.ErrorContext(ctx, "look at an incident's nags", "incident", id, "err", err)
		return time.Time{}, false, err
	})
	if err != nil {
		return rep, err
	}
	n, err := s.remindActions(ctx, acts)
	if err != nil {
		s.Log.ErrorContext(ctx, "remind action items", "err", err)
	}
	rep.Sent += n
	for _, id := range incs {
		c, ok := cands[id]
		if !ok {
			continue // it could not be read (logged): looked at again next tick
		}
		for _, n := range c.due {
			// The document is read once per nag, not every tick.
			if _, checked := s.docChecked.LoadOrStore(n.Key(c.inc.ID), true); n.Kind == NagMeeting && !checked && s.meetingSetInDoc(ctx, c.inc) {
				continue
			}
			sent, err := s.sendNag(ctx, c.inc.ID, n.Kind)
			if err != nil {
				// One incident that cannot be nagged must not hold up the rest.
				s.Log.ErrorContext(ctx, "send nag", "incident", c.inc.ID, "kind", n.Kind, "err", err)
				continue
			}
			if sent {
				rep.Sent++
			}
		}
	}
	return rep, nil
}

// lookNags says whether a nag is due for inc at now (handing the nags to
// found), or else when one next may be.
func (s *Incidents) lookNags(inc *Incident, sent NagsSent, now time.Time, found func([]NagDue)) (time.Time, bool, error) {
	p, loc := s.policy(), s.team(inc).Location
	next := NextNagDue(inc, p, loc, sent, now)
	if next.IsZero() {
		return next, false, nil
	}
	if due := DueNags(now, inc, p, loc, sent); len(due) > 0 {
		found(due)
		return time.Time{}, true, nil
	}
	return next, false, nil
}

func (s *Incidents) nagsSent(tx Tx, id string) (NagsSent, error) {
	last, err := tx.LastReminders(id)
	if err != nil {
		return nil, err
	}
	sent := NagsSent{}
	for k, at := range last {
		sent[NagKind(k)] = at
	}
	return sent, nil
}

// meetingSetInDoc reads the meeting date from the post-mortem and records
// it when someone set it there.
func (s *Incidents) meetingSetInDoc(ctx context.Context, inc *Incident) bool {
	if s.Docs == nil || inc.PostmortemPageID == "" {
		return false
	}
	d, ok, err := s.Docs.Meeting(ctx, DocRef{PageID: inc.PostmortemPageID, URL: inc.PostmortemURL})
	if err != nil {
		s.Log.WarnContext(ctx, "read meeting date from the post-mortem", "incident", inc.ID, "err", err)
		return false
	}
	if !ok {
		return false
	}
	at := d.At
	if d.DateOnly {
		// A day alone is that day in the team's zone: "2026-11-24" read
		// as midnight UTC is the 23rd in New York.
		y, m, day := d.At.UTC().Date()
		at = time.Date(y, m, day, 0, 0, 0, 0, s.team(inc).zone())
	}
	err = s.update(ctx, func(tx Tx) error {
		cur, err := tx.Incident(inc.ID)
		if err != nil {
			return err
		}
		cur.MeetingAt, cur.UpdatedAt = at, s.Clock.Now()
		if err := tx.SaveIncident(cur); err != nil {
			return err
		}
		return s.record(tx, cur, TimelineEntry{At: s.Clock.Now(), Kind: TLNote, Actor: "notion", Text: "Post-mortem meeting set in the document for " + s.team(cur).meetingTime(at)})
	})
	if err != nil {
		s.Log.WarnContext(ctx, "record meeting date", "incident", inc.ID, "err", err)
	}
	return true
}

// sendNag decides one kind of nag again against the stored incident and
// the nags already sent, records it under (incident, kind, due time) and
// queues its message, all in one transaction: of several ticks racing for
// the same nag, one sends it and the others find it recorded.
func (s *Incidents) sendNag(ctx context.Context, id string, kind NagKind) (bool, error) {
	sent := false
	err := s.update(ctx, func(tx Tx) error {
		sent = false // a retried transaction starts again
		now := s.Clock.Now()
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		last, err := s.nagsSent(tx, id)
		if err != nil {
			return err
		}
		p, loc := s.policy(), s.team(inc).Location
		for _, n := range DueNags(now, inc, p, loc, last) {
			if n.Kind != kind {
				continue
			}
			fresh, err := tx.RecordReminder(id, string(kind), n.Due, now)
			if err != nil {
				return err
			}
			if fresh {
				sent, last[kind] = true, n.Due
				if err := enqueueMessage(tx, s.nagMessage(inc, n), now); err != nil {
					return err
				}
			}
			break
		}
		// What is due at now is handled (this kind here, the others by
		// their own calls, which store it again).
		return tx.SetDue(DueKindIncident, id, NextNagDue(inc, p, loc, last, now))
	})
	return sent, err
}
