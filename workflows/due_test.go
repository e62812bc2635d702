package workflows

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// The due times are only a hint about when to look: a tick that looks
// only when the stored time has come must do exactly what a tick that
// looked at everything every time did. These tests run both side by side
// over the same tick instants (every few minutes, with jumps of hours and
// of days, forwards and backwards) and compare what each sent, and when.

// tickTimes returns n tick instants from start: mostly a minute or a few
// apart, sometimes a jump of hours or days, and, when back, sometimes back
// by up to 90 minutes.
func tickTimes(rng *rand.Rand, start time.Time, n int, back bool) []time.Time {
	out := make([]time.Time, 0, n)
	t := start
	for range n {
		switch r := rng.IntN(100); {
		case r < 70:
			t = t.Add(time.Duration(1+rng.IntN(5)) * time.Minute)
		case r < 85:
			t = t.Add(time.Duration(1+rng.IntN(12)) * time.Hour)
		case r < 95 || !back:
			t = t.Add(time.Duration(1+rng.IntN(3)) * 24 * time.Hour)
		default:
			t = t.Add(-time.Duration(1+rng.IntN(90)) * time.Minute) // the clock goes back
		}
		out = append(out, t)
	}
	return out
}

// sent is one reminder or action a simulated tick took: what (with the
// due time that identifies it) and when.
type sent struct {
	Kind    string
	Due, At time.Time
}

func (s sent) String() string {
	return fmt.Sprintf("%s due %s at %s", s.Kind, s.Due.Format(time.RFC3339), s.At.Format(time.RFC3339))
}

// compareSims checks the tick that looks only when due against the one
// that looked every tick. With a clock that only moves forward they do
// the same. With one that goes back the old way could send an older
// reminder after a newer one (approval reminder 1 after 2) or a nag the
// last look at a later instant had held back (outside business hours);
// the new way waits until the clock is past that look again. So then it
// may send less, never more, never anything twice, and each kind's in
// order.
func compareSims(t *testing.T, what string, monotone bool, old, due []sent) {
	t.Helper()
	if monotone {
		if !reflect.DeepEqual(old, due) {
			t.Fatalf("%s:\nlooking every tick: %v\nlooking when due:   %v", what, old, due)
		}
		return
	}
	if len(due) > len(old) {
		t.Fatalf("%s: looking when due sent more:\nlooking every tick: %v\nlooking when due:   %v", what, old, due)
	}
	last := map[string]time.Time{}
	for _, s := range due {
		if l, ok := last[s.Kind]; ok && !s.Due.After(l) {
			t.Fatalf("%s: %s sent after the one due %s: %v", what, s, l.Format(time.RFC3339), due)
		}
		last[s.Kind] = s.Due
	}
}

// leaseSim ticks one lease the way Servers.Tick does: scan says whether
// every tick looks (the old way) or only those at or past the stored due
// time. extendAt, when a tick index, extends the lease by 6h before it
// (an extension between two ticks: a save, so due at once).
func leaseSim(r ServerRequest, lc LifecyclePolicy, ticks []time.Time, scan bool, extendAt int) []sent {
	var out []sent
	marked := map[string]bool{}
	due := time.Time{}.Add(1) // saved: due at once
	for i, now := range ticks {
		if i == extendAt && r.EndingAt.IsZero() && r.State == StateRunning {
			r.LeaseEnd = r.LeaseEnd.Add(6 * time.Hour)
			due = time.Time{}.Add(1)
			out = append(out, sent{Kind: fmt.Sprintf("extended before tick %d", i), At: now})
		}
		if !scan && (due.IsZero() || now.Before(due)) {
			continue
		}
		step := DueLease(now, &r, lc)
		if step.End {
			r.EndingAt = now
			out = append(out, sent{Kind: "end " + string(step.Action), Due: r.LeaseEnd, At: now})
		} else {
			for _, o := range step.Superseded {
				marked[WarningKey(&r, o)] = true
			}
			if step.Warn != 0 && !marked[WarningKey(&r, step.Warn)] {
				marked[WarningKey(&r, step.Warn)] = true
				out = append(out, sent{Kind: "warn before " + r.LeaseEnd.Format(time.RFC3339), Due: r.LeaseEnd.Add(-step.Warn), At: now})
			}
		}
		due = NextLeaseDue(&r, lc, now)
	}
	return out
}

func TestNextLeaseDue_LookingOnlyWhenDueActsLikeLookingEveryTick(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := range 400 {
		lc := LifecyclePolicy{
			WarnBefore:  [][]time.Duration{{24 * time.Hour, time.Hour}, {time.Hour}, {2 * time.Hour, 30 * time.Minute, 72 * time.Hour}, nil}[rng.IntN(4)],
			Grace:       time.Duration(rng.IntN(3)) * 30 * time.Minute,
			EndAction:   []EndAction{EndStop, EndTerminate}[rng.IntN(2)],
			MaxLifetime: time.Duration(rng.IntN(3)) * 72 * time.Hour,
		}
		leaseStart := start.Add(-time.Duration(rng.IntN(48)) * time.Hour)
		r := ServerRequest{ID: fmt.Sprintf("srv-%d", i), State: []State{StateRunning, StateRunning, StateStopped}[rng.IntN(3)],
			LeaseStart: leaseStart, LeaseEnd: leaseStart.Add(time.Duration(1+rng.IntN(96)) * time.Hour)}
		monotone := i%2 == 0
		ticks := tickTimes(rng, start, 300, !monotone)
		extendAt := -1
		if rng.IntN(2) == 0 {
			extendAt = rng.IntN(len(ticks))
		}
		old, due := leaseSim(r, lc, ticks, true, extendAt), leaseSim(r, lc, ticks, false, extendAt)
		compareSims(t, fmt.Sprintf("lease %d (%s, %+v)", i, r.State, lc), monotone, old, due)
	}
}

func approvalSim(a Approval, every time.Duration, ticks []time.Time, scan bool) []sent {
	var out []sent
	marked := map[string]bool{}
	due := time.Time{}.Add(1)
	for _, now := range ticks {
		if !scan && (due.IsZero() || now.Before(due)) {
			continue
		}
		step := DueApproval(now, &a, every)
		switch {
		case step.Expire:
			a.State = ApprovalExpired
			out = append(out, sent{Kind: "expired", Due: a.ExpiresAt, At: now})
		case step.RemindKey != "" && !marked[step.RemindKey]:
			marked[step.RemindKey] = true
			n := now.Sub(a.CreatedAt) / every
			out = append(out, sent{Kind: "reminder", Due: a.CreatedAt.Add(n * every), At: now})
		}
		due = NextApprovalDue(&a, every, now)
	}
	return out
}

func TestNextApprovalDue_LookingOnlyWhenDueActsLikeLookingEveryTick(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := range 400 {
		created := start.Add(-time.Duration(rng.IntN(600)) * time.Minute)
		a := Approval{ID: fmt.Sprintf("apr-%d", i), State: ApprovalPending, CreatedAt: created,
			ExpiresAt: created.Add(time.Duration(1+rng.IntN(72)) * time.Hour)}
		every := time.Duration(rng.IntN(5)) * 2 * time.Hour
		monotone := i%2 == 0
		ticks := tickTimes(rng, start, 200, !monotone)
		old, due := approvalSim(a, every, ticks, true), approvalSim(a, every, ticks, false)
		compareSims(t, fmt.Sprintf("approval %d (every %s)", i, every), monotone, old, due)
	}
}

// nagSim ticks one incident's nags. An update (a save: due at once) comes
// before tick updateAt; the incident resolves before tick resolveAt.
func nagSim(inc Incident, p *IncidentPolicy, loc *time.Location, ticks []time.Time, scan bool, updateAt, resolveAt int) []sent {
	var out []sent
	last := NagsSent{}
	due := time.Time{}.Add(1)
	for i, now := range ticks {
		if i == updateAt && inc.Open() {
			inc.LastUpdateAt, due = now.Add(-time.Second), time.Time{}.Add(1)
		}
		if i == resolveAt && inc.Open() {
			inc.Status, inc.ResolvedAt, inc.PostmortemDue, due = StatusResolved, now.Add(-time.Second), now.Add(48*time.Hour), time.Time{}.Add(1)
		}
		if !scan && (due.IsZero() || now.Before(due)) {
			continue
		}
		if !NextNagDue(&inc, p, loc, last, now).IsZero() { // as the tick: no channel, closed: nothing
			for _, n := range DueNags(now, &inc, p, loc, last) {
				last[n.Kind] = n.Due
				out = append(out, sent{Kind: string(n.Kind), Due: n.Due, At: now})
			}
		}
		due = NextNagDue(&inc, p, loc, last, now)
	}
	return out
}

func TestNextNagDue_LookingOnlyWhenDueActsLikeLookingEveryTick(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	start := time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC) // a Friday afternoon
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	for i := range 400 {
		p := nagPolicy()
		if rng.IntN(3) == 0 {
			p.BusinessHours = nil
		}
		if rng.IntN(4) == 0 {
			p.MeetingNagAfter, p.MeetingNagEvery = 2*time.Hour, 6*time.Hour
		}
		loc := []*time.Location{time.UTC, ny}[rng.IntN(2)]
		created := start.Add(-time.Duration(rng.IntN(300)) * time.Minute)
		inc := Incident{ID: fmt.Sprintf("inc-%d", i), ChannelID: "C1", Severity: []Severity{Sev1, Sev2, Sev3}[rng.IntN(3)],
			Status: StatusInvestigating, CreatedAt: created, LastUpdateAt: created}
		if rng.IntN(4) == 0 {
			inc.Snoozed = map[string]time.Time{string(NagUpdate): start.Add(time.Duration(rng.IntN(20)) * time.Hour)}
		}
		monotone := i%2 == 0
		ticks := tickTimes(rng, start, 300, !monotone)
		updateAt, resolveAt := rng.IntN(len(ticks)), rng.IntN(len(ticks))
		old := nagSim(inc, p, loc, ticks, true, updateAt, resolveAt)
		due := nagSim(inc, p, loc, ticks, false, updateAt, resolveAt)
		compareSims(t, fmt.Sprintf("incident %d (%s, %s)", i, inc.Severity, loc), monotone, old, due)
	}
}

func TestNextActionDue_DailyFromItsDueDateUntilDone(t *testing.T) {
	due := time.Date(2026, 12, 15, 9, 0, 0, 0, time.UTC)
	a := &ActionItem{ID: "act-1", Owner: Person{SlackID: "U1"}, Due: due}
	if got := NextActionDue(a, time.Time{}, time.UTC); !got.Equal(due) {
		t.Errorf("first reminder at %v, want the due date %v", got, due)
	}
	if got := NextActionDue(a, due.Add(48*time.Hour), time.UTC); !got.Equal(due.Add(72 * time.Hour)) {
		t.Errorf("after the reminder due %v: %v, want a day later", due.Add(48*time.Hour), got)
	}
	for name, b := range map[string]*ActionItem{
		"done":        {ID: "act-2", Owner: a.Owner, Due: due, DoneAt: due},
		"no due date": {ID: "act-3", Owner: a.Owner},
		"no owner":    {ID: "act-4", Due: due},
	} {
		if got := NextActionDue(b, time.Time{}, time.UTC); !got.IsZero() {
			t.Errorf("%s: next reminder %v, want none", name, got)
		}
	}
}

func TestBusinessHoursNextOpen(t *testing.T) {
	bh := nagPolicy().BusinessHours // Mon-Fri 09:00-18:00
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	for _, c := range []struct {
		name     string
		at, want time.Time
		loc      *time.Location
	}{
		{"within: itself", monday, monday, time.UTC},
		{"before the start", monday.Add(-3 * time.Hour), monday.Add(-time.Hour), time.UTC},
		{"after the end: next morning", monday.Add(9 * time.Hour), monday.Add(23 * time.Hour), time.UTC},
		{"friday evening: monday", monday.Add(4*24*time.Hour + 9*time.Hour), monday.Add(7*24*time.Hour - time.Hour), time.UTC},
		{"in the team's zone", monday, time.Date(2026, 11, 23, 9, 0, 0, 0, ny).UTC(), ny},
		{"the day the clocks change", time.Date(2026, 3, 8, 1, 0, 0, 0, ny), time.Date(2026, 3, 9, 9, 0, 0, 0, ny).UTC(), ny},
	} {
		got := bh.NextOpen(c.at, c.loc)
		if !got.Equal(c.want) || !bh.Contains(got, c.loc) {
			t.Errorf("%s: NextOpen(%v) = %v, want %v", c.name, c.at, got, c.want)
		}
	}
	if got := (*BusinessHours)(nil).NextOpen(monday, time.UTC); !got.Equal(monday) {
		t.Errorf("no business hours: %v", got)
	}
}

// An action item due 2026-03-06 at 09:00 in the team's zone: its
// daily reminder stays at 09:00 in the team's zone after the clocks
// change (8 March in New York, 29 March in Berlin).
func TestNextActionDue_StaysAtNineLocalAcrossDaylightSaving(t *testing.T) {
	for _, zone := range []string{"Europe/Berlin", "America/New_York"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Skip("no time zone database:", err)
		}
		due := time.Date(2026, 3, 6, 9, 0, 0, 0, loc)
		a := &ActionItem{ID: "act-1", Owner: Person{SlackID: "U1"}, Due: due.UTC()}
		last := time.Time{}
		for range 30 {
			next := NextActionDue(a, last, loc)
			if l := next.In(loc); l.Hour() != 9 || l.Minute() != 0 {
				t.Fatalf("%s: reminder after %v due %s, want 09:00 local", zone, last, l.Format(time.RFC3339))
			}
			last = next
		}
	}
}

// The post-mortem nag, daily from its due date, stays at the due date's
// local time after the clocks change (New York, 1 November 2026).
func TestDueNags_PostmortemDailyKeepsTheLocalTimeAcrossDaylightSaving(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	resolved := time.Date(2026, 10, 26, 10, 0, 0, 0, ny)
	inc := &Incident{ID: "inc-1", Severity: Sev1, Status: StatusResolved, ChannelID: "C1", CreatedAt: resolved.Add(-time.Hour),
		ResolvedAt: resolved.UTC(), MeetingAt: resolved.Add(time.Hour).UTC(), PostmortemDue: resolved.AddDate(0, 0, 5).UTC()}
	p := nagPolicy()
	p.BusinessHours = nil // sent at any hour: the due times are the times sent
	sent := NagsSent{}
	for now := resolved.UTC(); now.Before(resolved.AddDate(0, 0, 9)); now = now.Add(15 * time.Minute) {
		for _, n := range DueNags(now, inc, p, ny, sent) {
			if l := n.Due.In(ny); n.Kind == NagPostmortem && (l.Hour() != 10 || l.Minute() != 0) {
				t.Errorf("post-mortem nag due %s, want 10:00 local", l.Format(time.RFC3339))
			}
			sent[n.Kind] = n.Due
		}
		if next := NextNagDue(inc, p, ny, sent, now); next.Before(now) {
			t.Fatalf("next nag %v before now %v", next, now)
		}
	}
}

// Never forget: over random ticks (minutes apart, with jumps of hours and
// days, as a paused replica makes), a running lease whose end action is
// taken was warned about first, once, whenever any tick fell between its
// nearest warning and the end of its grace: opsbot was up at some moment
// when the owner could still act. No warning goes out twice.
func TestDueLease_WarnedBeforeTheEndWheneverOpsbotWasUpInTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := range 600 {
		lc := LifecyclePolicy{
			WarnBefore: [][]time.Duration{{24 * time.Hour, time.Hour}, {time.Hour}, {2 * time.Hour, 30 * time.Minute, 72 * time.Hour}}[rng.IntN(3)],
			Grace:      time.Duration(1+rng.IntN(4)) * 30 * time.Minute,
			EndAction:  []EndAction{EndStop, EndTerminate}[rng.IntN(2)],
		}
		leaseStart := start.Add(-time.Duration(rng.IntN(48)) * time.Hour)
		r := ServerRequest{ID: fmt.Sprintf("srv-%d", i), State: StateRunning, LeaseStart: leaseStart,
			LeaseEnd: leaseStart.Add(time.Duration(2+rng.IntN(96)) * time.Hour)}
		nearest := time.Duration(0)
		for _, o := range lc.WarnBefore {
			if o < r.LeaseEnd.Sub(r.LeaseStart) && (nearest == 0 || o < nearest) {
				nearest = o
			}
		}
		ticks := tickTimes(rng, start, 300, false)
		out := leaseSim(r, lc, ticks, false, -1)
		warned, ended := 0, false
		for _, s := range out {
			switch {
			case len(s.Kind) > 4 && s.Kind[:4] == "warn":
				if ended {
					t.Fatalf("lease %d: warned after its end: %v", i, out)
				}
				warned++
			case len(s.Kind) > 3 && s.Kind[:3] == "end":
				ended = true
			}
		}
		if warned > len(lc.WarnBefore) {
			t.Fatalf("lease %d: %d warnings for %d offsets: %v", i, warned, len(lc.WarnBefore), out)
		}
		upInTime := false
		for _, now := range ticks {
			if nearest > 0 && !now.Before(r.LeaseEnd.Add(-nearest)) && now.Before(r.LeaseEnd.Add(lc.Grace)) {
				upInTime = true
			}
		}
		if ended && upInTime && warned == 0 {
			t.Fatalf("lease %d (end %s, grace %s, warn %v): ended with no warning though opsbot ticked in time: %v",
				i, r.LeaseEnd.Format(time.RFC3339), lc.Grace, lc.WarnBefore, out)
		}
	}
}
