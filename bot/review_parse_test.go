package bot

import (
	"errors"
	"testing"
)

func TestParseIncident_Stats(t *testing.T) {
	for text, want := range map[string]IncidentCommand{
		"stats":              {Kind: IncStats},
		"stats platform":     {Kind: IncStats, Team: "platform"},
		"stats 7d":           {Kind: IncStats, Days: 7},
		"stats platform 2w":  {Kind: IncStats, Team: "platform", Days: 14},
		"STATS 90 platform":  {Kind: IncStats, Team: "platform", Days: 90},
		"stats data-eng 30d": {Kind: IncStats, Team: "data-eng", Days: 30},
	} {
		got, err := ParseIncident(text)
		if err != nil || got != want {
			t.Errorf("ParseIncident(%q) = %+v, %v; want %+v", text, got, err, want)
		}
	}
}

func TestParseIncident_StatsBadInputGetsTheUsageLine(t *testing.T) {
	for _, text := range []string{
		"stats platform data",  // two teams
		"stats 7d 30d",         // two windows
		"stats 0d",             // empty window
		"stats 400d",           // past six months
		"stats 9999",           // a number too big, not a team
		"stats 30x",            // not a unit, not a team either
		"stats platform 7d 2w", // too many words
	} {
		_, err := ParseIncident(text)
		var ue *UsageError
		if !errors.As(err, &ue) || ue.Usage != UsageStats {
			t.Errorf("ParseIncident(%q) = %v, want a usage error with %q", text, err, UsageStats)
		}
	}
}
