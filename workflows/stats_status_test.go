package workflows

import (
	"strings"
	"testing"
	"time"
)

func TestStatusTimes_AtFixedInstants(t *testing.T) {
	created := at(16, 3, 0)
	m := func(d int) time.Time { return created.Add(time.Duration(d) * time.Minute) }
	pd := func(at time.Time, action string) TimelineEntry {
		return TimelineEntry{At: at, Kind: TLPagerDuty, Action: action}
	}
	status := func(at time.Time, from, to IncidentStatus) TimelineEntry {
		return TimelineEntry{At: at, Kind: TLStatus, Text: statusChangeText(from, to)}
	}
	cases := []struct {
		name string
		inc  *Incident
		tl   []TimelineEntry
		want map[string]time.Duration
	}{
		{"acknowledged after 5m, identified at 20m, monitoring at 50m, resolved at 90m",
			&Incident{CreatedAt: created, ResolvedAt: m(90)},
			[]TimelineEntry{pd(m(5), "incident.acknowledged"), status(m(20), StatusInvestigating, StatusIdentified),
				status(m(50), StatusIdentified, StatusMonitoring), status(m(90), StatusMonitoring, StatusResolved)},
			map[string]time.Duration{InTriggered: 5 * time.Minute, InAcknowledged: 85 * time.Minute,
				"investigating": 20 * time.Minute, "identified": 30 * time.Minute, "monitoring": 40 * time.Minute}},
		{"resolved on its own after 15m, nobody acknowledging",
			&Incident{CreatedAt: created, ResolvedAt: m(15)},
			[]TimelineEntry{pd(m(15), "incident.resolved")},
			map[string]time.Duration{InTriggered: 15 * time.Minute, "investigating": 15 * time.Minute}},
		{"acknowledged, unacknowledged (timeout), acknowledged again: both stretches add up",
			&Incident{CreatedAt: created, ResolvedAt: m(60)},
			[]TimelineEntry{pd(m(2), "incident.acknowledged"), pd(m(32), "incident.unacknowledged"),
				pd(m(40), "incident.acknowledged"), pd(m(40), "incident.acknowledged") /* the log and the webhook */},
			map[string]time.Duration{InTriggered: 10 * time.Minute, InAcknowledged: 50 * time.Minute, "investigating": 60 * time.Minute}},
		{"still open: only what ended counts",
			&Incident{CreatedAt: created},
			[]TimelineEntry{pd(m(3), "incident.acknowledged"), status(m(10), StatusInvestigating, StatusIdentified)},
			map[string]time.Duration{InTriggered: 3 * time.Minute, "investigating": 10 * time.Minute}},
		{"resolved, reopened, resolved again",
			&Incident{CreatedAt: created, ResolvedAt: m(100)},
			[]TimelineEntry{pd(m(1), "incident.acknowledged"), status(m(30), StatusInvestigating, StatusResolved),
				pd(m(30), "incident.resolved"), pd(m(60), "incident.reopened"), status(m(60), StatusResolved, StatusInvestigating),
				pd(m(70), "incident.acknowledged"), status(m(100), StatusInvestigating, StatusResolved)},
			map[string]time.Duration{InTriggered: 11 * time.Minute, InAcknowledged: 59 * time.Minute, "investigating": 70 * time.Minute}},
		{"out of order entries and an unreadable status text",
			&Incident{CreatedAt: created, ResolvedAt: m(30)},
			[]TimelineEntry{{At: m(20), Kind: TLStatus, Text: "Cancelled: test"}, pd(m(10), "incident.acknowledged"), pd(m(30), "incident.resolved")},
			map[string]time.Duration{InTriggered: 10 * time.Minute, InAcknowledged: 20 * time.Minute, "investigating": 30 * time.Minute}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := StatusTimes(c.inc, c.tl)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s: %v, want %v (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

func TestComputeStats_TimeInEachStatus(t *testing.T) {
	now := at(30, 10, 0)
	w := Window{Start: now.AddDate(0, 0, -30), End: now}
	var ins []StatsInput
	for i, ack := range []int{1, 2, 3, 4, 40} { // minutes triggered
		inc := &Incident{ID: "inc", Severity: Sev2, CreatedAt: at(10+i, 12, 0)}
		ins = append(ins, StatsInput{Incident: inc, InStatus: map[string]time.Duration{
			InTriggered: time.Duration(ack) * time.Minute, "investigating": time.Hour}})
	}
	ins = append(ins, StatsInput{Incident: &Incident{ID: "x", Cancelled: true, CreatedAt: at(20, 1, 0)},
		InStatus: map[string]time.Duration{InTriggered: 99 * time.Hour}})
	st := ComputeStats(now, "platform", w, reviewZone, ins)
	if len(st.InStatus) != 2 || st.InStatus[0].Status != InTriggered || st.InStatus[1].Status != "investigating" {
		t.Fatalf("InStatus = %+v", st.InStatus)
	}
	if got := st.InStatus[0]; got.Incidents != 5 || got.Median != 3*time.Minute || got.P90 != 40*time.Minute {
		t.Errorf("triggered = %+v, want 5 incidents, median 3m, p90 40m (the cancelled one left out)", got)
	}
	msg := StatsMessage(st, reviewZone)
	if !strings.Contains(msg.Text, "Time in each status (median / p90): triggered 3m / 40m · investigating 1h / 1h") {
		t.Errorf("message:\n%s", msg.Text)
	}
}
