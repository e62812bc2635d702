package workflows

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// JobHome refreshes one person's App Home; payload: their Slack user ID
// or email.
const JobHome = "home.publish"

// Home is one person's overview, shown on their App Home tab: their
// servers, their requests waiting for approval, the approvals waiting on
// them, their team's budget and the open incidents.
type Home struct {
	Person  Person
	Team    *Team // nil when they are in no team
	Servers []*ServerRequest
	// Handed are the servers handed to a team they approve for (their
	// owner left): its approvers look after them.
	Handed    []*ServerRequest
	Pending   []*ServerRequest
	Approvals []*Approval
	Budget    *BudgetSummary
	Incidents []*Incident
	// Runbooks are buttons that open the forms of the runbooks the
	// person may run (workflows/runbooks); the App fills them in.
	Runbooks []Action
	Now      time.Time
}

// Home gathers a person's overview in one read transaction.
func (s *Servers) Home(ctx context.Context, p Person) (Home, error) {
	h := Home{Person: p, Now: s.Clock.Now()}
	if team, ok := s.Catalog.TeamOf(p); ok {
		h.Team = team
	}
	err := s.Store.View(ctx, func(tx Tx) error {
		mine, err := tx.Requests(RequestFilter{Owner: p, States: []State{StatePending, StateApproved, StateProvisioning, StateRunning, StateStopped}})
		if err != nil {
			return err
		}
		for _, r := range mine {
			if r.State == StatePending {
				h.Pending = append(h.Pending, r)
			} else {
				h.Servers = append(h.Servers, r)
			}
		}
		if h.Team != nil {
			b, err := budgetOf(tx, h.Team, h.Now)
			if err != nil {
				return err
			}
			h.Budget = &b
		}
		for _, team := range s.Catalog.Teams {
			if !team.IsApprover(p) {
				continue
			}
			rs, err := tx.Requests(RequestFilter{Team: team.Name, States: []State{StateProvisioning, StateRunning, StateStopped}})
			if err != nil {
				return err
			}
			for _, r := range rs {
				if r.TeamOwned() {
					h.Handed = append(h.Handed, r)
				}
			}
			as, err := tx.Approvals(ApprovalFilter{Team: team.Name, States: []ApprovalState{ApprovalPending}})
			if err != nil {
				return err
			}
			for _, a := range as {
				if !mayVote(a, p) {
					continue
				}
				votes, err := tx.Decisions(a.ID)
				if err != nil {
					return err
				}
				if !votedBy(votes, p) {
					h.Approvals = append(h.Approvals, a)
				}
			}
		}
		open, err := tx.Incidents(IncidentFilter{Open: true})
		for _, inc := range open {
			if inc.VisibleTo(p) { // private incidents only to their people
				h.Incidents = append(h.Incidents, inc)
			}
		}
		return err
	})
	if err != nil {
		return Home{}, fmt.Errorf("gather home of %s: %w", p, err)
	}
	return h, nil
}

// RefreshHome queues a refresh of people's App Home tabs. Refreshes of
// one person coalesce: a waiting refresh is replaced, not repeated.
func RefreshHome(tx Tx, now time.Time, people ...string) error {
	for _, p := range people {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if err := tx.Enqueue(Job{Kind: JobHome, Key: JobHome + ":" + strings.ToLower(p), Payload: p, RunAt: now}); err != nil {
			return err
		}
	}
	return nil
}

// RequestHome queues a refresh outside any workflow transaction, when a
// person opens their Home tab.
func RequestHome(ctx context.Context, store Store, now time.Time, person string) error {
	return store.Update(ctx, func(tx Tx) error { return RefreshHome(tx, now, person) })
}
