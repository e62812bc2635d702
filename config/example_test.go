package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/templates"
	"github.com/opsbot/opsbot/workflows"
)

// TestExample_LoadsCleanly keeps examples/opsbot.yaml valid and checks that
// it decodes to what its comments say.
func TestExample_LoadsCleanly(t *testing.T) {
	cfg, err := Load("../examples/opsbot.yaml")
	if err != nil {
		var ps Problems
		if errors.As(err, &ps) {
			t.Fatalf("example has problems:\n%s", strings.Join(ps.Lines(), "\n"))
		}
		t.Fatal(err)
	}
	if cfg.Source != "../examples/opsbot.yaml" {
		t.Errorf("Source = %q", cfg.Source)
	}
	if cfg.Scheduler != (SchedulerConfig{Tick: time.Minute, Reconcile: 5 * time.Minute}) {
		t.Errorf("Scheduler = %+v", cfg.Scheduler)
	}
	cat := cfg.Catalog
	if len(cat.Teams) != 3 || len(cat.Templates) != 4 {
		t.Fatalf("got %d teams, %d templates", len(cat.Teams), len(cat.Templates))
	}

	ds, ok := cat.Team("data-science")
	if !ok {
		t.Fatal("no data-science team")
	}
	if ds.Location.String() != "America/New_York" || ds.MonthlyBudget != 6000*workflows.Dollar || ds.Policy.Name != "gpu" {
		t.Errorf("data-science = %+v", ds)
	}
	if ds.Policy.Financial.OverBudget != workflows.OverBudgetDeny {
		t.Errorf("gpu over_budget = %q", ds.Policy.Financial.OverBudget)
	}
	if !ds.IsApprover(workflows.Person{Email: "DS-Lead@example.com"}) {
		t.Error("ds-lead is not an approver")
	}

	platform, _ := cat.Team("platform")
	mobile, _ := cat.Team("mobile")
	if platform.Policy != mobile.Policy {
		t.Error("teams naming the same policy should share it")
	}
	std := platform.Policy
	wantTiers := []workflows.ApprovalTier{{Above: 0, Approvals: 1}, {Above: 500 * workflows.Dollar, Approvals: 2}}
	if len(std.Access.Tiers) != 2 || std.Access.Tiers[0] != wantTiers[0] || std.Access.Tiers[1] != wantTiers[1] {
		t.Errorf("tiers = %+v", std.Access.Tiers)
	}
	if std.Financial.AutoApproveBelow != 50*workflows.Dollar {
		t.Errorf("auto approve = %v", std.Financial.AutoApproveBelow)
	}
	if std.Lifecycle.Grace != 30*time.Minute || std.Lifecycle.EndAction != workflows.EndStop || std.Lifecycle.MaxLifetime != 30*24*time.Hour {
		t.Errorf("standard lifecycle = %+v", std.Lifecycle)
	}
	if !strings.HasPrefix(std.Integration.UserData, "#!/bin/bash\n") {
		t.Errorf("user data = %q", std.Integration.UserData)
	}

	gpu, _ := cat.Template("gpu-training")
	if got := workflows.Lifecycle(ds, gpu); got.EndAction != workflows.EndTerminate || got.MaxLease != 12*time.Hour {
		t.Errorf("gpu-training lifecycle = %+v", got)
	}
	runner, _ := cat.Template("build-runner")
	if runner.Lifecycle.Grace != 0 || runner.Lifecycle.MaxExtensions != 0 {
		t.Errorf("build-runner lifecycle = %+v", runner.Lifecycle)
	}
	small, _ := cat.Template("dev-small")
	if got := workflows.Lifecycle(platform, small); !reflect.DeepEqual(got, std.Lifecycle) {
		t.Errorf("dev-small for platform should follow the standard policy, got %+v", got)
	}
	if small.RootVolumeGB != 20 || small.Tags["cost-center"] != "engineering" || small.KeyName != "dev" {
		t.Errorf("dev-small = %+v", small)
	}

	if got := names(cat.TemplatesFor(ds)); got != "dev-small,gpu-training" {
		t.Errorf("data-science templates = %s", got)
	}
	if got := names(cat.TemplatesFor(mobile)); got != "dev-small,dev-large" {
		t.Errorf("mobile templates = %s", got)
	}
	if p := cat.Pricing.Hourly["us-east-1"]["g5.xlarge"]; p != workflows.USD(1.006) {
		t.Errorf("g5.xlarge price = %v", p)
	}
	if cat.Pricing.VolumePerGBMonth != workflows.USD(0.08) {
		t.Errorf("volume price = %v", cat.Pricing.VolumePerGBMonth)
	}

	inc := cat.Incidents
	if inc == nil {
		t.Fatal("incidents are off")
	}
	if inc.UpdateEvery[workflows.Sev1] != 30*time.Minute || inc.PostmortemDue != 5*24*time.Hour || inc.BusinessHours == nil || inc.BusinessHours.End != 18*time.Hour {
		t.Errorf("incidents = %+v", inc)
	}
	if inc.Checklist != templates.Checklist || inc.NotionDatabase != "0123456789abcdef0123456789abcdef" {
		t.Errorf("checklist or notion database not as commented")
	}
	for svc, want := range map[string]string{"PPLATF1": "platform", "PDSCI01": "data-science", "PMOBILE": "mobile", "PELSE01": "platform"} {
		if team, ok := cat.TeamForService(svc); !ok || team.Name != want {
			t.Errorf("TeamForService(%s) = %v", svc, team)
		}
	}
	if platform.AnnounceChannel != "#incidents" || len(platform.IncidentMembers) != 2 || ds.AnnounceChannel != "C0DSINCIDENTS" {
		t.Errorf("team incident fields: platform %+v, data-science %+v", platform, ds)
	}
}

func names(ts []*workflows.Template) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return strings.Join(out, ",")
}
