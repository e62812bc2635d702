package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EndRetryEvery is how long opsbot waits before trying again to end a
// server whose stop or terminate failed for good (EC2 refused, or the
// instance no longer matched its records).
const EndRetryEvery = time.Hour

// end stops or terminates a server: at its lease end, on release, past its
// maximum lifetime, or after a failed launch. It touches only an instance
// that matches opsbot's records, and clears EndingAt when done so a later
// end (a release of a stopped server) can follow.
func (s *Servers) end(ctx context.Context, j Job) error {
	id, act, _ := strings.Cut(j.Payload, " ")
	action := EndAction(act)
	var r *ServerRequest
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		r, err = tx.Request(id)
		return err
	}); err != nil {
		return fmt.Errorf("load %s: %w", id, err)
	}
	var note string
	var got Instance
	switch {
	case r.Instance.ID == "" && r.State == StateProvisioning:
		// Released while its launch is in flight: wait for the instance
		// to be recorded, then end it.
		return fmt.Errorf("the launch of %s is still in flight; it will be ended once it has an instance", r.ID)
	case r.Instance.ID == "":
		note = "no instance was launched"
		action = EndTerminate
	case r.Instance.State == InstanceTerminated || (action == EndStop && r.State == StateStopped):
		// Done already (a replayed job).
	default:
		var err error
		got, err = s.Provisioner.End(ctx, r.Instance, action)
		switch {
		case errors.Is(err, ErrDryRun):
			return s.reportDryRunEnd(ctx, r.ID, action, err)
		case errors.Is(err, ErrNotOurs):
			return s.refuseToTouch(ctx, r, err)
		case err != nil:
			return fmt.Errorf("%s %s of %s: %w", action, r.Instance.ID, r.ID, err)
		}
	}
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
		to := StateStopped
		if action == EndTerminate || r.State != StateRunning && r.State != StateStopped {
			to = StateTerminated
		}
		// Stopped within its lease (off-hours, Stop now, the actions'
		// Stop) when the lease ended: the stop is closed at the end, and
		// the owner is told below like at any end.
		parked := r.Parked()
		if _, open := r.OpenStop(); open {
			if err := RecordStart(tx, r, now); err != nil {
				return err
			}
		}
		why := "lease ended"
		if note != "" {
			why = note
		}
		if r.State != to {
			if err := r.Move(to, why, now); err != nil {
				return err
			}
		}
		if got.State != "" && note == "" {
			r.Instance.State = got.State
		}
		r.EndingAt, r.UpdatedAt = time.Time{}, now
		if err := tx.SaveRequest(r); err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "ec2." + string(action), Subject: r.ID, Detail: strings.TrimSpace(r.Instance.ID + " " + note)}); err != nil {
			return err
		}
		if to == StateTerminated && s.Terminated != nil {
			if err := s.Terminated(tx, r, now); err != nil {
				return err
			}
		}
		budget, err := budgetOf(tx, team, now)
		if err != nil {
			return err
		}
		head := fmt.Sprintf("%s was %s.", r.Instance.ID, to)
		if parked && to == StateStopped {
			head = fmt.Sprintf("Its lease ended while it was stopped: %s stays stopped.", r.Instance.ID)
		}
		if note != "" {
			head = "Closed: " + note + "."
		}
		if err := enqueueMessage(tx, leaseMessage(team, r, budget, head, now), now); err != nil {
			return err
		}
		if to == StateStopped && note == "" {
			return enqueueMessage(tx, stoppedMessage(team, r, budget, now), now)
		}
		return nil
	})
}

func (s *Servers) refuseToTouch(ctx context.Context, r *ServerRequest, cause error) error {
	err := s.update(ctx, func(tx Tx) error {
		return tx.Audit(AuditEntry{At: s.Clock.Now(), Actor: "opsbot", Action: "ec2.refuse", Subject: r.ID, Reason: "instance does not match opsbot's records", Detail: cause.Error()})
	})
	if err != nil {
		return err
	}
	return Permanent(fmt.Errorf("end %s: %w", r.ID, cause))
}

// GiveUp records the failure of a job the runner will not retry: a launch
// that failed for good is marked failed with its budget given back; an end
// that failed for good is tried again every EndRetryEvery (reconciliation
// meanwhile records an instance restarted outside opsbot), and its owner
// is told once.
func (s *Servers) GiveUp(ctx context.Context, j Job, cause error) {
	id := subject(j)
	if id == "" {
		return // ValidatePayload refused it; nothing to record it against
	}
	var err error
	switch j.Kind {
	case JobProvision, JobAwait:
		err = s.update(ctx, func(tx Tx) error {
			now := s.Clock.Now()
			r, err := tx.Request(id)
			if err != nil {
				return err
			}
			if r.State != StateApproved && r.State != StateProvisioning {
				return nil
			}
			if r.State == StateApproved {
				if err := r.Move(StateProvisioning, "launching", now); err != nil {
					return err
				}
			}
			return s.fail(tx, r, "EC2 could not launch it (the details are in opsbot's audit log)", cause.Error(), now)
		})
	case JobEnd:
		err = s.update(ctx, func(tx Tx) error {
			now := s.Clock.Now()
			r, err := tx.Request(id)
			if err != nil {
				return err
			}
			if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "ec2.end.failed", Subject: id, Detail: cause.Error()}); err != nil {
				return err
			}
			if err := tx.Enqueue(Job{Kind: JobEnd, Key: JobEnd + ":" + id, Payload: j.Payload, RunAt: now.Add(EndRetryEvery)}); err != nil {
				return err
			}
			fresh, err := tx.MarkSent(fmt.Sprintf("end-failed:%s:%d", id, r.Instance.LaunchTime.Unix()), now)
			if err != nil || !fresh {
				return err
			}
			return enqueueMessage(tx, s.ownerMessage(r, Message{
				Title: "opsbot could not end " + id,
				Text: fmt.Sprintf("Its %s of %s failed (the details are in opsbot's audit log). opsbot tries again every %s; if the instance was changed outside opsbot, end it by hand.",
					strings.Fields(j.Payload + " end")[1], r.Instance.ID, FormatDuration(EndRetryEvery))}), now)
		})
	default:
		return
	}
	if err != nil {
		s.Log.ErrorContext(ctx, "record failed job", "kind", j.Kind, "request", id, "err", err)
	}
}
