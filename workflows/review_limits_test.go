package workflows

import (
	"fmt"
	"testing"
	"time"
	"unicode/utf8"
)

// A team with thousands of alerts on hundreds of services still gets a
// header within one Slack section (3,000 characters) and at most
// critical_max + non_critical items: the rest are counted, never listed.
func TestReview_ThousandsOfAlertsStayWithinSlackLimits(t *testing.T) {
	var incs []PastIncident
	for i := range 6000 {
		svc := fmt.Sprintf("P%03d", i%300)
		urg := "high"
		if i%3 == 0 {
			urg = "low"
		}
		at := reviewWindow.Start.Add(time.Duration(i) * 3 * time.Minute)
		incs = append(incs, PastIncident{ID: fmt.Sprintf("Q%05d", i), Service: svc, ServiceName: "Service with a long name number " + svc,
			Urgency: urg, CreatedAt: at, ResolvedAt: at.Add(time.Minute),
			Alerts: []PastAlert{{Key: fmt.Sprintf("alert-key-%d-%s", i%1500, svc), Summary: "something long happened"}}})
	}
	d := Summarize(reviewWindow, incs, nil, reviewZone)
	a := PickAgenda(d, nil, 10, 3)
	if len(a.Items) != 13 || a.MoreCritical == 0 {
		t.Fatalf("agenda: %d items, %d more critical", len(a.Items), a.MoreCritical)
	}
	team := &Team{Name: "platform", Location: reviewZone}
	rev := &AlertReview{ID: "rev-1", Team: "platform", Window: reviewWindow, Channel: "#platform"}
	h := reviewHeader(rev, team, d, a)
	reviewStats(&h, &Stats{})
	if n := utf8.RuneCountInString(h.Text); n > 3000 {
		t.Errorf("header text is %d characters, over a section's 3000", n)
	}
	for _, g := range a.Items {
		it := &ReviewItem{ReviewID: rev.ID, N: 1, Label: g.Label, ServiceName: g.ServiceName, Critical: g.Critical(), Figures: groupFigures(g)}
		m := reviewItemMessage(rev, it, team)
		if n := utf8.RuneCountInString(m.Title + m.Text); n > 3000 {
			t.Errorf("item message is %d characters", n)
		}
	}
	if f := reviewChart(rev, team, incs); f == nil || checkFile(*f) != nil {
		t.Errorf("chart: %+v", f)
	}
}
