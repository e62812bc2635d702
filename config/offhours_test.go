package config

import (
	"strings"
	"testing"
	"time"
)

func withOffHours(team, top string) []byte {
	base := strings.Replace(incBase, "    pagerduty_service: PPLAT01\n", "    pagerduty_service: PPLAT01\n"+team, 1)
	return []byte(base + top)
}

func TestParseOffHours_ScheduleTeamAndIdle(t *testing.T) {
	cfg, err := Parse(withOffHours("    off_hours: office\n", `off_hours:
  office: {stop: "19:30", start: "07:00", days: [mon, tue, wed, thu], warn_before: 1h, holidays: ["2026-12-25"]}
idle: {cpu_below: 3.5, for: 12h, check_every: 30m}
`), "opsbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Catalog.OffHours["office"]
	if s == nil || s.Stop != 19*time.Hour+30*time.Minute || s.Start != 7*time.Hour || s.WarnBefore != time.Hour ||
		!s.Days[time.Thursday] || s.Days[time.Friday] || !s.Holidays["2026-12-25"] {
		t.Fatalf("schedule = %+v", s)
	}
	if cfg.Catalog.Teams[0].OffHours != "office" || cfg.Catalog.Teams[1].OffHours != "" {
		t.Errorf("teams' schedules = %q, %q", cfg.Catalog.Teams[0].OffHours, cfg.Catalog.Teams[1].OffHours)
	}
	if i := cfg.Catalog.Idle; i.CPUBelow != 3.5 || i.For != 12*time.Hour || i.CheckEvery != 30*time.Minute || i.Off {
		t.Errorf("idle = %+v", i)
	}
	cfg, err = Parse([]byte(incBase), "opsbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if i := cfg.Catalog.Idle; i.CPUBelow != 5 || i.For != 24*time.Hour || len(cfg.Catalog.OffHours) != 0 {
		t.Errorf("defaults: idle %+v, schedules %v", i, cfg.Catalog.OffHours)
	}
}

func TestParseOffHours_Problems(t *testing.T) {
	_, err := Parse(withOffHours("    off_hours: offfice\n", `off_hours:
  office: {stop: "07:00", start: "25:00", days: [mon, funday], warn_before: 13h, holidays: ["Dec 25"]}
  none: {stop: "20:00", start: "08:00"}
idle: {cpu_below: 0, for: 10m, check_every: 1m}
`), "opsbot.yaml")
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("err = %v", err)
	}
	text := strings.Join(ps.Lines(), "\n")
	for _, want := range []string{
		"teams[0].off_hours", `no off-hours schedule "offfice"`,
		"off_hours.office.start", "not a time of day",
		"off_hours.office.days", "funday",
		"off_hours.office.warn_before", "off_hours.office.holidays[0]", "not a date",
		"off_hours.none", "idle.cpu_below", "idle.for", "idle.check_every",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
}
