package config

import (
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows"
)

var (
	accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)
	rolePattern      = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/[\w+=,.@/-]{1,512}$`)
	// An STS external ID: 2 to 1224 characters (checked here up to 1000) of [\w+=,.@:/-].
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]{2,1000}$`)
	accountNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
)

// decodeAccounts reads `accounts:`, the AWS accounts opsbot launches
// servers in and reports the spend of:
//
//	accounts:
//	  - name: prod                 # how templates and reports name it
//	    id: "111122223333"         # the 12-digit account ID
//	    role_arn: arn:aws:iam::111122223333:role/opsbot   # assumed through STS
//	    external_id: opsbot-7f3a   # the role's sts:ExternalId condition, if any
//	    regions: [eu-central-1]    # regions templates may use in it (default any)
//
// Without the section opsbot works in one account with the SDK's default
// credential chain. An account without role_arn uses that chain too (the
// account opsbot itself runs in).
func decodeAccounts(d *decoder, n *yaml.Node, b *build) {
	if isNull(n) {
		return
	}
	names, ids := map[string]place{}, map[string]place{}
	for i, item := range d.sequence("accounts", n) {
		p := index("accounts", i)
		m := d.mapping(p, item, "name", "id", "role_arn", "external_id", "regions")
		m.require("name", "id")
		a := &workflows.Account{
			Name:       matching(d, m, "name", accountNamePattern, "a short lower-case name like prod (letters, digits, - and _)"),
			ID:         m.str("id"),
			RoleARN:    matching(d, m, "role_arn", rolePattern, "an IAM role ARN like arn:aws:iam::111122223333:role/opsbot"),
			ExternalID: matching(d, m, "external_id", externalIDPattern, "an STS external ID (2 to 1000 of letters, digits and +=,.@:/-)"),
		}
		if sn := m.scalar("id"); sn != nil && !accountIDPattern.MatchString(sn.Value) {
			d.problem(m.at("id"), sn, "%q is not a 12-digit AWS account ID (quote it in YAML so leading zeros stay)", sn.Value)
		}
		if g := rolePattern.FindStringSubmatch(a.RoleARN); g != nil && accountIDPattern.MatchString(a.ID) && g[1] != a.ID {
			d.problemAt(m.at("role_arn"), m.line("role_arn"), "the role is in account %s, not in this account (%s)", g[1], a.ID)
		}
		if a.ExternalID != "" && a.RoleARN == "" {
			d.problemAt(m.at("external_id"), m.line("external_id"), "needs role_arn: the external ID is sent when assuming the role")
		}
		for _, it := range m.list("regions") {
			if !regionPattern.MatchString(it.s) {
				d.problem(it.path, it.n, "%q is not an AWS region name like us-east-1", it.s)
				continue
			}
			a.Regions = append(a.Regions, it.s)
		}
		checkUnique(d, names, a.Name, place{m.at("name"), m.line("name")}, "account")
		if a.ID != "" {
			if first, ok := ids[a.ID]; ok {
				d.problemAt(m.at("id"), m.line("id"), "account %s is listed twice (first at %s, line %d)", a.ID, first.path, first.line)
			}
			ids[a.ID] = place{m.at("id"), m.line("id")}
		}
		b.cfg.Catalog.Accounts = append(b.cfg.Catalog.Accounts, a)
	}
}

// linkAccounts checks that each template's account is declared and that
// its region is one the account allows.
func linkAccounts(d *decoder, b *build) {
	cat := b.cfg.Catalog
	for _, td := range b.templates {
		t := td.t
		if t.Account == "" {
			continue
		}
		a, ok := cat.Account(t.Account)
		if !ok {
			var names []string
			for _, a := range cat.Accounts {
				names = append(names, a.Name)
			}
			hint := " (accounts: " + strings.Join(names, ", ") + ")"
			if len(names) == 0 {
				hint = ": declare it under accounts:"
			}
			d.problemAt(td.account.path, td.account.line, "unknown account %q%s", t.Account, hint)
			continue
		}
		if len(a.Regions) > 0 && t.Region != "" && !slices.Contains(a.Regions, t.Region) {
			d.problemAt(td.region.path, td.region.line, "%s is not one of account %s's regions (%s)", t.Region, a.Name, strings.Join(a.Regions, ", "))
		}
	}
}
