package workflows

import (
	"testing"
	"time"
)

func TestRepeat_DueAtFixedInstantsAndAcrossClockJumps(t *testing.T) {
	t0 := monday
	r := Repeat{First: t0.Add(30 * time.Minute), Every: 30 * time.Minute}
	tests := []struct {
		name      string
		now, last time.Duration // after t0; last < 0: none sent
		want      time.Duration // due time after t0; -1: nothing
	}{
		{"before the first", 29 * time.Minute, -1, -1},
		{"the first", 30 * time.Minute, -1, 30 * time.Minute},
		{"the first, tick late", 44 * time.Minute, -1, 30 * time.Minute},
		{"first sent: not again in its period", 59 * time.Minute, 30 * time.Minute, -1},
		{"the second", 60 * time.Minute, 30 * time.Minute, 60 * time.Minute},
		{"a day's jump: one catch-up at the latest due time", 24*time.Hour + 5*time.Minute, 30 * time.Minute, 24 * time.Hour},
		{"after the catch-up: nothing until a period later", 24*time.Hour + 29*time.Minute, 24 * time.Hour, -1},
		{"clock went back: nothing", 10 * time.Minute, 60 * time.Minute, -1},
		{"a last one from an earlier spell counts for nothing", 30 * time.Minute, -2 * time.Hour, 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last time.Time
			if tt.last != -1 {
				last = t0.Add(tt.last)
			}
			due, ok := r.Due(t0.Add(tt.now), last)
			if tt.want < 0 {
				if ok {
					t.Fatalf("due %s, want nothing", due)
				}
				return
			}
			if !ok || !due.Equal(t0.Add(tt.want)) {
				t.Fatalf("due %s (%v), want %s", due, ok, t0.Add(tt.want))
			}
		})
	}
}

func TestElapsed_ReadsAsHoursAndMinutes(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{20 * time.Second, "less than a minute"},
		{time.Minute, "1 minute"},
		{30*time.Minute + 59*time.Second, "30 minutes"},
		{time.Hour, "1 hour"},
		{2*time.Hour + 5*time.Minute, "2 hours 5 minutes"},
		{6*time.Hour + 30*time.Minute, "6 hours 30 minutes"},
		{24 * time.Hour, "1 day"},
		{24*time.Hour + 30*time.Minute, "1 day"},
		{27 * time.Hour, "1 day 3 hours"},
		{50 * time.Hour, "2 days 2 hours"},
	}
	for _, tt := range tests {
		if got := Elapsed(tt.d); got != tt.want {
			t.Errorf("Elapsed(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// A daily reminder keeps its local clock time across a daylight-saving
// change in the reader's zone: an action item due at 09:00 in Berlin is
// reminded at 09:00 on both sides of 25 October 2026 (CEST to CET) and of
// 29 March 2026 (CET to CEST), never at 08:00 or 10:00, and once a day.
func TestRepeat_DailyKeepsTheLocalTimeAcrossDaylightSaving(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	for _, c := range []struct {
		name  string
		first time.Time
	}{
		{"fall back", time.Date(2026, 10, 23, 9, 0, 0, 0, berlin)},
		{"spring forward", time.Date(2026, 3, 27, 9, 0, 0, 0, berlin)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Repeat{First: c.first.UTC(), Every: 24 * time.Hour, Loc: berlin}
			var last time.Time
			seen := map[string]bool{}
			// A tick every 10 minutes for five days.
			for now := c.first.UTC(); now.Before(c.first.AddDate(0, 0, 5)); now = now.Add(10 * time.Minute) {
				due, ok := r.Due(now, last)
				if !ok {
					continue
				}
				l := due.In(berlin)
				if l.Hour() != 9 || l.Minute() != 0 {
					t.Errorf("reminder due %s, want 09:00 local", l.Format(time.RFC3339))
				}
				day := l.Format("2006-01-02")
				if seen[day] {
					t.Errorf("two reminders on %s", day)
				}
				seen[day], last = true, due
			}
			if len(seen) != 5 {
				t.Errorf("%d reminders in five days, want 5: %v", len(seen), seen)
			}
		})
	}
	// A week's clock jump: one catch-up, stamped with the latest 09:00
	// local, and the next one at 09:00 local the day after.
	r := Repeat{First: time.Date(2026, 10, 23, 9, 0, 0, 0, berlin), Every: 24 * time.Hour, Loc: berlin}
	due, ok := r.Due(time.Date(2026, 10, 30, 12, 0, 0, 0, berlin), r.First)
	if want := time.Date(2026, 10, 30, 9, 0, 0, 0, berlin); !ok || !due.Equal(want) {
		t.Fatalf("after a week's jump: %v (%v), want %v", due, ok, want)
	}
	if next, want := r.Next(due), time.Date(2026, 10, 31, 9, 0, 0, 0, berlin); !next.Equal(want) {
		t.Errorf("next after the catch-up %v, want %v", next, want)
	}
	// A reminder recorded by an older opsbot on the 24-hour grid (08:00
	// CET, an hour off) is not followed by another the same day.
	old := time.Date(2026, 10, 25, 8, 0, 0, 0, berlin)
	if next, want := r.Next(old), time.Date(2026, 10, 26, 9, 0, 0, 0, berlin); !next.Equal(want) {
		t.Errorf("next after a reminder on the old grid %v, want %v", next, want)
	}
	// The clock moved back: nothing.
	if _, ok := r.Due(time.Date(2026, 10, 29, 9, 30, 0, 0, berlin), time.Date(2026, 10, 30, 9, 0, 0, 0, berlin)); ok {
		t.Error("a reminder after the clock moved back")
	}
}

// TestRepeat_FirstInTheHourTheClocksGoBack: a daily reminder first due
// at 01:30 EST on 1 November 2026 (the second 01:30 in New York: the
// meeting nag of an incident resolved the evening before) is sent once
// at First, then not again until 01:30 the next day. Rebuilt from its
// clock time, the first due time came out as the first 01:30 (EDT), an
// hour before First: the reminder sent was stamped before First, Next
// gave First again, already past, and the incident read as due on
// every tick for a day with nothing new to send.
func TestRepeat_FirstInTheHourTheClocksGoBack(t *testing.T) {
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	first := time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC) // 01:30 EST
	r := Repeat{First: first, Every: 24 * time.Hour, Loc: newYork}
	due, ok := r.Due(first.Add(10*time.Minute), time.Time{})
	if !ok || !due.Equal(first) {
		t.Fatalf("first reminder stamped %v (%v), want First %v", due.In(newYork), ok, first.In(newYork))
	}
	want := time.Date(2026, 11, 2, 1, 30, 0, 0, newYork)
	if next := r.Next(due); !next.Equal(want) {
		t.Errorf("next after the first %v, want %v", next.In(newYork), want)
	}
	for now := first.Add(time.Hour); now.Before(want); now = now.Add(time.Hour) {
		if d, ok := r.Due(now, due); ok {
			t.Fatalf("at %v a reminder is due again (%v)", now.In(newYork), d.In(newYork))
		}
	}
}
