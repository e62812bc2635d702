package workflows

import (
	"context"
	"fmt"
	"time"
)

// Reconcile compares opsbot's leases with what EC2 says. An instance
// terminated outside opsbot closes its lease and gives back the unused
// budget; one stopped or started outside is recorded and its owner told;
// a new launch time (a stop and start outside opsbot) is recorded, so the
// guard in front of stop and terminate still knows the instance. Launches
// still in progress are left to their own checks: EC2 may not describe a
// fresh instance yet.
func (s *Servers) Reconcile(ctx context.Context) (closed int, err error) {
	var reqs []*ServerRequest
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		reqs, err = tx.Requests(RequestFilter{States: []State{StateRunning, StateStopped}})
		return err
	}); err != nil {
		return 0, fmt.Errorf("load leases: %w", err)
	}
	type place struct{ account, region string }
	byPlace := map[place][]string{}
	for _, r := range reqs {
		if r.Instance.ID != "" {
			p := place{r.Instance.Account, r.Instance.Region}
			byPlace[p] = append(byPlace[p], r.Instance.ID)
		}
	}
	seen := map[string]Instance{}
	for p, ids := range byPlace {
		found, err := s.Provisioner.Describe(ctx, p.account, p.region, ids)
		if err != nil {
			return closed, fmt.Errorf("describe %d instances in %s %s: %w", len(ids), cmpOr(p.account, "the default account"), p.region, err)
		}
		for _, in := range found {
			seen[in.ID] = in
		}
	}
	for _, r := range reqs {
		if r.Instance.ID == "" {
			continue
		}
		got, ok := seen[r.Instance.ID]
		if ok && (got.Tags[TagManaged] != "true" || got.Tags[TagRequest] != r.ID) {
			ok = false // the ID now names something else: ours is gone
		}
		changed, err := s.reconcileOne(ctx, r.ID, got, ok)
		if err != nil {
			s.Log.ErrorContext(ctx, "reconcile", "request", r.ID, "err", err)
			continue
		}
		if changed {
			closed++
		}
	}
	return closed, nil
}

func (s *Servers) reconcileOne(ctx context.Context, id string, got Instance, exists bool) (bool, error) {
	changed := false
	err := s.update(ctx, func(tx Tx) error {
		changed = false // a retried transaction starts again
		now := s.Clock.Now()
		r, err := tx.Request(id)
		if err != nil {
			return err
		}
		if r.State.Final() {
			return nil
		}
		if exists && !got.LaunchTime.IsZero() && !got.LaunchTime.Equal(r.Instance.LaunchTime) {
			if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "reconcile.relaunched", Subject: r.ID,
				Detail: fmt.Sprintf("%s launch time %s → %s", r.Instance.ID, r.Instance.LaunchTime.Format(time.RFC3339), got.LaunchTime.Format(time.RFC3339))}); err != nil {
				return err
			}
			r.Instance.LaunchTime = got.LaunchTime
			if err := tx.SaveRequest(r); err != nil {
				return err
			}
		}
		if !r.EndingAt.IsZero() {
			return nil // an end is under way; it reports what it finds
		}
		team, _, err := s.teamAndTemplate(r)
		if err != nil {
			return err
		}
		gone := !exists || got.State == InstanceTerminated || got.State == InstanceShuttingDown
		stopped := exists && (got.State == InstanceStopped || got.State == InstanceStopping)
		var head, action string
		switch {
		case gone:
			if err := r.Move(StateTerminated, "terminated outside opsbot", now); err != nil {
				return err
			}
			if now.Before(r.LeaseEnd) {
				r.LeaseEnd = now
			}
			if err := refundUnused(tx, team, r, now); err != nil {
				return err
			}
			head, action = r.Instance.ID+" was terminated outside opsbot; its lease is closed and the unused budget given back.", "reconcile.terminated"
			if s.Terminated != nil {
				if err := s.Terminated(tx, r, now); err != nil {
					return err
				}
			}
		case stopped && r.State == StateRunning:
			if err := r.Move(StateStopped, "stopped outside opsbot", now); err != nil {
				return err
			}
			head, action = r.Instance.ID+" was stopped outside opsbot. Its lease still runs until "+team.LocalTime(r.LeaseEnd)+".", "reconcile.stopped"
		case exists && got.State == InstanceRunning && r.State == StateStopped:
			if err := r.Move(StateRunning, "started outside opsbot", now); err != nil {
				return err
			}
			r.Instance.State = got.State
			// A stop opsbot made within the lease saves nothing from now.
			if err := tx.EndPark(r.ID, now); err != nil {
				return err
			}
			head, action = r.Instance.ID+" was started again outside opsbot.", "reconcile.started"
		default:
			return nil
		}
		changed = true
		if err := tx.SaveRequest(r); err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: action, Subject: r.ID, Detail: r.Instance.ID + " " + string(got.State)}); err != nil {
			return err
		}
		budget, err := budgetOf(tx, team, now)
		if err != nil {
			return err
		}
		return enqueueMessage(tx, leaseMessage(team, r, budget, head, now), now)
	})
	return changed, err
}
