package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// JobPark stops or starts a server within its lease: payload
// "srv-42 stop|start idle|offhours|...". Unlike JobEnd it leaves the
// lease running: a stopped server keeps its commitment and its disk, and
// can be started again until the lease ends.
const JobPark = "server.park"

const (
	parkStop  = "stop"
	parkStart = "start"
)

// enqueuePark queues a stop or start under a key of its own: the verb,
// why, and the occurrence it belongs to (the off-hours stop it is made
// for, the run of the instance a person stopped, the stop a start ends).
// The queue replaces a waiting job with the same key, so one key for
// every park of a server let an off-hours stop replace a person's Stop
// now (and the morning start then restart what they stopped), or a start
// replace a stop; distinct keys let each run, and the second of two
// stops finds the server stopped and does nothing.
func enqueuePark(tx Tx, id, verb string, why Why, occurrence, now time.Time) error {
	return tx.Enqueue(Job{Kind: JobPark, Key: ParkJobKey(id, verb, why, occurrence), Payload: id + " " + verb + " " + string(why), RunAt: now})
}

// ParkJobKey is the queue key of one stop or start of a server.
func ParkJobKey(id, verb string, why Why, occurrence time.Time) string {
	return fmt.Sprintf("%s:%s:%s:%s:%d", JobPark, id, verb, why, occurrence.Unix())
}

// RecordStop records, in the caller's transaction, that opsbot stopped r
// within its lease at now, for why: its hours stopped are not billed
// (CostSoFar) and count as saved (SavingsIn) until RecordStart or the
// lease end. A stop at or after the lease end is the lease's end, not a
// stop within it, and is not recorded; neither is a second record of
// the same stop.
func RecordStop(tx Tx, r *ServerRequest, why Why, now time.Time) error {
	if r.LeaseEnd.IsZero() || !now.Before(r.LeaseEnd) {
		return nil
	}
	if _, open := r.OpenStop(); open {
		return nil
	}
	err := tx.AddPark(Park{RequestID: r.ID, Team: r.Team, Why: why, HourlyRate: r.HourlyRate, StoppedAt: now})
	if err != nil && !errors.Is(err, ErrDuplicate) {
		return fmt.Errorf("record the stop of %s: %w", r.ID, err)
	}
	r.Stops = append(r.Stops, Stop{Why: why, At: now})
	return nil
}

// RecordStart closes r's open stop at now (it was started again, or its
// lease ended), in the caller's transaction.
func RecordStart(tx Tx, r *ServerRequest, now time.Time) error {
	if err := tx.EndPark(r.ID, now); err != nil {
		return fmt.Errorf("record the start of %s: %w", r.ID, err)
	}
	for i := range r.Stops {
		if r.Stops[i].Until.IsZero() {
			r.Stops[i].Until = now
		}
	}
	return nil
}

func parkPayload(p string) error {
	f := strings.Fields(p)
	if len(f) != 3 || !isID(f[0], "srv") || (f[1] != parkStop && f[1] != parkStart) {
		return fmt.Errorf("want \"srv-N stop|start WHY\"")
	}
	if _, ok := whys[Why(f[2])]; !ok {
		return fmt.Errorf("unknown why %q", f[2])
	}
	return nil
}

// startInLease queues the start of a server stopped within its lease, for
// its owner, its team's approvers or an admin.
func (s *Servers) startInLease(ctx context.Context, actor Person, id string) (*RequestResult, error) {
	res := &RequestResult{}
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		r, err := s.choosableRequest(tx, actor, id)
		if err != nil {
			return err
		}
		if r.State != StateStopped || !r.EndingAt.IsZero() || !now.Before(r.LeaseEnd) {
			return Errorf(EConflict, "%s is %s; only a server stopped within its lease can be started. Nothing was changed.", r.ID, r.State.Words())
		}
		fresh, err := tx.MarkSent(fmt.Sprintf("start:%s:%d", r.ID, r.Instance.LaunchTime.Unix()), now)
		if err != nil {
			return err
		}
		if !fresh {
			return Errorf(EConflict, "%s is being started already (Start was pressed before). Nothing more was changed.", r.ID)
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "server.start", Subject: r.ID}); err != nil {
			return err
		}
		res.Request = r
		why := WhyManual
		if st, ok := r.OpenStop(); ok {
			why = st.Why
		}
		return enqueuePark(tx, r.ID, parkStart, why, r.Instance.LaunchTime, now)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// park stops or starts a server within its lease. The cloud call comes
// first and the record after, so a crash between them runs the job again:
// the stop of a stopped instance and the start of a started one make no
// second call (the Provisioner returns them as they are).
func (s *Servers) park(ctx context.Context, j Job) error {
	f := strings.Fields(j.Payload)
	id, verb, why := f[0], f[1], Why(f[2])
	var r *ServerRequest
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		r, err = tx.Request(id)
		return err
	}); err != nil {
		return fmt.Errorf("load %s: %w", id, err)
	}
	now := s.Clock.Now()
	var got Instance
	var err error
	switch {
	case !r.EndingAt.IsZero() || r.Instance.ID == "":
		return nil // its lease is ending: the end decides
	case verb == parkStop && r.State == StateRunning:
		got, err = s.Provisioner.End(ctx, r.Instance, EndStop)
	case verb == parkStart && r.State == StateStopped && now.Before(r.LeaseEnd):
		got, err = s.Provisioner.Start(ctx, r.Instance)
	default:
		return nil // done already (a replayed job), or no longer called for
	}
	switch {
	case errors.Is(err, ErrDryRun):
		return s.update(ctx, func(tx Tx) error {
			now := s.Clock.Now()
			if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "ec2." + verb + ".dryrun", Subject: r.ID, Reason: why.Words(), Detail: r.Instance.ID + ": " + err.Error()}); err != nil {
				return err
			}
			fresh, err := tx.MarkSent(fmt.Sprintf("dryrun-park:%s:%s:%d", r.ID, verb, now.Unix()/3600), now)
			if err != nil || !fresh {
				return err
			}
			return enqueueMessage(tx, s.ownerMessage(r, Message{
				Title: fmt.Sprintf("Dry run: %s would have been %s", r.ID, map[string]string{parkStop: "stopped", parkStart: "started"}[verb]),
				Text:  fmt.Sprintf("EC2 confirmed the %s of %s (%s), but opsbot runs in dry run, so nothing was changed.", verb, r.Instance.ID, why.Words()),
				Note:  DryRunNote}), now)
		})
	case errors.Is(err, ErrNotOurs):
		return s.refuseToTouch(ctx, r, err)
	case err != nil:
		return fmt.Errorf("%s %s of %s: %w", verb, r.Instance.ID, r.ID, err)
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
		var head string
		if verb == parkStop {
			if r.State != StateRunning {
				return nil
			}
			if err := r.Move(StateStopped, "stopped ("+why.Words()+")", now); err != nil {
				return err
			}
			r.Instance.State = got.State
			if err := RecordStop(tx, r, why, now); err != nil {
				return err
			}
			head = fmt.Sprintf("%s was stopped (%s). Its disk and lease are kept; Start again starts it until the lease ends.", r.Instance.ID, why.Words())
		} else {
			if r.State != StateStopped {
				return nil
			}
			if err := r.Move(StateRunning, "started ("+why.Words()+")", now); err != nil {
				return err
			}
			// EC2 gave it a new launch time: the guard knows it by that.
			r.Instance.State, r.Instance.LaunchTime = got.State, got.LaunchTime
			if err := RecordStart(tx, r, now); err != nil {
				return err
			}
			head = fmt.Sprintf("%s was started again (%s).", r.Instance.ID, why.Words())
		}
		if err := tx.SaveRequest(r); err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "ec2." + verb, Subject: r.ID, Reason: why.Words(), Detail: r.Instance.ID}); err != nil {
			return err
		}
		budget, err := budgetOf(tx, team, now)
		if err != nil {
			return err
		}
		return enqueueMessage(tx, leaseMessage(team, r, budget, head, now), now)
	})
}
