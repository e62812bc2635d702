package workflows

import (
	"testing"
	"time"
)

func TestServerChoice_ValueRoundTripsAndForgeriesAreRefused(t *testing.T) {
	c := ServerChoice{ID: "srv-42", Why: WhyOffHours, DrawnFor: time.Date(2026, 12, 2, 19, 0, 0, 0, time.UTC)}
	got, err := ParseServerChoice(c.Value())
	if err != nil || got != c {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, c)
	}
	for _, v := range []string{"", "srv-42", "srv-42 idle", "srv-42 bogus 12", "inc-4 idle 12", "srv-42 idle -5", "srv-42 idle x", "srv-42 idle 12 extra"} {
		if _, err := ParseServerChoice(v); err == nil {
			t.Errorf("ParseServerChoice(%q) accepted", v)
		}
	}
}

func TestChoiceActions_KeepSaysWhatItMeansPerContext(t *testing.T) {
	r := &ServerRequest{ID: "srv-1", Team: "platform", Instance: Instance{ID: "i-1"}}
	for why, want := range map[Why]string{
		WhyIdle: "Keep (no more idle flags this lease)", WhyOffHours: "Keep running tonight",
		WhyOffboarding: "Keep", WhyCostReview: "Keep",
	} {
		as := ChoiceActions(r, ServerChoice{ID: r.ID, Why: why, DrawnFor: time.Unix(1, 0)})
		if len(as) != 3 || as[0].ID != ActServerStop || as[1].ID != ActServerRelease || as[2].ID != ActServerKeep || as[2].Label != want {
			t.Errorf("%s: %+v", why, as)
		}
		if as[1].Confirm == nil || as[0].Confirm == nil {
			t.Errorf("%s: Stop and Release must ask first", why)
		}
	}
}

func TestParkHoursIn_ClippedToTheWindowTheStartAndTheLease(t *testing.T) {
	at := func(h int) time.Time {
		return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
	}
	for _, tc := range []struct {
		name     string
		p        Park
		from, to time.Time
		now      time.Time
		want     float64
	}{
		{"closed inside", Park{StoppedAt: at(20), StartedAt: at(32), LeaseEnd: at(100)}, at(0), at(200), at(50), 12},
		{"still stopped", Park{StoppedAt: at(20), LeaseEnd: at(100)}, at(0), at(200), at(30), 10},
		{"lease ended while stopped", Park{StoppedAt: at(20), LeaseEnd: at(26)}, at(0), at(200), at(50), 6},
		{"window cuts both ends", Park{StoppedAt: at(20), StartedAt: at(32), LeaseEnd: at(100)}, at(24), at(30), at(50), 6},
		{"before the window", Park{StoppedAt: at(2), StartedAt: at(4), LeaseEnd: at(100)}, at(10), at(20), at(50), 0},
	} {
		if got := tc.p.HoursIn(tc.from, tc.to, tc.now); got != tc.want {
			t.Errorf("%s: %v hours, want %v", tc.name, got, tc.want)
		}
	}
}
