package config

import (
	"path"
	"slices"
	"strings"

	"github.com/opsbot/opsbot/workflows"
)

// The checks below run once every section is decoded. They resolve names
// between sections and enforce rules that span them, pointing at the
// field that would have to change.

// linkTeams gives each team the policy it names.
func linkTeams(d *decoder, b *build) {
	for _, td := range b.teams {
		if td.policy.name == "" {
			continue // reported as required
		}
		pd := findPolicy(b, td.policy.name)
		if pd == nil {
			d.problemAt(td.policy.at.path, td.policy.at.line, "unknown policy %q%s", td.policy.name, known(policyNames(b)))
			continue
		}
		td.t.Policy = pd.p
	}
}

// linkAccess checks that access.templates names existing templates.
func linkAccess(d *decoder, b *build) {
	for _, pd := range b.policies {
		for _, r := range pd.templates {
			if r.name == "*" || findTemplate(b, r.name) != nil {
				continue
			}
			d.problemAt(r.at.path, r.at.line, "unknown template %q%s", r.name, known(templateNames(b)))
		}
	}
}

// linkTemplates checks that each template's teams exist. Team names are
// matched exactly, as the catalog matches them.
func linkTemplates(d *decoder, b *build) {
	for _, td := range b.templates {
		for _, r := range td.teams {
			if r.name != "*" {
				checkTeamRef(d, b, r)
			}
		}
	}
}

// checkTeamRef reports a reference to a team that is not declared, with a
// hint when only the case differs.
func checkTeamRef(d *decoder, b *build, r ref) bool {
	if findTeam(b, r.name) != nil {
		return true
	}
	hint := known(teamNames(b))
	for _, n := range teamNames(b) {
		if strings.EqualFold(n, r.name) {
			hint = " (did you mean " + n + "?)"
		}
	}
	d.problemAt(r.at.path, r.at.line, "unknown team %q%s", r.name, hint)
	return false
}

// checkApprovers makes sure every approval tier of a team's policy can be
// met by the team's approvers; otherwise such requests could never be
// approved.
func checkApprovers(d *decoder, b *build) {
	for _, td := range b.teams {
		if td.t.Policy == nil || len(td.t.Approvers) == 0 {
			continue
		}
		need := 0
		for _, t := range td.t.Policy.Access.Tiers {
			need = max(need, t.Approvals)
		}
		distinct := map[string]bool{}
		for _, a := range td.t.Approvers {
			distinct[strings.ToLower(a)] = true
		}
		if need > len(distinct) {
			d.problemAt(td.approvers.path, td.approvers.line,
				"policy %q can require %d approvals but the team has %d approver(s): add approvers or lower approval_tiers",
				td.t.Policy.Name, need, len(distinct))
		}
	}
}

// checkTemplatesForTeams checks every template a team may request against
// that team's policy: placement (region and instance type), required
// tags, and the size of the combined user data.
func checkTemplatesForTeams(d *decoder, b *build) {
	for _, team := range b.cfg.Catalog.Teams {
		if team.Policy == nil {
			continue
		}
		pol := team.Policy
		allowed := map[*workflows.Template]bool{}
		for _, tpl := range b.cfg.Catalog.TemplatesFor(team) {
			allowed[tpl] = true
		}
		for _, td := range b.templates {
			tpl := td.t
			if !allowed[tpl] {
				continue
			}
			who := "policy " + quote(pol.Name) + " of team " + quote(team.Name)
			if tpl.Region != "" && !matchAny(pol.Placement.Regions, tpl.Region) {
				d.problemAt(td.region.path, td.region.line, "region %s is not allowed by %s (placement.regions: %s)",
					tpl.Region, who, strings.Join(pol.Placement.Regions, ", "))
			}
			if tpl.InstanceType != "" && !matchAny(pol.Placement.InstanceTypes, tpl.InstanceType) {
				d.problemAt(td.instanceType.path, td.instanceType.line, "instance type %s is not allowed by %s (placement.instance_types: %s)",
					tpl.InstanceType, who, strings.Join(pol.Placement.InstanceTypes, ", "))
			}
			if subnets := pol.Placement.Subnets; len(subnets) > 0 && !slices.Contains(subnets, tpl.Subnet) {
				what := "subnet " + tpl.Subnet
				if tpl.Subnet == "" {
					what = "no subnet (the default VPC's)"
				}
				d.problemAt(td.subnet.path, td.subnet.line, "%s is not allowed by %s (placement.subnets: %s)", what, who, strings.Join(subnets, ", "))
			}
			for _, tag := range pol.Integration.RequiredTags {
				if _, ok := tpl.Tags[tag]; !ok {
					d.problemAt(td.tags.path, td.tags.line, "missing tag %q required by %s (integration.required_tags)", tag, who)
				}
			}
			if size := len(tpl.UserData) + 1 + len(pol.Integration.UserData); size > MaxUserData {
				d.problemAt(td.userData.path, td.userData.line, "with the user_data of %s it is %d bytes; EC2 accepts at most %d", who, size, MaxUserData)
			}
		}
	}
}

// checkPrices makes sure every template has a fallback hourly price, so an
// estimate never silently becomes zero when the Price List API is down.
func checkPrices(d *decoder, b *build) {
	hourly := b.cfg.Catalog.Pricing.Hourly
	for _, td := range b.templates {
		t := td.t
		if t.Region == "" || t.InstanceType == "" {
			continue
		}
		if _, ok := hourly[t.Region][t.InstanceType]; !ok {
			d.problemAt(td.instanceType.path, td.instanceType.line,
				"no fallback price for %s in %s: add it under pricing.hourly_usd.%s", t.InstanceType, t.Region, t.Region)
		}
	}
}

func matchAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

func findPolicy(b *build, name string) *policyDecl {
	for _, pd := range b.policies {
		if strings.EqualFold(pd.p.Name, name) {
			return pd
		}
	}
	return nil
}

func findTeam(b *build, name string) *teamDecl {
	for _, td := range b.teams {
		if td.t.Name == name {
			return td
		}
	}
	return nil
}

func findTemplate(b *build, name string) *templateDecl {
	for _, td := range b.templates {
		if strings.EqualFold(td.t.Name, name) {
			return td
		}
	}
	return nil
}

func policyNames(b *build) []string {
	var out []string
	for _, pd := range b.policies {
		out = append(out, pd.p.Name)
	}
	return out
}

func teamNames(b *build) []string {
	var out []string
	for _, td := range b.teams {
		out = append(out, td.t.Name)
	}
	return out
}

func templateNames(b *build) []string {
	var out []string
	for _, td := range b.templates {
		out = append(out, td.t.Name)
	}
	return out
}

// known lists the declared names for an "unknown X" message.
func known(names []string) string {
	if len(names) == 0 {
		return " (none are declared)"
	}
	return " (declared: " + strings.Join(names, ", ") + ")"
}

func quote(s string) string { return `"` + s + `"` }
