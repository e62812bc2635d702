package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/doctor"
	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
)

// The fake workspace grants what the manifest asks for, so the doctor's
// healthy runs mean something.
func TestDoctor_FakeSlackGrantsManifestScopes(t *testing.T) {
	for _, s := range manifestScopes() {
		if !slices.Contains(slackfake.DefaultScopes, s) {
			t.Errorf("the manifest asks for %s, slackfake.DefaultScopes lacks it", s)
		}
	}
}

// TestDoctor_Command runs `opsbot notion init` and `opsbot doctor` as a
// user would, on the fakes through the environment's endpoint overrides
// (AWS through the SDK's own AWS_ENDPOINT_URL): the database init creates
// passes the doctor's Notion check, a healthy installation exits 0, and
// RunInstances denied exits 1 with the fix.
func TestDoctor_Command(t *testing.T) {
	sl := slackfake.Start(slackfake.Options{})
	defer sl.Close()
	sl.AddChannel(slackfake.Channel{Name: "approvals", Members: []string{sl.BotUserID()}})
	pd := pdfake.Start(pdfake.Options{})
	defer pd.Close()
	pd.AddService(pdfake.Service{ID: "PPLATF1", Name: "Platform"})
	pd.AddWebhookSubscription(pdfake.WebhookSubscription{URL: "https://opsbot.example.com/webhooks/pagerduty", Active: true})
	no := notionfake.Start(notionfake.Options{})
	defer no.Close()
	page := no.AddPage("Engineering")
	ec := ec2fake.New(time.Now)
	ec2srv := httptest.NewServer(ec)
	defer ec2srv.Close()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": ec2srv.URL, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDCMD", "AWS_SECRET_ACCESS_KEY": "cmd-aws-secret",
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	env := map[string]string{
		"SLACK_BOT_TOKEN": sl.Token(), "SLACK_API_URL": sl.APIURL(),
		"PAGERDUTY_API_TOKEN": pd.Token(), "PAGERDUTY_API_URL": pd.URL(), "PAGERDUTY_WEBHOOK_SECRET": "whsec",
		"NOTION_TOKEN": no.Token(), "NOTION_API_URL": no.URL(),
	}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()

	// notion init: bad input changes nothing and says how to call it.
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"notion", "init", "--parent", "not-a-page"}, &out, &errb, getenv); !isExit(err, 2) || !strings.Contains(errb.String(), "usage: opsbot notion init") {
		t.Fatalf("bad --parent: err %v, stderr %q", err, errb.String())
	}
	if n := len(no.Databases()); n != 0 {
		t.Fatalf("%d databases after a refused init", n)
	}
	out.Reset()
	if err := run(ctx, []string{"notion", "init", "--reviews", "--parent", "https://www.notion.so/Engineering-" + strings.ReplaceAll(page, "-", "")}, &out, &errb, getenv); err != nil {
		t.Fatalf("notion init: %v\n%s", err, errb.String())
	}
	ids := regexp.MustCompile(`notion_database: ([0-9a-f]{32})`).FindAllStringSubmatch(out.String(), -1)
	if len(ids) != 3 {
		t.Fatalf("notion init --reviews printed %d IDs, want the post-mortem, alert review and cost review databases:\n%s", len(ids), out.String())
	}
	m := ids[0]
	dbs := no.Databases()
	if len(dbs) != 3 || dbs[0].ParentPage != page || dbs[0].Title != "Post-mortems" || dbs[1].Title != "Alert reviews" || dbs[2].Title != "Cost reviews" ||
		dbs[1].Properties["Review ID"] != "rich_text" || dbs[2].Properties["Date"] != "date" {
		t.Fatalf("databases = %+v", dbs)
	}

	cfg := filepath.Join(t.TempDir(), "opsbot.yaml")
	yaml := `
policies: [{name: standard}]
teams:
  - {name: platform, approvals_channel: "#approvals", approvers: [lead@example.com], monthly_budget_usd: 100, policy: standard, pagerduty_service: PPLATF1}
templates:
  - {name: dev-small, instance_type: t3.small, ami: ami-0123456789abcdef0, region: us-east-1, root_volume_gb: 20, teams: ["*"]}
pricing: {hourly_usd: {us-east-1: {t3.small: 0.02}}}
incidents: {notion_database: ` + m[1] + `, review: {notion_database: ` + ids[1][1] + `}}
costs: {cost_explorer: false, review: {channel: "#approvals", notion_database: ` + ids[2][1] + `}}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	err := run(ctx, []string{"doctor", "--config", cfg, "--url", "https://opsbot.example.com", "--json"}, &out, &errb, getenv)
	var rep doctor.Report
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		t.Fatalf("--json output: %v\n%s", jerr, out.String())
	}
	if err != nil || !rep.OK {
		t.Fatalf("healthy doctor: err %v\n%s\n%s", err, out.String(), errb.String())
	}
	for _, want := range []string{"alert review database " + ids[1][1], "cost review database " + ids[2][1]} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the doctor did not check the %s:\n%s", want, out.String())
		}
	}

	ec.SetPermission("RunInstances", false)
	out.Reset()
	err = run(ctx, []string{"doctor", "--config", cfg, "--url", "https://opsbot.example.com"}, &out, &errb, getenv)
	if !isExit(err, 1) || !strings.Contains(out.String(), "✗ template dev-small: launch allowed") || !strings.Contains(out.String(), "allow ec2:RunInstances") {
		t.Fatalf("denied launch: err %v\n%s", err, out.String())
	}
	for _, secret := range []string{sl.Token(), pd.Token(), no.Token(), "cmd-aws-secret", "whsec"} {
		if strings.Contains(out.String(), secret) {
			t.Fatalf("the report prints a secret:\n%s", out.String())
		}
	}
	if err := run(ctx, []string{"doctor", "--bogus"}, &out, &errb, getenv); !isExit(err, 2) {
		t.Fatalf("bad flag: %v", err)
	}
}

func isExit(err error, code int) bool {
	var c exitCode
	return errors.As(err, &c) && int(c) == code
}
