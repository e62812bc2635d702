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
	// After the 429 the calls resume one pace interval apart (900 a
	// minute: 68ms), not in a burst that would meet the limit again.
	got := r.sleeps.got()
	if len(got) < 2 || got[0] != 7*time.Second {
		t.Fatalf("waits = %v, want 7s (Retry-After) first", got)
	}
	for _, d := range got[1:] {
		if d <= 0 || d > 70*time.Millisecond {
			t.Errorf("waits = %v, want the pace interval after the Retry-After", got)
			break
		}
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

// The client paces its calls ahead of PagerDuty's limit: a burst of 20,
// then one every 1/900th of a minute, on the injected clock; so a
// gathering of many incidents never meets a 429 from a limiter that
// counts 960 a minute.
func TestClient_PacesCallsAheadOfTheLimit(t *testing.T) {
	r := newRig(t)
	start := t0.Add(-11 * 24 * time.Hour)
	seedHistory(t, r, start, 40) // 20 list pages of 2, 80 alert and log calls
	g := &workflows.Gathering{Query: workflows.HistoryQuery{Services: []string{r.svc.ID}, Since: start, Until: t0}}
	began := r.clock.Now()
	if err := workflows.Gather(context.Background(), r.pd, g); err != nil {
		t.Fatal(err)
	}
	calls := len(r.fake.Calls())
	if len(g.Incidents) != 40 || calls < 100 {
		t.Fatalf("gathered %d in %d calls", len(g.Incidents), calls)
	}
	// At most 900 calls in any sliding minute: the calls after the
	// burst each waited an interval.
	if took, want := r.clock.Now().Sub(began), time.Duration(calls-20)*time.Minute/900; took < want {
		t.Errorf("%d calls took %v of clock, want at least %v", calls, took, want)
	}
	if waits := r.sleeps.got(); len(waits) != calls-20 {
		t.Errorf("%d waits, want %d (the calls after the burst of 20)", len(waits), calls-20)
	}
}

// A window holding more incidents than the offset cap lets one list
// reach is gathered in narrower windows: every incident once, no request
// past the cap (the fake refuses one, as PagerDuty does), and an outage
// between the parts keeps what was gathered.
func TestGather_SplitsTheWindowAtTheOffsetCap(t *testing.T) {
	r := newRig(t, func(o *pdfake.Options) { o.OffsetCap = 10 })
	fake := r.fake
	start := t0.Add(-7 * 24 * time.Hour)
	seedHistory(t, r, start, 23)
	// Three incidents at one instant, straddling a split.
	for range 3 {
		if _, err := fake.AddPast(pdfake.Past{ServiceID: r.svc.ID, Title: "same instant", CreatedAt: start.Add(90 * time.Minute),
			ResolvedAt: start.Add(100 * time.Minute), Alerts: []pdfake.Alert{{Key: "same", Summary: "same"}}}); err != nil {
			t.Fatal(err)
		}
	}
	q := workflows.HistoryQuery{Services: []string{r.svc.ID}, Since: start, Until: t0}
	g := &workflows.Gathering{Query: q, Cap: 10, Limit: 2}
	if err := workflows.Gather(context.Background(), r.pd, g); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, p := range g.Incidents {
		seen[p.ID]++
	}
	if len(g.Incidents) != 26 || len(seen) != 26 {
		t.Fatalf("gathered %d incidents (%d distinct), want 26 once each", len(g.Incidents), len(seen))
	}
	if g.Splits < 2 {
		t.Errorf("%d splits, want the window narrowed at least twice", g.Splits)
	}
	for _, c := range fake.Calls() {
		if c.Status >= 400 {
			t.Errorf("a refused call: %+v", c)
		}
	}
	// Straight to the cap with the fake: refused with PagerDuty's 400.
	big := &workflows.Gathering{Query: q, Cap: 1000, Limit: 2}
	err := workflows.Gather(context.Background(), r.pd, big)
	if err == nil || !workflows.IsPermanent(err) {
		t.Fatalf("past the cap: %v", err)
	}
	if len(big.Incidents) != 10 {
		t.Errorf("kept %d incidents gathered before the refusal, want 10", len(big.Incidents))
	}
}
