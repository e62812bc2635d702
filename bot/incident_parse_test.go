package bot

import (
	"errors"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

func TestParseIncident_Good(t *testing.T) {
	tests := []struct {
		in   string
		want IncidentCommand
	}{
		{"", IncidentCommand{Kind: IncHelp}},
		{"declare Checkout is failing sev2", IncidentCommand{Kind: IncDeclare, Title: "Checkout is failing", Severity: workflows.Sev2}},
		{"declare DB down", IncidentCommand{Kind: IncDeclare, Title: "DB down"}},
		{"declare", IncidentCommand{Kind: IncDeclareUI}},
		{"status resolved", IncidentCommand{Kind: IncStatus, Status: workflows.StatusResolved}},
		{"status inc-7 Monitoring", IncidentCommand{Kind: IncStatus, Incident: "inc-7", Status: workflows.StatusMonitoring}},
		{"severity sev1", IncidentCommand{Kind: IncSeverity, Severity: workflows.Sev1}},
		{"role commander <@U0LEAD|lead>", IncidentCommand{Kind: IncRole, Role: workflows.RoleCommander, Who: "U0LEAD"}},
		{"role scribe ana@example.com", IncidentCommand{Kind: IncRole, Role: workflows.RoleScribe, Who: "ana@example.com"}},
		{"update Rolled back; errors dropping", IncidentCommand{Kind: IncUpdate, Text: "Rolled back; errors dropping"}},
		{"postmortem", IncidentCommand{Kind: IncPostmortem}},
		{"postmortem scheduled 2026-11-24 15:00", IncidentCommand{Kind: IncScheduled, When: "2026-11-24 15:00"}},
		{"postmortem done", IncidentCommand{Kind: IncPMDone}},
	}
	for _, tt := range tests {
		got, err := ParseIncident(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseIncident(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseIncident_Mistakes(t *testing.T) {
	tests := []struct{ in, problem, usage string }{
		{"declare sev1", "needs a title", UsageDeclare},
		{"status fixed", `"fixed" is not a status`, UsageStatus},
		{"severity sev9", `"sev9" is not a severity`, UsageSeverity},
		{"role boss <@U1>", `"boss" is not a role`, UsageRole},
		{"role commander @lead", "is not a person", UsageRole},
		{"update", "needs text", UsageUpdate},
		{"postmortem scheduled tomorrow", "date and time", UsageScheduled},
		{"postmortem scheduled 2026-13-01 15:00", "not a date and time", UsageScheduled},
		{"panic", "not an /incident command", UsageIncHelp},
	}
	for _, tt := range tests {
		_, err := ParseIncident(tt.in)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(ue.Problem, tt.problem) || ue.Usage != tt.usage {
			t.Errorf("ParseIncident(%q) err = %v; want %q / %q", tt.in, err, tt.problem, tt.usage)
		}
	}
}
