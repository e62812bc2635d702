package workflows

import (
	"context"
	"errors"
	"testing"
	"time"
)

var reviewZone = mustZone("Europe/Paris")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// at is a fixed instant in Paris.
func at(day, hour, minute int) time.Time {
	return time.Date(2026, 11, day, hour, minute, 0, 0, reviewZone)
}

// reviewWindow is two weeks: Monday 16 to Monday 30 November 2026, 10:00 Paris.
var reviewWindow = Window{Start: at(16, 10, 0), End: at(30, 10, 0)}

func past(id, svc, urgency string, created time.Time, ack, resolve time.Duration, byPerson bool, alerts ...PastAlert) PastIncident {
	p := PastIncident{ID: id, Title: "incident " + id, Service: svc, ServiceName: "Name of " + svc, Urgency: urgency, CreatedAt: created, ResolvedByPerson: byPerson, Alerts: alerts}
	if ack > 0 {
		p.AckedAt = created.Add(ack)
	}
	if resolve > 0 {
		p.ResolvedAt = created.Add(resolve)
	}
	return p
}

func TestSummarize_FiguresAtFixedInstants(t *testing.T) {
	disk := func(n string) PastAlert {
		return PastAlert{Key: "disk-full", Summary: "Disk " + n + "% full on db-" + n}
	}
	cpu := func(host string) PastAlert {
		return PastAlert{Key: "0123456789abcdef0123456789abcdef", Summary: "CPU 97% on " + host + " (i-0abc12ef34)"}
	}
	ins := []PastIncident{
		// disk-full: high urgency, Tuesday 03:00 (a night page), acked after 5m, resolved by a person after 50m.
		past("A", "S1", "high", at(17, 3, 0), 5*time.Minute, 50*time.Minute, true, disk("91")),
		// Flapping: opened 30 min after A resolved (03:50 → 04:20).
		past("B", "S1", "high", at(17, 4, 20), 10*time.Minute, 20*time.Minute, true, disk("93")),
		// disk-full in business hours (Wednesday 11:00), resolved by itself without ack.
		past("C", "S1", "high", at(18, 11, 0), 0, 15*time.Minute, false, disk("95")),
		// cpu: low urgency, generated keys, summaries differing only in numbers and IDs: one group.
		past("D", "S2", "low", at(20, 14, 0), 0, 2*time.Hour, false, cpu("web-12")),
		past("E", "S2", "low", at(21, 23, 0), time.Hour, 3*time.Hour, true, cpu("web-3"), cpu("web-4")),
		// Saturday 15:00, high: outside business hours (weekend); still open.
		past("F", "S2", "high", at(28, 15, 0), 20*time.Minute, 0, false, PastAlert{Summary: "Checkout 5xx above 2% for 10m"}),
		// Previous window: two disk-full, one cpu.
		past("P1", "S1", "high", at(5, 12, 0), time.Minute, time.Hour, true, disk("90")),
		past("P2", "S1", "high", at(6, 12, 0), time.Minute, time.Hour, true, disk("90")),
		past("P3", "S2", "low", at(7, 12, 0), 0, time.Hour, false, cpu("web-1")),
		// Outside both windows: ignored.
		past("OLD", "S1", "high", at(1, 12, 0), 0, time.Hour, false, disk("80")),
		past("NEXT", "S1", "high", at(30, 10, 0), 0, time.Hour, false, disk("80")),
	}
	d := Summarize(reviewWindow, ins, nil, reviewZone)

	checks := []struct {
		name      string
		got, want int
	}{
		{"alerts", d.Alerts, 7},
		{"incidents", d.Incidents, 6},
		{"high", d.High, 4},
		{"low", d.Low, 2},
		{"outside hours (03:00 Tue, 04:20 Tue, 15:00 Sat)", d.OutsideHours, 3},
		{"auto-resolved (C, D)", d.AutoResolved, 2},
		{"flapping (B)", d.Flapping, 1},
		{"acked", d.Acked, 4},
		{"previous alerts", d.PrevAlerts, 3},
		{"previous incidents", d.PrevIncidents, 3},
		{"services", len(d.Services), 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	// Ack times 5m, 10m, 1h, 20m: median (rank 2) 10m, p90 (rank 4) 1h.
	if d.AckMedian != 10*time.Minute || d.AckP90 != time.Hour {
		t.Errorf("ack median/p90 = %v/%v, want 10m/1h", d.AckMedian, d.AckP90)
	}
	// Resolve times 50m, 20m, 15m, 2h, 3h (F open): median 50m, p90 3h.
	if d.ResolveMedian != 50*time.Minute || d.ResolveP90 != 3*time.Hour {
		t.Errorf("resolve median/p90 = %v/%v, want 50m/3h", d.ResolveMedian, d.ResolveP90)
	}

	groups := d.Groups()
	if len(groups) != 3 {
		for _, g := range groups {
			t.Logf("group %q: %+v", g.Label, g.Figures)
		}
		t.Fatalf("%d groups, want 3 (disk-full, CPU, 5xx)", len(groups))
	}
	disk0 := groups[0]
	if disk0.Label != "disk-full" || disk0.Alerts != 3 || disk0.PrevAlerts != 2 || disk0.Flapping != 1 || disk0.OutsideHours != 2 || disk0.AutoResolved != 1 || !disk0.Critical() {
		t.Errorf("disk-full group = %q %+v", disk0.Label, disk0.Figures)
	}
	var cpuG *AlertGroup
	for _, g := range groups {
		if g.Service == "S2" && g.Low > 0 {
			cpuG = g
		}
	}
	if cpuG == nil || cpuG.Label != "CPU #% on web-# (i-#)" || cpuG.Alerts != 3 || cpuG.Incidents != 2 || cpuG.PrevAlerts != 1 || cpuG.Critical() {
		t.Errorf("cpu group = %+v", cpuG)
	}
	if d.Services[0].Service != "S1" || d.Services[0].Name != "Name of S1" {
		t.Errorf("noisiest service = %+v", d.Services[0])
	}
}

func TestSummarize_FlappingNeedsTheSameAlertWithinAnHour(t *testing.T) {
	k := PastAlert{Key: "k"}
	ins := []PastIncident{
		past("A", "S", "high", at(17, 12, 0), 0, 10*time.Minute, false, k),
		// 61 minutes after A resolved: not flapping.
		past("B", "S", "high", at(17, 13, 11), 0, 10*time.Minute, false, k),
		// Another alert 5 minutes after B resolved: not flapping either.
		past("C", "S", "high", at(17, 13, 26), 0, 10*time.Minute, false, PastAlert{Key: "other"}),
		// Exactly one hour after B resolved: flapping.
		past("D", "S", "high", at(17, 14, 21), 0, 0, false, k),
	}
	d := Summarize(reviewWindow, ins, nil, reviewZone)
	if d.Flapping != 1 {
		t.Fatalf("flapping = %d, want 1 (D)", d.Flapping)
	}
}

func TestSummarize_OutsideHoursIsInTheTeamsZone(t *testing.T) {
	// 08:30 UTC on a Monday is 09:30 in Paris (inside) and 03:30 in New York (outside).
	in := past("A", "S", "high", time.Date(2026, 11, 23, 8, 30, 0, 0, time.UTC), 0, 0, false)
	if d := Summarize(reviewWindow, []PastIncident{in}, nil, reviewZone); d.OutsideHours != 0 {
		t.Errorf("Paris: outside hours = %d, want 0", d.OutsideHours)
	}
	if d := Summarize(reviewWindow, []PastIncident{in}, nil, mustZone("America/New_York")); d.OutsideHours != 1 {
		t.Errorf("New York: outside hours = %d, want 1", d.OutsideHours)
	}
	low := past("B", "S", "low", time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC), 0, 0, false)
	if d := Summarize(reviewWindow, []PastIncident{low}, nil, reviewZone); d.OutsideHours != 0 {
		t.Errorf("a low-urgency incident at night pages nobody: outside hours = %d", d.OutsideHours)
	}
}

func TestNormalizeAlert(t *testing.T) {
	for in, want := range map[string]string{
		"CPU 93% on web-12 (i-0abc12ef)":                  "CPU #% on web-# (i-#)",
		"Job 7f9c2ba4-e88f-11d3-a456-426614174000 failed": "Job # failed",
		"Latency p99 1.52s above 1s on 10.0.3.17:8080":    "Latency p# #s above #s on #",
		"  Disk   full  ":                                 "Disk full",
		"":                                                "(no summary)",
		"Replica lag 3600s on db-replica-2, dead letter queue 4": "Replica lag #s on db-replica-#, dead letter queue #",
	} {
		if got := NormalizeAlert(in); got != want {
			t.Errorf("NormalizeAlert(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPercentile_NearestRank(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	if got := Percentile(ds, 50); got != 5 {
		t.Errorf("median = %v, want 5", got)
	}
	if got := Percentile(ds, 90); got != 9 {
		t.Errorf("p90 = %v, want 9", got)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("empty = %v", got)
	}
	if got := Percentile([]time.Duration{7}, 90); got != 7 {
		t.Errorf("one value = %v", got)
	}
}

// pagedHistory serves pages and fails where told to.
type pagedHistory struct {
	pages  [][]PastIncident
	failAt map[int]error
	calls  []int
}

func (h *pagedHistory) HistoryPage(_ context.Context, _ HistoryQuery, offset int) ([]PastIncident, int, error) {
	h.calls = append(h.calls, offset)
	if err := h.failAt[offset]; err != nil {
		delete(h.failAt, offset)
		return nil, 0, err
	}
	i := offset / 2
	next := offset + len(h.pages[i])
	if i == len(h.pages)-1 {
		next = -1
	}
	return h.pages[i], next, nil
}

func TestGather_ResumesWhereAnErrorStoppedIt(t *testing.T) {
	h := &pagedHistory{
		pages:  [][]PastIncident{{{ID: "1"}, {ID: "2"}}, {{ID: "3"}, {ID: "4"}}, {{ID: "5"}}},
		failAt: map[int]error{4: errors.New("429 rate limited")},
	}
	g := &Gathering{}
	if err := Gather(context.Background(), h, g); err == nil {
		t.Fatal("Gather succeeded through a failing page")
	}
	if len(g.Incidents) != 4 || g.Next != 4 || g.Done() {
		t.Fatalf("after the error: %d incidents, next %d; want the 4 gathered kept and next 4", len(g.Incidents), g.Next)
	}
	if err := Gather(context.Background(), h, g); err != nil {
		t.Fatal(err)
	}
	if len(g.Incidents) != 5 || !g.Done() {
		t.Fatalf("after resuming: %d incidents, done %v", len(g.Incidents), g.Done())
	}
	if want := []int{0, 2, 4, 4}; len(h.calls) != len(want) || h.calls[3] != 4 || h.calls[0] != 0 {
		t.Errorf("offsets asked: %v, want %v (no page fetched twice but the failed one)", h.calls, want)
	}
}
