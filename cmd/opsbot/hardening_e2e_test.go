package main

import (
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

// TestLaunch_HardenedServer: a server launched through Slack runs with
// IMDSv2 required, an encrypted root volume and no public address.
func TestLaunch_HardenedServer(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	in, ok := h.ec2.Instance(r.Instance.ID)
	if !ok {
		t.Fatal("no instance")
	}
	if in.HTTPTokens != "required" || !in.RootVolume.Encrypted || in.PublicIP != "" || in.InstanceProfile != "" {
		t.Errorf("launched with tokens %q, encrypted %v, public %q, profile %q", in.HTTPTokens, in.RootVolume.Encrypted, in.PublicIP, in.InstanceProfile)
	}
	if in.SubnetID != "subnet-0123456789abcdef0" || len(in.SecurityGroups) != 1 {
		t.Errorf("subnet %q, groups %v", in.SubnetID, in.SecurityGroups)
	}
}

// TestRequest_PlacementAndIntegrationCheckedAtRequestTime: a template and
// a policy that no longer fit (they came from different reloads) are
// refused with the reason when someone asks, and nothing is recorded.
// The config check alone would have let each of these launch.
func TestRequest_PlacementAndIntegrationCheckedAtRequestTime(t *testing.T) {
	h := newHarness(t)
	cat := h.app.Servers.Catalog
	tpl, _ := cat.Template("test-small")
	team, _ := cat.Team("platform")
	orig, origPolicy := *tpl, *team.Policy
	tests := []struct {
		name  string
		apply func()
		want  string
	}{
		{"region outside the policy", func() { tpl.Region = "eu-west-1" }, "may not run servers in eu-west-1 (allowed: us-east-1)"},
		{"instance type outside the policy", func() { tpl.InstanceType = "m5.large" }, "may not run m5.large instances"},
		{"subnet outside the policy", func() { team.Policy.Placement.Subnets = []string{"subnet-0fedcba9876543210"} }, "may not launch into subnet subnet-0123456789abcdef0 (allowed: subnet-0fedcba9876543210)"},
		{"required tag missing", func() { team.Policy.Integration.RequiredTags = []string{"cost-center", "owner"} }, "lacks tags team platform requires: owner"},
		{"user data too big together", func() { team.Policy.Integration.UserData = strings.Repeat("#", workflows.MaxUserData) }, "EC2 accepts at most 16384"},
	}
	for _, tt := range tests {
		p := origPolicy
		*tpl, team.Policy = orig, &p
		tt.apply()
		mustContain(t, tt.name, h.ops(dev, "server request test-small for 1d"), tt.want)
	}
	*tpl = orig
	team.Policy = &origPolicy
	h.drain()
	if n := len(h.requests()); n != 0 {
		t.Fatalf("%d requests recorded", n)
	}
	if n := len(h.ec2.CallsOf("RunInstances")); n != 0 {
		t.Fatalf("%d launches", n)
	}
	mustContain(t, "fitting again", h.ops(dev, "server request test-small for 1d"), "approved")
}
