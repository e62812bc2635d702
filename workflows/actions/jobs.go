package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Handlers returns the job handlers of the actions workflow.
func (s *Service) Handlers() map[string]workflows.JobHandler {
	return map[string]workflows.JobHandler{
		JobOp:              s.runOp,
		JobSnapshotRelease: s.releaseSnapshots,
	}
}

// outcome is what the cloud call of an op came to.
type outcome struct {
	state  OpState
	result string
	detail string
	got    workflows.Instance
	snap   SnapshotInfo
	audit  string
}

// runOp runs one queued action against the cloud, then records its
// outcome in one transaction. A replayed job finds the op done and does
// nothing; a snapshot retried after a crash finds the snapshot it made
// by its tag.
func (s *Service) runOp(ctx context.Context, j workflows.Job) error {
	var o *Op
	var r *workflows.ServerRequest
	if err := s.view(ctx, func(tx Tx) (err error) {
		if o, err = tx.Op(j.Payload); err != nil {
			return err
		}
		r, err = tx.Request(o.Server)
		return err
	}); err != nil {
		if errors.Is(err, workflows.ErrNotFound) {
			return workflows.Permanent(fmt.Errorf("run %s: %w", j.Payload, err))
		}
		return fmt.Errorf("load %s: %w", j.Payload, err)
	}
	if o.State != OpQueued {
		return nil
	}
	now := s.Clock.Now()
	if why := s.applicable(r, o.Action, now); why != "" {
		return s.finish(ctx, o.ID, outcome{state: OpFailed, result: "It could no longer be done: " + why, audit: "action.void"})
	}
	out, err := s.call(ctx, o, r)
	switch {
	case errors.Is(err, workflows.ErrDryRun):
		out = outcome{state: OpDryRun, audit: "ec2." + string(o.Action) + ".dryrun",
			result: fmt.Sprintf("Dry run: EC2 checked the %s of %s and would have done it; nothing was changed.", o.Action, r.Instance.ID)}
		if o.Action == workflows.ActionDiagnose {
			return fmt.Errorf("diagnose %s: %w", r.ID, err) // reads are never dry runs
		}
	case errors.Is(err, workflows.ErrNotOurs):
		out = outcome{state: OpFailed, audit: "ec2.refuse",
			result: fmt.Sprintf("opsbot did not touch %s: the instance EC2 describes does not match opsbot's records (ID, launch time, tags).", r.Instance.ID)}
	case err != nil:
		return fmt.Errorf("%s %s (%s): %w", o.Action, r.ID, o.ID, err)
	}
	return s.finish(ctx, o.ID, out)
}

// call makes the cloud call of o.
func (s *Service) call(ctx context.Context, o *Op, r *workflows.ServerRequest) (outcome, error) {
	out := outcome{state: OpDone, audit: "ec2." + string(o.Action)}
	switch o.Action {
	case workflows.ActionStop:
		got, err := s.Provisioner.End(ctx, r.Instance, workflows.EndStop)
		if err != nil {
			return out, err
		}
		out.got = got
		out.result = fmt.Sprintf("%s is stopping. Its lease still runs until its end; Start brings it back within the lease.", r.Instance.ID)
	case workflows.ActionStart:
		if s.Starter == nil {
			return outcome{state: OpFailed, result: "Starting servers is not available in this opsbot.", audit: "action.void"}, nil
		}
		got, err := s.Starter.Start(ctx, r.Instance)
		if err != nil {
			return out, err
		}
		out.got = got
		out.result = fmt.Sprintf("%s is starting again, within its lease.", r.Instance.ID)
	case workflows.ActionReboot:
		if err := s.Operator.Reboot(ctx, r.Instance); err != nil {
			return out, err
		}
		out.result = fmt.Sprintf("%s was sent a reboot. It is back in a minute or two; Diagnose shows its status checks.", r.Instance.ID)
	case workflows.ActionSnapshot:
		info, err := s.Operator.Snapshot(ctx, r.Instance, map[string]string{
			workflows.TagManaged: "true", workflows.TagRequest: r.ID, workflows.TagTeam: r.Team,
			TagOp: o.ID, TagSnapshot: r.Instance.ID, workflows.TagNameValue: r.ID + "-" + o.ID,
		})
		if err != nil {
			return out, err
		}
		out.snap = info
		out.result = fmt.Sprintf("Snapshot %s of the root volume %s was started. It is deleted when %s is released, unless you keep it.", info.ID, info.VolumeID, r.ID)
	case workflows.ActionDiagnose:
		d, err := s.Operator.Diagnose(ctx, r.Instance)
		if err != nil {
			return out, err
		}
		s.readCPU(ctx, r.Instance, &d)
		out.result = diagnosisHeadline(d)
		out.detail = diagnosisText(d)
	}
	return out, nil
}

// finish records an op's outcome, the server's new state and the
// messages, once.
func (s *Service) finish(ctx context.Context, opID string, out outcome) error {
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		o, err := tx.Op(opID)
		if err != nil {
			return err
		}
		if o.State != OpQueued {
			return nil
		}
		r, team, err := s.load(tx, o.Server)
		if err != nil {
			return err
		}
		o.State, o.Result, o.Detail, o.UpdatedAt = out.state, out.result, out.detail, now
		if out.state == OpDone {
			if err := s.apply(tx, team, r, o, out, now); err != nil {
				return err
			}
		}
		if err := tx.SaveOp(o); err != nil {
			return err
		}
		detail := strings.TrimSpace(o.ID + " " + r.Instance.ID + " " + out.snap.ID)
		if err := tx.Audit(workflows.AuditEntry{At: now, Actor: "opsbot", Action: out.audit, Subject: r.ID, Reason: o.Result, Detail: detail}); err != nil {
			return err
		}
		if err := workflows.EnqueueMessage(tx, opMessage(team, r, o), now); err != nil {
			return err
		}
		if o.Detail != "" {
			if err := workflows.EnqueueMessage(tx, detailMessage(team, r, o), now); err != nil {
				return err
			}
		}
		if o.State == OpDone && o.Action != workflows.ActionDiagnose && !r.OwnedBy(o.Actor) && r.Owner.Ref() != "" {
			return workflows.EnqueueMessage(tx, ownerNotice(team, r, o), now)
		}
		return nil
	})
}

// apply records what a done action changed on the server.
func (s *Service) apply(tx Tx, team *workflows.Team, r *workflows.ServerRequest, o *Op, out outcome, now time.Time) error {
	switch o.Action {
	case workflows.ActionStop, workflows.ActionStart:
		to := workflows.StateStopped
		if o.Action == workflows.ActionStart {
			to = workflows.StateRunning
		}
		if r.State != to {
			if err := r.Move(to, past(o.Action)+" by "+o.Actor.String(), now); err != nil {
				return err
			}
		}
		// Like every stop opsbot makes within a lease, it is recorded: its
		// hours are not billed (cost so far) and show as savings in the
		// monthly review; a start closes it.
		if o.Action == workflows.ActionStop {
			if err := workflows.RecordStop(tx, r, workflows.WhyManual, now); err != nil {
				return err
			}
		} else if err := workflows.RecordStart(tx, r, now); err != nil {
			return err
		}
		if out.got.State != "" {
			r.Instance.State = out.got.State
		}
		if !out.got.LaunchTime.IsZero() {
			// EC2 moves the launch time of a started instance: the guard
			// of every later change compares against it.
			r.Instance.LaunchTime = out.got.LaunchTime
		}
		if out.got.PrivateIP != "" {
			r.Instance.PrivateIP, r.Instance.PrivateDNS = out.got.PrivateIP, out.got.PrivateDNS
		}
		r.UpdatedAt = now
		if err := tx.SaveRequest(r); err != nil {
			return err
		}
		if team != nil && r.Owner.Ref() != "" {
			return workflows.NotifyLease(tx, team, r, fmt.Sprintf("%s %s it (%s).", workflows.Mention(o.Actor.Ref()), past(o.Action), o.ID), now)
		}
	case workflows.ActionSnapshot:
		return tx.SaveSnapshot(&Snapshot{ID: out.snap.ID, Server: r.ID, Region: r.Instance.Region, VolumeID: out.snap.VolumeID, Op: o.ID, CreatedAt: now, UpdatedAt: now})
	}
	return nil
}

// GiveUp records an action whose job failed for good.
func (s *Service) GiveUp(ctx context.Context, j workflows.Job, cause error) {
	switch j.Kind {
	case JobOp:
		if err := s.finish(ctx, j.Payload, outcome{state: OpFailed, audit: "ec2.failed",
			result: "EC2 could not do it (the details are in opsbot's audit log): " + firstLine(cause.Error())}); err != nil {
			s.Log.ErrorContext(ctx, "record failed action", "op", j.Payload, "err", err)
		}
	case JobSnapshotRelease:
		s.Log.ErrorContext(ctx, "could not delete a released server's snapshots", "server", j.Payload, "err", cause)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Terminated is called in the transaction that records a server's
// termination: its snapshots that were not kept are queued for deletion.
func (s *Service) Terminated(tx workflows.Tx, r *workflows.ServerRequest, now time.Time) error {
	t, err := txOf(tx)
	if err != nil {
		return err
	}
	snaps, err := t.Snapshots(r.ID)
	if err != nil {
		return err
	}
	for _, sn := range snaps {
		if !sn.Kept && !sn.Deleted {
			return tx.Enqueue(workflows.Job{Kind: JobSnapshotRelease, Key: JobSnapshotRelease + ":" + r.ID, Payload: r.ID, RunAt: now})
		}
	}
	return nil
}

// releaseSnapshots deletes a terminated server's snapshots that were not
// kept. Deleting one already gone is not an error, so a retry is safe.
func (s *Service) releaseSnapshots(ctx context.Context, j workflows.Job) error {
	var snaps []*Snapshot
	var account string // the server's AWS account: its snapshots live there
	if err := s.view(ctx, func(tx Tx) error {
		r, err := tx.Request(j.Payload)
		if err != nil {
			return err
		}
		account = r.Instance.Account
		snaps, err = tx.Snapshots(j.Payload)
		return err
	}); err != nil {
		return fmt.Errorf("load snapshots of %s: %w", j.Payload, err)
	}
	for _, sn := range snaps {
		if sn.Kept || sn.Deleted {
			continue
		}
		err := s.Operator.DeleteSnapshot(ctx, account, sn.Region, sn.ID)
		action := "ec2.snapshot.delete"
		switch {
		case errors.Is(err, workflows.ErrDryRun):
			action = "ec2.snapshot.delete.dryrun"
		case err != nil:
			return fmt.Errorf("delete snapshot %s of %s: %w", sn.ID, sn.Server, err)
		}
		if err := s.update(ctx, func(tx Tx) error {
			now := s.Clock.Now()
			if action == "ec2.snapshot.delete" {
				sn.Deleted, sn.UpdatedAt = true, now
				if err := tx.SaveSnapshot(sn); err != nil {
					return err
				}
			}
			return tx.Audit(workflows.AuditEntry{At: now, Actor: "opsbot", Action: action, Subject: sn.Server, Detail: sn.ID, Reason: "the server was released"})
		}); err != nil {
			return err
		}
	}
	return nil
}
