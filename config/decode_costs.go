package config

import (
	"regexp"
	"strings"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows/costs"
)

// tagKeyPattern is a cost-allocation tag key as AWS allows it.
var tagKeyPattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)

// decodeCosts reads `costs:`, actual spend and the monthly cost review:
//
//	costs:
//	  cost_explorer: true        # read the bill (default true)
//	  payer_account: payer       # an accounts: name; default opsbot's own credentials
//	  metric: unblended          # or amortized
//	  team_tag: team             # the cost-allocation tag naming teams
//	  tags: [project, env]       # other cost-allocation tags to break down by
//	  drift_percent: 25          # flag actual vs estimate beyond this
//	  budget_alerts: [50, 80, 100]
//	  refresh_hour_utc: 6        # the daily refresh, from this hour
//	  review:
//	    channel: "#cost-review"
//	    schedule: "0 9 * * 1-5"  # cron; the first time in each month (first working day 09:00)
//	    time_zone: Europe/Berlin
//	    team_parts: true         # each team's part to its approvals channel
//	    notion_database: ID      # optional: a page per month's review in this Notion database
//
// Without the section there is no Cost Explorer, no review and no alerts.
func decodeCosts(d *decoder, n *yaml.Node, b *build) {
	if isNull(n) {
		return
	}
	m := d.mapping("costs", n, "cost_explorer", "payer_account", "metric", "team_tag", "tags", "drift_percent",
		"budget_alerts", "refresh_hour_utc", "review")
	p := &costs.Policy{
		CostExplorer: m.boolean("cost_explorer", true),
		PayerAccount: m.str("payer_account"),
		TeamTag:      m.str("team_tag"),
		DriftPercent: m.integer("drift_percent", costs.DefaultDriftPercent),
		RefreshHour:  m.integer("refresh_hour_utc", costs.DefaultRefreshHour),
	}
	b.costsPayer = place{m.at("payer_account"), m.line("payer_account")}
	switch v := strings.ToLower(m.str("metric")); v {
	case "", "unblended":
		p.Metric = costs.MetricUnblended
	case "amortized":
		p.Metric = costs.MetricAmortized
	default:
		d.problemAt(m.at("metric"), m.line("metric"), "%q is not unblended or amortized", v)
	}
	if p.TeamTag == "" {
		p.TeamTag = costs.DefaultTeamTag
	} else if !tagKeyPattern.MatchString(p.TeamTag) {
		d.problemAt(m.at("team_tag"), m.line("team_tag"), "%q is not a tag key", p.TeamTag)
	}
	seen := map[string]bool{p.TeamTag: true}
	for _, it := range m.list("tags") {
		switch {
		case !tagKeyPattern.MatchString(it.s):
			d.problem(it.path, it.n, "%q is not a tag key", it.s)
		case seen[it.s]:
			d.problem(it.path, it.n, "%q is listed twice (or is the team_tag)", it.s)
		default:
			seen[it.s] = true
			p.Tags = append(p.Tags, it.s)
		}
	}
	if len(p.Tags) > 5 {
		d.problemAt(m.at("tags"), m.line("tags"), "at most 5 tags: each is one more Cost Explorer call a day ($0.01 each)")
	}
	if p.DriftPercent < 1 || p.DriftPercent > 1000 {
		d.problemAt(m.at("drift_percent"), m.line("drift_percent"), "must be 1 to 1000 (percent)")
	}
	if p.RefreshHour < 0 || p.RefreshHour > 23 {
		d.problemAt(m.at("refresh_hour_utc"), m.line("refresh_hour_utc"), "must be an hour, 0 to 23")
	}
	if m.has("budget_alerts") {
		last := 0
		for _, it := range m.list("budget_alerts") {
			v, ok := d.number(it.path, it.n)
			if !ok {
				continue
			}
			if v != float64(int(v)) || v < 1 || v > 500 || int(v) <= last {
				d.problem(it.path, it.n, "thresholds are whole percentages from 1 to 500, ascending")
				continue
			}
			last = int(v)
			p.Thresholds = append(p.Thresholds, int(v))
		}
	}
	if m.has("review") {
		p.Review = decodeCostReview(d, m.at("review"), m.get("review"))
	}
	b.cfg.Costs = p
}

func decodeCostReview(d *decoder, path string, n *yaml.Node) *costs.ReviewPolicy {
	m := d.mapping(path, n, "channel", "schedule", "time_zone", "team_parts", "notion_database")
	m.require("channel")
	r := &costs.ReviewPolicy{Channel: channel(d, m, "channel", "#cost-review"), TeamParts: m.boolean("team_parts", true)}
	sched := "0 9 * * 1-5"
	if sn := m.scalar("schedule"); sn != nil {
		sched = strings.TrimSpace(sn.Value)
		if strings.HasPrefix(sched, "TZ=") || strings.HasPrefix(sched, "CRON_TZ=") {
			d.problem(m.at("schedule"), sn, "leave the zone out: give it as time_zone")
			sched = "0 9 * * 1-5"
		}
	}
	s, err := cron.ParseStandard(sched)
	if err != nil {
		d.problemAt(m.at("schedule"), m.line("schedule"), "%q is not a cron line like \"0 9 * * 1-5\" (minute hour day month weekday): %v", sched, err)
	} else {
		r.Schedule = s
	}
	r.Location = nil
	if zn := m.scalar("time_zone"); zn != nil {
		r.Location = loadZone(d, m.at("time_zone"), zn)
	}
	if nn := m.scalar("notion_database"); nn != nil && nn.Value != "" {
		r.NotionDatabase = notionID(d, m.at("notion_database"), nn)
	}
	return r
}

// linkCosts checks the costs section against the accounts.
func linkCosts(d *decoder, b *build) {
	p := b.cfg.Costs
	if p == nil || p.PayerAccount == "" {
		return
	}
	if _, ok := b.cfg.Catalog.Account(p.PayerAccount); !ok {
		d.problemAt(b.costsPayer.path, b.costsPayer.line, "unknown account %q: declare it under accounts:", p.PayerAccount)
	}
}
