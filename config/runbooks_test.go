package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows/runbooks"
)

const rbBase = `policies:
  - name: standard
teams:
  - name: platform
    approvals_channel: C0APPROVALS
    approvers: [lead@example.com]
    monthly_budget_usd: 2000
    policy: standard
`

func TestParseRunbooks(t *testing.T) {
	cfg, err := Parse([]byte(rbBase+`runbooks:
  - name: restart-service
    description: Restart one service
    url: http://127.0.0.1:9000/restart
    secret_env: RUNBOOK_SECRET
    teams: [platform]
    need_approver: true
    timeout: 30s
    retries: 1
    callback_timeout: 30m
    params:
      - {name: service, type: choice, options: [api, worker], required: true}
      - {name: replicas, type: number, min: 1, max: 10, integer: true, default: 2}
      - {name: drain, type: bool, default: true}
      - {name: reason, type: string, pattern: "[a-z ]+", max_length: 50}
  - name: rotate
    url: https://hooks.internal/rotate
    secret_env: ROTATE_SECRET
    teams: ["*"]
    run_by: approvers
`), "opsbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Runbooks) != 2 {
		t.Fatalf("%d runbooks", len(cfg.Runbooks))
	}
	rb := cfg.Runbooks[0]
	if rb.Name != "restart-service" || !rb.NeedApprover || rb.Timeout != 30*time.Second || rb.CallbackTimeout != 30*time.Minute || rb.Retries != 1 || rb.RunBy != runbooks.RoleMembers || len(rb.Params) != 4 {
		t.Fatalf("runbook %+v", rb)
	}
	if p := rb.Params[1]; *p.Min != 1 || *p.Max != 10 || !p.Integer || p.Default != "2" {
		t.Errorf("number param %+v", p)
	}
	if _, problem := rb.Params[3].Parse("abc1"); problem == "" {
		t.Error("the pattern is not anchored")
	}
	if r := cfg.Runbooks[1]; r.CallbackTimeout != time.Hour || r.Timeout != runbooks.DefaultTimeout || r.Retries != runbooks.DefaultRetries || r.RunBy != runbooks.RoleApprovers {
		t.Errorf("defaults %+v", r)
	}
	secrets, err := cfg.RunbookSecrets(func(k string) string {
		return map[string]string{"RUNBOOK_SECRET": "0123456789abcdef", "ROTATE_SECRET": "0123456789abcdefg"}[k]
	})
	if err != nil || len(secrets) != 2 {
		t.Fatalf("secrets %v %v", secrets, err)
	}
	if _, err := cfg.RunbookSecrets(func(string) string { return "short" }); err == nil || !strings.Contains(err.Error(), "RUNBOOK_SECRET (runbook restart-service)") {
		t.Errorf("short secret: %v", err)
	}
}

func TestParseRunbooks_Problems(t *testing.T) {
	_, err := Parse([]byte(rbBase+`runbooks:
  - name: "bad name"
    url: ftp://x
    secret_env: lower-case
    teams: [plataform]
    run_by: everyone
    timeout: 10m
    callback_timeout: 7h
    retries: 9
    params:
      - {name: Service, type: choice}
      - {name: n, type: number, min: 5, max: 1, default: 9, options: [a]}
      - {name: b, type: bool, default: maybe}
      - {name: s, type: text}
      - {name: r, type: string, pattern: "("}
`), "opsbot.yaml")
	if err == nil {
		t.Fatal("accepted")
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatal(err)
	}
	got := strings.Join(ps.Lines(), "\n")
	for _, want := range []string{
		`runbooks[0].name`, `runbooks[0].url: "ftp://x" is not an http:// or https:// URL`,
		`runbooks[0].secret_env: "lower-case" is not an environment variable name`,
		`runbooks[0].teams[0]: unknown team "plataform"`,
		`runbooks[0].run_by: "everyone" is not members, approvers or admins`,
		`runbooks[0].timeout: at most 2m`, `runbooks[0].retries: must be 0 to 5`,
		`runbooks[0].callback_timeout: must be 1m to 6h`,
		`runbooks[0].params[0].name: "Service" is not a parameter name`, `runbooks[0].params[0].options: a choice needs options`,
		`runbooks[0].params[1].min: is above max`, `runbooks[0].params[1].options: applies to choice parameters only`,
		`runbooks[0].params[2].default: the default "maybe" is not valid`,
		`runbooks[0].params[3].type: "text" is not a parameter type`,
		`runbooks[0].params[4].pattern: is not a regular expression`,
	} {
		path, msg, _ := strings.Cut(want, ": ")
		found := false
		for _, l := range ps.Lines() {
			found = found || (strings.HasPrefix(l, path+" (") && strings.Contains(l, msg))
		}
		if !found {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}
