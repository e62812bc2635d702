package workflows

import (
	"testing"
	"time"
)

func TestReviewSlot_EveryOtherMondayAtTenInTheTeamsZone(t *testing.T) {
	p := DefaultReviewPolicy()
	paris := reviewZone
	// Review weeks count from Monday 1 January 2024: 30 Nov 2026 is week
	// 152 (even), so 30 Nov and 14 Dec are review Mondays, 7 Dec is not.
	for _, c := range []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{"the minute it is due", at(30, 10, 0), at(30, 10, 0)},
		{"a minute before: the one two weeks ago", at(30, 9, 59), at(16, 10, 0)},
		{"the Monday between is no review", time.Date(2026, 12, 7, 12, 0, 0, 0, paris), at(30, 10, 0)},
		{"two weeks later", time.Date(2026, 12, 14, 10, 0, 0, 0, paris), time.Date(2026, 12, 14, 10, 0, 0, 0, paris)},
		{"10:00 in Paris is 09:00 UTC", time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), at(30, 10, 0)},
	} {
		if got := p.Slot(c.now, paris); !got.Equal(c.want) {
			t.Errorf("%s: Slot(%v) = %v, want %v", c.name, c.now, got, c.want)
		}
	}
	ny := mustZone("America/New_York")
	if got, want := p.Slot(time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC), ny), time.Date(2026, 11, 30, 10, 0, 0, 0, ny); !got.Equal(want) {
		t.Errorf("New York: %v, want %v", got, want)
	}
	if got := (&ReviewPolicy{Off: true}).Slot(at(30, 10, 0), paris); !got.IsZero() {
		t.Errorf("a review that is off has a slot: %v", got)
	}
	weekly := &ReviewPolicy{Schedule: Weekly{Day: time.Friday, Hour: 16, Minute: 30}, EveryWeeks: 1}
	if got, want := weekly.Slot(at(30, 10, 0), paris), at(27, 16, 30); !got.Equal(want) {
		t.Errorf("weekly Friday 16:30: %v, want %v", got, want)
	}
}

func TestReviewSlot_AcrossADaylightSavingChange(t *testing.T) {
	// Paris goes to summer time on Sunday 29 March 2026: the Monday after
	// is still 10:00 local, 08:00 UTC.
	p := &ReviewPolicy{EveryWeeks: 1}
	got := p.Slot(time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC), reviewZone)
	if want := time.Date(2026, 3, 30, 10, 0, 0, 0, reviewZone); !got.Equal(want) {
		t.Errorf("after the change: %v, want %v", got, want)
	}
}

func TestPickAgenda_CriticalCappedAndNonCriticalNotCoveredRecently(t *testing.T) {
	var ins []PastIncident
	add := func(key, urgency string, n int) {
		for i := range n {
			ins = append(ins, past(key+itoa3(i), "S", urgency, at(20, 12, i), 0, time.Minute, false, PastAlert{Key: key}))
		}
	}
	add("crit-a", "high", 5)
	add("crit-b", "high", 3)
	add("crit-c", "high", 1)
	add("low-noisy", "low", 9)
	add("low-covered", "low", 8)
	add("low-quiet", "low", 2)
	d := Summarize(reviewWindow, ins, nil, reviewZone)
	a := PickAgenda(d, map[string]bool{"S|key:low-covered": true}, 2, 2)
	var labels []string
	for _, g := range a.Items {
		labels = append(labels, g.Label)
	}
	want := []string{"crit-a", "crit-b", "low-noisy", "low-quiet"}
	if len(labels) != len(want) {
		t.Fatalf("agenda = %v, want %v", labels, want)
	}
	for i := range want {
		if labels[i] != want[i] {
			t.Fatalf("agenda = %v, want %v", labels, want)
		}
	}
	if a.MoreCritical != 1 || a.MoreCriticalAlerts != 1 || a.Critical != 2 || a.NonCritical != 2 {
		t.Errorf("agenda counts = %+v", a)
	}
}

func itoa3(i int) string { return string(rune('a' + i%26)) }

func TestReviewMessages_ThousandsOfAlertsStayWithinSlacksLimits(t *testing.T) {
	var ins []PastIncident
	for i := range 3000 {
		svc := "S" + itoa3(i%40) + itoa3(i/40%26)
		urgency := "low"
		if i%3 == 0 {
			urgency = "high"
		}
		ins = append(ins, past("I"+itoa3(i)+itoa3(i/26)+itoa3(i/676), svc, urgency, at(20, 12, 0).Add(time.Duration(i)*time.Minute), 0, time.Minute, false,
			PastAlert{Key: "alert-" + itoa3(i%500) + itoa3(i/500), Summary: "x"}))
	}
	d := Summarize(reviewWindow, ins, nil, reviewZone)
	a := PickAgenda(d, nil, DefaultReviewCriticalMax, DefaultReviewNonCritical)
	if len(a.Items) != DefaultReviewCriticalMax+DefaultReviewNonCritical || a.MoreCritical == 0 {
		t.Fatalf("agenda: %d items, %d more critical", len(a.Items), a.MoreCritical)
	}
	team := &Team{Name: "platform", Location: reviewZone}
	rev := &AlertReview{ID: "rev-1", Team: "platform", Window: reviewWindow, Channel: "#ops"}
	h := reviewHeader(rev, team, d, a)
	if n := len([]rune(h.Title + "\n" + h.Text)); n > 3000 {
		t.Errorf("header is %d characters, over one section's 3000", n)
	}
	for i, g := range a.Items {
		m := reviewItemMessage(rev, &ReviewItem{ReviewID: "rev-1", N: i + 1, Label: g.Label, ServiceName: g.ServiceName, Critical: g.Critical(), Figures: groupFigures(g)}, team)
		if n := len([]rune(m.Title + "\n" + m.Text)); n > 3000 || len(m.Actions) > 3 {
			t.Errorf("item %d: %d characters, %d buttons", i+1, n, len(m.Actions))
		}
	}
}

// Consecutive scheduled reviews look at windows that tile: each starts
// where the one before it ended, also when the clocks change between them
// (Paris, 29 March and 25 October 2026). Counting 14×24 hours back from
// 10:00 CEST lands on 09:00 CET, an hour the review before saw too; in
// October on 11:00 CEST, leaving an hour no review sees.
func TestReviewWindow_ConsecutiveReviewsTileAcrossDaylightSaving(t *testing.T) {
	p := DefaultReviewPolicy()
	for _, now := range []time.Time{
		time.Date(2026, 4, 14, 12, 0, 0, 0, reviewZone),
		time.Date(2026, 11, 3, 12, 0, 0, 0, reviewZone),
		time.Date(2026, 12, 1, 12, 0, 0, 0, reviewZone), // no change between: as before
	} {
		slot := p.Slot(now, reviewZone)
		prev := p.Slot(slot.Add(-time.Second), reviewZone)
		if slot.IsZero() || prev.IsZero() {
			t.Fatalf("no slots around %v", now)
		}
		w := p.windowEnding(slot, reviewZone)
		if !w.Start.Equal(prev) || !w.End.Equal(slot) {
			t.Errorf("review of %s looks at [%s, %s), want it to start where the one of %s ended",
				slot.In(reviewZone).Format(time.RFC3339), w.Start.In(reviewZone).Format(time.RFC3339), w.End.In(reviewZone).Format(time.RFC3339), prev.In(reviewZone).Format(time.RFC3339))
		}
		if pw := w.Previous(reviewZone); !pw.End.Equal(prev) || !pw.Start.Equal(p.Slot(prev.Add(-time.Second), reviewZone)) {
			t.Errorf("the window compared with the review of %s is [%s, %s)", slot.In(reviewZone).Format(time.RFC3339),
				pw.Start.In(reviewZone).Format(time.RFC3339), pw.End.In(reviewZone).Format(time.RFC3339))
		}
	}
}

// A follow-up decided in a review is due by the next review: the review's
// window later, counted in calendar days in the team's zone. Decided at
// 10:30 in the review of Monday 23 March 2026 (CET), it is due Monday 6
// April at 10:30 CEST, not 11:30, an hour after the next review began.
func TestReviewFollowUpDue_ByTheNextReviewAcrossDaylightSaving(t *testing.T) {
	p := DefaultReviewPolicy()
	decided := time.Date(2026, 3, 23, 10, 30, 0, 0, reviewZone)
	want := time.Date(2026, 4, 6, 10, 30, 0, 0, reviewZone)
	if got := p.followUpDue(decided.UTC(), reviewZone); !got.Equal(want) {
		t.Errorf("follow-up due %s, want %s", got.In(reviewZone).Format(time.RFC3339), want.Format(time.RFC3339))
	}
	if next := p.Slot(want, reviewZone); next.After(want) || want.Sub(next) > time.Hour {
		t.Errorf("the next review %s is not just before the due time %s", next.In(reviewZone), want)
	}
}
