// Package offhours is the calendar of an off-hours schedule: servers stop
// in the evening of each working day and start in the morning of the
// next, in the schedule's time zone, with holidays left out. It is pure
// time arithmetic: what opsbot does at these instants, and what it has
// done, is decided in workflows from (now, stored state).
//
// Instants are worked out from the local date and clock time each time
// (time.Date in the zone), never by adding 24 hours, so a daylight-saving
// change moves nothing: 20:00 stays 20:00 local on both sides of it.
package offhours

import (
	"fmt"
	"strings"
	"time"
)

// Schedule is one named off-hours schedule.
type Schedule struct {
	Name string
	// Stop and Start are clock times of day: the evening stop and the
	// morning start, e.g. 20:00 and 08:00. Stop is after Start.
	Stop, Start time.Duration
	// Days are the working days; a stop happens in the evening of each,
	// a start in the morning of each.
	Days [7]bool // indexed by time.Weekday
	// Holidays are local dates ("2026-12-25") that are not working days.
	Holidays map[string]bool
	// WarnBefore is how long before the stop the owner is told, with a
	// "Keep running tonight" button.
	WarnBefore time.Duration
	// Zone is where the clock times are read: the team's time zone.
	Zone *time.Location
}

// MinNight is the shortest stop worth making: a stop whose instant was
// missed (opsbot was down) is made late, but not when the morning start
// is less than this away.
const MinNight = time.Hour

// horizon bounds the search for a working day (a long holiday list).
const horizon = 40

// Working reports whether the local date of t is a working day.
func (s *Schedule) Working(t time.Time) bool {
	l := t.In(s.zone())
	return s.Days[l.Weekday()] && !s.Holidays[l.Format("2006-01-02")]
}

func (s *Schedule) zone() *time.Location {
	if s.Zone == nil {
		return time.UTC
	}
	return s.Zone
}

func (s *Schedule) at(day time.Time, clock time.Duration) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), int(clock/time.Hour), int(clock%time.Hour/time.Minute), 0, 0, s.zone())
}

// events returns the instants of kind (Stop or Start clock) on working
// days, searching from the local day of t by step days (+1 or -1).
func (s *Schedule) event(t time.Time, clock time.Duration, forward bool, after func(time.Time) bool) (time.Time, bool) {
	l := t.In(s.zone())
	day := time.Date(l.Year(), l.Month(), l.Day(), 12, 0, 0, 0, s.zone())
	step := 1
	if !forward {
		step = -1
	}
	for i := 0; i < horizon; i++ {
		d := day.AddDate(0, 0, i*step)
		if !s.Working(d) {
			continue
		}
		if e := s.at(d, clock); after(e) {
			return e.UTC(), true
		}
	}
	return time.Time{}, false
}

// NextStop is the first stop after t.
func (s *Schedule) NextStop(t time.Time) (time.Time, bool) {
	return s.event(t, s.Stop, true, func(e time.Time) bool { return e.After(t) })
}

// LastStop is the latest stop at or before t.
func (s *Schedule) LastStop(t time.Time) (time.Time, bool) {
	return s.event(t, s.Stop, false, func(e time.Time) bool { return !e.After(t) })
}

// NextStart is the first start after t.
func (s *Schedule) NextStart(t time.Time) (time.Time, bool) {
	return s.event(t, s.Start, true, func(e time.Time) bool { return e.After(t) })
}

// LastStart is the latest start at or before t.
func (s *Schedule) LastStart(t time.Time) (time.Time, bool) {
	return s.event(t, s.Start, false, func(e time.Time) bool { return !e.After(t) })
}

// Server is what a decision needs to know of one server.
type Server struct {
	Running    bool      // running in opsbot's records (not stopped, not ending)
	LeaseStart time.Time // when it first ran
	LeaseEnd   time.Time
	// ParkedAt is when opsbot stopped it for off-hours and it was not
	// started since; zero otherwise (running, or stopped for another
	// reason, which off-hours never undoes).
	ParkedAt time.Time
}

// Step is what is due for one server at an instant.
type Step struct {
	// Warn: the owner is to be told of the stop at StopAt (once; the
	// caller records it).
	Warn bool
	// Stop: the stop at StopAt is due (once; the caller records it, and
	// skips it when the owner chose to keep the server tonight).
	Stop   bool
	StopAt time.Time
	// Start: the server opsbot stopped is to be started now.
	Start bool
}

// Due says what is due for srv at now. A pure function: whether the
// warning was sent, the stop made or the night kept is the caller's
// record, keyed by StopAt.
//
//   - The warning is due from WarnBefore before a stop until the stop.
//   - A stop is due from its instant for as long as the night lasts
//     (opsbot down at 20:00 stops at its restart), except within
//     MinNight of the morning start: a missed night is not made up in
//     the morning. A server whose lease started after the stop (launched
//     in the evening on purpose) is not stopped that night.
//   - A start is due from the first start after the server was parked,
//     while the day lasts (until the next stop) and within the lease.
func (s *Schedule) Due(now time.Time, srv Server) Step {
	var st Step
	if srv.Running {
		if last, ok := s.LastStop(now); ok {
			start, ok := s.NextStart(last)
			if ok && now.Before(start.Add(-MinNight)) && srv.LeaseStart.Before(last) && now.Before(srv.LeaseEnd) {
				return Step{Stop: true, StopAt: last}
			}
		}
		if next, ok := s.NextStop(now); ok && !now.Before(next.Add(-s.WarnBefore)) && srv.LeaseStart.Before(next) && next.Before(srv.LeaseEnd) {
			st.Warn, st.StopAt = true, next
		}
		return st
	}
	if srv.ParkedAt.IsZero() || !now.Before(srv.LeaseEnd) {
		return st
	}
	start, ok := s.NextStart(srv.ParkedAt)
	if !ok || now.Before(start) {
		return st
	}
	if stop, ok := s.NextStop(start); ok && !now.Before(stop) {
		// The whole day was missed: it is night again. It stays stopped
		// and starts next morning.
		if next, ok := s.NextStart(stop); ok && !now.Before(next) {
			return Step{Start: true}
		}
		return st
	}
	st.Start = true
	return st
}

// Next says when Due may next have something to do for srv after now,
// given that what was due at now was handled. The zero time: nothing
// (no working day within the horizon).
func (s *Schedule) Next(now time.Time, srv Server) time.Time {
	var cands []time.Time
	if srv.Running {
		if next, ok := s.NextStop(now); ok {
			cands = append(cands, next.Add(-s.WarnBefore), next)
		}
	} else if !srv.ParkedAt.IsZero() {
		if start, ok := s.NextStart(now); ok {
			cands = append(cands, start)
		}
	}
	var best time.Time
	for _, c := range cands {
		if c.After(now) && (best.IsZero() || c.Before(best)) {
			best = c
		}
	}
	if best.IsZero() && len(cands) > 0 {
		best = now.Add(time.Minute) // a window already open: look again soon
	}
	return best
}

// ParseClock reads "20:00" as a time of day.
func ParseClock(v string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%q is not a time of day like 20:00", v)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// ParseDays reads weekday names ("mon", "tuesday") into a day set.
func ParseDays(names []string) ([7]bool, error) {
	var days [7]bool
	for _, n := range names {
		ok := false
		for d := time.Sunday; d <= time.Saturday; d++ {
			full := strings.ToLower(d.String())
			if l := strings.ToLower(strings.TrimSpace(n)); l == full || l == full[:3] {
				days[d], ok = true, true
			}
		}
		if !ok {
			return days, fmt.Errorf("%q is not a weekday (mon, tue, wed, thu, fri, sat, sun)", n)
		}
	}
	return days, nil
}
