package config

import (
	"path"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows"
)

// Access defaults.
const (
	// DefaultApprovalTimeout is how long an approval waits for a decision
	// when access.approval_timeout is not given.
	DefaultApprovalTimeout = 48 * time.Hour
	// DefaultRemindEvery is how often approvers are reminded when
	// access.remind_every is not given.
	DefaultRemindEvery = 4 * time.Hour
	// DefaultOverBudget is what happens to an over-budget request when
	// financial.over_budget is not given: approvers decide.
	DefaultOverBudget = workflows.OverBudgetApprove
)

// policyDecl is a decoded policy and what cross-section checks need.
type policyDecl struct {
	p         *workflows.Policy
	at        place // the policy's mapping
	nameAt    place
	templates []ref // access.templates, checked against the templates
}

// decodePolicies reads `policies:`, a list of named policies that teams
// refer to. At least one is required.
func decodePolicies(d *decoder, n *yaml.Node, b *build) {
	if isNull(n) {
		d.problemAt("policies", b.rootLine, "is required: list at least one policy for teams to use")
		return
	}
	names := map[string]place{}
	for i, item := range d.sequence("policies", n) {
		pd := decodePolicy(d, index("policies", i), item)
		checkUnique(d, names, pd.p.Name, pd.nameAt, "policy")
		b.policies = append(b.policies, pd)
	}
}

func decodePolicy(d *decoder, p string, n *yaml.Node) *policyDecl {
	m := d.mapping(p, n, "name", "access", "placement", "integration", "financial", "lifecycle", "actions")
	m.require("name")
	pd := &policyDecl{p: &workflows.Policy{Name: m.str("name")}, at: at(p, n), nameAt: nameAt(d, m)}
	pd.p.Access, pd.templates = decodeAccess(d, field(p, "access"), m.get("access"))
	pd.p.Placement = decodePlacement(d, field(p, "placement"), m.get("placement"))
	pd.p.Integration = decodeIntegration(d, field(p, "integration"), m.get("integration"))
	pd.p.Financial = decodeFinancial(d, field(p, "financial"), m.get("financial"))
	pd.p.Lifecycle = decodeLifecycle(d, field(p, "lifecycle"), m.get("lifecycle"))
	pd.p.Actions = decodeActions(d, field(p, "actions"), m.get("actions"))
	return pd
}

// decodeAccess reads who may request what and how many approve:
// templates (default ["*"]), approval_tiers (default [{above_usd: 0,
// approvals: 1}]), approval_timeout (default 48h), remind_every (default
// 4h). Tiers must ascend by above_usd and need at least one approval.
func decodeAccess(d *decoder, p string, n *yaml.Node) (workflows.AccessPolicy, []ref) {
	m := d.mapping(p, n, "templates", "approval_tiers", "approval_timeout", "remind_every")
	a := workflows.AccessPolicy{
		Templates:       []string{"*"},
		Tiers:           []workflows.ApprovalTier{{Above: 0, Approvals: 1}},
		ApprovalTimeout: m.duration("approval_timeout", DefaultApprovalTimeout),
		RemindEvery:     m.duration("remind_every", DefaultRemindEvery),
	}
	var refs []ref
	if m.has("templates") {
		items := m.list("templates")
		a.Templates = values(items)
		for _, it := range items {
			refs = append(refs, ref{it.s, at(it.path, it.n)})
		}
		if len(items) == 0 {
			d.problemAt(m.at("templates"), m.line("templates"), `is empty: list template names, or ["*"] for every template that lists the team`)
		}
	}
	if m.has("approval_tiers") {
		a.Tiers = nil
		tp := m.at("approval_tiers")
		for i, item := range d.sequence(tp, m.get("approval_tiers")) {
			ip := index(tp, i)
			tm := d.mapping(ip, item, "above_usd", "approvals")
			tm.require("above_usd", "approvals")
			t := workflows.ApprovalTier{Above: tm.money("above_usd", 0), Approvals: tm.integer("approvals", 1)}
			if t.Approvals < 1 {
				d.problemAt(tm.at("approvals"), tm.line("approvals"), "must be at least 1 (got %d)", t.Approvals)
			}
			if len(a.Tiers) > 0 && t.Above <= a.Tiers[len(a.Tiers)-1].Above {
				d.problemAt(tm.at("above_usd"), tm.line("above_usd"), "tiers must ascend: %s is not above the previous tier's %s",
					t.Above, a.Tiers[len(a.Tiers)-1].Above)
			}
			a.Tiers = append(a.Tiers, t)
		}
		if len(a.Tiers) == 0 {
			d.problemAt(tp, m.line("approval_tiers"), "is empty: give at least one tier, like [{above_usd: 0, approvals: 1}]")
		}
	}
	return a, refs
}

// decodePlacement reads where servers may run: regions and
// instance_types, each a list of shell patterns ("t3.*"), and subnets, a
// list of subnet IDs; empty or absent allows any.
func decodePlacement(d *decoder, p string, n *yaml.Node) workflows.PlacementPolicy {
	m := d.mapping(p, n, "regions", "instance_types", "subnets")
	subnets := m.list("subnets")
	for _, it := range subnets {
		if !subnetPattern.MatchString(it.s) {
			d.problem(it.path, it.n, "%q is not a subnet ID like subnet-0123456789abcdef0", it.s)
		}
	}
	return workflows.PlacementPolicy{
		Regions:       patterns(d, m, "regions"),
		InstanceTypes: patterns(d, m, "instance_types"),
		Subnets:       values(subnets),
	}
}

func patterns(d *decoder, m *mapping, key string) []string {
	items := m.list(key)
	for _, it := range items {
		if _, err := path.Match(it.s, ""); err != nil {
			d.problem(it.path, it.n, "%q is not a valid pattern (use * and ? like \"t3.*\")", it.s)
		}
	}
	return values(items)
}

// decodeIntegration reads what every server must carry: required_tags
// (tag keys every template used by the team must set) and user_data
// (cloud-init appended to each template's own).
func decodeIntegration(d *decoder, p string, n *yaml.Node) workflows.IntegrationPolicy {
	m := d.mapping(p, n, "required_tags", "user_data")
	items := m.list("required_tags")
	for _, it := range items {
		if it.s == "" {
			d.problem(it.path, it.n, "is empty: give a tag key")
		}
	}
	return workflows.IntegrationPolicy{RequiredTags: values(items), UserData: m.str("user_data")}
}

// decodeFinancial reads auto_approve_below_usd (default 0: every request
// goes to approvers) and over_budget (require_approval, the default, or
// deny).
func decodeFinancial(d *decoder, p string, n *yaml.Node) workflows.FinancialPolicy {
	m := d.mapping(p, n, "auto_approve_below_usd", "over_budget")
	f := workflows.FinancialPolicy{
		AutoApproveBelow: m.money("auto_approve_below_usd", 0),
		OverBudget:       DefaultOverBudget,
	}
	if n := m.scalar("over_budget"); n != nil {
		switch o := workflows.OverBudget(n.Value); o {
		case workflows.OverBudgetApprove, workflows.OverBudgetDeny:
			f.OverBudget = o
		default:
			d.problem(m.at("over_budget"), n, "must be require_approval or deny, not %q", n.Value)
		}
	}
	return f
}
