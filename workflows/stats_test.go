package workflows

import (
	"testing"
	"time"
)

func TestComputeStats_AtFixedInstants(t *testing.T) {
	now := at(30, 10, 0)
	w := Window{Start: now.AddDate(0, 0, -30), End: now}
	inc := func(id string, sev Severity, svc string, created time.Time, resolve time.Duration) *Incident {
		i := &Incident{ID: id, Severity: sev, PDServiceName: svc, CreatedAt: created}
		if resolve > 0 {
			i.ResolvedAt = created.Add(resolve)
			i.PostmortemDue = i.ResolvedAt.Add(5 * 24 * time.Hour)
		}
		return i
	}
	done := inc("inc-1", Sev1, "Checkout API", at(2, 3, 0), time.Hour)
	done.PostmortemDone = true
	overdue := inc("inc-2", Sev2, "Checkout API", at(10, 12, 0), 30*time.Minute) // due 15 Nov: overdue
	pending := inc("inc-3", Sev2, "Search", at(28, 12, 0), 2*time.Hour)          // due 3 Dec: within time
	open := inc("inc-4", Sev3, "", at(29, 12, 0), 0)                             // open, no service
	cancelled := inc("inc-5", Sev1, "Search", at(20, 12, 0), time.Minute)        // left out
	cancelled.Cancelled = true
	old := inc("inc-6", Sev1, "Search", at(1, 9, 0), time.Hour) // 31 Oct... before the window
	old.CreatedAt = w.Start.Add(-time.Minute)
	ins := []StatsInput{
		{Incident: done, AckedAt: done.CreatedAt.Add(4 * time.Minute), Actions: []*ActionItem{
			{ID: "act-1", DoneAt: at(5, 9, 0)},
			{ID: "act-2", Due: at(20, 9, 0)}, // overdue
			{ID: "act-3"},                    // no due date: open
		}},
		{Incident: overdue, AckedAt: overdue.CreatedAt.Add(12 * time.Minute)},
		{Incident: pending, Actions: []*ActionItem{{ID: "act-4", Due: at(31, 9, 0)}}},
		{Incident: open, AckedAt: open.CreatedAt.Add(time.Minute)},
		{Incident: cancelled},
		{Incident: old},
	}
	st := ComputeStats(now, "platform", w, reviewZone, ins)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"count", st.All.Count, 4},
		{"ack median (1m, 4m, 12m)", st.All.AckMedian, 4 * time.Minute},
		{"ack p90", st.All.AckP90, 12 * time.Minute},
		{"resolve median (30m, 1h, 2h)", st.All.ResolveMedian, time.Hour},
		{"resolve p90", st.All.ResolveP90, 2 * time.Hour},
		{"severities", len(st.BySeverity), 3},
		{"sev2 count", st.BySeverity[1].Count, 2},
		{"busiest service", st.ByService[0].Name, "Checkout API"},
		{"services", len(st.ByService), 3},
		{"post-mortems done", st.PostmortemsDone, 1},
		{"post-mortems overdue", st.PostmortemsOverdue, 1},
		{"post-mortems pending", st.PostmortemsPending, 1},
		{"actions open", st.ActionsOpen, 3},
		{"actions overdue", st.ActionsOverdue, 1},
		{"actions done", st.ActionsDone, 1},
		{"days", len(st.PerDay), 31},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseDays(t *testing.T) {
	for in, want := range map[string]int{"30d": 30, "2w": 14, "7": 7, "180d": 180, "1D": 1} {
		if got, ok := ParseDays(in); !ok || got != want {
			t.Errorf("ParseDays(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"0d", "181d", "26w", "-3d", "d", "", "3.5d", "1e3", "99999"} {
		if got, ok := ParseDays(in); ok {
			t.Errorf("ParseDays(%q) = %d, accepted", in, got)
		}
	}
}

func TestShort(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "-", 45 * time.Second: "45s", 12 * time.Minute: "12m",
		3*time.Hour + 20*time.Minute: "3h 20m", 2 * time.Hour: "2h", 52 * time.Hour: "2d 4h", 48 * time.Hour: "2d"} {
		if got := Short(d); got != want {
			t.Errorf("Short(%v) = %q, want %q", d, got, want)
		}
	}
}
