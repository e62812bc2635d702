package config

import (
	"net/mail"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows"
)

var (
	// slackUserID matches Slack user IDs (U…, or W… on Enterprise Grid).
	slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	// slackChannelID matches public (C…) and private (G…) channel IDs.
	slackChannelID = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)
	// slackChannelName matches "#name" as Slack allows channel names.
	slackChannelName = regexp.MustCompile(`^#[a-z0-9][a-z0-9_-]{0,79}$`)
)

// teamDecl is a decoded team and what cross-section checks need.
type teamDecl struct {
	t         *workflows.Team
	at        place
	nameAt    place
	policy    ref
	approvers place
	service   place // pagerduty_service
	offHours  ref   // off_hours: a schedule name, or none
}

// decodeTeams reads `teams:`. Each team has a name, a time_zone (IANA
// name, default UTC), an approvals_channel (channel ID or "#name"),
// members and approvers (Slack user IDs or emails; at least one approver;
// approvers count as members), a monthly_budget_usd and a policy name.
// For incidents, optionally: announce_channel (where new incidents are
// announced), incident_members (invited to every incident channel of the
// team, like members) and pagerduty_service (paged when an incident is
// declared from Slack; its events belong to the team).
func decodeTeams(d *decoder, n *yaml.Node, b *build) {
	if isNull(n) {
		d.problemAt("teams", b.rootLine, "is required: list at least one team")
		return
	}
	names := map[string]place{}
	for i, item := range d.sequence("teams", n) {
		td := decodeTeam(d, index("teams", i), item)
		checkUnique(d, names, td.t.Name, td.nameAt, "team")
		b.teams = append(b.teams, td)
		b.cfg.Catalog.Teams = append(b.cfg.Catalog.Teams, td.t)
	}
}

func decodeTeam(d *decoder, p string, n *yaml.Node) *teamDecl {
	m := d.mapping(p, n, "name", "time_zone", "approvals_channel", "members", "approvers", "monthly_budget_usd", "policy",
		"announce_channel", "incident_members", "pagerduty_service", "off_hours")
	m.require("name", "approvals_channel", "approvers", "monthly_budget_usd", "policy")
	t := &workflows.Team{
		Name:          m.str("name"),
		Location:      time.UTC,
		MonthlyBudget: m.money("monthly_budget_usd", 0),
	}
	td := &teamDecl{
		t:         t,
		at:        at(p, n),
		nameAt:    nameAt(d, m),
		policy:    ref{m.str("policy"), place{m.at("policy"), m.line("policy")}},
		approvers: place{m.at("approvers"), m.line("approvers")},
		service:   place{m.at("pagerduty_service"), m.line("pagerduty_service")},
		offHours:  ref{m.str("off_hours"), place{m.at("off_hours"), m.line("off_hours")}},
	}
	if zn := m.scalar("time_zone"); zn != nil {
		t.Location = loadZone(d, m.at("time_zone"), zn)
	}
	t.ApprovalsChannel = channel(d, m, "approvals_channel", "#approvals")
	t.AnnounceChannel = channel(d, m, "announce_channel", "#incidents")
	t.Members, _ = people(d, m, "members")
	t.IncidentMembers, _ = people(d, m, "incident_members")
	if sn := m.scalar("pagerduty_service"); sn != nil {
		if pdServiceID.MatchString(sn.Value) {
			t.PagerDutyService = sn.Value
		} else {
			d.problem(m.at("pagerduty_service"), sn, "%q is not a PagerDuty service ID like PABC123 (the last part of the service's URL)", sn.Value)
		}
	}
	var given int
	t.Approvers, given = people(d, m, "approvers")
	if m.has("approvers") && given == 0 && m.get("approvers").Kind == yaml.SequenceNode {
		d.problemAt(m.at("approvers"), m.line("approvers"), "is empty: a team needs at least one approver")
	}
	return td
}

// channel reads a Slack channel field: an ID (C0123ABCD) or "#name".
func channel(d *decoder, m *mapping, key, example string) string {
	cn := m.scalar(key)
	if cn == nil {
		return ""
	}
	if !slackChannelID.MatchString(cn.Value) && !slackChannelName.MatchString(cn.Value) {
		d.problem(m.at(key), cn, "%q is neither a channel ID (C0123ABCD) nor a channel name (%s)", cn.Value, example)
	}
	return cn.Value
}

// loadZone loads an IANA time zone. "Local" is refused: it would depend on
// the machine opsbot happens to run on.
func loadZone(d *decoder, p string, n *yaml.Node) *time.Location {
	if n.Value == "Local" || n.Value == "" {
		d.problem(p, n, "give an IANA zone name like Europe/Berlin or UTC, not %q", n.Value)
		return time.UTC
	}
	loc, err := time.LoadLocation(n.Value)
	if err != nil {
		d.problem(p, n, "unknown time zone %q (use an IANA name like Europe/Berlin or America/New_York)", n.Value)
		return time.UTC
	}
	return loc
}

// people reads a list of Slack user IDs or email addresses; given counts
// the entries, valid or not.
func people(d *decoder, m *mapping, key string) (valid []string, given int) {
	items := m.list(key)
	for _, it := range items {
		if !isPersonRef(it.s) {
			d.problem(it.path, it.n, "%q is neither a Slack user ID (U0123ABCD) nor an email address", it.s)
			continue
		}
		valid = append(valid, it.s)
	}
	return valid, len(items)
}

func isPersonRef(s string) bool {
	if slackUserID.MatchString(s) {
		return true
	}
	if !strings.Contains(s, "@") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}
