package workflows

import (
	"context"
	"fmt"
	"math"
	"time"
)

// The scheduler's ticks find what is due through a due time stored with
// each lease, approval, incident and action item, in an index: a tick
// reads the rows whose time has come and nothing else, so its cost grows
// with what is due, not with the history (ended leases and closed
// incidents are never read again).
//
// The stored time is a hint about when to look, never the decision: the
// decision stays a pure function of (now, stored state) — DueLease,
// DueApproval, DueNags, Repeat.Due — made again in the transaction that
// acts. The hint may be early (the tick looks, finds nothing, and stores
// the next one), never late. To keep it from being late:
//   - every save of a subject stores "due at once" (the store does it, so
//     no code path that changes a lease, an approval or an incident can
//     forget: an extension, a snooze, an acknowledgement, a new channel);
//     the next tick works the real time out;
//   - the config (warning offsets, grace, reminder periods, business
//     hours, time zones) is an input too: ResetDueTimes marks every
//     subject that may still fall due as due at once when opsbot starts;
//   - a tick that acts stores, in the same transaction, the next time
//     after now at which anything can fall due.

// DueKind names the subjects a tick finds by due time.
type DueKind string

// The subjects with a due time.
const (
	DueKindLease    DueKind = "lease"    // lease warnings and ends
	DueKindApproval DueKind = "approval" // approval reminders and expiry
	DueKindIncident DueKind = "incident" // update, meeting and post-mortem nags
	DueKindAction   DueKind = "action"   // action item reminders
	DueKindIdle     DueKind = "idle"     // a running server's idle check (idle.go)
	DueKindRunbook  DueKind = "runbook"  // an accepted runbook run's deadline (runbooks/timeout.go)
)

// DueKinds lists every kind, for ResetDueTimes.
var DueKinds = []DueKind{DueKindLease, DueKindApproval, DueKindIncident, DueKindAction, DueKindIdle, DueKindRunbook}

// DueNever is the due time of a subject that nothing can fall due for
// under this config (a lease of a team no longer configured, a stopped
// server the policy leaves alone). Unlike the zero time (nothing can ever
// fall due: ended, decided, closed) it is looked at again when the config
// may have changed, at start-up.
var DueNever = time.Unix(0, math.MaxInt64).UTC()

// DueTx finds subjects by their stored due time.
type DueTx interface {
	// DueSubjects returns the IDs of the subjects of kind whose due time
	// is at or before now, earliest first; a subject saved since a tick
	// last looked at it comes first.
	DueSubjects(kind DueKind, now time.Time) ([]string, error)
	// SetDue stores when the subject next needs a look: at, DueNever, or
	// the zero time for never again (until it is saved).
	SetDue(kind DueKind, id string, at time.Time) error
	// SetDues stores the due times of several subjects of kind at once,
	// as SetDue does each (in as few statements as the store can).
	SetDues(kind DueKind, dues []DueAt) error
	// ResetDue makes every subject of kind that has a due time due at
	// once, and says how many.
	ResetDue(kind DueKind) (int64, error)
}

// DueAt is one subject's next due time, for SetDues.
type DueAt struct {
	ID string
	At time.Time
}

// ResetDueTimes makes every lease, approval, incident and action item that
// may still fall due due at once, so the first tick works their due times
// out again under the config opsbot now runs with (a warning offset, a
// grace period or a reminder period may have changed). opsbot calls it at
// start-up; it costs one look at each live subject, never at history.
func ResetDueTimes(ctx context.Context, st Store) (int64, error) {
	var n int64
	err := st.Update(ctx, func(tx Tx) error {
		n = 0
		for _, k := range DueKinds {
			c, err := tx.ResetDue(k)
			if err != nil {
				return err
			}
			n += c
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reset due times: %w", err)
	}
	return n, nil
}

// NextLeaseDue says when DueLease may next have something to do for r
// under lc, given that everything due at or before after was handled
// (warnings sent or superseded): the next warning after after, or the end
// (which stays due until the lease's state changes). The zero time means
// nothing until r changes; DueNever, nothing under this policy.
func NextLeaseDue(r *ServerRequest, lc LifecyclePolicy, after time.Time) time.Time {
	if r.LeaseEnd.IsZero() || !r.EndingAt.IsZero() {
		return time.Time{}
	}
	switch {
	case r.State == StateRunning || r.Parked():
		next := r.LeaseEnd.Add(lc.Grace)
		for _, o := range lc.WarnBefore {
			if !r.LeaseStart.IsZero() && o >= r.LeaseEnd.Sub(r.LeaseStart) {
				continue // never sent: see DueLease
			}
			if at := r.LeaseEnd.Add(-o); at.After(after) && at.Before(r.LeaseEnd) && at.Before(next) {
				next = at
			}
		}
		return next
	case r.State == StateStopped:
		next := DueNever
		if lc.EndAction == EndTerminate {
			next = r.LeaseEnd.Add(lc.Grace)
		}
		if lc.MaxLifetime > 0 && !r.LeaseStart.IsZero() {
			if at := r.LeaseStart.Add(lc.MaxLifetime); at.Before(next) {
				next = at
			}
		}
		return next
	default:
		return time.Time{}
	}
}

// NextApprovalDue says when DueApproval may next have something to do for
// a, given that what was due at or before after was handled: the next
// reminder after after, or the expiry.
func NextApprovalDue(a *Approval, every time.Duration, after time.Time) time.Time {
	if a.State != ApprovalPending {
		return time.Time{}
	}
	next := a.ExpiresAt
	if every > 0 {
		n := int64(1)
		if after.After(a.CreatedAt) {
			n = int64(after.Sub(a.CreatedAt)/every) + 1
		}
		if at := a.CreatedAt.Add(time.Duration(n) * every); at.Before(next) {
			next = at
		}
	}
	return next
}

// NextNagDue says when DueNags may next return a nag for inc, at or after
// after (the tick's now): the earliest repeat of each kind not yet sent,
// held back by its snooze and (but for an open sev1) to business hours.
// The zero time means nothing until inc changes; DueNever, nothing under
// this policy.
func NextNagDue(inc *Incident, p *IncidentPolicy, loc *time.Location, sent NagsSent, after time.Time) time.Time {
	if inc.Cancelled || inc.ChannelID == "" || (!inc.Open() && inc.PostmortemDone) {
		return time.Time{}
	}
	if p == nil {
		return DueNever
	}
	next := DueNever
	consider := func(kind NagKind, r Repeat) {
		if r.Every <= 0 || r.First.IsZero() {
			return
		}
		at := r.Next(sent[kind])
		if s := inc.Snoozed[string(kind)]; at.Before(s) {
			at = s
		}
		if at.Before(after) {
			at = after
		}
		if inc.heldToBusinessHours() {
			at = p.BusinessHours.NextOpen(at, loc)
		}
		if at.Before(next) {
			next = at
		}
	}
	if inc.Open() {
		if every := p.UpdateEvery[inc.Severity]; every > 0 {
			last := inc.nagBaseline()
			consider(NagUpdate, Repeat{First: last.Add(every), Every: every})
		}
		return next
	}
	if inc.MeetingAt.IsZero() && !inc.ResolvedAt.IsZero() {
		consider(NagMeeting, meetingRepeat(inc, p, loc))
	}
	if !inc.PostmortemDue.IsZero() {
		consider(NagPostmortem, postmortemRepeat(inc, loc))
	}
	return next
}

// NextActionDue says when an action item's owner is next reminded, given
// the due time of the last reminder sent (zero when none was): daily at
// the due time's clock time in loc, the zone of the incident's team.
func NextActionDue(a *ActionItem, last time.Time, loc *time.Location) time.Time {
	if a.Done() || a.Due.IsZero() || person(a.Owner) == "" {
		return time.Time{}
	}
	return actionRepeat(a, loc).Next(last)
}

func actionRepeat(a *ActionItem, loc *time.Location) Repeat {
	return Repeat{First: a.Due, Every: 24 * time.Hour, Loc: loc}
}

// NextOpen returns the first instant at or after t within business hours
// (t itself when it is within them). Without business hours it is t.
func (b *BusinessHours) NextOpen(t time.Time, loc *time.Location) time.Time {
	if b == nil || b.Contains(t, loc) {
		return t
	}
	if loc == nil {
		loc = time.UTC
	}
	local := t.In(loc)
	h, m, s := int(b.Start/time.Hour), int(b.Start%time.Hour/time.Minute), int(b.Start%time.Minute/time.Second)
	for d := 0; d <= 8; d++ {
		open := time.Date(local.Year(), local.Month(), local.Day()+d, h, m, s, 0, loc)
		if open.After(t) && b.Contains(open, loc) {
			return open.UTC()
		}
	}
	// No working day in the week (or a window a clock change swallowed):
	// look again in an hour rather than never.
	return t.Add(time.Hour)
}

// settle looks at subjects found due, at now, and returns, in order,
// those with something due, to be handled in a transaction each. The
// others were saved since the last look (an extension, a vote, a new
// channel), or are every live one after a start: their next due time is
// stored. Each subject is read once: in write transactions of up to
// settleBatch subjects, which look at each and store the next due times
// of those not due in one batch (SetDues). A batch whose subjects are all
// due (the usual tick) writes nothing.
func settle(ctx context.Context, st Store, clock Clock, kind DueKind, ids []string,
	look func(tx Tx, id string, now time.Time) (next time.Time, due bool, err error)) ([]string, error) {
	const settleBatch = 200
	var work []string
	for len(ids) > 0 {
		batch := ids[:min(settleBatch, len(ids))]
		ids = ids[len(batch):]
		var due []string
		err := st.Update(ctx, func(tx Tx) error {
			// The transaction may run again: decide afresh.
			due = due[:0]
			var next []DueAt
			now := clock.Now()
			for _, id := range batch {
				at, d, err := look(tx, id, now)
				// An error is reported by the subject's own transaction,
				// where it cannot hold up the others.
				if err != nil || d {
					due = append(due, id)
					continue
				}
				next = append(next, DueAt{ID: id, At: at})
			}
			return tx.SetDues(kind, next)
		})
		if err != nil {
			return nil, fmt.Errorf("settle %s due times: %w", kind, err)
		}
		work = append(work, due...)
	}
	return work, nil
}
