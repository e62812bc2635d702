package workflows

import "time"

// Review defaults, when the incident policy's review section leaves a
// field out.
const (
	DefaultReviewEveryWeeks  = 2
	DefaultReviewCriticalMax = 10
	DefaultReviewNonCritical = 3
	// ReviewGrace is how late a scheduled review may still be posted (a
	// restart, a tick missed); a slot older than this is skipped, so a
	// bot down for a week does not post stale reviews when it comes back.
	ReviewGrace = 24 * time.Hour
	// ReviewCoverage is how far back "covered by recent reviews" looks
	// when picking the non-critical alerts of a meeting.
	ReviewCoverage = 6 * 7 * 24 * time.Hour
)

// CronSchedule gives the next occurrence after t, in t's location; the
// config builds one from a cron line (robfig/cron's Schedule has this
// method).
type CronSchedule interface{ Next(t time.Time) time.Time }

// Weekly is a CronSchedule: every week on Day at Hour:Minute, local time.
type Weekly struct {
	Day          time.Weekday
	Hour, Minute int
}

// Next is the first occurrence strictly after t, in t's location.
func (w Weekly) Next(t time.Time) time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), w.Hour, w.Minute, 0, 0, t.Location())
	for !d.After(t) || d.Weekday() != w.Day {
		d = time.Date(d.Year(), d.Month(), d.Day()+1, w.Hour, w.Minute, 0, 0, t.Location())
	}
	return d
}

// ReviewPolicy says when alert reviews are held and what they show.
type ReviewPolicy struct {
	Off bool // no scheduled review (/incident review still works)
	// Schedule gives the candidate times in the team's zone; EveryWeeks
	// keeps one week in that many (default 2: every other Monday).
	Schedule   CronSchedule
	EveryWeeks int
	// Window is how far back a review looks (default EveryWeeks weeks);
	// it is compared with the window before it.
	Window time.Duration
	// CriticalMax bounds the critical alerts put to a decision (the rest
	// are counted); NonCritical is how many non-critical ones are picked.
	CriticalMax, NonCritical int
	// NotionDatabase, when set, is the database each review gets a page
	// in: the agenda, the tables and the decisions as they are made.
	NotionDatabase string
}

// DefaultReviewPolicy is every other Monday at 10:00 in the team's zone.
func DefaultReviewPolicy() *ReviewPolicy {
	return &ReviewPolicy{Schedule: Weekly{Day: time.Monday, Hour: 10}, EveryWeeks: DefaultReviewEveryWeeks,
		CriticalMax: DefaultReviewCriticalMax, NonCritical: DefaultReviewNonCritical}
}

func (p *ReviewPolicy) every() int { return max(p.EveryWeeks, 1) }

// window is how far back a review looks.
func (p *ReviewPolicy) window() time.Duration {
	if p.Window > 0 {
		return p.Window
	}
	return time.Duration(p.every()) * 7 * 24 * time.Hour
}

// windowEnding is the window a review ending at end looks at, in the
// team's zone loc. A window of whole days reaches back as many calendar
// days, so consecutive scheduled reviews tile also when the clocks change
// between them: 14×24 hours before 10:00 CEST is 09:00 CET, an hour the
// review before saw too (in October, an hour no review saw).
func (p *ReviewPolicy) windowEnding(end time.Time, loc *time.Location) Window {
	d := p.window()
	if d%(24*time.Hour) == 0 && loc != nil {
		return Window{Start: daysBefore(end, int(d/(24*time.Hour)), loc), End: end}
	}
	return Window{Start: end.Add(-d), End: end}
}

// followUpDue is when work decided in a review at now is due: by the next
// review, the review's window later, counted like the window (calendar
// days in the team's zone loc, when it is whole days).
func (p *ReviewPolicy) followUpDue(now time.Time, loc *time.Location) time.Time {
	d := p.window()
	if d%(24*time.Hour) == 0 && loc != nil {
		return daysBefore(now, -int(d/(24*time.Hour)), loc)
	}
	return now.Add(d)
}

func (p *ReviewPolicy) criticalMax() int {
	if p.CriticalMax > 0 {
		return p.CriticalMax
	}
	return DefaultReviewCriticalMax
}

func (p *ReviewPolicy) nonCritical() int {
	if p.NonCritical > 0 {
		return p.NonCritical
	}
	return DefaultReviewNonCritical
}

// reviewEpoch anchors "every other week": weeks are counted from the
// Monday 1 January 2024, so the same weeks are review weeks whatever the
// day opsbot started.
var reviewEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// reviewWeek numbers the week of t's local date, from reviewEpoch.
func reviewWeek(t time.Time) int {
	civil := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	days := int(civil.Sub(reviewEpoch).Hours() / 24)
	if days < 0 {
		return (days - 6) / 7
	}
	return days / 7
}

// Slot is the latest scheduled review at or before now, in loc; zero when
// none falls within the last EveryWeeks weeks. It is a pure function of
// now: whether the slot was already held is the caller's record.
func (p *ReviewPolicy) Slot(now time.Time, loc *time.Location) time.Time {
	if p == nil || p.Off {
		return time.Time{}
	}
	sched := p.Schedule
	if sched == nil {
		sched = Weekly{Day: time.Monday, Hour: 10}
	}
	if loc == nil {
		loc = time.UTC
	}
	now = now.In(loc)
	t := now.Add(-time.Duration(p.every()*7+1) * 24 * time.Hour)
	var last time.Time
	for range 100000 {
		n := sched.Next(t)
		if n.IsZero() || n.After(now) {
			break
		}
		if w := reviewWeek(n); w%p.every() == 0 || (w < 0 && -w%p.every() == 0) {
			last = n
		}
		t = n
	}
	return last
}
