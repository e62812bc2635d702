package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// openApproval creates an approval for team's approvers and queues the
// message that asks them.
func (s *Servers) openApproval(tx Tx, team *Team, r *ServerRequest, initiator Person, kind ApprovalKind, extend time.Duration, reason string, cost Money, budget BudgetSummary, now time.Time) (*Approval, error) {
	id, err := tx.NextID("apr")
	if err != nil {
		return nil, err
	}
	acc := team.Policy.Access
	a := &Approval{
		ID: id, RequestID: r.ID, Kind: kind, Team: team.Name, Requester: r.Owner, Initiator: initiator, Extend: extend,
		Reason: reason, Cost: cost, Required: RequiredApprovals(acc.Tiers, cost), State: ApprovalPending,
		CreatedAt: now, ExpiresAt: now.Add(acc.ApprovalTimeout),
	}
	if over := budget.Overrun(budget.Reserved, cost); over > 0 {
		a.Overrun = over
	}
	if err := tx.CreateApproval(a); err != nil {
		return nil, err
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: initiator.String(), Action: "approval.open", Subject: a.ID, Reason: reason,
		Detail: fmt.Sprintf("%s %s cost=%s required=%d overrun=%s", kind, r.ID, cost, a.Required, a.Overrun)}); err != nil {
		return nil, err
	}
	if err := RefreshHome(tx, now, team.Approvers...); err != nil {
		return nil, err
	}
	// The message shows the budget with this approval's reservation in it.
	held, err := budgetOf(tx, team, now)
	if err != nil {
		return nil, err
	}
	return a, enqueueMessage(tx, approvalMessage(team, r, a, nil, held, now), now)
}

// DecideResult says what a vote did.
type DecideResult struct {
	Approval *Approval
	Request  *ServerRequest
	// Waiting is how many more approvals are needed; zero once decided.
	Waiting int
}

// Decide records an approver's vote. The requester never decides their own
// request; only the team's approvers decide; a decided approval stays
// decided, so a double click or two approvers at once give one outcome.
func (s *Servers) Decide(ctx context.Context, actor Person, approvalID string, approve bool, reason string) (*DecideResult, error) {
	res := &DecideResult{}
	var expired bool
	err := s.update(ctx, func(tx Tx) error {
		*res, expired = DecideResult{}, false // a retried transaction starts again
		now := s.Clock.Now()
		a, err := tx.Approval(strings.TrimSpace(approvalID))
		if errors.Is(err, ErrNotFound) {
			return Errorf(ENotFound, "There is no approval %s.", approvalID)
		}
		if err != nil {
			return err
		}
		team, ok := s.Catalog.Team(a.Team)
		if !ok {
			return Errorf(EConflict, "Team %s of %s is no longer in the config; nobody can decide it.", a.Team, a.ID)
		}
		if samePerson(a.Requester, actor) {
			return Errorf(EForbidden, "You cannot decide your own request (%s); another approver of team %s must.", a.RequestID, team.Name)
		}
		if samePerson(a.Initiator, actor) {
			return Errorf(EForbidden, "You asked for this yourself (%s), so you cannot decide it; another approver of team %s must.",
				approvalWhat(a), team.Name)
		}
		if gone, err := Departed(tx, actor); err != nil || gone {
			if err == nil {
				err = DepartedAnswer(actor)
			}
			return err
		}
		if !team.IsApprover(actor) {
			return Errorf(EForbidden, "Only team %s's approvers can decide %s.", team.Name, a.RequestID)
		}
		if a.State != ApprovalPending {
			return Errorf(EConflict, "%s was already %s%s.", a.RequestID, a.State, decidedBy(team, a))
		}
		r, err := tx.Request(a.RequestID)
		if err != nil {
			return fmt.Errorf("load %s: %w", a.RequestID, err)
		}
		if !now.Before(a.ExpiresAt) {
			expired = true
			return s.expire(tx, team, a, r, now)
		}
		vote := Decision{ApprovalID: a.ID, Approver: actor, Approve: approve, Reason: reason, At: now}
		if err := tx.AddDecision(vote); errors.Is(err, ErrDuplicate) {
			return Errorf(EConflict, "You already voted on %s; it waits for another approver.", a.RequestID)
		} else if err != nil {
			return err
		}
		action := "approval.approve"
		if !approve {
			action = "approval.deny"
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: action, Subject: a.ID, Reason: reason, Detail: a.RequestID}); err != nil {
			return err
		}
		votes, err := tx.Decisions(a.ID)
		if err != nil {
			return err
		}
		res.Approval, res.Request = a, r
		if err := RefreshHome(tx, now, team.Approvers...); err != nil {
			return err
		}
		switch Tally(a, votes) {
		case ApprovalPending:
			res.Waiting = a.Required - approvalsIn(votes)
			budget, err := budgetOf(tx, team, now)
			if err != nil {
				return err
			}
			err = enqueueMessage(tx, approvalMessage(team, r, a, votes, budget, now), now)
		case ApprovalApproved:
			err = s.approve(tx, team, a, r, actor, votes, now)
		default:
			err = s.deny(tx, team, a, r, actor, reason, votes, now)
		}
		if err != nil {
			return err
		}
		return queueAnswer(ctx, tx, res, now)
	})
	if err != nil {
		return nil, err
	}
	if expired {
		return nil, Errorf(EConflict, "%s expired before it was decided; the requester has been told.", approvalID)
	}
	return res, nil
}

func approvalsIn(votes []Decision) int {
	n := 0
	for _, v := range votes {
		if v.Approve {
			n++
		}
	}
	return n
}

func decidedBy(team *Team, a *Approval) string {
	if len(a.DecidedBy) == 0 || a.DecidedAt.IsZero() {
		return ""
	}
	return fmt.Sprintf(" by %s at %s", mentions(a.DecidedBy), team.LocalTime(a.DecidedAt))
}

func (s *Servers) approve(tx Tx, team *Team, a *Approval, r *ServerRequest, actor Person, votes []Decision, now time.Time) error {
	if a.Kind == ApproveExtension {
		// The lease may have moved on while the approval waited. A server
		// stopped within its lease may be extended, as Extend allows.
		if (r.State != StateRunning && !r.Parked()) || !r.EndingAt.IsZero() {
			return s.void(tx, team, a, r, fmt.Sprintf("%s is %s and can no longer be extended", r.ID, r.State.Words()), now)
		}
		if tpl, ok := s.Catalog.Template(r.Template); ok {
			if c := CheckExtension(now, r, Lifecycle(team, tpl), a.Extend); c.Refused != "" {
				return s.void(tx, team, a, r, c.Refused, now)
			}
		}
	}
	if a.Kind == ApproveLaunch {
		// The approval binds the snapshot taken at the request; if the
		// policy has changed so that it no longer passes, the approval
		// cannot take effect.
		if why := s.snapshotRefusal(team, r); why != "" {
			if err := r.Move(StateDenied, "the approval was voided: "+why, now); err != nil {
				return err
			}
			if err := tx.SaveRequest(r); err != nil {
				return err
			}
			return s.void(tx, team, a, r, why, now)
		}
	}
	if err := recheckBudget(tx, team, a, r, now); err != nil {
		return err
	}
	a.State, a.DecidedAt = ApprovalApproved, now
	for _, v := range votes {
		a.DecidedBy = append(a.DecidedBy, v.Approver)
	}
	if err := tx.SaveApproval(a); err != nil {
		return err
	}
	switch a.Kind {
	case ApproveLaunch:
		if err := s.approveLaunch(tx, team, r, actor.String(), "approved by "+names(a.DecidedBy), now); err != nil {
			return err
		}
	case ApproveExtension:
		if err := s.applyExtension(tx, team, r, actor, a.Extend, a.Reason, a.Cost, true, now); err != nil {
			return err
		}
	}
	return announceDecision(tx, team, r, a, votes, now)
}

// recheckBudget checks, in the transaction that would commit it, that
// approving a still fits a budget that denies overruns. Open requests
// keep their place in line: a is weighed against what is committed and
// what requests opened before it reserve, not against later ones. Over
// budget, the vote is refused and nothing is recorded: the approval stays
// open until someone denies it, it expires, or budget is given back.
func recheckBudget(tx Tx, team *Team, a *Approval, r *ServerRequest, now time.Time) error {
	if team.Policy.Financial.OverBudget != OverBudgetDeny {
		return nil
	}
	budget, err := budgetOf(tx, team, now)
	if err != nil {
		return err
	}
	open, err := openApprovals(tx, team, now)
	if err != nil {
		return err
	}
	var earlier Money
	n := 0
	for _, x := range open {
		if x.ID != a.ID && openedBefore(x, a) {
			earlier += x.Cost
			n++
		}
	}
	over := budget.Overrun(earlier, a.Cost)
	if over <= 0 {
		return nil
	}
	what := "this request"
	subject := r.ID
	if a.Kind == ApproveExtension {
		what, subject = "this extension", "extending "+r.ID+" by "+FormatDuration(a.Extend)
	}
	return Errorf(ERefused, "Approving %s would take team %s %s over its budget for %s (%s), and the team's policy denies spending over budget. Nothing was approved: %s stays open until it is denied or expires, or until budget is given back.",
		subject, team.Name, over.CentsUp(), budget.Month, budget.Numbers(earlier, n, a.Cost, what), a.ID)
}

func (s *Servers) deny(tx Tx, team *Team, a *Approval, r *ServerRequest, actor Person, reason string, votes []Decision, now time.Time) error {
	a.State, a.DecidedAt, a.DecidedBy, a.Note = ApprovalDenied, now, []Person{actor}, reason
	if err := tx.SaveApproval(a); err != nil {
		return err
	}
	if a.Kind == ApproveLaunch {
		why := "denied by " + actor.String()
		if reason != "" {
			why += ": " + reason
		}
		if err := r.Move(StateDenied, why, now); err != nil {
			return err
		}
		if err := tx.SaveRequest(r); err != nil {
			return err
		}
	}
	return announceDecision(tx, team, r, a, votes, now)
}

// expire closes an approval nobody decided in time.
func (s *Servers) expire(tx Tx, team *Team, a *Approval, r *ServerRequest, now time.Time) error {
	a.State, a.DecidedAt = ApprovalExpired, now
	if err := tx.SaveApproval(a); err != nil {
		return err
	}
	if a.Kind == ApproveLaunch && r.State == StatePending {
		if err := r.Move(StateExpired, "nobody decided within "+FormatDuration(team.Policy.Access.ApprovalTimeout), now); err != nil {
			return err
		}
		if err := tx.SaveRequest(r); err != nil {
			return err
		}
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "approval.expire", Subject: a.ID, Detail: a.RequestID}); err != nil {
		return err
	}
	return announceDecision(tx, team, r, a, nil, now)
}

func names(ps []Person) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return strings.Join(out, ", ")
}

// void closes an approval that can no longer take effect, as expired,
// saying why on its message and to the requester.
func (s *Servers) void(tx Tx, team *Team, a *Approval, r *ServerRequest, why string, now time.Time) error {
	a.State, a.DecidedAt, a.Note = ApprovalExpired, now, why
	if err := tx.SaveApproval(a); err != nil {
		return err
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "approval.void", Subject: a.ID, Reason: why, Detail: a.RequestID}); err != nil {
		return err
	}
	return announceDecision(tx, team, r, a, nil, now)
}

// announceDecision tells everyone about a decided approval: its message is
// edited in place, the requester gets a DM, and the approvers' Home tabs
// are refreshed.
func announceDecision(tx Tx, team *Team, r *ServerRequest, a *Approval, votes []Decision, now time.Time) error {
	if err := RefreshHome(tx, now, team.Approvers...); err != nil {
		return err
	}
	budget, err := budgetOf(tx, team, now)
	if err != nil {
		return err
	}
	if err := enqueueMessage(tx, approvalMessage(team, r, a, votes, budget, now), now); err != nil {
		return err
	}
	return enqueueMessage(tx, decisionDM(team, r, a, budget), now)
}

// approvalWhat names what an approval decides, for people.
func approvalWhat(a *Approval) string {
	if a.Kind == ApproveExtension {
		return "extending " + a.RequestID + " by " + FormatDuration(a.Extend)
	}
	return "the new server " + a.RequestID
}

// interested are the people who may not vote on a: the server's owner and
// whoever asked.
func (a *Approval) interested() []Person {
	if a.Initiator == (Person{}) {
		return []Person{a.Requester}
	}
	return []Person{a.Requester, a.Initiator}
}
