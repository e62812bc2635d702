package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AwaitEvery is how often a launching instance is checked until it runs.
const AwaitEvery = 10 * time.Second

// AwaitLimit is how long an instance may stay pending before the launch is
// reported as failed.
const AwaitLimit = 15 * time.Minute

// Handlers returns the servers workflow's job handlers.
func (s *Servers) Handlers() map[string]JobHandler {
	return map[string]JobHandler{
		JobProvision: s.provision,
		JobAwait:     s.await,
		JobEnd:       s.end,
		JobRetag:     s.retag,
		JobPark:      s.park,
	}
}

// provision launches an approved request. The client token was fixed at
// approval, so running this twice launches once.
func (s *Servers) provision(ctx context.Context, j Job) error {
	var spec LaunchSpec
	var skip bool
	err := s.update(ctx, func(tx Tx) error {
		skip = false // a retried transaction starts again
		now := s.Clock.Now()
		r, err := tx.Request(j.Payload)
		if err != nil {
			return Permanent(fmt.Errorf("load %s: %w", j.Payload, err))
		}
		team, ok := s.Catalog.Team(r.Team)
		if !ok {
			return Permanent(Errorf(EConflict, "Team %s of %s is no longer in the config.", r.Team, r.ID))
		}
		switch r.State {
		case StateApproved:
			// The config may have changed since the approval: launch what
			// was approved only if today's policy still allows it.
			if why := s.snapshotRefusal(team, r); why != "" {
				skip = true
				return s.voidBeforeLaunch(tx, team, r, why, now)
			}
			if err := r.Move(StateProvisioning, "launching", now); err != nil {
				return err
			}
			r.LeaseStart, r.LeaseEnd = now, now.Add(r.Duration)
			if err := tx.SaveRequest(r); err != nil {
				return err
			}
		case StateProvisioning:
			if r.Instance.ID != "" {
				skip = true // launched already; await takes it from here
				return nil
			}
		default:
			skip = true // released or failed meanwhile
			return nil
		}
		spec, err = s.launchOf(r, team, r.LeaseEnd)
		if err != nil {
			return Permanent(err)
		}
		return nil
	})
	if err != nil || skip {
		return err
	}
	inst, err := s.Provisioner.Launch(ctx, spec)
	if errors.Is(err, ErrDryRun) {
		return s.finishDryRun(ctx, spec.RequestID, err)
	}
	if err != nil {
		return fmt.Errorf("launch %s: %w", spec.RequestID, err)
	}
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		r, err := tx.Request(spec.RequestID)
		if err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "ec2.launch", Subject: r.ID,
			Detail: fmt.Sprintf("%s %s %s token=%s", inst.ID, inst.Region, spec.InstanceType, spec.ClientToken)}); err != nil {
			return err
		}
		if r.State != StateProvisioning {
			// Released while the launch was in flight: end what was started.
			r.Instance = inst
			if err := tx.SaveRequest(r); err != nil {
				return err
			}
			return tx.Enqueue(Job{Kind: JobEnd, Key: JobEnd + ":" + r.ID, Payload: r.ID + " " + string(EndTerminate), RunAt: now})
		}
		r.Instance, r.UpdatedAt = inst, now
		if inst.State == InstanceRunning {
			return s.markRunning(tx, r, inst, now)
		}
		if err := tx.SaveRequest(r); err != nil {
			return err
		}
		return tx.Enqueue(Job{Kind: JobAwait, Key: JobAwait + ":" + r.ID, Payload: r.ID, RunAt: now.Add(AwaitEvery)})
	})
}

func (s *Servers) finishDryRun(ctx context.Context, id string, cause error) error {
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		r, err := tx.Request(id)
		if err != nil {
			return err
		}
		team, _, err := s.teamAndTemplate(r)
		if err != nil {
			return err
		}
		if err := r.Move(StateTerminated, "dry run: EC2 confirmed the launch would succeed; nothing was created", now); err != nil {
			return err
		}
		r.LeaseEnd = now
		if err := tx.SaveRequest(r); err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "ec2.launch.dryrun", Subject: r.ID, Detail: cause.Error()}); err != nil {
			return err
		}
		if err := refundUnused(tx, team, r, now); err != nil {
			return err
		}
		budget, err := budgetOf(tx, team, now)
		if err != nil {
			return err
		}
		return enqueueMessage(tx, leaseMessage(team, r, budget, "Dry run: EC2 accepted the launch with DryRun set, so nothing was created.", now), now)
	})
}

// await checks a launched instance until it runs.
func (s *Servers) await(ctx context.Context, j Job) error {
	var r *ServerRequest
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		r, err = tx.Request(j.Payload)
		return err
	}); err != nil {
		return fmt.Errorf("load %s: %w", j.Payload, err)
	}
	if r.State != StateProvisioning || r.Instance.ID == "" {
		return nil
	}
	found, err := s.Provisioner.Describe(ctx, r.Instance.Account, r.Instance.Region, []string{r.Instance.ID})
	if err != nil {
		return fmt.Errorf("describe %s of %s: %w", r.Instance.ID, r.ID, err)
	}
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		r, err := tx.Request(j.Payload)
		if err != nil || r.State != StateProvisioning {
			return err
		}
		launched := r.Instance.LaunchTime
		if launched.IsZero() {
			launched = r.LeaseStart
		}
		var inst *Instance
		for i := range found {
			if found[i].ID == r.Instance.ID {
				inst = &found[i]
			}
		}
		switch {
		case inst != nil && inst.State == InstanceRunning:
			return s.markRunning(tx, r, *inst, now)
		case inst == nil && now.Sub(launched) < time.Minute:
			// EC2 is eventually consistent: a fresh instance may not be
			// described yet.
		case inst == nil || inst.State == InstanceTerminated || inst.State == InstanceShuttingDown || now.Sub(launched) > AwaitLimit:
			why := "the instance did not start"
			if inst != nil {
				why += " (it is " + string(inst.State) + ")"
			}
			return s.fail(tx, r, why, "", now)
		}
		return tx.Enqueue(Job{Kind: JobAwait, Key: JobAwait + ":" + r.ID, Payload: r.ID, RunAt: now.Add(AwaitEvery)})
	})
}

func (s *Servers) markRunning(tx Tx, r *ServerRequest, inst Instance, now time.Time) error {
	team, _, err := s.teamAndTemplate(r)
	if err != nil {
		return err
	}
	launch := r.Instance.LaunchTime
	r.Instance = inst
	if r.Instance.LaunchTime.IsZero() {
		r.Instance.LaunchTime = launch
	}
	if err := r.Move(StateRunning, "running", now); err != nil {
		return err
	}
	if err := tx.SaveRequest(r); err != nil {
		return err
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "ec2.running", Subject: r.ID,
		Detail: fmt.Sprintf("%s %s %s", inst.ID, inst.PrivateIP, inst.PrivateDNS)}); err != nil {
		return err
	}
	budget, err := budgetOf(tx, team, now)
	if err != nil {
		return err
	}
	return enqueueMessage(tx, leaseMessage(team, r, budget, "Your server is running.", now), now)
}

// fail marks a request failed and gives its budget back. An instance the
// launch left behind is terminated. why is for the owner; detail, for the
// audit log only.
func (s *Servers) fail(tx Tx, r *ServerRequest, why, detail string, now time.Time) error {
	team, _, err := s.teamAndTemplate(r)
	if err != nil {
		return err
	}
	if err := r.Move(StateFailed, why, now); err != nil {
		return err
	}
	r.LeaseEnd = now
	if err := tx.SaveRequest(r); err != nil {
		return err
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "request.fail", Subject: r.ID, Reason: why, Detail: detail}); err != nil {
		return err
	}
	if err := refundUnused(tx, team, r, now); err != nil {
		return err
	}
	if r.Instance.ID != "" {
		r.EndingAt = now
		if err := tx.SaveRequest(r); err != nil {
			return err
		}
		if err := tx.Enqueue(Job{Kind: JobEnd, Key: JobEnd + ":" + r.ID, Payload: r.ID + " " + string(EndTerminate), RunAt: now}); err != nil {
			return err
		}
	}
	budget, err := budgetOf(tx, team, now)
	if err != nil {
		return err
	}
	return enqueueMessage(tx, leaseMessage(team, r, budget, "Launch failed: "+why+". The budget was given back.", now), now)
}

// retag writes the current lease end on the instance.
func (s *Servers) retag(ctx context.Context, j Job) error {
	var r *ServerRequest
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		r, err = tx.Request(j.Payload)
		return err
	}); err != nil {
		return fmt.Errorf("load %s: %w", j.Payload, err)
	}
	if r.Instance.ID == "" || !r.State.Active() {
		return nil
	}
	err := s.Provisioner.Retag(ctx, r.Instance, map[string]string{TagLeaseEnd: r.LeaseEnd.UTC().Format(time.RFC3339)})
	if errors.Is(err, ErrDryRun) {
		return nil
	}
	if errors.Is(err, ErrNotOurs) {
		return s.refuseToTouch(ctx, r, err)
	}
	return err
}
