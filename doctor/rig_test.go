package doctor_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/opsbot/opsbot/config"
	"github.com/opsbot/opsbot/doctor"
	awsint "github.com/opsbot/opsbot/integrations/aws"
	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/integrations/pagerduty"
	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

const publicURL = "https://opsbot.example.com"

// Tokens the fakes accept; the tests check none of them is ever printed.
const (
	slackToken  = "xoxb-doctor-secret-slack"
	pdToken     = "pd-doctor-secret-token"
	notionToken = "secret_doctor_notion"
	awsSecret   = "aws-doctor-secret-key"
)

// world is a healthy installation on the fakes: the config's channels
// exist with the bot in them, its PagerDuty service and incident member
// exist, a webhook subscription points at opsbot, the Notion database has
// every property, and the template's AMI, subnet and group exist with
// RunInstances allowed. Tests break one thing, then run the doctor.
type world struct {
	clock    *workflows.ManualClock
	slack    *slackfake.Server
	pd       *pdfake.Server
	notion   *notionfake.Server
	ec2      *ec2fake.Server
	ec2srv   *httptest.Server
	notionDB string
	// yaml is the config; %s is replaced by the Notion database ID.
	yaml string
	env  config.Env
}

const configYAML = `
policies:
  - name: standard
teams:
  - name: platform
    approvals_channel: "#approvals"
    approvers: [lead@example.com]
    monthly_budget_usd: 1000
    policy: standard
    announce_channel: "#incidents"
    incident_members: [ada@example.com]
    pagerduty_service: PPLATF1
templates:
  - name: dev-small
    instance_type: t3.small
    ami: ami-0123456789abcdef0
    region: us-east-1
    subnet: subnet-0a1b2c3d4e5f67890
    security_groups: [sg-0a1b2c3d4e5f67890]
    root_volume_gb: 20
    teams: ["*"]
pricing:
  hourly_usd:
    us-east-1: {t3.small: 0.0208}
incidents:
  notion_database: %s
`

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{clock: workflows.NewManualClock(t0), yaml: configYAML}
	w.slack = slackfake.Start(slackfake.Options{Clock: w.clock.Now, Token: slackToken})
	t.Cleanup(w.slack.Close)
	bot := w.slack.BotUserID()
	w.slack.AddChannel(slackfake.Channel{Name: "approvals", Members: []string{bot}})
	w.slack.AddChannel(slackfake.Channel{Name: "incidents", Members: []string{bot}})

	w.pd = pdfake.Start(pdfake.Options{Clock: w.clock.Now, Token: pdToken})
	t.Cleanup(w.pd.Close)
	w.pd.AddService(pdfake.Service{ID: "PPLATF1", Name: "Platform"})
	w.pd.AddUser(pdfake.User{Name: "Ada Lovelace", Email: "ada@example.com"})
	w.pd.AddWebhookSubscription(pdfake.WebhookSubscription{URL: publicURL + pagerduty.WebhookPath, Active: true})

	w.notion = notionfake.Start(notionfake.Options{Clock: w.clock.Now, Token: notionToken})
	t.Cleanup(w.notion.Close)
	db, err := w.notion.AddDatabase("Post-mortems", notion.DefaultProps.Schema())
	if err != nil {
		t.Fatal(err)
	}
	w.notionDB = strings.ReplaceAll(db.ID, "-", "")

	w.ec2 = ec2fake.New(w.clock.Now)
	w.ec2.SetStrict(true)
	w.ec2.SetImage("ami-0123456789abcdef0", "/dev/xvda")
	w.ec2.SetSubnet("us-east-1", "subnet-0a1b2c3d4e5f67890")
	w.ec2.SetSecurityGroup("us-east-1", "sg-0a1b2c3d4e5f67890")
	w.ec2srv = httptest.NewServer(w.ec2)
	t.Cleanup(w.ec2srv.Close)

	w.env = config.Env{
		SlackBotToken: config.Secret(slackToken), PagerDutyAPIToken: config.Secret(pdToken), NotionToken: config.Secret(notionToken),
		PagerDutyWebhookSecrets: []config.Secret{"pd-webhook-signing-secret"},
	}
	return w
}

// sleep advances the manual clock instead of waiting (client pacing).
func (w *world) sleep(ctx context.Context, d time.Duration) error {
	w.clock.Advance(d)
	return ctx.Err()
}

// doctor builds the doctor the way `opsbot doctor` does, on the real
// clients pointed at the fakes.
func (w *world) doctor(t *testing.T) *doctor.Doctor {
	t.Helper()
	cfg, err := config.Parse([]byte(fmt.Sprintf(w.yaml, w.notionDB)), filepath.Join(t.TempDir(), "opsbot.yaml"))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	d := &doctor.Doctor{Config: cfg, Env: w.env, Scopes: slackfake.DefaultScopes, PublicURL: publicURL, Timeout: 5 * time.Second, Now: w.clock.Now}
	if w.env.SlackBotToken.IsSet() {
		d.Slack = slackout.New(w.env.SlackBotToken.Reveal(), slackout.Options{APIURL: w.slack.APIURL(), Clock: w.clock.Now, Sleep: w.sleep})
	}
	if w.env.PagerDutyAPIToken.IsSet() {
		d.PagerDuty = pagerduty.New(w.env.PagerDutyAPIToken.Reveal(), pagerduty.Options{APIURL: w.pd.URL(), Clock: w.clock.Now, Sleep: w.sleep, MaxAttempts: 2})
	}
	if w.env.NotionToken.IsSet() {
		d.Notion = notion.New(w.env.NotionToken.Reveal(), notion.Options{APIURL: w.notion.URL(), DatabaseID: cfg.Catalog.Incidents.NotionDatabase, Clock: w.clock.Now, Sleep: w.sleep})
	}
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDDOCTOR", awsSecret, ""), HTTPClient: w.ec2srv.Client()}
	d.AWS, err = awsint.New(context.Background(), awsint.Options{Config: &awsCfg, Endpoint: w.ec2srv.URL, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// run runs the doctor and returns the report and both renderings, after
// checking that no secret is in either.
func (w *world) run(t *testing.T) (doctor.Report, string, string) {
	t.Helper()
	r := w.doctor(t).Run(context.Background())
	var text, js bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{slackToken, pdToken, notionToken, awsSecret, "pd-webhook-signing-secret"} {
		if strings.Contains(text.String(), secret) || strings.Contains(js.String(), secret) {
			t.Fatalf("the report prints the secret %q:\n%s", secret, text.String())
		}
	}
	return r, text.String(), js.String()
}

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 writes it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (UPDATE_GOLDEN=1 rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// find returns the check whose name starts with prefix.
func find(t *testing.T, r doctor.Report, area, prefix string) doctor.Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Area == area && strings.HasPrefix(c.Name, prefix) {
			return c
		}
	}
	t.Fatalf("no %s check %q in %+v", area, prefix, r.Checks)
	return doctor.Check{}
}
