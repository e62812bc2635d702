package workflows

import (
	"fmt"
	"time"

	"github.com/opsbot/opsbot/workflows/offhours"
)

// Off-hours rides on the lease's due time (due.go): a lease's next due
// time is the earlier of its lease warnings and end and its off-hours
// warning, stop or start, so the tick that finds it due does both in one
// transaction, and nothing scans the leases at 20:00. Whether a warning
// was sent, a stop made, a night kept or a start queued is recorded under
// a key named by the stop (or the park) it belongs to, so a restart, a
// replayed tick or a clock jump does each once.

func offHoursWarnKey(id string, stopAt time.Time) string {
	return fmt.Sprintf("offhours-warn:%s:%d", id, stopAt.Unix())
}

func offHoursStopKey(id string, stopAt time.Time) string {
	return fmt.Sprintf("offhours-stop:%s:%d", id, stopAt.Unix())
}

func offHoursStartKey(id string, parkedAt time.Time) string {
	return fmt.Sprintf("offhours-start:%s:%d", id, parkedAt.UnixNano())
}

// offHoursPlan is what off-hours has to do for one lease at now, with
// what was done already left out, and when it may next have something.
type offHoursPlan struct {
	sched *offhours.Schedule
	step  offhours.Step
	park  Park // the open off-hours stop, when Start
	next  time.Time
}

func (p offHoursPlan) due() bool { return p.step.Warn || p.step.Stop || p.step.Start }

func (s *Servers) planOffHours(tx Tx, team *Team, tpl *Template, r *ServerRequest, now time.Time) (offHoursPlan, error) {
	var plan offHoursPlan
	sch := s.Catalog.OffHoursFor(team, tpl)
	if sch == nil || r.LeaseEnd.IsZero() || !r.EndingAt.IsZero() || r.Instance.ID == "" {
		return plan, nil
	}
	srv := offhours.Server{Running: r.State == StateRunning, LeaseStart: r.LeaseStart, LeaseEnd: r.LeaseEnd}
	switch r.State {
	case StateRunning:
	case StateStopped:
		p, ok, err := tx.OpenPark(r.ID)
		if err != nil {
			return plan, err
		}
		if !ok || p.Why != WhyOffHours {
			return plan, nil // stopped by a person or outside opsbot: not ours to start
		}
		srv.ParkedAt, plan.park = p.StoppedAt, p
	default:
		return plan, nil
	}
	plan.sched = sch
	plan.step = sch.Due(now, srv)
	plan.next = sch.Next(now, srv)
	if st := &plan.step; st.Stop {
		done, err := tx.Sent(offHoursStopKey(r.ID, st.StopAt))
		if err != nil {
			return plan, err
		}
		kept, err := KeptTonight(tx, r.ID, st.StopAt)
		if err != nil {
			return plan, err
		}
		st.Stop = !done && !kept
	}
	if st := &plan.step; st.Warn {
		sent, err := tx.Sent(offHoursWarnKey(r.ID, st.StopAt))
		if err != nil {
			return plan, err
		}
		kept, err := KeptTonight(tx, r.ID, st.StopAt)
		if err != nil {
			return plan, err
		}
		st.Warn = !sent && !kept
	}
	if st := &plan.step; st.Start {
		queued, err := tx.Sent(offHoursStartKey(r.ID, plan.park.StoppedAt))
		if err != nil {
			return plan, err
		}
		st.Start = !queued
	}
	return plan, nil
}

// tickOffHours does what plan says, in the lease tick's transaction.
func (s *Servers) tickOffHours(tx Tx, team *Team, r *ServerRequest, plan offHoursPlan, now time.Time) error {
	st := plan.step
	switch {
	case st.Stop:
		if _, err := tx.MarkSent(offHoursStopKey(r.ID, st.StopAt), now); err != nil {
			return err
		}
		// The warning is moot once the stop is made.
		if _, err := tx.MarkSent(offHoursWarnKey(r.ID, st.StopAt), now); err != nil {
			return err
		}
		detail := "stop at " + st.StopAt.UTC().Format(time.RFC3339)
		if now.Sub(st.StopAt) > 5*time.Minute {
			detail += ", made late (opsbot was not running at the stop)"
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "offhours.stop", Subject: r.ID, Reason: plan.sched.Name, Detail: detail}); err != nil {
			return err
		}
		return enqueuePark(tx, r.ID, parkStop, WhyOffHours, st.StopAt, now)
	case st.Start:
		if _, err := tx.MarkSent(offHoursStartKey(r.ID, plan.park.StoppedAt), now); err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "offhours.start", Subject: r.ID, Reason: plan.sched.Name}); err != nil {
			return err
		}
		return enqueuePark(tx, r.ID, parkStart, WhyOffHours, plan.park.StoppedAt, now)
	case st.Warn:
		if _, err := tx.MarkSent(offHoursWarnKey(r.ID, st.StopAt), now); err != nil {
			return err
		}
		return enqueueMessage(tx, offHoursWarning(team, r, plan.sched, st.StopAt, now), now)
	}
	return nil
}

// offHoursWarning tells the owner of tonight's stop, with the choice.
func offHoursWarning(team *Team, r *ServerRequest, sch *offhours.Schedule, stopAt, now time.Time) Message {
	startAt, _ := sch.NextStart(stopAt)
	again := "started again at " + team.LocalTime(startAt)
	if startAt.IsZero() || !startAt.Before(r.LeaseEnd) {
		again = "its lease ends before the morning, so it is not started again"
	}
	return toOwner(team, r, Message{
		Key:   offHoursWarnKey(r.ID, stopAt),
		Title: fmt.Sprintf("%s stops tonight at %s (off-hours)", r.ID, team.LocalClock(stopAt)),
		Text: fmt.Sprintf("Team %s's off-hours schedule (%s) stops opsbot's servers in the evening of working days. %s is stopped at %s and %s; its disk and lease are kept. Keep running tonight if you need it; Stop now or Release if you are done.",
			team.Name, sch.Name, r.ID, team.LocalTime(stopAt), again),
		Fields:  append(serverFields(team, r, now), Field{Label: "Saves tonight", Value: r.HourlyRate.For(earliest(startAt, r.LeaseEnd).Sub(stopAt).Hours()).String()}),
		Actions: ChoiceActions(r, ServerChoice{ID: r.ID, Why: WhyOffHours, DrawnFor: stopAt}),
	})
}
