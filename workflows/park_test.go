package workflows

import (
	"testing"
	"time"
)

// TestCostSoFar_StoppedHoursWithinTheLeaseAreNotBilled at fixed instants:
// a closed stop, an open stop, a stop past the lease end and one made
// before the lease start (never counted below zero).
func TestCostSoFar_StoppedHoursWithinTheLeaseAreNotBilled(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	h := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }
	rate := Money(100_000) // $0.10 an hour
	base := func() *ServerRequest {
		return &ServerRequest{ID: "srv-1", State: StateRunning, HourlyRate: rate, LeaseStart: t0, LeaseEnd: h(48), UpdatedAt: t0}
	}
	for _, tc := range []struct {
		name  string
		edit  func(r *ServerRequest)
		now   time.Time
		hours float64
	}{
		{"no stop", func(*ServerRequest) {}, h(10), 10},
		{"a night stopped, started again", func(r *ServerRequest) {
			r.Stops = []Stop{{Why: WhyOffHours, At: h(12), Until: h(24)}}
		}, h(30), 18},
		{"stopped now (open)", func(r *ServerRequest) {
			r.State, r.UpdatedAt = StateStopped, h(12)
			r.Stops = []Stop{{Why: WhyManual, At: h(12)}}
		}, h(40), 12},
		{"stopped, saved later (an extension)", func(r *ServerRequest) {
			r.State, r.UpdatedAt = StateStopped, h(20)
			r.Stops = []Stop{{Why: WhyIdle, At: h(12)}}
		}, h(40), 12},
		{"two stops, the lease ended stopped", func(r *ServerRequest) {
			r.State, r.UpdatedAt = StateStopped, h(50)
			r.Stops = []Stop{{Why: WhyOffHours, At: h(12), Until: h(24)}, {Why: WhyOffHours, At: h(36), Until: h(50)}}
		}, h(60), 48 - 12 - 12},
		{"a stop recorded before the lease start", func(r *ServerRequest) {
			r.Stops = []Stop{{Why: WhyManual, At: h(-5), Until: h(2)}}
		}, h(10), 8},
	} {
		r := base()
		tc.edit(r)
		if got, want := r.CostSoFar(tc.now), rate.For(tc.hours); got != want {
			t.Errorf("%s: cost so far %s, want %s (%v hours)", tc.name, got, want, tc.hours)
		}
	}
}

// TestParkJobKey_OneKeyPerStopOrStart: the idle Stop now, the evening
// stop, the next evening's stop and the start of a stop each have a key
// of their own, so the queue (which replaces a waiting job with the same
// key) never swallows one with another.
func TestParkJobKey_OneKeyPerStopOrStart(t *testing.T) {
	launch := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	mon, tue := time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)
	keys := []string{
		ParkJobKey("srv-1", parkStop, WhyIdle, launch),
		ParkJobKey("srv-1", parkStop, WhyManual, launch),
		ParkJobKey("srv-1", parkStop, WhyOffHours, mon),
		ParkJobKey("srv-1", parkStop, WhyOffHours, tue),
		ParkJobKey("srv-1", parkStart, WhyOffHours, mon),
		ParkJobKey("srv-2", parkStop, WhyOffHours, mon),
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("key %q used twice", k)
		}
		seen[k] = true
	}
	if MessageLane(Job{Kind: JobPark, Payload: "srv-1 stop idle"}) != MessageLane(Job{Kind: JobPark, Payload: "srv-1 start offhours"}) {
		t.Error("the parks of one server are not in one lane")
	}
}

// TestParseServerChoice_RefusesManual: "manual" names a person's stop,
// never a choice a button offers.
func TestParseServerChoice_RefusesManual(t *testing.T) {
	if _, err := ParseServerChoice("srv-1 manual 1764702000"); err == nil {
		t.Error("a manual choice was accepted")
	}
}
