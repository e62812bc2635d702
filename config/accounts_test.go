package config

import (
	"strings"
	"testing"
)

const accountsBase = `
pricing: {hourly_usd: {eu-central-1: {t3.small: 0.024}}}
policies:
  - name: standard
teams:
  - name: platform
    approvals_channel: "#platform"
    approvers: [U0LEAD]
    monthly_budget_usd: 100
    policy: standard
templates:
  - name: small
    instance_type: t3.small
    ami: ami-0123456789abcdef0
    region: eu-central-1
    root_volume_gb: 20
    teams: ["*"]
    ACCOUNT
`

func TestAccounts_Decoded(t *testing.T) {
	text := `
accounts:
  - name: prod
    id: "111122223333"
    role_arn: arn:aws:iam::111122223333:role/opsbot
    external_id: opsbot-7f3a
    regions: [eu-central-1]
  - name: payer
    id: "999988887777"
` + strings.Replace(accountsBase, "ACCOUNT", "account: prod", 1)
	cfg, err := Parse([]byte(text), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, ok := cfg.Catalog.Account("prod")
	if !ok || a.ID != "111122223333" || a.RoleARN == "" || a.ExternalID != "opsbot-7f3a" || len(a.Regions) != 1 {
		t.Fatalf("prod = %+v", a)
	}
	if cfg.Catalog.Templates[0].Account != "prod" {
		t.Errorf("template account = %q", cfg.Catalog.Templates[0].Account)
	}
	if got := cfg.Catalog.AccountName("999988887777"); got != "payer" {
		t.Errorf("AccountName = %q", got)
	}
	if got := cfg.Catalog.AccountName("123412341234"); got != "123412341234" {
		t.Errorf("AccountName of an unknown ID = %q", got)
	}
}

func TestAccounts_ZeroConfigIsOneDefaultAccount(t *testing.T) {
	cfg, err := Parse([]byte(strings.Replace(accountsBase, "ACCOUNT", "", 1)), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Catalog.Accounts) != 0 || cfg.Catalog.Templates[0].Account != "" {
		t.Errorf("accounts = %v, template account %q", cfg.Catalog.Accounts, cfg.Catalog.Templates[0].Account)
	}
}

func TestAccounts_Problems(t *testing.T) {
	for _, tc := range []struct{ name, accounts, account, want string }{
		{"short ID", `[{name: prod, id: "1234"}]`, "", "not a 12-digit AWS account ID"},
		{"role in another account", `[{name: prod, id: "111122223333", role_arn: "arn:aws:iam::444455556666:role/opsbot"}]`, "", "the role is in account 444455556666"},
		{"bad role", `[{name: prod, id: "111122223333", role_arn: opsbot}]`, "", "not an IAM role ARN"},
		{"external ID without role", `[{name: prod, id: "111122223333", external_id: abc}]`, "", "needs role_arn"},
		{"duplicate name", `[{name: prod, id: "111122223333"}, {name: prod, id: "444455556666"}]`, "", "duplicate account name"},
		{"duplicate ID", `[{name: prod, id: "111122223333"}, {name: dev, id: "111122223333"}]`, "", "listed twice"},
		{"unknown account", `[{name: prod, id: "111122223333"}]`, "account: staging", `unknown account "staging" (accounts: prod)`},
		{"no accounts at all", `[]`, "account: prod", "declare it under accounts:"},
		{"region not in account", `[{name: prod, id: "111122223333", regions: [us-east-1]}]`, "account: prod", "not one of account prod's regions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "accounts: " + tc.accounts + "\n" + strings.Replace(accountsBase, "ACCOUNT", tc.account, 1)
			_, err := Parse([]byte(text), "t.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}
