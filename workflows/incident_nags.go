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

// NagDue is one nag that should go out now, recorded under Key so it is
// sent once.
type NagDue struct {
	Kind NagKind
	Key  string
	// Since is how long the condition has held.
	Since time.Duration
}

// DueNags says which nags are due for inc at now. It is a pure function
// of its arguments: the caller records each Key it sends, and skips keys
// already recorded.
//
//   - update: open, and no update for UpdateEvery[severity]; repeated
//     every period until an update (which changes the key) arrives;
//   - meeting: resolved MeetingNagAfter ago with no meeting recorded;
//     repeated every MeetingNagEvery;
//   - postmortem: past its due date and not marked done; repeated daily.
//
// Nags for incidents other than sev1 wait for business hours when the
// policy sets them, and a snoozed kind waits for its snooze to end.
func DueNags(now time.Time, inc *Incident, p *IncidentPolicy, loc *time.Location) []NagDue {
	if p == nil {
		return nil
	}
	if inc.Severity != Sev1 && !p.BusinessHours.Contains(now, loc) {
		return nil
	}
	var out []NagDue
	add := func(kind NagKind, from time.Time, every time.Duration) {
		if every <= 0 || now.Before(from) || now.Before(inc.Snoozed[string(kind)]) {
			return
		}
		n := int(now.Sub(from) / every)
		out = append(out, NagDue{Kind: kind, Since: now.Sub(from), Key: fmt.Sprintf("nag:%s:%s:%d:%d", kind, inc.ID, from.Unix(), n)})
	}
	if inc.Open() {
		every := p.UpdateEvery[inc.Severity]
		last := inc.LastUpdateAt
		if last.IsZero() {
			last = inc.CreatedAt
		}
		if every > 0 {
			add(NagUpdate, last.Add(every), every)
		}
		return out
	}
	if inc.MeetingAt.IsZero() && !inc.ResolvedAt.IsZero() {
		add(NagMeeting, inc.ResolvedAt.Add(orDuration(p.MeetingNagAfter, 24*time.Hour)), orDuration(p.MeetingNagEvery, 24*time.Hour))
	}
	if !inc.PostmortemDone && !inc.PostmortemDue.IsZero() {
		add(NagPostmortem, inc.PostmortemDue, 24*time.Hour)
	}
	return out
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// NagReport counts the nags one tick sent.
type NagReport struct{ Sent int }

// Tick sends every nag that is due. Before nagging about the meeting it
// reads the document back: a date set directly in the post-mortem counts.
func (s *Incidents) Tick(ctx context.Context) (NagReport, error) {
	var rep NagReport
	if s.Catalog.Incidents == nil {
		return rep, nil
	}
	var incs []*Incident
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		incs, err = tx.Incidents(IncidentFilter{})
		return err
	}); err != nil {
		return rep, fmt.Errorf("load incidents: %w", err)
	}
	p := s.policy()
	for _, inc := range incs {
		if inc.ChannelID == "" {
			continue
		}
		team := s.team(inc)
		due := DueNags(s.Clock.Now(), inc, p, team.Location)
		for _, n := range due {
			// The document is read once per nag period, not every tick.
			if _, checked := s.docChecked.LoadOrStore(n.Key, true); n.Kind == NagMeeting && !checked && s.meetingSetInDoc(ctx, inc) {
				continue
			}
			sent, err := s.sendNag(ctx, inc.ID, n)
			if err != nil {
				// One incident that cannot be nagged must not hold up the rest.
				s.Log.Error("send nag", "incident", inc.ID, "kind", n.Kind, "err", err)
				continue
			}
			if sent {
				rep.Sent++
			}
		}
	}
	return rep, nil
}

// meetingSetInDoc reads the meeting date from the post-mortem and records
// it when someone set it there.
func (s *Incidents) meetingSetInDoc(ctx context.Context, inc *Incident) bool {
	if s.Docs == nil || inc.PostmortemPageID == "" {
		return false
	}
	at, ok, err := s.Docs.Meeting(ctx, DocRef{PageID: inc.PostmortemPageID, URL: inc.PostmortemURL})
	if err != nil {
		s.Log.Warn("read meeting date from the post-mortem", "incident", inc.ID, "err", err)
		return false
	}
	if !ok {
		return false
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
		return s.record(tx, cur, TimelineEntry{At: s.Clock.Now(), Kind: TLNote, Actor: "notion", Text: "Post-mortem meeting set in the document for " + s.team(cur).LocalTime(at)})
	})
	if err != nil {
		s.Log.Warn("record meeting date", "incident", inc.ID, "err", err)
	}
	return true
}

// sendNag records and queues one nag, re-checking it against the stored
// incident in the same transaction.
func (s *Incidents) sendNag(ctx context.Context, id string, n NagDue) (bool, error) {
	sent := false
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		still := false
		for _, d := range DueNags(now, inc, s.policy(), s.team(inc).Location) {
			still = still || d.Key == n.Key
		}
		if !still {
			return nil
		}
		fresh, err := tx.MarkSent(n.Key, now)
		if err != nil || !fresh {
			return err
		}
		sent = true
		return enqueueMessage(tx, s.nagMessage(inc, n), now)
	})
	return sent, err
}
