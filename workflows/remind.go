package workflows

import (
	"strconv"
	"strings"
	"time"
)

// Repeat is the schedule of a reminder that repeats while its condition
// holds: the first falls due at First, the next ones Every after the last
// one sent.
type Repeat struct {
	First time.Time
	Every time.Duration
	// Loc, when set and Every is a whole number of days, makes the period
	// calendar days in Loc: each reminder falls at First's local clock
	// time, on both sides of a daylight-saving change (24 hours would
	// move it to 08:00 or 10:00 local).
	Loc *time.Location
}

// days is the period in calendar days of a repeat with a zone; 0 for one
// counted in elapsed time.
func (r Repeat) days() int {
	if r.Loc == nil || r.Every <= 0 || r.Every%(24*time.Hour) != 0 {
		return 0
	}
	return int(r.Every / (24 * time.Hour))
}

// at is the nth due time of a calendar repeat: First's local clock time,
// n periods of days later. The first is First itself: rebuilt from its
// clock time, a First in the hour the clocks go back (01:30 EST, the
// second 01:30 in New York) could come out as the other 01:30, before
// First, and the reminder sent then would never be followed by another.
func (r Repeat) at(n int) time.Time {
	if n == 0 {
		return r.First
	}
	f := r.First.In(r.Loc)
	return time.Date(f.Year(), f.Month(), f.Day()+n*r.days(), f.Hour(), f.Minute(), f.Second(), f.Nanosecond(), r.Loc).In(r.First.Location())
}

// index is the number of the latest due time of a calendar repeat at or
// before t (t not before First).
func (r Repeat) index(t time.Time) int {
	n := int(t.Sub(r.First) / r.Every) // off by one at most: a day is 23 to 25 hours
	for n > 0 && r.at(n).After(t) {
		n--
	}
	for !r.at(n + 1).After(t) {
		n++
	}
	return n
}

// Due returns the due time of the reminder to send at now, given the due
// time of the last one sent (zero when none was). A reminder is identified
// by its due time: the caller records it in the transaction that queues
// the reminder, and a due time already recorded is never sent again.
//
// Counting from the last one sent, not from a fixed grid, keeps the
// promise when the period changes (a severity change) or the clock jumps:
// after a jump of a day, one catch-up reminder is due, stamped with the
// latest due time the jump passed, and the next one a full period later,
// never a burst. A last reminder from before First belongs to an earlier
// spell of the condition (an update has come since) and counts for
// nothing.
func (r Repeat) Due(now, last time.Time) (time.Time, bool) {
	if r.Every <= 0 || r.First.IsZero() {
		return time.Time{}, false
	}
	next := r.Next(last)
	if now.Before(next) {
		return time.Time{}, false
	}
	if r.days() > 0 {
		return r.at(r.index(now)), true
	}
	return next.Add(now.Sub(next) / r.Every * r.Every), true
}

// Next returns when the reminder after last (the due time of the last one
// sent, zero when none was) falls due: First, or a period after last.
// With calendar days, it is the first due time on a local date after
// last's: a reminder recorded off the calendar (by an opsbot that counted
// 24 hours) is not followed by another the same day.
func (r Repeat) Next(last time.Time) time.Time {
	if last.Before(r.First) {
		return r.First
	}
	if r.days() == 0 {
		return last.Add(r.Every)
	}
	n := r.index(last) + 1
	day := func(t time.Time) string { return t.In(r.Loc).Format("2006-01-02") }
	for day(r.at(n)) <= day(last) {
		n++
	}
	return r.at(n)
}

// Elapsed writes a span of time the way a reminder states it: "30
// minutes", "2 hours 5 minutes", "1 day 3 hours". Minutes are dropped
// past a day; seconds always.
func Elapsed(d time.Duration) string {
	if d < time.Minute {
		return "less than a minute"
	}
	d = d.Truncate(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	unit := func(n int, one string) {
		if n == 0 {
			return
		}
		s := strconv.Itoa(n) + " " + one
		if n > 1 {
			s += "s"
		}
		parts = append(parts, s)
	}
	unit(days, "day")
	unit(hours, "hour")
	if days == 0 {
		unit(mins, "minute")
	}
	return strings.Join(parts, " ")
}
