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
