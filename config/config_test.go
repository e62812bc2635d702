package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// base is a small valid config; the table below edits it. Line numbers in
// the expectations refer to these lines, so edits keep the line count
// unless a case says otherwise.
const base = `scheduler: {tick: 1m, reconcile: 5m}
pricing:
  hourly_usd:
    us-east-1: {t3.small: 0.0208, m6i.large: 0.096}
policies:
  - name: standard
    placement: {regions: [us-east-1], instance_types: ["t3.*", "m6i.large"]}
    integration: {required_tags: [cost-center]}
    lifecycle: {default_lease: 1d, max_lease: 7d}
teams:
  - name: platform
    time_zone: Europe/Berlin
    approvals_channel: C0APPROVALS
    approvers: [lead@example.com]
    monthly_budget_usd: 2000
    policy: standard
  - name: mobile
    time_zone: Asia/Tokyo
    approvals_channel: "#mobile"
    approvers: [U01AAAA]
    monthly_budget_usd: 500
    policy: standard
templates:
  - name: test-small
    instance_type: t3.small
    ami: ami-0123456789abcdef0
    region: us-east-1
    root_volume_gb: 20
    tags: {cost-center: platform}
    teams: [platform, mobile]
`

// edit replaces old (which must occur exactly once in base) with new.
type edit struct{ old, new string }

// want is one expected problem: exact path and line, and a part of the
// message.
type want struct {
	path string
	line int
	msg  string
}

func TestParse_Base(t *testing.T) {
	cfg, err := Parse([]byte(base), "opsbot.yaml")
	if err != nil {
		t.Fatalf("base config: %v", err)
	}
	team, _ := cfg.Catalog.Team("mobile")
	if team.Location.String() != "Asia/Tokyo" || team.Policy == nil || team.Policy.Name != "standard" {
		t.Errorf("mobile = %+v", team)
	}
	l := team.Policy.Lifecycle
	if l.MaxLifetime != 30*24*time.Hour || l.Grace != time.Hour || l.EndAction != "stop" || l.MaxExtensions != 2 ||
		len(l.WarnBefore) != 2 || l.WarnBefore[0] != 24*time.Hour || l.WarnBefore[1] != time.Hour {
		t.Errorf("lifecycle defaults = %+v", l)
	}
	a := team.Policy.Access
	if a.ApprovalTimeout != 48*time.Hour || a.RemindEvery != 4*time.Hour || len(a.Templates) != 1 || a.Templates[0] != "*" ||
		len(a.Tiers) != 1 || a.Tiers[0].Approvals != 1 || a.Tiers[0].Above != 0 {
		t.Errorf("access defaults = %+v", a)
	}
	if team.Policy.Financial.OverBudget != DefaultOverBudget || team.Policy.Financial.AutoApproveBelow != 0 {
		t.Errorf("financial defaults = %+v", team.Policy.Financial)
	}
	if cfg.Catalog.Pricing.VolumePerGBMonth != DefaultVolumePerGBMonth {
		t.Errorf("volume price = %v", cfg.Catalog.Pricing.VolumePerGBMonth)
	}
}

func TestParse_Problems(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		want  []want
	}{
		{"unknown field with suggestion",
			[]edit{{"monthly_budget_usd: 2000", "monthly_budgt_usd: 2000"}},
			[]want{
				{"teams[0].monthly_budget_usd", 11, "is required"},
				{"teams[0].monthly_budgt_usd", 15, "unknown field (did you mean monthly_budget_usd?)"},
			}},
		{"unknown field without a close match",
			[]edit{{"monthly_budget_usd: 2000", "monthly_budget_usd: 2000\n    colour: blue"}},
			[]want{{"teams[0].colour", 16, "unknown field; known fields: name, time_zone"}}},
		{"unknown top-level section",
			[]edit{{"scheduler: {tick: 1m, reconcile: 5m}", "schedular: {tick: 1m}"}},
			[]want{{"schedular", 1, "unknown field (did you mean scheduler?)"}}},
		{"admins: not people, and one twice",
			[]edit{{"scheduler: {tick: 1m, reconcile: 5m}", "admins: [boss, U0ADMIN, U0ADMIN]"}},
			[]want{
				{"admins[0]", 1, `"boss" is neither a Slack user ID`},
				{"admins[2]", 1, "U0ADMIN is listed twice"},
			}},
		{"admins: not a list",
			[]edit{{"scheduler: {tick: 1m, reconcile: 5m}", "admins: boss@example.com"}},
			[]want{{"admins", 1, "must be a list"}}},
		{"template: bad instance profile and public_ip",
			[]edit{{"root_volume_gb: 20", "root_volume_gb: 20\n    instance_profile: \"arn:aws:iam::12:role/x\"\n    public_ip: sometimes"}},
			[]want{
				{"templates[0].instance_profile", 29, "is not an IAM instance profile name or ARN"},
				{"templates[0].public_ip", 30, "must be true or false"},
			}},
		{"placement: subnets, a bad one and a template outside them",
			[]edit{{`instance_types: ["t3.*", "m6i.large"]}`, `instance_types: ["t3.*", "m6i.large"], subnets: [subnet-0123456789abcdef0, net-1]}`}},
			[]want{
				{"policies[0].placement.subnets[1]", 7, `"net-1" is not a subnet ID`},
				{"templates[0]", 24, `no subnet (the default VPC's) is not allowed by policy "standard" of team "platform"`},
				{"templates[0]", 24, `no subnet (the default VPC's) is not allowed by policy "standard" of team "mobile"`},
			}},
		{"bad time zone",
			[]edit{{"Asia/Tokyo", "Mars/Base"}},
			[]want{{"teams[1].time_zone", 18, `unknown time zone "Mars/Base"`}}},
		{"Local time zone",
			[]edit{{"Asia/Tokyo", "Local"}},
			[]want{{"teams[1].time_zone", 18, "IANA"}}},
		{"bad duration",
			[]edit{{"max_lease: 7d", "max_lease: 2x"}},
			[]want{{"policies[0].lifecycle.max_lease", 9, `"2x" is not a duration`}}},
		{"zero scheduler tick",
			[]edit{{"tick: 1m", "tick: 0s"}},
			[]want{{"scheduler.tick", 1, "not a positive duration"}}},
		{"field given twice",
			[]edit{{"{tick: 1m, reconcile: 5m}", "{tick: 1m, tick: 2m}"}},
			[]want{{"scheduler.tick", 1, "given twice (first on line 1)"}}},
		{"unknown policy",
			[]edit{{"monthly_budget_usd: 500\n    policy: standard", "monthly_budget_usd: 500\n    policy: strict"}},
			[]want{{"teams[1].policy", 22, `unknown policy "strict" (declared: standard)`}}},
		{"placement: instance type not allowed",
			[]edit{{"instance_type: t3.small", "instance_type: m6i.xlarge"}, {"m6i.large: 0.096", "m6i.xlarge: 0.192"}},
			[]want{
				{"templates[0].instance_type", 25, `instance type m6i.xlarge is not allowed by policy "standard" of team "platform"`},
				{"templates[0].instance_type", 25, `instance type m6i.xlarge is not allowed by policy "standard" of team "mobile"`},
			}},
		{"placement: region not allowed, and no price there",
			[]edit{{"region: us-east-1", "region: eu-west-1"}, {"teams: [platform, mobile]", "teams: [platform]"}},
			[]want{
				{"templates[0].instance_type", 25, "no fallback price for t3.small in eu-west-1"},
				{"templates[0].region", 27, `region eu-west-1 is not allowed by policy "standard" of team "platform" (placement.regions: us-east-1)`},
			}},
		{"missing required tag",
			[]edit{{"tags: {cost-center: platform}", "tags: {owner: platform}"}, {"teams: [platform, mobile]", `teams: ["*"]`}},
			[]want{
				{"templates[0].tags", 29, `missing tag "cost-center" required by policy "standard" of team "platform"`},
				{"templates[0].tags", 29, `missing tag "cost-center" required by policy "standard" of team "mobile"`},
			}},
		{"template not offered to a team is not checked against its policy",
			[]edit{
				{"  - name: standard\n", "  - name: open\n  - name: standard\n"},
				{"monthly_budget_usd: 500\n    policy: standard", "monthly_budget_usd: 500\n    policy: open"},
				{"tags: {cost-center: platform}", "tags: {}"},
				{"teams: [platform, mobile]", "teams: [mobile]"},
			},
			nil},
		{"missing price",
			[]edit{{"{t3.small: 0.0208, m6i.large: 0.096}", "{m6i.large: 0.096}"}},
			[]want{{"templates[0].instance_type", 25, "no fallback price for t3.small in us-east-1: add it under pricing.hourly_usd.us-east-1"}}},
		{"bad price keys and values",
			[]edit{{"us-east-1: {t3.small: 0.0208, m6i.large: 0.096}", `us-east-1: {t3.small: 0.0208, m6i.large: cheap, t3: 1}`}},
			[]want{
				{`pricing.hourly_usd.us-east-1["m6i.large"]`, 4, `must be a number, not "cheap"`},
				{"pricing.hourly_usd.us-east-1.t3", 4, "not an EC2 instance type"},
			}},
		{"duplicate team, case-insensitive",
			[]edit{{"  - name: mobile", "  - name: Platform"}},
			[]want{
				{"teams[1].name", 17, `duplicate team name "Platform" (first at teams[0], line 11)`},
				{"templates[0].teams[1]", 30, `unknown team "mobile" (declared: platform, Platform)`},
			}},
		{"duplicate template",
			[]edit{{"    teams: [platform, mobile]\n", "    teams: [platform, mobile]\n  - {name: test-small, instance_type: t3.small, ami: ami-0123456789abcdef0, region: us-east-1, root_volume_gb: 8, tags: {cost-center: x}, teams: [platform]}\n"}},
			[]want{{"templates[1].name", 31, `duplicate template name "test-small" (first at templates[0], line 24)`}}},
		{"unknown team in template, with case hint",
			[]edit{{"teams: [platform, mobile]", "teams: [Platform]"}},
			[]want{{"templates[0].teams[0]", 30, `unknown team "Platform" (did you mean platform?)`}}},
		{"unknown template in access",
			[]edit{{"    integration:", "    access: {templates: [test-smal]}\n    integration:"}},
			[]want{{"policies[0].access.templates[0]", 8, `unknown template "test-smal" (declared: test-small)`}}},
		{"bad approvers and channel",
			[]edit{{"[U01AAAA]", "[bob, u123]"}, {"C0APPROVALS", "approvals"}},
			[]want{
				{"teams[0].approvals_channel", 13, `"approvals" is neither a channel ID`},
				{"teams[1].approvers[0]", 20, `"bob" is neither a Slack user ID`},
				{"teams[1].approvers[1]", 20, `"u123" is neither a Slack user ID`},
			}},
		{"approvers not a list",
			[]edit{{"approvers: [lead@example.com]", "approvers: lead@example.com"}},
			[]want{{"teams[0].approvers", 14, "must be a list"}}},
		{"no approvers",
			[]edit{{"approvers: [lead@example.com]", "approvers: []"}},
			[]want{{"teams[0].approvers", 14, "at least one approver"}}},
		{"tiers out of order, zero approvals",
			[]edit{{"    integration:", "    access: {approval_tiers: [{above_usd: 100, approvals: 1}, {above_usd: 50, approvals: 0}]}\n    integration:"}},
			[]want{
				{"policies[0].access.approval_tiers[1].approvals", 8, "must be at least 1"},
				{"policies[0].access.approval_tiers[1].above_usd", 8, "tiers must ascend: $50.00 is not above the previous tier's $100.00"},
			}},
		{"tier needs more approvers than the team has",
			[]edit{{"    integration:", "    access: {approval_tiers: [{above_usd: 0, approvals: 1}, {above_usd: 500, approvals: 2}]}\n    integration:"}},
			[]want{
				{"teams[0].approvers", 15, `policy "standard" can require 2 approvals but the team has 1 approver(s)`},
				{"teams[1].approvers", 21, `policy "standard" can require 2 approvals but the team has 1 approver(s)`},
			}},
		{"lifecycle ordering and values",
			[]edit{{"{default_lease: 1d, max_lease: 7d}", "{default_lease: 8d, max_lease: 7d, max_lifetime: 5d, warn_before: [7d, 0h], end_action: explode, max_extensions: -1}"}},
			[]want{
				{"policies[0].lifecycle.default_lease", 9, "8d is longer than max_lease (7d)"},
				{"policies[0].lifecycle.max_lifetime", 9, "5d is shorter than max_lease (7d)"},
				{"policies[0].lifecycle.max_extensions", 9, "must not be negative"},
				{"policies[0].lifecycle.warn_before[0]", 9, "7d is not shorter than max_lease"},
				{"policies[0].lifecycle.warn_before[1]", 9, `"0h" is not a positive duration`},
				{"policies[0].lifecycle.end_action", 9, `must be stop or terminate, not "explode"`},
			}},
		{"template lifecycle is checked on its own",
			[]edit{{"    teams: [platform, mobile]\n", "    teams: [platform, mobile]\n    lifecycle: {max_lease: 4h, warn_before: [6h], grace: later}\n"}},
			[]want{
				{"templates[0].lifecycle.warn_before[0]", 31, "6h is not shorter than max_lease (4h)"},
				{"templates[0].lifecycle.grace", 31, `"later" is not a duration`},
			}},
		{"unknown field in a template's lifecycle",
			[]edit{{"    teams: [platform, mobile]\n", "    teams: [platform, mobile]\n    lifecycle:\n      end_action: terminate\n      grace_period: 5m\n"}},
			[]want{{"templates[0].lifecycle.grace_period", 33, "unknown field (did you mean grace?)"}}},
		{"financial",
			[]edit{{"    integration:", "    financial: {auto_approve_below_usd: -1, over_budget: shrug}\n    integration:"}},
			[]want{
				{"policies[0].financial.auto_approve_below_usd", 8, "must not be negative"},
				{"policies[0].financial.over_budget", 8, `must be require_approval or deny, not "shrug"`},
			}},
		{"negative and non-numeric money",
			[]edit{{"monthly_budget_usd: 2000", "monthly_budget_usd: -5"}, {"monthly_budget_usd: 500", `monthly_budget_usd: "500"`}},
			[]want{
				{"teams[0].monthly_budget_usd", 15, "must not be negative (got -5)"},
				{"teams[1].monthly_budget_usd", 21, `must be a number, not "500"`},
			}},
		{"bad template fields",
			[]edit{{"ami: ami-0123456789abcdef0", "ami: ami-XYZ"}, {"root_volume_gb: 20", "root_volume_gb: 20000"}, {"tags: {cost-center: platform}", "tags: {cost-center: platform, opsbot:owner: me}"}},
			[]want{
				{"templates[0].ami", 26, `"ami-XYZ" is not an AMI ID`},
				{"templates[0].root_volume_gb", 28, "must be between 1 and 16384 GB (got 20000)"},
				{`templates[0].tags["opsbot:owner"]`, 29, "set by opsbot itself"},
			}},
		{"more tags than EC2 takes with opsbot's own",
			[]edit{{"tags: {cost-center: platform}", "tags: {cost-center: platform" + extraTags(43) + "}"}},
			[]want{{"templates[0].tags", 29, "44 tags, with the 7 opsbot adds to every server (opsbot:managed, Name and the rest) a launch would carry 51; EC2 allows 50 on a resource: remove 1"}}},
		{"as many tags as EC2 takes with opsbot's own",
			[]edit{{"tags: {cost-center: platform}", "tags: {cost-center: platform" + extraTags(42) + "}"}},
			nil},
		{"bad region and instance type names",
			[]edit{{"region: us-east-1", "region: US East"}, {"instance_type: t3.small", "instance_type: large"}},
			[]want{
				{"templates[0].instance_type", 25, `"large" is not an EC2 instance type`},
				{"templates[0].region", 27, `"US East" is not an AWS region name`},
			}},
		{"missing required template field",
			[]edit{{"    ami: ami-0123456789abcdef0\n", ""}},
			[]want{{"templates[0].ami", 24, "is required"}}},
		{"bad placement pattern",
			[]edit{{`instance_types: ["t3.*", "m6i.large"]`, `instance_types: ["t3.[", "m6i.large"]`}},
			[]want{
				{"policies[0].placement.instance_types[0]", 7, `"t3.[" is not a valid pattern`},
				{"templates[0].instance_type", 25, "instance type t3.small is not allowed"},
				{"templates[0].instance_type", 25, "instance type t3.small is not allowed"},
			}},
		{"section of the wrong kind",
			[]edit{{"scheduler: {tick: 1m, reconcile: 5m}", "scheduler: every minute"}},
			[]want{{"scheduler", 1, `must be a mapping of fields (name: value), not "every minute"`}}},
		{"YAML syntax error",
			[]edit{{"    region: us-east-1\n", "    region: [us-east-1\n"}},
			[]want{{"", 27, "invalid YAML: did not find expected ',' or ']'"}}},
		{"YAML syntax error in a block",
			[]edit{{"    region: us-east-1\n", "    region: us-east-1\n   root: 1\n"}},
			// yaml.v3 names the line where the enclosing list began.
			[]want{{"", 24, "invalid YAML: did not find expected '-' indicator"}}},
		{"YAML scanner error",
			[]edit{{"    region: us-east-1\n", "    region: us-east-1: x\n"}},
			[]want{{"", 27, "invalid YAML: mapping values are not allowed in this context"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := base
			for _, e := range tt.edits {
				if strings.Count(doc, e.old) != 1 {
					t.Fatalf("edit %q: found %d times", e.old, strings.Count(doc, e.old))
				}
				doc = strings.Replace(doc, e.old, e.new, 1)
			}
			_, err := Parse([]byte(doc), "opsbot.yaml")
			var got Problems
			if err != nil && !errors.As(err, &got) {
				t.Fatalf("error is %T, not Problems: %v", err, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got.Lines(), "\n"))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Path != w.path || g.Line != w.line || !strings.Contains(g.Message, w.msg) || g.Source != "opsbot.yaml" {
					t.Errorf("problem %d = %s (source %q)\nwant %s (line %d): …%s…", i, g, g.Source, w.path, w.line, w.msg)
				}
			}
		})
	}
}

func TestParse_EmptyFileNeedsPoliciesAndTeams(t *testing.T) {
	_, err := Parse(nil, "empty.yaml")
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"policies (line 1): is required: list at least one policy for teams to use",
		"teams (line 1): is required: list at least one team",
	}
	if got := ps.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Lines() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestProblems_ErrorIsOneLine(t *testing.T) {
	doc := strings.NewReplacer(
		"Asia/Tokyo", "Mars/Base",
		"monthly_budget_usd: 2000", "budgt: 2000",
	).Replace(base)
	_, err := Parse([]byte(doc), "opsbot.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	want := `opsbot.yaml: 3 problems, first: teams[0].monthly_budget_usd (line 11): is required`
	if err.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", err.Error(), want)
	}
	var ps Problems
	errors.As(err, &ps)
	lines := ps.Lines()
	wantLines := []string{
		"teams[0].monthly_budget_usd (line 11): is required",
		"teams[0].budgt (line 15): unknown field (did you mean monthly_budget_usd?)",
		`teams[1].time_zone (line 18): unknown time zone "Mars/Base" (use an IANA name like Europe/Berlin or America/New_York)`,
	}
	if strings.Join(lines, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("Lines() =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}

	one := Problems{{Source: "opsbot.yaml", Path: "teams[1].time_zone", Line: 12, Message: `unknown time zone "Mars/Base"`}}
	if got := one.Error(); got != `opsbot.yaml: teams[1].time_zone (line 12): unknown time zone "Mars/Base"` {
		t.Errorf("one problem: %q", got)
	}
	if Problems(nil).Err() != nil {
		t.Error("no problems should be a nil error")
	}
}

func TestParse_AnchorsAndMergeKeys(t *testing.T) {
	doc := strings.Replace(base, "templates:\n  - name: test-small\n", `x-defaults: &defaults
templates:
  - &small
    name: test-small
`, 1)
	// x-defaults is not a section: anchors must live inside known fields.
	if _, err := Parse([]byte(doc), "opsbot.yaml"); err == nil || !strings.Contains(err.Error(), "x-defaults (line 23): unknown field") {
		t.Fatalf("err = %v", err)
	}
	doc = strings.Replace(base, "    teams: [platform, mobile]\n", `    teams: [platform, mobile]
  - <<: *small
    name: test-small-2
    root_volume_gb: 40
`, 1)
	doc = strings.Replace(doc, "  - name: test-small\n", "  - &small\n    name: test-small\n", 1)
	cfg, err := Parse([]byte(doc), "opsbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tpl, ok := cfg.Catalog.Template("test-small-2")
	if !ok || tpl.RootVolumeGB != 40 || tpl.InstanceType != "t3.small" || tpl.Tags["cost-center"] != "platform" {
		t.Errorf("merged template = %+v", tpl)
	}
}

func TestLoad_MissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	var ps Problems
	if err == nil || errors.As(err, &ps) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

func TestParse_RootNotAMapping(t *testing.T) {
	_, err := Parse([]byte("- teams\n- policies\n"), "opsbot.yaml")
	if err == nil || err.Error() != "opsbot.yaml: (line 1): must be a mapping of fields (name: value), not a list" {
		t.Errorf("err = %v", err)
	}
}

func TestParse_Admins(t *testing.T) {
	cfg, err := Parse([]byte(strings.Replace(base, "scheduler: {tick: 1m, reconcile: 5m}", "admins: [U0ADMIN, boss@example.com]", 1)), "opsbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Catalog.Admins) != 2 || cfg.Catalog.Admins[0] != "U0ADMIN" || cfg.Catalog.Admins[1] != "boss@example.com" {
		t.Errorf("admins = %v", cfg.Catalog.Admins)
	}
}

func TestParse_TemplateHardening(t *testing.T) {
	for _, tt := range []struct {
		extra   string
		public  bool
		profile string
	}{
		{"", false, ""},
		{"\n    public_ip: true\n    instance_profile: dev-box", true, "dev-box"},
		{"\n    instance_profile: arn:aws:iam::123456789012:instance-profile/team/dev-box", false, "arn:aws:iam::123456789012:instance-profile/team/dev-box"},
	} {
		cfg, err := Parse([]byte(strings.Replace(base, "root_volume_gb: 20", "root_volume_gb: 20"+tt.extra, 1)), "opsbot.yaml")
		if err != nil {
			t.Fatalf("%q: %v", tt.extra, err)
		}
		tpl, _ := cfg.Catalog.Template("test-small")
		if tpl.PublicIP != tt.public || tpl.InstanceProfile != tt.profile {
			t.Errorf("%q: public_ip %v, instance_profile %q", tt.extra, tpl.PublicIP, tpl.InstanceProfile)
		}
	}
}

// extraTags is n more tags for a template's flow mapping: ", t01: v, ...".
func extraTags(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ", t%02d: v", i)
	}
	return b.String()
}
