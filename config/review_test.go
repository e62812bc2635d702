package config

import (
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestParseReview_ValuesAndDefaults(t *testing.T) {
	cfg, err := Parse([]byte(incBase+"  review: {schedule: \"30 16 * * 5\", every_weeks: 1, window: 10d, critical_max: 5, non_critical: 2}\n"), "opsbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Catalog.Incidents.Review
	if p == nil || p.EveryWeeks != 1 || p.Window != 10*24*time.Hour || p.CriticalMax != 5 || p.NonCritical != 2 || p.Off {
		t.Fatalf("review = %+v", p)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, paris) // a Monday
	if got, want := p.Slot(now, paris), time.Date(2026, 11, 27, 16, 30, 0, 0, paris); !got.Equal(want) {
		t.Errorf("slot of the cron line = %v, want Friday %v", got, want)
	}
	cfg, err = Parse([]byte(incBase), "opsbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Catalog.Incidents.Review != nil {
		t.Errorf("no review section: %+v, want nil (the workflow's defaults)", cfg.Catalog.Incidents.Review)
	}
	if d := workflows.DefaultReviewPolicy(); d.EveryWeeks != 2 {
		t.Errorf("default every %d weeks", d.EveryWeeks)
	}
}

func TestParseReview_Problems(t *testing.T) {
	_, err := Parse([]byte(incBase+"  review: {schedule: \"TZ=Europe/Paris 0 10 * * 1\", every_weeks: 0, critical_max: 50, enabled: maybe}\n"), "opsbot.yaml")
	var ps Problems
	if err == nil {
		t.Fatal("accepted")
	}
	if e, ok := err.(Problems); ok {
		ps = e
	}
	want := map[string]bool{"incidents.review.schedule": false, "incidents.review.every_weeks": false, "incidents.review.critical_max": false, "incidents.review.enabled": false}
	for _, p := range ps {
		if _, ok := want[p.Path]; ok {
			want[p.Path] = true
		}
	}
	for path, seen := range want {
		if !seen {
			t.Errorf("no problem at %s in:\n%v", path, err)
		}
	}
	if _, err := Parse([]byte(incBase+"  review: {schedule: \"every monday\"}\n"), "opsbot.yaml"); err == nil {
		t.Error("a cron line that is not one was accepted")
	}
}
