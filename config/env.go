package config

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/opsbot/opsbot/internal/redact"
)

// Names of the environment variables opsbot reads (see CONTRACT.md).
const (
	EnvSlackBotToken          = "SLACK_BOT_TOKEN"
	EnvSlackSigningSecret     = "SLACK_SIGNING_SECRET"
	EnvSlackAppToken          = "SLACK_APP_TOKEN"
	EnvPagerDutyAPIToken      = "PAGERDUTY_API_TOKEN"
	EnvPagerDutyWebhookSecret = "PAGERDUTY_WEBHOOK_SECRET"
	EnvNotionToken            = "NOTION_TOKEN"
	EnvSlackAPIURL            = "SLACK_API_URL"
	EnvPagerDutyAPIURL        = "PAGERDUTY_API_URL"
	EnvNotionAPIURL           = "NOTION_API_URL"
	EnvDB                     = "OPSBOT_DB"
	EnvListen                 = "OPSBOT_LISTEN"
	EnvDryRun                 = "OPSBOT_DRY_RUN"
	EnvIntakeJournal          = "OPSBOT_INTAKE_JOURNAL"
)

// Environment defaults.
const (
	DefaultDB     = "sqlite:opsbot.db"
	DefaultListen = ":8080"
)

// Env is what the environment says: secrets, endpoint overrides and
// runtime switches. The YAML file holds policy; this holds what differs
// between deployments and must not be committed.
type Env struct {
	SlackBotToken      Secret
	SlackSigningSecret Secret
	// SlackAppToken, when set, makes opsbot use Socket Mode.
	SlackAppToken     Secret
	PagerDutyAPIToken Secret
	// PagerDutyWebhookSecrets holds several secrets during rotation; a
	// webhook signed with any of them is accepted.
	PagerDutyWebhookSecrets []Secret
	NotionToken             Secret

	// Base URL overrides; empty means the real service. SlackAPIURL always
	// ends in "/" because slack.OptionAPIURL needs it.
	SlackAPIURL     string
	PagerDutyAPIURL string
	NotionAPIURL    string

	DB     Database
	Listen string // HTTP listen address, default ":8080"
	// DryRun makes every AWS change with EC2's DryRun flag: checked and
	// reported, never made.
	DryRun bool
	// NoIntakeJournal (OPSBOT_INTAKE_JOURNAL=false) takes PagerDuty
	// events in by transactions on SQLite too, rather than through the
	// append-only journal beside the database file (docs/operations.md).
	NoIntakeJournal bool
}

// Database says where opsbot keeps its state.
type Database struct {
	Driver string // "sqlite" or "postgres"
	Path   string // the SQLite file, for "sqlite"
	URL    Secret // the connection URL, for "postgres"; it may carry a password
}

// String names the database for logs, without any password.
func (db Database) String() string {
	if db.Driver == "sqlite" {
		return "sqlite:" + db.Path
	}
	return redact.URL(db.URL.Reveal())
}

// envHints says, per variable, where to get its value; Require uses them.
var envHints = map[string]struct {
	set  func(Env) bool
	hint string
}{
	EnvSlackBotToken: {func(e Env) bool { return e.SlackBotToken.IsSet() },
		"create a bot token under OAuth & Permissions in your Slack app (https://api.slack.com/apps), install the app, and copy the Bot User OAuth Token (xoxb-...)"},
	EnvSlackSigningSecret: {func(e Env) bool { return e.SlackSigningSecret.IsSet() },
		"copy the Signing Secret from Basic Information → App Credentials in your Slack app (https://api.slack.com/apps)"},
	EnvSlackAppToken: {func(e Env) bool { return e.SlackAppToken.IsSet() },
		"create an app-level token with the connections:write scope under Basic Information → App-Level Tokens (xapp-...)"},
	EnvPagerDutyAPIToken: {func(e Env) bool { return e.PagerDutyAPIToken.IsSet() },
		"create a REST API key in PagerDuty under Integrations → API Access Keys"},
	EnvPagerDutyWebhookSecret: {func(e Env) bool { return len(e.PagerDutyWebhookSecrets) > 0 },
		"copy the signing secret PagerDuty shows when you create the V3 webhook subscription (Integrations → Generic Webhooks (v3))"},
	EnvNotionToken: {func(e Env) bool { return e.NotionToken.IsSet() },
		"create an internal integration at https://www.notion.so/my-integrations, copy its secret, and share the post-mortem database with it"},
}

// Require reports each named variable that is not set, saying where to get
// it. `serve` requires SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET; other
// commands require what they use.
func (e Env) Require(names ...string) []Problem {
	var out []Problem
	for _, n := range names {
		h, ok := envHints[n]
		switch {
		case !ok:
			out = append(out, envProblem(n, "opsbot cannot require this variable: it has no secret of that name"))
		case !h.set(e):
			out = append(out, envProblem(n, "is not set: "+h.hint))
		}
	}
	return out
}

// LoadEnv reads opsbot's variables through getenv (os.Getenv in main, a
// map in tests). It applies defaults, checks every variable it can, and
// returns all problems together; required secrets are checked separately
// with Require. Surrounding whitespace (a trailing newline from a secrets
// file) is trimmed.
func LoadEnv(getenv func(string) string) (Env, []Problem) {
	var ps []Problem
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	secret := func(name, prefix, what string) Secret {
		v := get(name)
		if v == "" {
			return ""
		}
		if strings.ContainsAny(v, " \t\r\n") {
			ps = append(ps, envProblem(name, "contains spaces: check it was copied whole"))
		}
		if prefix != "" && !strings.HasPrefix(v, prefix) {
			ps = append(ps, envProblem(name, "must be "+what+" starting with "+prefix+describePrefix(v)))
		}
		return Secret(v)
	}
	e := Env{
		SlackBotToken:      secret(EnvSlackBotToken, "xoxb-", "a bot token"),
		SlackSigningSecret: secret(EnvSlackSigningSecret, "", ""),
		SlackAppToken:      secret(EnvSlackAppToken, "xapp-", "an app-level token"),
		PagerDutyAPIToken:  secret(EnvPagerDutyAPIToken, "", ""),
		NotionToken:        secret(EnvNotionToken, "", ""),
		Listen:             DefaultListen,
	}
	if raw := get(EnvPagerDutyWebhookSecret); raw != "" {
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				e.PagerDutyWebhookSecrets = append(e.PagerDutyWebhookSecrets, Secret(s))
			}
		}
		if len(e.PagerDutyWebhookSecrets) == 0 {
			ps = append(ps, envProblem(EnvPagerDutyWebhookSecret, "holds only commas: give one secret, or several separated by commas"))
		}
	}

	var p *Problem
	if e.SlackAPIURL, p = baseURL(EnvSlackAPIURL, get(EnvSlackAPIURL)); p != nil {
		ps = append(ps, *p)
	} else if e.SlackAPIURL != "" && !strings.HasSuffix(e.SlackAPIURL, "/") {
		e.SlackAPIURL += "/"
	}
	if e.PagerDutyAPIURL, p = baseURL(EnvPagerDutyAPIURL, get(EnvPagerDutyAPIURL)); p != nil {
		ps = append(ps, *p)
	}
	if e.NotionAPIURL, p = baseURL(EnvNotionAPIURL, get(EnvNotionAPIURL)); p != nil {
		ps = append(ps, *p)
	}
	if e.DB, p = database(get(EnvDB)); p != nil {
		ps = append(ps, *p)
	}
	if v := get(EnvListen); v != "" {
		if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port) {
			ps = append(ps, envProblem(EnvListen, "must be an address like :8080 or 127.0.0.1:8080, not "+strconv.Quote(v)))
		} else {
			e.Listen = v
		}
	}
	switch v := strings.ToLower(get(EnvDryRun)); v {
	case "", "false", "0":
	case "true", "1":
		e.DryRun = true
	default:
		ps = append(ps, envProblem(EnvDryRun, "must be true, false, 1 or 0, not "+strconv.Quote(getenv(EnvDryRun))))
	}
	switch v := strings.ToLower(get(EnvIntakeJournal)); v {
	case "", "true", "1":
	case "false", "0":
		e.NoIntakeJournal = true
	default:
		ps = append(ps, envProblem(EnvIntakeJournal, "must be true, false, 1 or 0, not "+strconv.Quote(getenv(EnvIntakeJournal))))
	}
	return e, ps
}

func envProblem(name, msg string) Problem {
	return Problem{Source: "environment", Path: name, Message: msg}
}

// describePrefix says what kind of token was given instead, by its public
// prefix only.
func describePrefix(v string) string {
	for _, p := range knownPrefixes {
		if strings.HasPrefix(v, p) {
			return "; this one starts with " + p
		}
	}
	return ""
}

// baseURL checks an endpoint override: empty, or an absolute http(s) URL.
func baseURL(name, v string) (string, *Problem) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p := envProblem(name, "must be an absolute http:// or https:// URL, not "+strconv.Quote(v))
		return "", &p
	}
	return v, nil
}

// database reads OPSBOT_DB: "sqlite:PATH" or a postgres:// URL.
func database(v string) (Database, *Problem) {
	if v == "" {
		v = DefaultDB
	}
	if path, ok := strings.CutPrefix(v, "sqlite:"); ok {
		if path == "" {
			p := envProblem(EnvDB, "sqlite: needs a file path, like sqlite:/var/lib/opsbot/opsbot.db")
			return Database{}, &p
		}
		return Database{Driver: "sqlite", Path: path}, nil
	}
	if strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://") {
		if _, err := url.Parse(v); err != nil {
			p := envProblem(EnvDB, "is not a valid postgres:// URL")
			return Database{}, &p
		}
		return Database{Driver: "postgres", URL: Secret(v)}, nil
	}
	// Do not echo the value: it may be a URL with a password.
	p := envProblem(EnvDB, "must be sqlite:PATH or a postgres:// URL")
	return Database{}, &p
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535
}

// DSN is what store.Open takes: "sqlite:PATH" or the PostgreSQL URL.
func (db Database) DSN() string {
	if db.Driver == "sqlite" {
		return "sqlite:" + db.Path
	}
	return db.URL.Reveal()
}
