package doctor_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/config"
	"github.com/opsbot/opsbot/doctor"
	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
)

func TestHealthy(t *testing.T) {
	w := newWorld(t)
	r, text, js := w.run(t)
	if !r.OK || r.Failures != 0 || r.Warnings != 0 {
		t.Fatalf("healthy installation: ok=%v failures=%d warnings=%d\n%s", r.OK, r.Failures, r.Warnings, text)
	}
	golden(t, "healthy.txt", text)
	golden(t, "healthy.json", js)
	var back doctor.Report
	if err := json.Unmarshal([]byte(js), &back); err != nil || len(back.Checks) != len(r.Checks) {
		t.Fatalf("JSON does not read back: %v", err)
	}
	// The dry run asked EC2 to check a launch and launched nothing.
	if calls := w.ec2.CallsOf("RunInstances"); len(calls) != 1 || !calls[0].DryRun {
		t.Fatalf("RunInstances calls = %+v, want one dry run", calls)
	}
	if n := len(w.ec2.Instances()); n != 0 {
		t.Fatalf("%d instances launched", n)
	}
}

// TestFailures breaks one thing at a time: the doctor names it, says how
// to fix it, and fails.
func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(t *testing.T, w *world)
		area    string
		check   string
		status  doctor.Status
		detail  string
		fix     string
	}{
		{"missing scope", func(t *testing.T, w *world) {
			var scopes []string
			for _, s := range w.slack.Scopes() {
				if s != "pins:write" && s != "reactions:read" {
					scopes = append(scopes, s)
				}
			}
			w.slack.SetScopes(scopes...)
		}, "slack", "scopes", doctor.StatusFail, "the token lacks pins:write, reactions:read", "add the bot token scopes pins:write, reactions:read"},
		{"bad Slack token", func(t *testing.T, w *world) { w.env.SlackBotToken = "xoxb-wrong" },
			"slack", "token", doctor.StatusFail, "Slack refused the token (invalid_auth)", "SLACK_BOT_TOKEN"},
		{"bot not in channel", func(t *testing.T, w *world) {
			w.slack.AddChannel(slackfakeChannel("ops-approvals"))
			w.yaml = strings.Replace(w.yaml, `"#approvals"`, `"#ops-approvals"`, 1)
		}, "slack", "channel #ops-approvals", doctor.StatusFail, "exists but the bot is not in it", "type `/invite @opsbot` in #ops-approvals"},
		{"channel missing", func(t *testing.T, w *world) {
			w.yaml = strings.Replace(w.yaml, `"#incidents"`, `"#no-such-channel"`, 1)
		}, "slack", "channel #no-such-channel", doctor.StatusFail, "no such channel", "create #no-such-channel"},
		{"unknown service", func(t *testing.T, w *world) {
			w.yaml = strings.Replace(w.yaml, "PPLATF1", "PNOSUCH1", 1)
		}, "pagerduty", "service PNOSUCH1", doctor.StatusFail, "no such service", "the ID at the end of the service's URL"},
		{"From user missing", func(t *testing.T, w *world) {
			w.yaml = strings.Replace(w.yaml, "[ada@example.com]", "[grace@example.com]", 1)
		}, "pagerduty", "user grace@example.com", doctor.StatusFail, "no PagerDuty user has this email", "add grace@example.com as a user in PagerDuty"},
		{"no webhook subscription", func(t *testing.T, w *world) { w.pd.RemoveWebhookSubscriptions() },
			"pagerduty", "webhook subscription", doctor.StatusFail, "none of the 0 active subscriptions delivers to https://opsbot.example.com/webhooks/pagerduty",
			"Generic Webhooks (v3) → New Webhook: URL https://opsbot.example.com/webhooks/pagerduty"},
		{"webhook to another URL", func(t *testing.T, w *world) {
			w.pd.RemoveWebhookSubscriptions()
			w.pd.AddWebhookSubscription(pdfakeSub("https://old-opsbot.example.com/webhooks/pagerduty"))
		}, "pagerduty", "webhook subscription", doctor.StatusFail, "none of the 1 active subscriptions", "New Webhook"},
		{"webhook for another service", func(t *testing.T, w *world) {
			w.pd.RemoveWebhookSubscriptions()
			s := pdfakeSub(publicURL + "/webhooks/pagerduty")
			s.FilterType, s.FilterID = "service_reference", "POTHER1"
			w.pd.AddWebhookSubscription(s)
		}, "pagerduty", "webhook subscription", doctor.StatusFail, "but not the events of PPLATF1", "account-wide"},
		{"webhook secret unset", func(t *testing.T, w *world) { w.env.PagerDutyWebhookSecrets = nil },
			"pagerduty", "webhook subscription", doctor.StatusFail, "PAGERDUTY_WEBHOOK_SECRET is not set", "signing secret"},
		{"missing Notion property", func(t *testing.T, w *world) {
			schema := notion.DefaultProps.Schema()
			delete(schema, "Incident ID")
			db, err := w.notion.AddDatabase("Post-mortems", schema)
			if err != nil {
				t.Fatal(err)
			}
			w.notionDB = strings.ReplaceAll(db.ID, "-", "")
		}, "notion", "post-mortem database", doctor.StatusFail, `property "Incident ID" (rich_text) is missing`, "add the missing properties"},
		{"optional Notion property missing", func(t *testing.T, w *world) {
			schema := notion.DefaultProps.Schema()
			delete(schema, "Meeting")
			db, err := w.notion.AddDatabase("Post-mortems", schema)
			if err != nil {
				t.Fatal(err)
			}
			w.notionDB = strings.ReplaceAll(db.ID, "-", "")
		}, "notion", "post-mortem database", doctor.StatusWarn, `property "Meeting" (date) is missing`, "add those properties"},
		{"Notion database not shared", func(t *testing.T, w *world) { w.notionDB = "0123456789abcdef0123456789abcdef" },
			"notion", "post-mortem database", doctor.StatusFail, "Notion cannot open database", "share the database with the integration"},
		{"AMI missing", func(t *testing.T, w *world) { w.ec2.RemoveImage("ami-0123456789abcdef0") },
			"aws", "template dev-small: AMI", doctor.StatusFail, "InvalidAMIID.NotFound", "put an AMI of us-east-1 in templates[dev-small].ami"},
		{"subnet missing", func(t *testing.T, w *world) { w.ec2.SetSubnet("eu-west-1", "subnet-0a1b2c3d4e5f67890") },
			"aws", "template dev-small: subnet", doctor.StatusFail, "InvalidSubnetID.NotFound", "templates[dev-small].subnet"},
		{"security group missing", func(t *testing.T, w *world) { w.ec2.SetSecurityGroup("eu-west-1", "sg-0a1b2c3d4e5f67890") },
			"aws", "template dev-small: security groups", doctor.StatusFail, "InvalidGroup.NotFound", "templates[dev-small].security_groups"},
		{"RunInstances denied", func(t *testing.T, w *world) { w.ec2.SetPermission("RunInstances", false) },
			"aws", "template dev-small: launch allowed", doctor.StatusFail, "UnauthorizedOperation", "allow ec2:RunInstances and ec2:CreateTags"},
		{"DescribeImages denied", func(t *testing.T, w *world) { w.ec2.SetPermission("DescribeImages", false) },
			"aws", "template dev-small: AMI", doctor.StatusFail, "IAM refused ec2:DescribeImages", "allow ec2:DescribeImages for arn:aws:iam::"},
		{"AWS credentials refused", func(t *testing.T, w *world) { w.ec2.FailNext("GetCallerIdentity", 1, "InvalidClientTokenId", 403) },
			"aws", "credentials", doctor.StatusFail, "InvalidClientTokenId", "give opsbot AWS credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tc.breakIt(t, w)
			r, text, _ := w.run(t)
			c := find(t, r, tc.area, tc.check)
			if c.Status != tc.status || !strings.Contains(c.Detail, tc.detail) || !strings.Contains(c.Fix, tc.fix) {
				t.Fatalf("check = %+v\nwant status %s, detail with %q, fix with %q\n%s", c, tc.status, tc.detail, tc.fix, text)
			}
			if tc.status == doctor.StatusFail && (r.OK || r.Failures == 0) {
				t.Fatalf("a failure leaves the report OK:\n%s", text)
			}
			if tc.status == doctor.StatusWarn && (!r.OK || r.Warnings == 0) {
				t.Fatalf("a warning fails the report:\n%s", text)
			}
		})
	}
}

// TestBrokenInstallation: several things wrong at once, the output a
// person reads (golden), every failure with its fix.
func TestBrokenInstallation(t *testing.T) {
	w := newWorld(t)
	w.slack.SetScopes("chat:write", "commands", "files:write", "channels:read", "groups:read", "users:read", "users:read.email", "im:write", "channels:manage", "channels:history")
	w.slack.AddChannel(slackfakeChannel("ops-approvals"))
	w.yaml = strings.Replace(w.yaml, `"#approvals"`, `"#ops-approvals"`, 1)
	w.yaml = strings.Replace(w.yaml, "PPLATF1", "PNOSUCH1", 1)
	w.pd.RemoveWebhookSubscriptions()
	schema := notion.DefaultProps.Schema()
	delete(schema, "Incident ID")
	db, err := w.notion.AddDatabase("Post-mortems", schema)
	if err != nil {
		t.Fatal(err)
	}
	w.notionDB = strings.ReplaceAll(db.ID, "-", "")
	w.ec2.SetPermission("RunInstances", false)
	r, text, js := w.run(t)
	if r.OK || r.Failures != 6 {
		t.Fatalf("failures = %d, want 6\n%s", r.Failures, text)
	}
	for _, c := range r.Checks {
		if c.Status == doctor.StatusFail && c.Fix == "" {
			t.Errorf("failure without a fix: %+v", c)
		}
	}
	golden(t, "broken.txt", text)
	golden(t, "broken.json", js)
}

// TestNothingConfigured: no tokens at all say which variables to set;
// PagerDuty and Notion are off when incidents are.
func TestNothingConfigured(t *testing.T) {
	w := newWorld(t)
	w.env = config.Env{}
	w.yaml = strings.Split(w.yaml, "\nincidents:")[0] + "\n# %s\n"
	r, text, _ := w.run(t)
	if c := find(t, r, "slack", "token"); c.Status != doctor.StatusFail || !strings.Contains(c.Detail, "SLACK_BOT_TOKEN is not set") {
		t.Fatalf("slack token check = %+v\n%s", c, text)
	}
	if c := find(t, r, "pagerduty", "incidents"); c.Status != doctor.StatusSkip {
		t.Fatalf("pagerduty = %+v", c)
	}
	if c := find(t, r, "notion", "post-mortem database"); c.Status != doctor.StatusSkip {
		t.Fatalf("notion = %+v", c)
	}
}

// slackfakeChannel is a public channel the bot is not in.
func slackfakeChannel(name string) slackfake.Channel {
	return slackfake.Channel{Name: name, Members: []string{"U0SOMEONE1"}}
}

// pdfakeSub is an active account-wide subscription delivering to url.
func pdfakeSub(url string) pdfake.WebhookSubscription {
	return pdfake.WebhookSubscription{URL: url, Active: true}
}
