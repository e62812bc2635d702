package workflows

import (
	"context"
	"fmt"
	"time"
)

// ExtendResult says what became of an extension.
type ExtendResult struct {
	Request  *ServerRequest
	Approval *Approval // set when the extension waits for approvers
	Budget   BudgetSummary
}

// ExtensionCheck is the policy's answer to an extension: allowed as
// self-service, allowed with an approver, or refused with a reason.
type ExtensionCheck struct {
	NewEnd       time.Time
	NeedApproval string // why approvers must decide; empty for self-service
	Refused      string // why it cannot be done at all
}

// CheckExtension applies the lifecycle policy to extending r by d at now.
// Past the maximum lifetime it is refused; beyond the longest lease or the
// self-service extensions it needs an approver.
func CheckExtension(now time.Time, r *ServerRequest, lc LifecyclePolicy, d time.Duration) ExtensionCheck {
	base := r.LeaseEnd
	if base.Before(now) {
		base = now
	}
	c := ExtensionCheck{NewEnd: base.Add(d)}
	if life := c.NewEnd.Sub(r.LeaseStart); life > lc.MaxLifetime {
		c.Refused = fmt.Sprintf("%s would then have lived %s, past the maximum lifetime of %s for its template. Release it and request a new server.",
			r.ID, FormatDuration(life), FormatDuration(lc.MaxLifetime))
		return c
	}
	switch {
	case d > lc.MaxLease:
		c.NeedApproval = fmt.Sprintf("%s is more than the %s one can extend by without an approver", FormatDuration(d), FormatDuration(lc.MaxLease))
	case r.Extensions >= lc.MaxExtensions:
		c.NeedApproval = fmt.Sprintf("all %s have been used", plural(lc.MaxExtensions, "self-service extension"))
	}
	return c
}

// Extend lengthens a lease: at once within policy and budget, through the
// team's approvers beyond them, never past the maximum lifetime.
func (s *Servers) Extend(ctx context.Context, actor Person, id string, d time.Duration, reason string) (*ExtendResult, error) {
	return s.ExtendFrom(ctx, actor, id, d, reason, time.Time{})
}

// ExtendFrom is Extend bound to the lease end a button or form was drawn
// for: when the lease no longer ends then (it was extended meanwhile, or
// the click is a double click or a replay) nothing changes and the person
// is told. A zero drawnFor binds nothing.
func (s *Servers) ExtendFrom(ctx context.Context, actor Person, id string, d time.Duration, reason string, drawnFor time.Time) (*ExtendResult, error) {
	res := &ExtendResult{}
	err := s.update(ctx, func(tx Tx) error {
		*res = ExtendResult{} // a retried transaction starts again
		now := s.Clock.Now()
		r, err := s.ownedRequest(tx, actor, id)
		if err != nil {
			return err
		}
		if r.State == StateStopped && !r.Parked() {
			return Errorf(EConflict, "%s is stopped, so its lease cannot be extended. To use it again, press Start again in the message about its stop (or on opsbot's Home tab): that asks for a new lease through the usual policy and approval. Release gives its budget back.", r.ID)
		}
		if r.State != StateRunning && !r.Parked() {
			return Errorf(EConflict, "%s is %s; only a running server's lease (or one stopped within it) can be extended.", r.ID, r.State.Words())
		}
		if !r.EndingAt.IsZero() {
			return Errorf(EConflict, "%s's lease has ended and it is being stopped; request a new server.", r.ID)
		}
		team, tpl, err := s.teamAndTemplate(r)
		if err != nil {
			return err
		}
		if tpl == nil {
			return Errorf(EConflict, "Template %s of %s is no longer in the config, so its lease cannot be extended; it still ends as the team's policy says, and `/ops lease release %s` gives it back now.", r.Template, r.ID, r.ID)
		}
		if !drawnFor.IsZero() && r.LeaseEnd.Unix() != drawnFor.Unix() {
			return Errorf(EConflict, "%s's lease changed since this button was drawn: it now ends %s, not %s. Nothing was changed. To extend it further, use the button on the newest message or `/ops lease extend %s DURATION`.",
				r.ID, team.LocalTime(r.LeaseEnd), team.LocalTime(drawnFor), r.ID)
		}
		pending, err := tx.Approvals(ApprovalFilter{RequestID: r.ID, States: []ApprovalState{ApprovalPending}})
		if err != nil {
			return err
		}
		if len(pending) > 0 {
			return Errorf(EConflict, "%s already has an extension waiting for approval (%s).", r.ID, pending[0].ID)
		}
		check := CheckExtension(now, r, Lifecycle(team, tpl), d)
		if check.Refused != "" {
			return Errorf(ERefused, "%s", check.Refused)
		}
		// The lease gains the time from its old end: in the grace after
		// the end, the minutes already past it are billed to the lease
		// (its cost so far counts them), so they are committed too.
		cost := r.HourlyRate.For(check.NewEnd.Sub(maxTime(r.LeaseEnd, r.LeaseStart)).Hours())
		budget, err := budgetOf(tx, team, now)
		if err != nil {
			return err
		}
		over := budget.Overrun(budget.Reserved, cost)
		fits := over <= 0
		if !fits && team.Policy.Financial.OverBudget == OverBudgetDeny {
			return Errorf(ERefused, "Extending %s by %s would take team %s %s over its budget for %s (%s), and its policy denies spending over budget. Nothing was changed.",
				r.ID, FormatDuration(d), team.Name, over.CentsUp(), budget.Month, budget.Numbers(budget.Reserved, budget.Open, cost, "this extension"))
		}
		if !fits && check.NeedApproval == "" {
			check.NeedApproval = fmt.Sprintf("it costs %s and team %s has %s left", cost, team.Name, budget.Remaining())
		}
		res.Request = r
		if check.NeedApproval != "" {
			why := reason
			if why == "" {
				why = "(no reason given)"
			}
			if n, need := eligibleApprovers(team, r.Owner, actor), RequiredApprovals(team.Policy.Access.Tiers, cost); n < need {
				others := "no approver"
				if n > 0 {
					others = "only " + plural(n, "approver")
				}
				return Errorf(ERefused, "Extending %s by %s needs %s, because %s, and team %s has %s besides the server's owner and you, so nobody could approve it. Nothing was changed.",
					r.ID, FormatDuration(d), plural(need, "approval"), check.NeedApproval, team.Name, others)
			}
			a, err := s.openApproval(tx, team, r, actor, ApproveExtension, d, why, cost, budget, now)
			if err != nil {
				return err
			}
			a.Note = check.NeedApproval
			res.Approval = a
		} else if err := s.applyExtension(tx, team, r, actor, d, reason, cost, false, now); err != nil {
			return err
		}
		if res.Budget, err = budgetOf(tx, team, now); err != nil {
			return err
		}
		return queueAnswer(ctx, tx, res, now)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// applyExtension moves the lease end, commits the cost and queues the new
// lease-end tag.
func (s *Servers) applyExtension(tx Tx, team *Team, r *ServerRequest, by Person, d time.Duration, reason string, cost Money, approved bool, now time.Time) error {
	from := r.LeaseEnd
	to := maxTime(r.LeaseEnd, now).Add(d)
	// An extension approved in the grace after the end gains the minutes
	// past the end as well; they are billed, so they are committed.
	if gained := r.HourlyRate.For(to.Sub(maxTime(from, r.LeaseStart)).Hours()); gained > cost {
		cost = gained
	}
	r.LeaseEnd, r.UpdatedAt = to, now
	// The estimate is the whole lease at its hourly rate, so it follows
	// the new end: "so far of estimated" compares like with like.
	if !r.LeaseStart.IsZero() {
		r.Estimate = r.HourlyRate.For(to.Sub(r.LeaseStart).Hours())
	}
	if !approved {
		r.Extensions++
	}
	if err := tx.SaveRequest(r); err != nil {
		return err
	}
	if err := tx.AddExtension(Extension{RequestID: r.ID, By: by, From: from, To: to, Reason: reason, Cost: cost, Approved: approved, At: now}); err != nil {
		return err
	}
	if err := tx.AddLedger(LedgerEntry{Team: team.Name, Month: team.Month(now), RequestID: r.ID, Kind: LedgerExtend, Amount: cost, At: now}); err != nil {
		return err
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: by.String(), Action: "lease.extend", Subject: r.ID, Reason: reason,
		Detail: fmt.Sprintf("%s → %s, committed %s", from.Format(time.RFC3339), to.Format(time.RFC3339), cost)}); err != nil {
		return err
	}
	if err := tx.Enqueue(Job{Kind: JobRetag, Key: JobRetag + ":" + r.ID, Payload: r.ID, RunAt: now}); err != nil {
		return err
	}
	budget, err := budgetOf(tx, team, now)
	if err != nil {
		return err
	}
	return enqueueMessage(tx, leaseMessage(team, r, budget, fmt.Sprintf("Lease extended by %s to %s.", FormatDuration(d), team.LocalTime(to)), now), now)
}

// Release gives a server back before its lease ends: it is terminated and
// the unused part of its commitment returns to the budget.
func (s *Servers) Release(ctx context.Context, actor Person, id string) (*ServerRequest, error) {
	return s.release(ctx, actor, id, s.ownedRequest)
}

// release is Release of the request load gives the actor, or refuses.
func (s *Servers) release(ctx context.Context, actor Person, id string, load func(Tx, Person, string) (*ServerRequest, error)) (*ServerRequest, error) {
	var out *ServerRequest
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		r, err := load(tx, actor, id)
		if err != nil {
			return err
		}
		team, _, err := s.teamAndTemplate(r)
		if err != nil {
			return err
		}
		voidWhy := "the server was released"
		switch {
		case r.State == StatePending:
			// Still waiting for approvers: withdrawn, its approval closed
			// and its reservation freed.
			if err := r.Move(StateWithdrawn, "withdrawn by "+actor.String(), now); err != nil {
				return err
			}
			voidWhy = "the request was withdrawn by " + actor.String()
			if isOwner(r, actor) {
				voidWhy = "the request was withdrawn by its owner"
			}
		case r.State == StateApproved:
			// Not launched yet: the provisioning job will find it terminated
			// and launch nothing.
			if err := r.Move(StateTerminated, "released before launch by "+actor.String(), now); err != nil {
				return err
			}
		case r.State == StateProvisioning || r.State == StateRunning || r.State == StateStopped:
			if !r.EndingAt.IsZero() {
				return Errorf(EConflict, "%s is already being ended.", r.ID)
			}
			if s.DryRun && r.Instance.ID != "" {
				out = r
				return s.dryRunEnd(tx, r, EndTerminate, "released by "+actor.String(), now)
			}
			r.EndingAt, r.UpdatedAt = now, now
			if now.Before(r.LeaseEnd) || r.LeaseEnd.IsZero() {
				r.LeaseEnd = now
			}
			if err := tx.Enqueue(Job{Kind: JobEnd, Key: JobEnd + ":" + r.ID, Payload: r.ID + " " + string(EndTerminate), RunAt: now}); err != nil {
				return err
			}
		default:
			return Errorf(EConflict, "%s is %s; there is nothing to release.", r.ID, r.State.Words())
		}
		if err := tx.SaveRequest(r); err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "lease.release", Subject: r.ID}); err != nil {
			return err
		}
		// A pending extension of a server given back has nothing to decide.
		pending, err := tx.Approvals(ApprovalFilter{RequestID: r.ID, States: []ApprovalState{ApprovalPending}})
		if err != nil {
			return err
		}
		for _, a := range pending {
			if err := s.void(tx, team, a, r, voidWhy, now); err != nil {
				return err
			}
		}
		if err := refundUnused(tx, team, r, now); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// refundUnused gives back what r committed beyond what it has cost, as of
// now. Called once, when a lease ends early or is released.
func refundUnused(tx Tx, team *Team, r *ServerRequest, now time.Time) error {
	entries, err := tx.Ledger(LedgerFilter{RequestID: r.ID})
	if err != nil {
		return err
	}
	committed := Committed(entries)
	used := r.CostSoFar(now)
	refund := committed - used
	if refund <= 0 {
		return nil
	}
	for _, e := range Refunds(entries, refund) {
		e.Team, e.RequestID, e.At = team.Name, r.ID, now
		if err := tx.AddLedger(e); err != nil {
			return err
		}
	}
	return tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "budget.release", Subject: r.ID, Detail: "released " + refund.String()})
}

// teamAndTemplate returns r's team and template. A template removed from
// the config (renamed by a reload) gives a nil template, not an error: the
// server it launched still has a lease to warn about, end and release,
// under the team's policy (Lifecycle and OffHoursFor take a nil template).
func (s *Servers) teamAndTemplate(r *ServerRequest) (*Team, *Template, error) {
	team, ok := s.Catalog.Team(r.Team)
	if !ok {
		return nil, nil, Errorf(EConflict, "Team %s of %s is no longer in the config.", r.Team, r.ID)
	}
	tpl, _ := s.Catalog.Template(r.Template)
	return team, tpl, nil
}

// StartAgain asks for a new lease for the owner's stopped server: a new
// request from the same template and for the same duration, through the
// normal request path (policy, budget, approval when needed).
func (s *Servers) StartAgain(ctx context.Context, actor Person, id string) (*RequestResult, error) {
	var r *ServerRequest
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		r, err = s.ownedRequest(tx, actor, id)
		return err
	}); err != nil {
		return nil, err
	}
	if r.State == StateStopped && r.EndingAt.IsZero() && s.Clock.Now().Before(r.LeaseEnd) {
		// Stopped within its lease (off-hours, idle, outside opsbot):
		// started where it is, in the lease it has.
		return s.startInLease(ctx, actor, r.ID)
	}
	if !isOwner(r, actor) {
		return nil, Errorf(EForbidden, "Only %s's owner can start it again.", r.ID)
	}
	if r.State != StateStopped {
		return nil, Errorf(EConflict, "%s is %s; only a stopped server can be started again.", r.ID, r.State.Words())
	}
	return s.Request(ctx, actor, RequestInput{Template: r.Template, Duration: r.Duration, Reason: againReason(r.ID), Again: r.ID})
}

func againReason(id string) string { return "start again after " + id + " was stopped" }

// startedAgainAlready refuses a Start again of in.Again while the server
// an earlier Start again of it asked for is still waiting, launching or
// running: a double click (two clicks, not a replay) asks once.
func startedAgainAlready(tx Tx, actor Person, in RequestInput) error {
	live, err := tx.Requests(RequestFilter{Owner: actor, States: []State{StateRequested, StatePending, StateApproved, StateProvisioning, StateRunning}})
	if err != nil {
		return fmt.Errorf("read %s's servers: %w", actor, err)
	}
	for _, x := range live {
		if x.Reason == againReason(in.Again) && x.Template == in.Template {
			return Errorf(EConflict, "%s was started again already: %s is %s. Nothing new was asked for.", in.Again, x.ID, x.State.Words())
		}
	}
	return nil
}
