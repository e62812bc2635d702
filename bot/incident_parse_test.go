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
		{"declare --private Payroll leaked sev1", IncidentCommand{Kind: IncDeclare, Private: true, Title: "Payroll leaked", Severity: workflows.Sev1}},
		{"declare —Private Payroll leaked", IncidentCommand{Kind: IncDeclare, Private: true, Title: "Payroll leaked"}},
		{"declare -5% conversions", IncidentCommand{Kind: IncDeclare, Title: "-5% conversions"}},
		{"postmortem publish", IncidentCommand{Kind: IncPMPublish}},
		{"postmortem publish inc-7", IncidentCommand{Kind: IncPMPublish, Incident: "inc-7"}},
		{"postmortem inc-7 publish", IncidentCommand{Kind: IncPMPublish, Incident: "inc-7"}},
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
		{"declare Payroll leaked --private sev1", "before the title", UsageDeclare},
		{"declare --secret Payroll leaked", "not an option", UsageDeclare},
		{"declare --private sev1", "needs a title", UsageDeclare},
		{"declare --private", "needs a title", UsageDeclare},
		{"postmortem publish now", "not a post-mortem command", UsagePostmortem},
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

// TestParseIncident_DeclareSeveritySpellings: the last word of a
// declaration is its severity when it looks like one. Known spellings
// (any case, with or without a dash or underscore) set it; unknown ones
// are refused with the usage line instead of becoming part of the title
// of a sev3 that pages on-call.
func TestParseIncident_DeclareSeveritySpellings(t *testing.T) {
	tests := []struct {
		in      string
		title   string
		sev     workflows.Severity
		problem string // non-empty: refused with this
	}{
		{in: "declare x sev1", title: "x", sev: workflows.Sev1},
		{in: "declare x SEV2", title: "x", sev: workflows.Sev2},
		{in: "declare x Sev3", title: "x", sev: workflows.Sev3},
		{in: "declare x sev-1", title: "x", sev: workflows.Sev1},
		{in: "declare x SEV-2", title: "x", sev: workflows.Sev2},
		{in: "declare x sev_3", title: "x", sev: workflows.Sev3},
		{in: "declare x", title: "x"},
		{in: "declare severe latency", title: "severe latency"},
		{in: "declare sev1 is down sev2", title: "sev1 is down", sev: workflows.Sev2},
		{in: "declare x 1", title: "x 1"}, // a bare digit is part of the title
		{in: "declare x P1", title: "x P1"},
		{in: "declare x sev0", problem: `"sev0" is not a severity`},
		{in: "declare x sev4", problem: `"sev4" is not a severity`},
		{in: "declare x SEV-9", problem: `"SEV-9" is not a severity`},
		{in: "declare x sev01", problem: `"sev01" is not a severity`},
		{in: "declare x sev", problem: `"sev" is not a severity`},
		{in: "declare x sev-", problem: `"sev-" is not a severity`},
		{in: "declare sev0", problem: `"sev0" is not a severity`},
		{in: "declare sev2", problem: "needs a title"},
	}
	for _, tt := range tests {
		got, err := ParseIncident(tt.in)
		if tt.problem != "" {
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(ue.Problem, tt.problem) || ue.Usage != UsageDeclare {
				t.Errorf("ParseIncident(%q) = %+v, %v; want refused: %q with the declare usage", tt.in, got, err, tt.problem)
			}
			continue
		}
		if err != nil || got.Kind != IncDeclare || got.Title != tt.title || got.Severity != tt.sev {
			t.Errorf("ParseIncident(%q) = %+v, %v; want title %q severity %q", tt.in, got, err, tt.title, tt.sev)
		}
	}
}

func TestParseIncident_SeverityCommandSpellings(t *testing.T) {
	for in, want := range map[string]workflows.Severity{
		"severity sev1": workflows.Sev1, "severity SEV-2": workflows.Sev2, "severity 3": workflows.Sev3,
		"severity sev_1": workflows.Sev1, "severity sev0": "", "severity 4": "", "severity -1": "", "severity p1": "",
	} {
		got, err := ParseIncident(in)
		if want == "" {
			var ue *UsageError
			if !errors.As(err, &ue) || ue.Usage != UsageSeverity {
				t.Errorf("ParseIncident(%q) = %+v, %v; want refused with the severity usage", in, got, err)
			}
			continue
		}
		if err != nil || got.Severity != want {
			t.Errorf("ParseIncident(%q) = %+v, %v; want %s", in, got, err, want)
		}
	}
}
