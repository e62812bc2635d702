package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const (
	botToken = "xoxb-1234-5678-SECRETBOTTOKEN"
	signing  = "8f742231b10e8888abcd99yyyzzz85a5"
	appToken = "xapp-1-A0-SECRETAPPTOKEN"
	pdToken  = "y_NbAkKc66ryYTWUXYEu"
	notion   = "secret_NOTIONSECRETVALUE"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func fullEnv() map[string]string {
	return map[string]string{
		EnvSlackBotToken:          botToken + "\n",
		EnvSlackSigningSecret:     signing,
		EnvSlackAppToken:          appToken,
		EnvPagerDutyAPIToken:      pdToken,
		EnvPagerDutyWebhookSecret: " old-secret , new-secret ,, ",
		EnvNotionToken:            notion,
		EnvSlackAPIURL:            "http://127.0.0.1:9000/api",
		EnvPagerDutyAPIURL:        "https://pd.example.test",
		EnvNotionAPIURL:           "http://localhost:9002",
		EnvDB:                     "postgres://opsbot:hunter2@db.example.test:5432/opsbot?sslmode=require",
		EnvListen:                 "127.0.0.1:9090",
		EnvDryRun:                 "TRUE",
		EnvIntakeJournal:          "false",
	}
}

func TestLoadEnv_AllSet(t *testing.T) {
	e, ps := LoadEnv(envOf(fullEnv()))
	if len(ps) != 0 {
		t.Fatalf("problems: %v", Problems(ps))
	}
	if e.SlackBotToken.Reveal() != botToken {
		t.Errorf("bot token not trimmed: %q", e.SlackBotToken.Reveal())
	}
	if e.SlackAPIURL != "http://127.0.0.1:9000/api/" {
		t.Errorf("SlackAPIURL = %q, want a trailing slash", e.SlackAPIURL)
	}
	if len(e.PagerDutyWebhookSecrets) != 2 || e.PagerDutyWebhookSecrets[0].Reveal() != "old-secret" || e.PagerDutyWebhookSecrets[1].Reveal() != "new-secret" {
		t.Errorf("webhook secrets = %q", []string{e.PagerDutyWebhookSecrets[0].Reveal()})
	}
	if e.DB.Driver != "postgres" || !strings.Contains(e.DB.URL.Reveal(), "hunter2") {
		t.Errorf("DB = %+v", e.DB)
	}
	if got := e.DB.String(); got != "postgres://opsbot:xxxxx@db.example.test:5432/opsbot?sslmode=require" {
		t.Errorf("DB.String() = %q", got)
	}
	if !e.DryRun || !e.NoIntakeJournal || e.Listen != "127.0.0.1:9090" || e.NotionAPIURL != "http://localhost:9002" {
		t.Errorf("env = %+v", e)
	}
	if ps := e.Require(EnvSlackBotToken, EnvSlackSigningSecret, EnvNotionToken, EnvPagerDutyWebhookSecret); len(ps) != 0 {
		t.Errorf("Require: %v", Problems(ps))
	}
}

func TestLoadEnv_Defaults(t *testing.T) {
	e, ps := LoadEnv(envOf(nil))
	if len(ps) != 0 {
		t.Fatalf("problems: %v", Problems(ps))
	}
	if e.DB != (Database{Driver: "sqlite", Path: "opsbot.db"}) || e.DB.String() != "sqlite:opsbot.db" {
		t.Errorf("DB = %+v", e.DB)
	}
	if e.Listen != ":8080" || e.DryRun || e.NoIntakeJournal || e.SlackAPIURL != "" || e.SlackAppToken.IsSet() {
		t.Errorf("env = %+v", e)
	}
}

func TestLoadEnv_Problems(t *testing.T) {
	tests := []struct {
		name, key, value string
		want             string // the whole problem line
	}{
		{"dry run not a bool", EnvDryRun, "yes", `OPSBOT_DRY_RUN: must be true, false, 1 or 0, not "yes"`},
		{"intake journal not a bool", EnvIntakeJournal, "off", `OPSBOT_INTAKE_JOURNAL: must be true, false, 1 or 0, not "off"`},
		{"URL without scheme", EnvSlackAPIURL, "localhost:9000", `SLACK_API_URL: must be an absolute http:// or https:// URL, not "localhost:9000"`},
		{"relative URL", EnvNotionAPIURL, "/v1", `NOTION_API_URL: must be an absolute http:// or https:// URL, not "/v1"`},
		{"ftp URL", EnvPagerDutyAPIURL, "ftp://pd.example.test", `PAGERDUTY_API_URL: must be an absolute http:// or https:// URL, not "ftp://pd.example.test"`},
		{"user token instead of bot token", EnvSlackBotToken, "xoxp-1-2-USERTOKEN", "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-; this one starts with xoxp-"},
		{"bot token as app token", EnvSlackAppToken, "xoxb-1-2", "SLACK_APP_TOKEN: must be an app-level token starting with xapp-; this one starts with xoxb-"},
		{"token with a space", EnvNotionToken, "secret_ab cd", "NOTION_TOKEN: contains spaces: check it was copied whole"},
		{"only commas", EnvPagerDutyWebhookSecret, " , ,", "PAGERDUTY_WEBHOOK_SECRET: holds only commas: give one secret, or several separated by commas"},
		{"unknown database", EnvDB, "mysql://root:pw@h/db", "OPSBOT_DB: must be sqlite:PATH or a postgres:// URL"},
		{"sqlite without a path", EnvDB, "sqlite:", "OPSBOT_DB: sqlite: needs a file path, like sqlite:/var/lib/opsbot/opsbot.db"},
		{"listen without a port", EnvListen, "8080", `OPSBOT_LISTEN: must be an address like :8080 or 127.0.0.1:8080, not "8080"`},
		{"listen with a bad port", EnvListen, ":http-alt", `OPSBOT_LISTEN: must be an address like :8080 or 127.0.0.1:8080, not ":http-alt"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := fullEnv()
			env[tt.key] = tt.value
			_, ps := LoadEnv(envOf(env))
			if len(ps) != 1 {
				t.Fatalf("got %d problems: %v", len(ps), Problems(ps).Lines())
			}
			if got := ps[0].String(); got != tt.want {
				t.Errorf("problem = %q\nwant      %q", got, tt.want)
			}
			if ps[0].Source != "environment" || ps[0].Path != tt.key {
				t.Errorf("problem = %+v", ps[0])
			}
			for _, leak := range []string{"USERTOKEN", "pw@", "ab cd"} {
				if strings.Contains(ps[0].Message, leak) {
					t.Errorf("problem leaks %q: %s", leak, ps[0].Message)
				}
			}
		})
	}
}

func TestLoadEnv_CollectsEveryProblem(t *testing.T) {
	_, ps := LoadEnv(envOf(map[string]string{EnvDryRun: "maybe", EnvSlackAPIURL: "nope", EnvDB: "oracle:x"}))
	err := Problems(ps).Err()
	if err == nil || len(ps) != 3 {
		t.Fatalf("problems: %v", ps)
	}
	if !strings.HasPrefix(err.Error(), "environment: 3 problems, first: SLACK_API_URL: ") {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestRequire_MissingTokens(t *testing.T) {
	e, _ := LoadEnv(envOf(map[string]string{EnvSlackSigningSecret: signing}))
	ps := e.Require(EnvSlackBotToken, EnvSlackSigningSecret, EnvPagerDutyWebhookSecret)
	if len(ps) != 2 {
		t.Fatalf("problems: %v", Problems(ps).Lines())
	}
	if got := ps[0].String(); !strings.HasPrefix(got, "SLACK_BOT_TOKEN: is not set: create a bot token under OAuth & Permissions") {
		t.Errorf("problem = %q", got)
	}
	if ps[1].Path != EnvPagerDutyWebhookSecret || !strings.Contains(ps[1].Message, "V3 webhook") {
		t.Errorf("problem = %q", ps[1])
	}
	if ps := e.Require("AWS_SECRET_ACCESS_KEY"); len(ps) != 1 || !strings.Contains(ps[0].Message, "cannot require") {
		t.Errorf("unknown name: %v", ps)
	}
}

func TestSecret_RedactedEverywhere(t *testing.T) {
	e, ps := LoadEnv(envOf(fullEnv()))
	if len(ps) != 0 {
		t.Fatal(Problems(ps))
	}
	secrets := []string{"SECRETBOTTOKEN", signing, "SECRETAPPTOKEN", pdToken, "old-secret", "NOTIONSECRETVALUE", "hunter2"}

	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("starting", "token", e.SlackBotToken, "env", e, slog.Any("hooks", e.PagerDutyWebhookSecrets))
	log.Info("group", slog.Group("slack", "signing", e.SlackSigningSecret, "app", e.SlackAppToken))
	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("starting", "token", e.SlackBotToken, "notion", e.NotionToken, "env", e)

	js, _ := json.Marshal(e)
	outputs := map[string]string{
		"slog JSON": buf.String(),
		"slog text": text.String(),
		"json":      string(js),
		"%v":        fmt.Sprintf("%v", e),
		"%+v":       fmt.Sprintf("%+v", e),
		"%#v":       fmt.Sprintf("%#v", e),
		"%s":        fmt.Sprintf("%s", e.SlackBotToken),
		"%q":        fmt.Sprintf("%q", e.SlackBotToken),
		"%x":        fmt.Sprintf("%x", e.SlackBotToken),
		"%d":        fmt.Sprintf("%d", e.SlackBotToken),
		"Sprint":    fmt.Sprint(e.SlackSigningSecret, e.PagerDutyAPIToken),
	}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output leaks %q:\n%s", name, s, out)
			}
		}
	}
	if !strings.Contains(buf.String(), `"token":"xoxb-…(redacted)"`) {
		t.Errorf("slog JSON should show the redacted token:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), `"signing":"…(redacted)"`) {
		t.Errorf("slog JSON should show the redacted signing secret:\n%s", buf.String())
	}
	if got := fmt.Sprintf("%v", e.SlackBotToken); got != "xoxb-…(redacted)" {
		t.Errorf("%%v = %q", got)
	}
	if got := fmt.Sprintf("%q", e.NotionToken); got != `"secret_…(redacted)"` {
		t.Errorf("%%q = %q", got)
	}
	if Secret("").String() != "" {
		t.Error("an unset secret should print as empty")
	}
}

// TestDatabase_StringHidesQueryPassword: the startup log line names the
// database by DB.String(); a password given as ?password= (which libpq
// and pgx accept) is hidden like one in the user information.
func TestDatabase_StringHidesQueryPassword(t *testing.T) {
	e, ps := LoadEnv(func(k string) string {
		return map[string]string{EnvDB: "postgres://opsbot@db.example.test/opsbot?password=hunter2&sslmode=require"}[k]
	})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	got := e.DB.String()
	if strings.Contains(got, "hunter2") || got != "postgres://opsbot@db.example.test/opsbot?password=xxxxx&sslmode=require" {
		t.Fatalf("DB.String() = %q", got)
	}
	if s := fmt.Sprint(e.DB); strings.Contains(s, "hunter2") {
		t.Fatalf("fmt shows %q", s)
	}
}
