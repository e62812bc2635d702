package offhours

import (
	"testing"
	"time"
)

var berlin, _ = time.LoadLocation("Europe/Berlin")

func office() *Schedule {
	days, _ := ParseDays([]string{"mon", "tue", "wed", "thu", "fri"})
	return &Schedule{Name: "office", Stop: 20 * time.Hour, Start: 8 * time.Hour, Days: days,
		Holidays: map[string]bool{"2026-12-24": true, "2026-12-25": true}, WarnBefore: 30 * time.Minute, Zone: berlin}
}

func local(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, berlin).UTC()
}

func TestNextStop_LocalClockHoldsAcrossDaylightSaving(t *testing.T) {
	s := office()
	for _, tc := range []struct {
		name      string
		from      time.Time
		stop      time.Time
		start     time.Time
		stopUTCHr int
	}{
		// Fri 27 Mar 2026 is CET (UTC+1); the clocks go forward on Sun 29 Mar.
		{"friday before spring forward", local(2026, 3, 27, 12, 0), local(2026, 3, 27, 20, 0), local(2026, 3, 30, 8, 0), 19},
		// Mon 30 Mar is CEST (UTC+2): the same 20:00 local is 18:00 UTC.
		{"monday after spring forward", local(2026, 3, 30, 12, 0), local(2026, 3, 30, 20, 0), local(2026, 3, 31, 8, 0), 18},
		// Fri 23 Oct is CEST; back to CET on Sun 25 Oct.
		{"friday before fall back", local(2026, 10, 23, 12, 0), local(2026, 10, 23, 20, 0), local(2026, 10, 26, 8, 0), 18},
		{"monday after fall back", local(2026, 10, 26, 12, 0), local(2026, 10, 26, 20, 0), local(2026, 10, 27, 8, 0), 19},
	} {
		stop, ok := s.NextStop(tc.from)
		if !ok || !stop.Equal(tc.stop) || stop.Hour() != tc.stopUTCHr {
			t.Errorf("%s: next stop %s, want %s (%d:00 UTC)", tc.name, stop, tc.stop, tc.stopUTCHr)
		}
		start, ok := s.NextStart(stop)
		if !ok || !start.Equal(tc.start) {
			t.Errorf("%s: next start %s, want %s", tc.name, start, tc.start)
		}
		if l := start.In(berlin); l.Hour() != 8 || l.Minute() != 0 {
			t.Errorf("%s: start at %s local, want 08:00", tc.name, l)
		}
	}
}

func TestDue_WeekendAndHolidaysAreNotWorkingDays(t *testing.T) {
	s := office()
	// Wed 23 Dec stop; Thu 24 and Fri 25 are holidays; Mon 28 starts.
	stop, _ := s.NextStop(local(2026, 12, 23, 9, 0))
	if !stop.Equal(local(2026, 12, 23, 20, 0)) {
		t.Fatalf("stop %s", stop)
	}
	if next, _ := s.NextStop(stop); !next.Equal(local(2026, 12, 28, 20, 0)) {
		t.Errorf("stop after the holidays %s, want Mon 28 Dec 20:00", next)
	}
	if start, _ := s.NextStart(stop); !start.Equal(local(2026, 12, 28, 8, 0)) {
		t.Errorf("start after the holidays %s, want Mon 28 Dec 08:00", start)
	}
}

func TestDue_WarnThenStopThenStartAtFixedInstants(t *testing.T) {
	s := office()
	lease := Server{Running: true, LeaseStart: local(2026, 12, 1, 9, 0), LeaseEnd: local(2026, 12, 10, 9, 0)}
	stopAt := local(2026, 12, 2, 20, 0)
	for _, tc := range []struct {
		name string
		now  time.Time
		srv  Server
		want Step
	}{
		{"day", local(2026, 12, 2, 15, 0), lease, Step{}},
		{"warn window opens", local(2026, 12, 2, 19, 30), lease, Step{Warn: true, StopAt: stopAt}},
		{"stop", local(2026, 12, 2, 20, 0), lease, Step{Stop: true, StopAt: stopAt}},
		{"opsbot down at 20:00, back at 02:00: stop once, late", local(2026, 12, 3, 2, 0), lease, Step{Stop: true, StopAt: stopAt}},
		{"back at 07:30: the night is not made up", local(2026, 12, 3, 7, 30), lease, Step{}},
		{"launched in the evening: not stopped tonight", local(2026, 12, 2, 22, 0), Server{Running: true, LeaseStart: local(2026, 12, 2, 21, 0), LeaseEnd: lease.LeaseEnd}, Step{}},
		{"lease ends before the stop: no warning", local(2026, 12, 2, 19, 45), Server{Running: true, LeaseStart: lease.LeaseStart, LeaseEnd: local(2026, 12, 2, 19, 50)}, Step{}},
		{"parked: morning start", local(2026, 12, 3, 8, 0), Server{ParkedAt: stopAt, LeaseStart: lease.LeaseStart, LeaseEnd: lease.LeaseEnd}, Step{Start: true}},
		{"parked: opsbot back at 11:00 starts it", local(2026, 12, 3, 11, 0), Server{ParkedAt: stopAt, LeaseStart: lease.LeaseStart, LeaseEnd: lease.LeaseEnd}, Step{Start: true}},
		{"parked: still night", local(2026, 12, 3, 7, 59), Server{ParkedAt: stopAt, LeaseStart: lease.LeaseStart, LeaseEnd: lease.LeaseEnd}, Step{}},
		{"parked: the whole day missed, night again", local(2026, 12, 3, 21, 0), Server{ParkedAt: stopAt, LeaseStart: lease.LeaseStart, LeaseEnd: lease.LeaseEnd}, Step{}},
		{"parked: the next morning after a missed day", local(2026, 12, 4, 8, 0), Server{ParkedAt: stopAt, LeaseStart: lease.LeaseStart, LeaseEnd: lease.LeaseEnd}, Step{Start: true}},
		{"parked: lease over, never started", local(2026, 12, 3, 8, 0), Server{ParkedAt: stopAt, LeaseStart: lease.LeaseStart, LeaseEnd: local(2026, 12, 3, 6, 0)}, Step{}},
		{"stopped for another reason: off-hours leaves it", local(2026, 12, 3, 8, 0), Server{LeaseStart: lease.LeaseStart, LeaseEnd: lease.LeaseEnd}, Step{}},
	} {
		if got := s.Due(tc.now, tc.srv); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestDue_ClockJumpsBackAcrossFallBack(t *testing.T) {
	// Sun 25 Oct 2026 02:00-03:00 happens twice in Berlin. A Friday stop
	// and a Monday start are not moved by it, and a server parked on
	// Friday is started once on Monday at 08:00 CET.
	s := office()
	parked := Server{ParkedAt: local(2026, 10, 23, 20, 0), LeaseStart: local(2026, 10, 20, 9, 0), LeaseEnd: local(2026, 11, 20, 9, 0)}
	for _, now := range []time.Time{
		time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), // 02:30 CEST
		time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), // 02:30 CET, again
		local(2026, 10, 26, 7, 59),
	} {
		if st := s.Due(now, parked); st != (Step{}) {
			t.Errorf("%s: %+v, want nothing", now, st)
		}
	}
	if next := s.Next(local(2026, 10, 25, 3, 0), parked); !next.Equal(local(2026, 10, 26, 8, 0)) || next.Hour() != 7 {
		t.Errorf("next %s, want Mon 08:00 CET (07:00 UTC)", next)
	}
}

func TestParse_RefusesBadClocksAndDays(t *testing.T) {
	if _, err := ParseClock("25:00"); err == nil {
		t.Error("25:00 accepted")
	}
	if d, err := ParseClock("08:30"); err != nil || d != 8*time.Hour+30*time.Minute {
		t.Errorf("08:30 = %s, %v", d, err)
	}
	if _, err := ParseDays([]string{"mon", "funday"}); err == nil {
		t.Error("funday accepted")
	}
	if days, err := ParseDays([]string{"Monday", "sat"}); err != nil || !days[time.Monday] || !days[time.Saturday] || days[time.Sunday] {
		t.Errorf("days = %v, %v", days, err)
	}
}
