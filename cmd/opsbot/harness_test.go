package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/opsbot/opsbot/config"
	"github.com/opsbot/opsbot/integrations/aws/cloudwatchfake"
	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/internal/telemetry"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

const (
	testSecret = "test-signing-secret"
	dev        = "U0DEV"    // platform member
	dev2       = "U0DEV2"   // another platform member
	lead       = "U0LEAD"   // platform approver
	lead2      = "U0LEAD2"  // platform approver, configured by email
	analyst    = "U0ANA"    // data team member
	stranger   = "U0OUT"    // in no team
	oncall     = "U0ONCALL" // on call in PagerDuty for the platform service
	admin      = "U0ADMIN"  // in no team; an admin (by email) in config
	sre        = "U0SRE"    // in platform's incident_members only

	pdSecretOld = "pd-secret-old"
	pdSecret    = "pd-secret-new"
	pdService   = "PPLATF1"
)

// start is a Saturday morning in Berlin.
var start = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

const testConfig = `
scheduler: {tick: 1m, reconcile: 5m}
admins: [admin@example.com]
pricing:
  volume_per_gb_month_usd: 0.08
  hourly_usd:
    us-east-1: {t3.small: 0.0208, c6i.2xlarge: 0.34, c6i.8xlarge: 1.36}
policies:
  - name: standard
    access:
      approval_tiers: [{above_usd: 0, approvals: 1}, {above_usd: 100, approvals: 2}]
      approval_timeout: 48h
      remind_every: 4h
    placement: {regions: [us-east-1], instance_types: ["t3.*", "c6i.*"]}
    integration: {required_tags: [cost-center]}
    financial: {auto_approve_below_usd: 5, over_budget: require_approval}
    lifecycle: {default_lease: 1d, max_lease: 7d, max_lifetime: 10d, max_extensions: 1, warn_before: [24h, 1h], end_action: stop, grace: 30m}
  - name: strict
    financial: {auto_approve_below_usd: 5, over_budget: deny}
    lifecycle: {end_action: terminate, grace: 0s}
teams:
  - name: platform
    time_zone: Europe/Berlin
    approvals_channel: "#platform-approvals"
    members: [U0DEV, dev2@example.com]
    approvers: [U0LEAD, lead2@example.com]
    monthly_budget_usd: 500
    policy: standard
    announce_channel: "#incidents"
    incident_members: [dev2@example.com, ghost@example.com, sre@example.com]
    pagerduty_service: PPLATF1
  - name: data
    time_zone: America/New_York
    approvals_channel: "#data-approvals"
    members: [ana@example.com]
    approvers: [U0LEAD]
    monthly_budget_usd: 20
    policy: strict
templates:
  - name: test-small
    description: Small box for tests
    instance_type: t3.small
    ami: ami-0123456789abcdef0
    region: us-east-1
    subnet: subnet-0123456789abcdef0
    security_groups: [sg-0123456789abcdef0]
    key_pair: dev
    root_volume_gb: 20
    tags: {cost-center: platform, env: test}
    teams: ["*"]
  - name: build-box
    description: Big compile box
    instance_type: c6i.2xlarge
    ami: ami-0123456789abcdef0
    region: us-east-1
    root_volume_gb: 100
    tags: {cost-center: platform}
    teams: [platform, data]
  - name: huge
    description: Very big box
    instance_type: c6i.8xlarge
    ami: ami-0123456789abcdef0
    region: us-east-1
    root_volume_gb: 100
    tags: {cost-center: platform}
    teams: [platform]
incidents:
  update_every: {sev1: 30m, sev2: 1h, sev3: 4h}
  meeting_nag_after: 24h
  meeting_nag_every: 24h
  postmortem_due: 5d
  notion_database: NOTION_DB
  default_team: platform
`

// harness runs the real opsbot App, with its real HTTP handlers, store
// and slack-go / aws-sdk-go-v2 clients, against the fake Slack and EC2
// servers, on a clock the test moves.
type harness struct {
	t      testing.TB
	clock  *workflows.ManualClock
	slack  *slackfake.Server
	ec2    *ec2fake.Server
	ec2hs  *httptest.Server
	cw     *cloudwatchfake.Server // on ec2hs's endpoint
	pd     *pdfake.Server
	notion *notionfake.Server
	dbID   string
	extra  string // YAML appended to the incidents section
	// edit, when set, rewrites the config text before each boot: a
	// config reload is edit changed, then restart.
	edit func(string) string
	app  *App
	srv  *httptest.Server
	db   string
	dsn  string // OPSBOT_DB; empty: SQLite in db
	dry  bool
	// noJournal sets OPSBOT_INTAKE_JOURNAL=false from the next boot.
	noJournal bool
	// replicas counts the Apps booted, to name each one's job leases.
	replicas int
	// log, when set, takes the App's log instead of the test's (a fuzz
	// target may not log through its *testing.F); slackHTTP, when set, is
	// the App's client for Slack and response_url posts. Both apply from
	// the next boot.
	log       *slog.Logger
	slackHTTP *http.Client
	// outsideHTTP, when set, is the App's client for PagerDuty, Notion
	// and EC2 (the fault tests give all of them a short timeout), and
	// awsBackoff the SDK's longest wait between retries.
	outsideHTTP *http.Client
	awsBackoff  time.Duration
	// tracing, when set, is where the Apps booted send their spans.
	tracing *telemetry.Tracing
	// crash, when set, sees every store commit and every outside call of
	// the Apps booted, and can kill them (crash_e2e_test.go).
	crash *killer
	// storeOpts are added to the store options of the Apps booted.
	storeOpts []store.Option
	// costEndpoint and stsEndpoint, when set, point the Apps booted at a
	// Cost Explorer and an STS fake (costs_e2e_test.go).
	costEndpoint, stsEndpoint string
}

// newHarness builds the world and boots opsbot on SQLite; with a dsn, on
// that database.
func newHarness(t testing.TB, dsn ...string) *harness {
	t.Helper()
	return newEditedHarness(t, nil, dsn...)
}

// newEditedHarness is newHarness booted on the test config as edit
// rewrites it.
func newEditedHarness(t testing.TB, edit func(string) string, dsn ...string) *harness {
	t.Helper()
	h := newUnbootedHarness(t, dsn...)
	h.edit = edit
	h.boot()
	return h
}

// newUnbootedHarness builds the world without opsbot in it yet.
func newUnbootedHarness(t testing.TB, dsn ...string) *harness {
	t.Helper()
	h := &harness{t: t, clock: workflows.NewManualClock(start), db: filepath.Join(t.TempDir(), "opsbot.db")}
	if len(dsn) > 0 {
		h.dsn = dsn[0]
	}
	// Requests the fake signs are re-addressed to the opsbot test server in send.
	h.slack = slackfake.Start(slackfake.Options{Clock: h.clock.Now, AppURL: "http://opsbot.test"})
	t.Cleanup(h.slack.Close)
	for _, u := range []slackfake.User{
		{ID: dev, Name: "dev", Email: "dev@example.com", RealName: "Dana Devlin"},
		{ID: dev2, Name: "dev2", Email: "dev2@example.com"},
		{ID: lead, Name: "lead", Email: "lead@example.com", RealName: "Lee Lead"},
		{ID: lead2, Name: "lead2", Email: "lead2@example.com"},
		{ID: analyst, Name: "ana", Email: "ana@example.com"},
		{ID: stranger, Name: "stranger", Email: "stranger@elsewhere.com"},
		{ID: oncall, Name: "oncall", Email: "oncall@example.com"},
		{ID: admin, Name: "admin", Email: "admin@example.com"},
		{ID: sre, Name: "sre", Email: "sre@example.com"},
	} {
		h.slack.AddUser(u)
	}
	for _, c := range []string{"platform-approvals", "data-approvals", "general", "incidents"} {
		h.slack.AddChannel(slackfake.Channel{Name: c, Members: []string{dev, dev2, lead, lead2, analyst, stranger, h.slack.BotUserID()}})
	}
	h.ec2 = ec2fake.New(h.clock.Now)
	h.ec2.SetDelays(ec2fake.Delays{Launch: 20 * time.Second, Stop: 30 * time.Second, Terminate: 30 * time.Second})
	h.ec2.SetPrice("us-east-1", "t3.small", 0.0208)
	h.ec2.SetPrice("us-east-1", "c6i.2xlarge", 0.34)
	h.ec2.SetPrice("us-east-1", "c6i.8xlarge", 1.36)
	h.cw = cloudwatchfake.New(h.clock.Now)
	h.ec2.SetMetrics(h.cw)
	h.ec2hs = httptest.NewServer(h.ec2)
	t.Cleanup(h.ec2hs.Close)
	h.pd = pdfake.Start(pdfake.Options{Clock: h.clock.Now, SyncWebhooks: true, WebhookSecrets: []string{pdSecret}})
	t.Cleanup(h.pd.Close)
	pdOncall := h.pd.AddUser(pdfake.User{ID: "PUONCALL", Name: "On Call", Email: "oncall@example.com"})
	h.pd.AddUser(pdfake.User{ID: "PULEAD", Name: "Lead", Email: "lead@example.com"})
	h.pd.AddUser(pdfake.User{ID: "PUDEV", Name: "Dev", Email: "dev@example.com"})
	ep := h.pd.AddEscalationPolicy(pdfake.EscalationPolicy{ID: "PEPLAT1", Name: "Platform", Levels: [][]string{{pdOncall.ID}}})
	h.pd.AddService(pdfake.Service{ID: pdService, Name: "Platform API", EscalationPolicyID: ep.ID})
	h.notion = notionfake.Start(notionfake.Options{Clock: h.clock.Now})
	t.Cleanup(h.notion.Close)
	db, err := h.notion.AddDatabase("Post-mortems", notion.DefaultProps.Schema())
	if err != nil {
		t.Fatal(err)
	}
	h.dbID = db.ID
	return h
}

// boot builds the App on the harness's database, as a fresh process would.
func (h *harness) boot() {
	h.t.Helper()
	h.app, h.srv = h.bootApp()
	h.pd.SetWebhookURL(h.srv.URL + "/webhooks/pagerduty")
}

// bootApp builds one opsbot process on the harness's database and its
// HTTP server; a second call makes a second replica.
func (h *harness) bootApp() (*App, *httptest.Server) {
	h.t.Helper()
	h.replicas++
	dsn := h.dsn
	if dsn == "" {
		dsn = "sqlite:" + h.db
	}
	text := strings.Replace(testConfig, "NOTION_DB", strings.ReplaceAll(h.dbID, "-", ""), 1) + h.extra
	if h.edit != nil {
		text = h.edit(text)
	}
	cfg, err := config.Parse([]byte(text), "test.yaml")
	if err != nil {
		h.t.Fatalf("test config: %v", err)
	}
	env, problems := config.LoadEnv(mapEnv(map[string]string{
		"SLACK_BOT_TOKEN":          h.slack.Token(),
		"SLACK_SIGNING_SECRET":     testSecret,
		"SLACK_API_URL":            h.slack.APIURL(),
		"OPSBOT_DB":                dsn,
		"OPSBOT_DRY_RUN":           map[bool]string{true: "true", false: "false"}[h.dry],
		"OPSBOT_INTAKE_JOURNAL":    map[bool]string{true: "false", false: ""}[h.noJournal],
		"PAGERDUTY_API_TOKEN":      h.pd.Token(),
		"PAGERDUTY_API_URL":        h.pd.URL(),
		"PAGERDUTY_WEBHOOK_SECRET": pdSecretOld + ", " + pdSecret,
		"NOTION_TOKEN":             h.notion.Token(),
		"NOTION_API_URL":           h.notion.URL(),
	}))
	if len(problems) > 0 {
		h.t.Fatalf("test env: %v", problems)
	}
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}
	log := slog.New(slog.NewTextHandler(testWriter{h.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if os.Getenv("OPSBOT_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if h.log != nil {
		log = h.log
	}
	sleep := func(ctx context.Context, d time.Duration) error {
		h.clock.Advance(d)
		return ctx.Err()
	}
	if h.outsideHTTP != nil {
		awsCfg.HTTPClient = h.outsideHTTP
	}
	deps := Deps{Clock: h.clock, Log: log, AWSConfig: &awsCfg, AWSEndpoint: h.ec2hs.URL, Owner: fmt.Sprintf("replica-%d", h.replicas), Sleep: sleep,
		SlackHTTP: h.slackHTTP, HTTP: h.outsideHTTP, AWSMaxBackoff: h.awsBackoff, Tracing: h.tracing,
		AWSCostEndpoint: h.costEndpoint, AWSSTSEndpoint: h.stsEndpoint}
	deps.StoreOptions = append(deps.StoreOptions, h.storeOpts...)
	if h.crash != nil {
		h.crash.wire(&deps)
	}
	app, err := NewApp(context.Background(), cfg, env, deps)
	if err != nil {
		h.t.Fatalf("build app: %v", err)
	}
	// The pacer's sleeps move the manual clock by whole rate intervals
	// while the lease is renewed on the wall clock: a long lease keeps a
	// drain's jobs from running out under their worker.
	app.Runner.Lease = 2 * time.Minute
	srv := httptest.NewServer(app.Handler)
	h.t.Cleanup(func() {
		srv.Close()
		app.Bot.Wait()
		app.Close()
	})
	return app, srv
}

// restart closes the App and builds a new one on the same database.
func (h *harness) restart() {
	h.srv.Close()
	h.app.Bot.Wait()
	h.app.Close()
	h.boot()
}

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// send delivers a request the fake Slack built to opsbot and returns the
// HTTP status.
func (h *harness) send(req *http.Request, err error) int {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("build Slack request: %v", err)
	}
	req.URL, _ = req.URL.Parse(h.srv.URL + req.URL.Path)
	req.Host = ""
	status, err := h.slack.Deliver(context.Background(), h.srv.Client(), req)
	if err != nil {
		h.t.Fatalf("deliver to opsbot: %v", err)
	}
	h.app.Bot.Wait()
	return status
}

// ops types /ops TEXT as user and returns what opsbot answered them.
func (h *harness) ops(user, text string) string {
	h.t.Helper()
	before := len(h.slack.Responses())
	if status := h.send(h.slack.SlashCommand(testSecret, user, "general", "/ops", text)); status != http.StatusOK {
		h.t.Fatalf("/ops %s: status %d", text, status)
	}
	rs := h.slack.Responses()
	if len(rs) == before {
		return ""
	}
	return responseText(rs[len(rs)-1])
}

// responseText flattens an answer to its fallback text and block text.
func responseText(r slackfake.Response) string {
	return r.Text + "\n" + blockText(r.Blocks)
}

// blockText is every text in a Block Kit payload, a line each.
func blockText(raw json.RawMessage) string { return strings.Join(textsIn(raw, nil), "\n") }

// textsIn lists the "text" strings of the objects in raw (Block Kit
// JSON) that keep accepts (nil: every one), depth first.
func textsIn(raw json.RawMessage, keep func(obj map[string]any) bool) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok && (keep == nil || keep(x)) {
				out = append(out, s)
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	walk(v)
	return out
}

// click presses the button with actionID on msg as user.
func (h *harness) click(user string, msg slackfake.Message, actionID, value string) int {
	h.t.Helper()
	return h.send(h.slack.BlockAction(testSecret, slackfake.Click{User: user, Channel: msg.Channel, MessageTS: msg.TS, ActionID: actionID, Value: value}))
}

// lastResponse is the newest answer opsbot gave anyone.
func (h *harness) lastResponse() string {
	rs := h.slack.Responses()
	if len(rs) == 0 {
		return ""
	}
	return responseText(rs[len(rs)-1])
}

// drain runs every job that is due now, until none is. A job a rate
// limit put back for its slot (at most a pacer's wait away) is waited
// for: the clock moves to it, as a wait in the pacer once moved it.
func (h *harness) drain() {
	h.t.Helper()
	for i := 0; i < 500; i++ {
		n, err := h.app.Runner.RunDue(context.Background())
		if err != nil {
			h.t.Fatalf("run jobs: %v", err)
		}
		if n > 0 {
			continue
		}
		at, ok, err := h.app.DB.NextDeferred(context.Background(), h.clock.Now())
		if err != nil {
			h.t.Fatal(err)
		}
		if !ok || at.Sub(h.clock.Now()) > 90*time.Second {
			return
		}
		h.clock.Set(at)
	}
	h.t.Fatal("jobs keep coming")
}

// advance moves the clock, runs the scheduler's lease tick and the jobs
// that are due.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clock.Advance(d)
	if _, err := h.app.Servers.Tick(context.Background()); err != nil {
		h.t.Fatalf("tick: %v", err)
	}
	if _, err := h.app.Incidents.Tick(context.Background()); err != nil {
		h.t.Fatalf("incident tick: %v", err)
	}
	h.drain()
}

// launched has dev ask for a server with text (after "server request")
// and waits until it runs; it returns the request.
func (h *harness) launched(text string) *workflows.ServerRequest {
	h.t.Helper()
	h.ops(dev, "server request "+text)
	h.settle()
	all := h.requests()
	if len(all) == 0 {
		h.t.Fatalf("no request after %q", text)
	}
	return all[len(all)-1]
}

// requests returns every stored server request, oldest first.
func (h *harness) requests() []*workflows.ServerRequest {
	h.t.Helper()
	var all []*workflows.ServerRequest
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		all, err = tx.Requests(workflows.RequestFilter{})
		return err
	}); err != nil {
		h.t.Fatalf("read requests: %v", err)
	}
	return all
}

// settle lets launched instances come up: the fake EC2 needs 20s.
func (h *harness) settle() {
	h.t.Helper()
	h.drain()
	for i := 0; i < 4; i++ {
		h.advance(11 * time.Second)
	}
}

func (h *harness) request(id string) *workflows.ServerRequest {
	h.t.Helper()
	var r *workflows.ServerRequest
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		r, err = tx.Request(id)
		return err
	}); err != nil {
		h.t.Fatalf("load %s: %v", id, err)
	}
	return r
}

func (h *harness) committed(team string) workflows.Money {
	h.t.Helper()
	var entries []workflows.LedgerEntry
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		entries, err = tx.Ledger(workflows.LedgerFilter{Team: team})
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return workflows.Committed(entries)
}

// channelMessages returns the messages in a channel, by name.
func (h *harness) channelMessages(name string) []slackfake.Message {
	c, ok := h.slack.Channel(name)
	if !ok {
		h.t.Fatalf("no channel %s", name)
	}
	return h.slack.Messages(c.ID)
}

func (h *harness) dms(user string) []slackfake.Message { return h.slack.DMs(user) }

func messageText(m slackfake.Message) string { return m.Text + "\n" + blockText(m.Blocks) }

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

var _ = io.Discard

// terminateOutside terminates an instance the way a person in the AWS
// console would: a TerminateInstances call opsbot did not make.
func (h *harness) terminateOutside(id string) {
	h.t.Helper()
	c := ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.ec2hs.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDADMIN", "secret", "")})
	if _, err := c.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		h.t.Fatalf("terminate %s outside opsbot: %v", id, err)
	}
	h.clock.Advance(time.Minute) // shutting-down → terminated
}

// adminEC2 is a person's EC2 client, acting outside opsbot.
func (h *harness) adminEC2() *ec2.Client {
	return ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.ec2hs.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDADMIN", "secret", "")})
}
