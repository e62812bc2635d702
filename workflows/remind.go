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
	return next.Add(now.Sub(next) / r.Every * r.Every), true
}

// Next returns when the reminder after last (the due time of the last one
// sent, zero when none was) falls due: First, or a period after last.
func (r Repeat) Next(last time.Time) time.Time {
	if !last.Before(r.First) {
		return last.Add(r.Every)
	}
	return r.First
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
