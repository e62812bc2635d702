package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseIncidents_LimitsDefaultAndSet(t *testing.T) {
	cfg, err := Parse([]byte(incBase), "opsbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol := cfg.Catalog.Incidents
	if pol.DeclareLimit != DefaultDeclareLimit || pol.DeclareWindow != DefaultDeclareWindow ||
		pol.StormLimit != DefaultStormLimit || pol.StormWindow != DefaultStormWindow || pol.MaxSnooze != DefaultMaxSnooze {
		t.Errorf("defaults: declare %d/%v storm %d/%v snooze %v", pol.DeclareLimit, pol.DeclareWindow, pol.StormLimit, pol.StormWindow, pol.MaxSnooze)
	}
	doc := strings.Replace(incBase, "  default_team: mobile\n",
		"  default_team: mobile\n  declare_limit: {count: 2, per: 30m}\n  storm: {count: 0}\n  max_snooze: 2d\n", 1)
	cfg, err = Parse([]byte(doc), "opsbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol = cfg.Catalog.Incidents
	if pol.DeclareLimit != 2 || pol.DeclareWindow != 30*time.Minute || pol.StormLimit != 0 || pol.StormWindow != DefaultStormWindow || pol.MaxSnooze != 48*time.Hour {
		t.Errorf("set: declare %d/%v storm %d/%v snooze %v", pol.DeclareLimit, pol.DeclareWindow, pol.StormLimit, pol.StormWindow, pol.MaxSnooze)
	}
}

func TestParseIncidents_LimitsMistakes(t *testing.T) {
	doc := strings.Replace(incBase, "  default_team: mobile\n",
		"  default_team: mobile\n  declare_limit: {count: -1, per: soon}\n  storm: {count: many, window: 5m}\n  max_snooze: 0d\n", 1)
	_, err := Parse([]byte(doc), "opsbot.yaml")
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("bad limits: %v", err)
	}
	all := strings.Join(ps.Lines(), "\n")
	for _, want := range []string{
		"incidents.declare_limit.count", "must be 0 (no limit) or more",
		"incidents.declare_limit.per", `"soon" is not a duration`,
		"incidents.storm.count", "must be a whole number",
		"incidents.storm.window", "unknown field",
		"incidents.max_snooze", `"0d" is not a positive duration`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
}
