// Package gcra is the token bucket opsbot paces its Slack calls with, in
// the form of the generic cell rate algorithm: one timestamp per key (the
// bucket's theoretical arrival time) instead of a token count and a
// refill time. A pure function of (state, now), so the in-process pacer
// and the store's shared one (a row per key, read and written in one
// short transaction) compute exactly the same thing.
package gcra

import "time"

// Limit is a pace: at most Burst calls at once after a quiet spell, then
// one every Every.
type Limit struct {
	Every time.Duration
	Burst int
}

// PerMinute is the pace that keeps within n calls in any sliding minute
// (how Slack counts its tiers) while allowing burst calls at once: after
// the burst, n-burst more calls fit in the rest of that minute, so the
// interval is a minute over (n-burst+1), rounded up so that rounding
// never lets one call too many in. A burst above n is cut to n.
//
// It counts the calls at their slots: it holds for calls that arrive
// exactly then. See PerMinuteLate for calls that may arrive later.
func PerMinute(n, burst int) Limit { return PerMinuteLate(n, burst, 0) }

// PerMinuteLate is PerMinute for calls that arrive (where the minute is
// counted) up to late after their slot. A sliding minute then sees the
// calls of slots up to a minute and late apart: the first call of a
// burst a little late and the call n-burst+1 paces after it on time were
// n+1 calls in one minute under PerMinute, which leaves nanoseconds to
// spare. So the interval is a minute and late over (n-burst+1).
func PerMinuteLate(n, burst int, late time.Duration) Limit {
	burst = max(1, min(burst, n))
	slots := time.Duration(n - burst + 1)
	span := time.Minute + max(late, 0)
	return Limit{Every: (span + slots - 1) / slots, Burst: burst}
}

// State is one key's bucket: its theoretical arrival time and, after a
// 429, the end of the Retry-After before which nothing may go.
type State struct {
	TAT, Blocked time.Time
}

// due is when the next call under s may go at now, and the arrival
// time that call would leave behind.
func due(s State, l Limit, now time.Time) (at, tat time.Time) {
	tat = s.TAT
	if tat.Before(now) {
		tat = now
	}
	at = tat.Add(-time.Duration(max(l.Burst, 1)-1) * l.Every)
	if at.Before(now) {
		at = now
	}
	if at.Before(s.Blocked) {
		at = s.Blocked
		if tat.Before(at) {
			tat = at
		}
	}
	return at, tat.Add(l.Every)
}

// Take takes the next slot of the bucket when it is due by horizon: it
// returns the new state, when the call may go (now or later, never after
// horizon) and true. When the next slot is later than horizon nothing is
// taken: it returns the state unchanged, when a slot will be due, and
// false, so the caller can come back then without having held a slot
// nobody uses.
func Take(s State, l Limit, now, horizon time.Time) (State, time.Time, bool) {
	at, tat := due(s, l, now)
	if at.After(horizon) {
		return s, at, false
	}
	s.TAT = tat
	return s, at, true
}

// Next is when a call could go, without taking anything.
func Next(s State, l Limit, now time.Time) time.Time {
	at, _ := due(s, l, now)
	return at
}

// Block records a Retry-After: nothing goes before until, and the bucket
// is drained so calls resume one interval apart, not in a burst.
func Block(s State, l Limit, until time.Time) State {
	if until.After(s.Blocked) {
		s.Blocked = until
	}
	if drained := until.Add(time.Duration(max(l.Burst, 1)-1) * l.Every); drained.After(s.TAT) {
		s.TAT = drained
	}
	return s
}

// Idle reports whether a bucket is back to full and unblocked at now, so
// forgetting it changes nothing.
func Idle(s State, now time.Time) bool {
	return !s.TAT.After(now) && !s.Blocked.After(now)
}
