package workflows

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// LeaseStep is what is due for one lease at an instant.
type LeaseStep struct {
	// Warn is the warning to send now, named by its offset before the
	// lease end; zero when none is due.
	Warn time.Duration
	// Superseded are due warnings that a nearer one replaces (after a
	// restart or a fast-forward): recorded as handled, not sent.
	Superseded []time.Duration
	// End is true when the lease and its grace period are over and the end
	// action has not been queued.
	End bool
	// Action is what End does: the policy's end action, or terminate for
	// a stopped server past its maximum lifetime.
	Action EndAction
}

// DueLease says what is due for r at now under lc. It is a pure function
// of its arguments; whether a warning was already sent is the caller's
// record (see WarningKey).
func DueLease(now time.Time, r *ServerRequest, lc LifecyclePolicy) LeaseStep {
	var step LeaseStep
	if r.LeaseEnd.IsZero() || !r.EndingAt.IsZero() {
		return step
	}
	switch {
	case r.State == StateRunning || r.Parked():
		// Running, or stopped by opsbot within its lease (off-hours, Stop
		// now, the server actions): the lease runs on, so its warnings and
		// its end are due as for a running server.
	case r.State == StateStopped:
		// Stopped (at its lease end, or outside opsbot): nothing to warn
		// about, but a terminate policy still ends it after the lease, and
		// nothing outlives its maximum lifetime.
		switch {
		case lc.EndAction == EndTerminate && !now.Before(r.LeaseEnd.Add(lc.Grace)):
			step.End, step.Action = true, EndTerminate
		case lc.MaxLifetime > 0 && !r.LeaseStart.IsZero() && !now.Before(r.LeaseStart.Add(lc.MaxLifetime)):
			step.End, step.Action = true, EndTerminate
		}
		return step
	default:
		return step
	}
	if !now.Before(r.LeaseEnd.Add(lc.Grace)) {
		step.End, step.Action = true, lc.EndAction
		return step
	}
	offsets := append([]time.Duration(nil), lc.WarnBefore...)
	sort.Slice(offsets, func(i, j int) bool { return offsets[i] < offsets[j] })
	// In the grace after the end the nearest warning is still due: sent
	// before the end, it is recorded and not sent again; missed (opsbot
	// was not running from before it until after the end), it is the
	// owner's only word before the end action, while an extension still
	// saves the server.
	for _, o := range offsets {
		if o <= 0 || !r.LeaseStart.IsZero() && o >= r.LeaseEnd.Sub(r.LeaseStart) {
			continue // a warning as long as the lease itself says nothing new
		}
		if !now.Before(r.LeaseEnd.Add(-o)) {
			if step.Warn == 0 {
				step.Warn = o
			} else {
				step.Superseded = append(step.Superseded, o)
			}
		}
	}
	return step
}

// WarningKey names one warning for one lease end, so an extension (a new
// end) arms the warnings again and a restart does not repeat them.
func WarningKey(r *ServerRequest, offset time.Duration) string {
	return fmt.Sprintf("lease-warn:%s:%d:%s", r.ID, r.LeaseEnd.Unix(), offset)
}

// ApprovalStep is what is due for one pending approval at an instant.
type ApprovalStep struct {
	Expire    bool
	RemindKey string // non-empty: a reminder is due, recorded under this key
}

// DueApproval says what is due for a pending approval at now: expiry once
// its time is up, otherwise a reminder every period since it was opened.
func DueApproval(now time.Time, a *Approval, every time.Duration) ApprovalStep {
	if a.State != ApprovalPending {
		return ApprovalStep{}
	}
	if !now.Before(a.ExpiresAt) {
		return ApprovalStep{Expire: true}
	}
	if every <= 0 {
		return ApprovalStep{}
	}
	n := int(now.Sub(a.CreatedAt) / every)
	if n < 1 {
		return ApprovalStep{}
	}
	return ApprovalStep{RemindKey: fmt.Sprintf("approval-remind:%s:%d", a.ID, n)}
}

// TickReport counts what one tick did.
type TickReport struct {
	Warnings, Ends, Reminders, Expired int
}

func (r *TickReport) add(o TickReport) {
	r.Warnings += o.Warnings
	r.Ends += o.Ends
	r.Reminders += o.Reminders
	r.Expired += o.Expired
}

// Tick does what is due now for every lease and pending approval: lease
// warnings, end-of-lease actions, approval reminders and expiry. It reads
// only the leases and approvals whose stored due time has come (see
// due.go). Each subject is handled in its own transaction, and what was
// sent is recorded there with the subject's next due time, so a crash or
// restart neither repeats nor skips anything.
func (s *Servers) Tick(ctx context.Context) (TickReport, error) {
	var rep TickReport
	var leases, apps []string
	now := s.Clock.Now()
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		if leases, err = tx.DueSubjects(DueKindLease, now); err != nil {
			return err
		}
		apps, err = tx.DueSubjects(DueKindApproval, now)
		return err
	}); err != nil {
		return rep, fmt.Errorf("load due leases and approvals: %w", err)
	}
	leases, err := settle(ctx, s.Store, s.Clock, DueKindLease, leases, s.lookLease)
	if err != nil {
		return rep, err
	}
	for _, id := range leases {
		// One lease that cannot be handled must not hold up the others.
		if err := s.tickLease(ctx, id, &rep); err != nil {
			s.Log.ErrorContext(ctx, "lease tick", "request", id, "err", err)
		}
	}
	apps, err = settle(ctx, s.Store, s.Clock, DueKindApproval, apps, s.lookApproval)
	if err != nil {
		return rep, err
	}
	for _, id := range apps {
		if err := s.tickApproval(ctx, id, &rep); err != nil {
			s.Log.ErrorContext(ctx, "approval tick", "approval", id, "err", err)
		}
	}
	return rep, nil
}

// lookLease says whether anything is due for a lease at now, or else when
// it next may be.
func (s *Servers) lookLease(tx Tx, id string, now time.Time) (time.Time, bool, error) {
	r, err := tx.Request(id)
	if err != nil {
		return time.Time{}, false, err
	}
	team, tpl, err := s.teamAndTemplate(r)
	if err != nil {
		// Nothing can be decided for it under this config; a new config
		// comes with a restart, which looks again.
		s.Log.Warn("skip lease until the config changes", "request", r.ID, "err", err)
		return DueNever, false, nil
	}
	lc := Lifecycle(team, tpl)
	if step := DueLease(now, r, lc); step.Warn != 0 || step.End {
		return time.Time{}, true, nil
	}
	off, err := s.planOffHours(tx, team, tpl, r, now)
	if err != nil {
		return time.Time{}, false, err
	}
	if off.due() {
		return time.Time{}, true, nil
	}
	return earliest(NextLeaseDue(r, lc, now), off.next), false, nil
}

// lookApproval says whether anything is due for an approval at now, or
// else when it next may be.
func (s *Servers) lookApproval(tx Tx, id string, now time.Time) (time.Time, bool, error) {
	a, err := tx.Approval(id)
	if err != nil {
		return time.Time{}, false, err
	}
	if a.State != ApprovalPending {
		return time.Time{}, false, nil
	}
	team, ok := s.Catalog.Team(a.Team)
	if !ok {
		return DueNever, false, nil
	}
	every := team.Policy.Access.RemindEvery
	if step := DueApproval(now, a, every); step.Expire || step.RemindKey != "" {
		return time.Time{}, true, nil
	}
	return NextApprovalDue(a, every, now), false, nil
}

func (s *Servers) tickLease(ctx context.Context, id string, rep *TickReport) error {
	var got TickReport
	err := s.update(ctx, func(tx Tx) error {
		got = TickReport{} // the transaction may run again: count afresh
		now := s.Clock.Now()
		r, err := tx.Request(id)
		if err != nil {
			return err
		}
		team, tpl, err := s.teamAndTemplate(r)
		if err != nil {
			return err
		}
		lc := Lifecycle(team, tpl)
		step := DueLease(now, r, lc)
		if step.End && s.DryRun {
			// A dry-run end is recorded once per lease end: nothing more is
			// due until the lease changes.
			if err := tx.SetDue(DueKindLease, r.ID, DueNever); err != nil {
				return err
			}
			return s.dryRunEnd(tx, r, step.Action, "its lease ended", now)
		}
		off, err := s.planOffHours(tx, team, tpl, r, now)
		if err != nil {
			return err
		}
		// Everything due at now is handled below, in this transaction.
		if err := tx.SetDue(DueKindLease, r.ID, earliest(NextLeaseDue(r, lc, now), off.next)); err != nil {
			return err
		}
		if !step.End && off.due() {
			if err := s.tickOffHours(tx, team, r, off, now); err != nil {
				return err
			}
		}
		if step.End {
			r.EndingAt, r.UpdatedAt = now, now
			if err := tx.SaveRequest(r); err != nil {
				return err
			}
			// Its end is under way: nothing more is due until it is saved.
			if err := tx.SetDue(DueKindLease, r.ID, time.Time{}); err != nil {
				return err
			}
			if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "lease.end", Subject: r.ID, Detail: string(step.Action)}); err != nil {
				return err
			}
			// An extension still waiting for approvers can no longer take
			// effect (an approval now would be voided): it is closed now,
			// so it neither reminds the approvers nor holds its cost out
			// of the budget until it expires.
			pending, err := tx.Approvals(ApprovalFilter{RequestID: r.ID, States: []ApprovalState{ApprovalPending}})
			if err != nil {
				return err
			}
			for _, a := range pending {
				if err := s.void(tx, team, a, r, fmt.Sprintf("%s's lease ended before the extension was decided", r.ID), now); err != nil {
					return err
				}
			}
			got.Ends++
			return tx.Enqueue(Job{Kind: JobEnd, Key: JobEnd + ":" + r.ID, Payload: r.ID + " " + string(step.Action), RunAt: now})
		}
		for _, o := range step.Superseded {
			if _, err := tx.MarkSent(WarningKey(r, o), now); err != nil {
				return err
			}
		}
		if step.Warn == 0 {
			return nil
		}
		fresh, err := tx.MarkSent(WarningKey(r, step.Warn), now)
		if err != nil || !fresh {
			return err
		}
		got.Warnings++
		budget, err := budgetOf(tx, team, now)
		if err != nil {
			return err
		}
		m := warningMessage(team, r, lc, budget, now)
		if s.DryRun {
			m.Note = DryRunNote
		}
		return enqueueMessage(tx, m, now)
	})
	if err == nil {
		rep.add(got)
	}
	return err
}

func (s *Servers) tickApproval(ctx context.Context, id string, rep *TickReport) error {
	var got TickReport
	err := s.update(ctx, func(tx Tx) error {
		got = TickReport{} // the transaction may run again: count afresh
		now := s.Clock.Now()
		a, err := tx.Approval(id)
		if err != nil {
			return err
		}
		team, ok := s.Catalog.Team(a.Team)
		if !ok {
			return nil
		}
		every := team.Policy.Access.RemindEvery
		step := DueApproval(now, a, every)
		r, err := tx.Request(a.RequestID)
		if err != nil {
			return err
		}
		if step.Expire {
			got.Expired++
			if err := s.expire(tx, team, a, r, now); err != nil {
				return err
			}
			return tx.SetDue(DueKindApproval, a.ID, time.Time{})
		}
		// What is due at now is handled below, in this transaction.
		if err := tx.SetDue(DueKindApproval, a.ID, NextApprovalDue(a, every, now)); err != nil {
			return err
		}
		if step.RemindKey == "" {
			return nil
		}
		fresh, err := tx.MarkSent(step.RemindKey, now)
		if err != nil || !fresh {
			return err
		}
		a.RemindedAt = now
		if err := tx.SaveApproval(a); err != nil {
			return err
		}
		if err := tx.SetDue(DueKindApproval, a.ID, NextApprovalDue(a, every, now)); err != nil {
			return err
		}
		got.Reminders++
		return enqueueMessage(tx, Message{
			Channel: team.ApprovalsChannel,
			Thread:  "approval:" + a.ID,
			Text: fmt.Sprintf("%s has waited %s for a decision (%s, %s). It expires %s.",
				a.RequestID, FormatDuration(now.Sub(a.CreatedAt)), a.Kind, a.Cost, team.LocalTime(a.ExpiresAt)),
			Mention: team.Approvers,
		}, now)
	})
	if err == nil {
		rep.add(got)
	}
	return err
}
