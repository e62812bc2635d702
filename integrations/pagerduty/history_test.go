package pagerduty_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/workflows"
)

// seedHistory records n past incidents on the rig's service, one every
// six hours from start: even ones acknowledged by Bob after 4 minutes and
// resolved by him after 30, odd ones resolved by their integration after
// 10 minutes with nobody acknowledging. Each has one alert, the third
// has three.
func seedHistory(t *testing.T, r *rig, start time.Time, n int) {
	t.Helper()
	for i := range n {
		at := start.Add(time.Duration(i) * 6 * time.Hour)
		p := pdfake.Past{ServiceID: r.svc.ID, Title: fmt.Sprintf("Disk full on db-%d", i), CreatedAt: at,
			Alerts: []pdfake.Alert{{Key: "disk-full", Summary: fmt.Sprintf("Disk %d%% full on db-%d", 90+i%10, i)}}}
		if i == 2 {
			p.Alerts = append(p.Alerts, pdfake.Alert{Key: "disk-full"}, pdfake.Alert{Key: "inode-full"})
		}
		if i%2 == 0 {
			p.AckedAt, p.AckedBy = at.Add(4*time.Minute), r.bob.ID
			p.ResolvedAt, p.ResolvedBy = at.Add(30*time.Minute), r.bob.ID
		} else {
			p.Urgency = "low"
			p.ResolvedAt = at.Add(10 * time.Minute)
		}
		if _, err := r.fake.AddPast(p); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHistoryPage_PagesThroughTheWindowWithAlertsAndAcks(t *testing.T) {
	r := newRig(t)
	start := t0.Add(-14 * 24 * time.Hour)
	seedHistory(t, r, start.Add(-24*time.Hour), 9) // 4 before the window, 5 in it
	other := r.fake.AddService(pdfake.Service{Name: "Other", EscalationPolicyID: r.policy.ID})
	if _, err := r.fake.AddPast(pdfake.Past{ServiceID: other.ID, Title: "not ours", CreatedAt: start.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	g := &workflows.Gathering{Query: workflows.HistoryQuery{Services: []string{r.svc.ID}, Since: start, Until: t0}}
	if err := workflows.Gather(context.Background(), r.pd, g); err != nil {
		t.Fatal(err)
	}
	if len(g.Incidents) != 5 {
		t.Fatalf("gathered %d incidents, want the 5 of the window on the service", len(g.Incidents))
	}
	first := g.Incidents[0]
	if first.ServiceName != "Checkout API" || first.Title != "Disk full on db-4" || len(first.Alerts) != 1 || first.Alerts[0].Key != "disk-full" {
		t.Errorf("first incident = %+v", first)
	}
	if got := first.AckedAt.Sub(first.CreatedAt); got != 4*time.Minute || !first.ResolvedByPerson || first.AutoResolved() {
		t.Errorf("acked after %v, resolved by a person %v; want 4m, true", got, first.ResolvedByPerson)
	}
	if second := g.Incidents[1]; !second.AutoResolved() || second.Urgency != "low" || second.ResolvedAt.Sub(second.CreatedAt) != 10*time.Minute {
		t.Errorf("second incident = %+v, want auto-resolved, low, after 10m", second)
	}
	// 5 incidents in pages of 2: 3 list calls, then per incident one
	// alerts call and one or two log calls.
	lists := r.fake.CallsTo("GET /incidents")
	if len(lists) != 3 {
		t.Fatalf("%d list calls, want 3", len(lists))
	}
	q := lists[1].Query
	if q.Get("since") != start.Format(time.RFC3339) || q.Get("until") != t0.Format(time.RFC3339) ||
		q["service_ids[]"][0] != r.svc.ID || q.Get("offset") != "2" || q.Get("limit") != "2" {
		t.Errorf("second list call asked %v", q)
	}
	if n := len(r.fake.CallsTo("GET /incidents/{id}/alerts")); n != 5 {
		t.Errorf("%d alert calls, want 5", n)
	}
	// The overview of an acknowledged incident has three entries
	// (trigger, acknowledge, resolve): two pages of 2 for the 3 of them.
	if n := len(r.fake.CallsTo("GET /incidents/{id}/log_entries")); n != 8 {
		t.Errorf("%d log calls, want 8", n)
	}
	if g.Calls != 3 {
		t.Errorf("gathering counted %d pages, want 3", g.Calls)
	}
}

func TestHistoryPage_AnIncidentWithManyAlertsIsPaged(t *testing.T) {
	r := newRig(t)
	start := t0.Add(-time.Hour)
	seedHistory(t, r, start.Add(-12*time.Hour), 3) // the third (i=2) has 3 alerts, at start
	g := &workflows.Gathering{Query: workflows.HistoryQuery{Services: []string{r.svc.ID}, Since: start, Until: t0}}
	if err := workflows.Gather(context.Background(), r.pd, g); err != nil {
		t.Fatal(err)
	}
	if len(g.Incidents) != 1 || len(g.Incidents[0].Alerts) != 3 {
		t.Fatalf("gathered %+v, want one incident with 3 alerts", g.Incidents)
	}
	if n := len(r.fake.CallsTo("GET /incidents/{id}/alerts")); n != 2 {
		t.Errorf("%d alert calls for 3 alerts in pages of 2, want 2", n)
	}
}

func TestHistoryPage_RateLimitWaitsAndAnOutageKeepsWhatWasGathered(t *testing.T) {
	r := newRig(t)
	start := t0.Add(-7 * 24 * time.Hour)
	seedHistory(t, r, start, 6)
	q := workflows.HistoryQuery{Services: []string{r.svc.ID}, Since: start, Until: t0}

	// One 429 on the alerts: the retry waits PagerDuty's Retry-After and goes on.
	r.fake.Throttle("GET /incidents/{id}/alerts", 1, 7*time.Second)
	g := &workflows.Gathering{Query: q}
	if err := workflows.Gather(context.Background(), r.pd, g); err != nil {
		t.Fatal(err)
	}
	if got := r.sleeps.got(); len(got) != 1 || got[0] != 7*time.Second {
		t.Errorf("waits = %v, want one of 7s (Retry-After)", got)
	}
	if len(g.Incidents) != 6 {
		t.Fatalf("gathered %d, want 6", len(g.Incidents))
	}

	// A fresh gathering stopped by an outage on its second list page keeps
	// the first page and resumes from it.
	g = &workflows.Gathering{Query: q}
	page, next, err := r.pd.HistoryPage(context.Background(), q, 0)
	if err != nil {
		t.Fatal(err)
	}
	g.Incidents, g.Next, g.Calls = page, next, 1
	r.fake.FailNext("GET /incidents", http.StatusServiceUnavailable, 3) // MaxAttempts is 3
	if err := workflows.Gather(context.Background(), r.pd, g); err == nil {
		t.Fatal("Gather succeeded through an outage")
	}
	if len(g.Incidents) != 2 || g.Next != 2 {
		t.Fatalf("after the outage: %d incidents, next %d; want 2 kept, next 2", len(g.Incidents), g.Next)
	}
	before := len(r.fake.CallsTo("GET /incidents/{id}/alerts"))
	if err := workflows.Gather(context.Background(), r.pd, g); err != nil {
		t.Fatal(err)
	}
	if len(g.Incidents) != 6 {
		t.Fatalf("after resuming: %d incidents, want 6", len(g.Incidents))
	}
	// Incidents 2 to 5, the one with 3 alerts in two pages: 5 calls.
	if got := len(r.fake.CallsTo("GET /incidents/{id}/alerts")) - before; got != 5 {
		t.Errorf("resuming made %d alert calls, want 5 (the first 2 incidents were kept)", got)
	}
}

func TestPdfake_ListIncidentsRefusesABadRange(t *testing.T) {
	r := newRig(t)
	q := workflows.HistoryQuery{Services: []string{r.svc.ID}, Since: t0, Until: t0.Add(-time.Hour)}
	if _, _, err := r.pd.HistoryPage(context.Background(), q, 0); err == nil || !isPermanent(err) {
		t.Errorf("until before since: err = %v, want a permanent 400", err)
	}
	q = workflows.HistoryQuery{Services: []string{r.svc.ID}, Since: t0.Add(-200 * 24 * time.Hour), Until: t0}
	if _, _, err := r.pd.HistoryPage(context.Background(), q, 0); err == nil || !isPermanent(err) {
		t.Errorf("over 6 months: err = %v, want a permanent 400", err)
	}
}
