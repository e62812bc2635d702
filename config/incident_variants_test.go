package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

// TestParseIncidents_PerSeverityAndService: templates by severity and by
// PagerDuty service (the service wins), severity invites, and the
// problems a wrong entry gets, with its field path and line.
func TestParseIncidents_PerSeverityAndService(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("sev1-check.md", "# {{.ID}} sev1 checklist\n- [ ] call the CTO\n")
	write("sev1-pm.md", "# {{.ID}} sev1 review\n")
	write("mobile-pm.md", "# {{.ID}} mobile review\n")
	doc := strings.Replace(incBase, "    - {pagerduty_service: PMOB001, team: mobile}\n",
		"    - {pagerduty_service: PMOB001, team: mobile, postmortem_template: mobile-pm.md}\n", 1) +
		"  severities:\n" +
		"    sev1: {checklist_template: sev1-check.md, postmortem_template: sev1-pm.md, invite: [cto@example.com, U01CTO0001]}\n" +
		"    sev3: {invite: [U01SRE0001]}\n"
	write("opsbot.yaml", doc)
	cfg, err := Load(filepath.Join(dir, "opsbot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pol := cfg.Catalog.Incidents
	if got := pol.ChecklistFor(workflows.Sev1, "PPLAT01"); !strings.Contains(got, "sev1 checklist") {
		t.Errorf("sev1 checklist = %q", got)
	}
	if got := pol.ChecklistFor(workflows.Sev2, "PPLAT01"); got != pol.Checklist {
		t.Errorf("sev2 checklist = %q, want the section's", got)
	}
	if got := pol.PostmortemFor(workflows.Sev1, "PMOB001"); !strings.Contains(got, "mobile review") {
		t.Errorf("sev1 on the mobile service = %q, want the service's template", got)
	}
	if got := pol.PostmortemFor(workflows.Sev1, "PPLAT01"); !strings.Contains(got, "sev1 review") {
		t.Errorf("sev1 elsewhere = %q, want the severity's template", got)
	}
	if got := pol.PostmortemFor(workflows.Sev3, "PMOB001"); !strings.Contains(got, "mobile review") {
		t.Errorf("sev3 on the mobile service = %q", got)
	}
	if got := pol.BySeverity[workflows.Sev1].Invite; !reflect.DeepEqual(got, []string{"cto@example.com", "U01CTO0001"}) {
		t.Errorf("sev1 invites = %v", got)
	}

	bad := incBase + "  severities:\n" +
		"    sev0: {invite: [U01CTO0001]}\n" +
		"    sev2: {invite: [bob], checklist_template: nowhere.md, page: all}\n"
	_, err = Parse([]byte(bad), filepath.Join(dir, "opsbot.yaml"))
	expectProblems(t, err, []want{
		{"incidents.severities.sev0", 31, "unknown field"},
		{"incidents.severities.sev2.page", 32, "unknown field"},
		{"incidents.severities.sev2.checklist_template", 32, "does not exist"},
		{"incidents.severities.sev2.invite[0]", 32, `"bob" is neither a Slack user ID`},
	})
}
