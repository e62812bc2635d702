package workflows

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// IdleVerdict says whether datapoints over [from, to) at period show an
// idle server: every datapoint under below percent, and datapoints for
// at least 90% of the periods (a server that reported too little, just
// started or was stopped, is not judged). It returns the highest value.
func IdleVerdict(points []CPUPoint, from, to time.Time, period time.Duration, below float64) (idle bool, peak float64) {
	want := int(to.Sub(from) / period)
	n := 0
	for _, p := range points {
		if p.At.Before(from) || !p.At.Before(to) {
			continue
		}
		n++
		peak = max(peak, p.Percent)
	}
	if want <= 0 || n*10 < want*9 {
		return false, peak
	}
	return peak < below, peak
}

// idlePeriod is the datapoint period for a window: hourly for a day or
// more, else five minutes (EC2's basic monitoring).
func idlePeriod(window time.Duration) time.Duration {
	if window >= 12*time.Hour {
		return time.Hour
	}
	return 5 * time.Minute
}

// IdleReport counts what one idle check did.
type IdleReport struct {
	Checked, Idle, Flagged int
}

// CheckIdle asks CloudWatch about the running opsbot servers whose idle
// check is due, in batches by account and region (each read with its
// account's credentials), and records which are idle. An idle server's
// owner is told once per lease, with Stop / Release / Keep; one kept is
// not told again during the lease.
//
// Each server's next check is a due time stored with it (DueKindIdle,
// an index like the lease's): the first check once it has run a whole
// window since its last start, then every CheckEvery on a fixed grid, so
// the servers due together are asked together. A check reads only the
// servers due, so its cost grows with them, and a clock jumped by a day
// checks each server once, not once per missed turn. Whether a server is
// due, and over which window, is worked out from (now, stored state)
// each time; the stored time only says when to look.
func (s *Servers) CheckIdle(ctx context.Context) (IdleReport, error) {
	var rep IdleReport
	pol := s.Catalog.Idle
	if pol.Off || s.CPU == nil || pol.For <= 0 {
		return rep, nil
	}
	var ids []string
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		ids, err = tx.DueSubjects(DueKindIdle, s.Clock.Now())
		return err
	}); err != nil {
		return rep, fmt.Errorf("load servers due an idle check: %w", err)
	}
	due, err := settle(ctx, s.Store, s.Clock, DueKindIdle, ids, s.lookIdle)
	if err != nil || len(due) == 0 {
		return rep, err
	}
	now := s.Clock.Now()
	from, to, period := idleWindow(now, pol)
	// An instance's metrics are in its own account and region: one batch
	// of questions for each.
	type place struct{ account, region string }
	byPlace := map[place][]*ServerRequest{}
	for _, id := range due {
		var r *ServerRequest
		if err := s.update(ctx, func(tx Tx) (err error) {
			r = nil
			now := s.Clock.Now()
			next, check, err := s.lookIdle(tx, id, now)
			if err != nil || check {
				if err == nil {
					r, err = tx.Request(id)
				}
				if err == nil && !idleEligible(r) {
					// Stopped or ended since it was judged: idle no longer.
					r = nil
					if err = tx.DropIdle(id); err == nil {
						err = tx.SetDue(DueKindIdle, id, time.Time{})
					}
				}
				return err
			}
			return tx.SetDue(DueKindIdle, id, next)
		}); err != nil {
			s.Log.ErrorContext(ctx, "idle check", "request", id, "err", err)
			continue
		}
		if r != nil {
			p := place{r.Instance.Account, r.Instance.Region}
			byPlace[p] = append(byPlace[p], r)
		}
	}
	places := make([]place, 0, len(byPlace))
	for p := range byPlace {
		places = append(places, p)
	}
	sort.Slice(places, func(i, j int) bool {
		if places[i].account != places[j].account {
			return places[i].account < places[j].account
		}
		return places[i].region < places[j].region
	})
	var firstErr error
	for _, p := range places {
		rs := byPlace[p]
		ids := make([]string, len(rs))
		for i, r := range rs {
			ids[i] = r.Instance.ID
		}
		points, err := s.CPU.CPU(ctx, p.account, p.region, ids, from, to, period)
		if err != nil {
			// Left due: the next check asks again.
			firstErr = errors.Join(firstErr, fmt.Errorf("read CPU in %s of account %q: %w", p.region, p.account, err))
			continue
		}
		for _, r := range rs {
			rep.Checked++
			idle, peak := IdleVerdict(points[r.Instance.ID], from, to, period, pol.CPUBelow)
			flagged, err := s.recordIdle(ctx, r.ID, r.Instance.LaunchTime, idle, peak, from, now)
			if err != nil {
				s.Log.Error("record idle check", "request", r.ID, "err", err)
				continue
			}
			if idle {
				rep.Idle++
			}
			if flagged {
				rep.Flagged++
			}
		}
	}
	return rep, firstErr
}

// idleWindow is the window a check at now judges: [from, to) of whole
// periods, ending at the last whole period.
func idleWindow(now time.Time, pol IdlePolicy) (from, to time.Time, period time.Duration) {
	period = idlePeriod(pol.For)
	to = now.Truncate(period)
	return to.Add(-pol.For), to, period
}

// idleEvery is the idle policy's check period (default hourly).
func idleEvery(pol IdlePolicy) time.Duration {
	if pol.CheckEvery <= 0 {
		return DefaultIdleCheckEvery
	}
	return pol.CheckEvery
}

// ceilTo rounds t up to a multiple of d (since the zero time).
func ceilTo(t time.Time, d time.Duration) time.Time {
	if c := t.Truncate(d); !c.Before(t) {
		return c
	} else {
		return c.Add(d)
	}
}

// idleEligible says whether r is a server the idle check judges at all.
func idleEligible(r *ServerRequest) bool {
	return r.State == StateRunning && r.Instance.ID != "" && r.EndingAt.IsZero() && !r.Instance.LaunchTime.IsZero()
}

// NextIdleCheck says when r is next due an idle check after a check at
// (or a look at) now: the first instant on the check grid whose window
// it ran through since its last start, and never before the next turn of
// the grid after now. Zero: none until r changes.
func NextIdleCheck(r *ServerRequest, pol IdlePolicy, now time.Time) time.Time {
	if !idleEligible(r) || pol.For <= 0 {
		return time.Time{}
	}
	every := idleEvery(pol)
	next := now.Truncate(every).Add(every)
	first := ceilTo(ceilTo(r.Instance.LaunchTime.Add(pol.For), idlePeriod(pol.For)), every)
	if first.After(next) {
		next = first
	}
	return next
}

// lookIdle says whether r is due its idle check at now (or, not running
// any more, has an idle record to drop), or else when it next may be.
func (s *Servers) lookIdle(tx Tx, id string, now time.Time) (time.Time, bool, error) {
	r, err := tx.Request(id)
	if err != nil {
		return time.Time{}, false, err
	}
	pol := s.Catalog.Idle
	if !idleEligible(r) {
		_, had, err := tx.IdleServer(id)
		return time.Time{}, had, err
	}
	kept, err := IdleKept(tx, id)
	if err != nil || kept {
		return time.Time{}, false, err // kept for the lease: no more checks
	}
	from, _, _ := idleWindow(now, pol)
	if r.Instance.LaunchTime.After(from) {
		// Not a whole window since its last start yet.
		return NextIdleCheck(r, pol, now), false, nil
	}
	return time.Time{}, true, nil
}

// recordIdle stores one server's verdict and flags it to its owner the
// first time in its lease, in one transaction.
func (s *Servers) recordIdle(ctx context.Context, id string, launched time.Time, idle bool, peak float64, since, now time.Time) (bool, error) {
	flagged := false
	err := s.update(ctx, func(tx Tx) error {
		r, err := tx.Request(id)
		if err != nil {
			return err
		}
		if r.State != StateRunning || !r.Instance.LaunchTime.Equal(launched) {
			return nil // changed since it was read (and so due again): the next check judges it
		}
		// Checked at now: the next turn of the grid.
		if err := tx.SetDue(DueKindIdle, id, NextIdleCheck(r, s.Catalog.Idle, now)); err != nil {
			return err
		}
		v, had, err := tx.IdleServer(id)
		if err != nil {
			return err
		}
		if !idle {
			if had && v.KeptAt.IsZero() {
				return tx.DropIdle(id)
			}
			return nil
		}
		if !had || v.Since.IsZero() || since.Before(v.Since) {
			v.Since = since
		}
		v.RequestID, v.Team, v.PeakCPU, v.CheckedAt = id, r.Team, peak, now
		kept, err := IdleKept(tx, id)
		if err != nil {
			return err
		}
		if v.FlaggedAt.IsZero() && !kept {
			fresh, err := tx.MarkSent("idle-flag:"+id, now)
			if err != nil {
				return err
			}
			if fresh {
				team, _, err := s.teamAndTemplate(r)
				if err != nil {
					return err
				}
				v.FlaggedAt, flagged = now, true
				if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "idle.flag", Subject: id,
					Detail: fmt.Sprintf("peak CPU %.1f%% since %s", peak, since.UTC().Format(time.RFC3339))}); err != nil {
					return err
				}
				if err := enqueueMessage(tx, idleMessage(team, r, s.Catalog.Idle, peak, since, now), now); err != nil {
					return err
				}
			}
		}
		return tx.PutIdle(v)
	})
	return flagged, err
}

// idleMessage flags an idle server to its owner.
func idleMessage(team *Team, r *ServerRequest, pol IdlePolicy, peak float64, since, now time.Time) Message {
	return toOwner(team, r, Message{
		Key:   "idle-flag:" + r.ID,
		Title: fmt.Sprintf("%s looks idle", r.ID),
		Text: fmt.Sprintf("Its CPU stayed under %s%% for the last %s (highest: %.1f%%, since %s). Stop it to pay only for its disk until you need it again (its lease is kept), release it if you are done, or keep it: opsbot will not flag it again during this lease.",
			trimFloat(pol.CPUBelow), FormatDuration(pol.For), peak, team.LocalTime(since)),
		Fields:  append(serverFields(team, r, now), Field{Label: "Costs per day", Value: r.HourlyRate.For(24).String()}),
		Actions: ChoiceActions(r, ServerChoice{ID: r.ID, Why: WhyIdle, DrawnFor: now}),
	})
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	if s[len(s)-2:] == ".0" {
		return s[:len(s)-2]
	}
	return s
}

// IdleNow lists the servers of team (every team when empty) that the
// last check found idle, are still running and were not kept: what the
// monthly cost review shows with Stop / Release / Keep.
func IdleNow(tx Tx, team string) ([]IdleServer, []*ServerRequest, error) {
	vs, err := tx.IdleServers(team)
	if err != nil {
		return nil, nil, err
	}
	var out []IdleServer
	var reqs []*ServerRequest
	for _, v := range vs {
		if !v.KeptAt.IsZero() {
			continue
		}
		r, err := tx.Request(v.RequestID)
		if err != nil {
			return nil, nil, err
		}
		if r.State != StateRunning || !r.EndingAt.IsZero() {
			continue
		}
		out, reqs = append(out, v), append(reqs, r)
	}
	return out, reqs, nil
}
