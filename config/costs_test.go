package config

import (
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows/costs"
)

const costsAccounts = `
accounts:
  - name: payer
    id: "999988887777"
  - name: prod
    id: "111122223333"
    role_arn: arn:aws:iam::111122223333:role/opsbot
`

func TestCosts_DecodedWithDefaults(t *testing.T) {
	text := costsAccounts + `
costs:
  payer_account: payer
  metric: amortized
  tags: [project, env]
  budget_alerts: [25, 90]
  review: {channel: "#cost-review", time_zone: Europe/Berlin}
` + strings.Replace(accountsBase, "ACCOUNT", "account: prod", 1)
	cfg, err := Parse([]byte(text), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Costs
	if p == nil || !p.CostExplorer || p.PayerAccount != "payer" || p.Metric != costs.MetricAmortized || p.TeamTag != "team" ||
		len(p.Tags) != 2 || p.DriftPercent != costs.DefaultDriftPercent || p.RefreshHour != costs.DefaultRefreshHour ||
		len(p.Thresholds) != 2 || p.Thresholds[1] != 90 {
		t.Fatalf("costs = %+v", p)
	}
	r := p.Review
	if r == nil || r.Channel != "#cost-review" || !r.TeamParts || r.Location == nil || r.Location.String() != "Europe/Berlin" || r.Schedule == nil {
		t.Fatalf("review = %+v", r)
	}
	// The default schedule: the first working day at 09:00.
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if got := costs.ReviewSlot(r, "2026-11"); !got.Equal(time.Date(2026, 11, 2, 9, 0, 0, 0, berlin)) {
		t.Errorf("November's slot = %v, want Monday 2 November 09:00", got)
	}
	// Without the section: no costs at all.
	cfg, err = Parse([]byte(strings.Replace(accountsBase, "ACCOUNT", "", 1)), "t.yaml")
	if err != nil || cfg.Costs != nil {
		t.Fatalf("without costs: %+v, %v", cfg.Costs, err)
	}
}

// TestCosts_Problems: each bad value of costs:, accounts:, idle: and
// off_hours: is refused with its field path, its line and what to write
// instead; nothing else is reported with it.
func TestCosts_Problems(t *testing.T) {
	base := strings.Replace(accountsBase, "ACCOUNT", "", 1)
	for _, tc := range []struct{ name, yaml, path, want string }{
		{"unknown payer", "costs: {payer_account: billing}", "costs.payer_account", `unknown account "billing": declare it under accounts:`},
		{"metric", "costs: {metric: blended}", "costs.metric", `"blended" is not unblended or amortized`},
		{"team tag", "costs: {team_tag: \"team#1\"}", "costs.team_tag", `"team#1" is not a tag key`},
		{"tag twice", "costs: {tags: [team]}", "costs.tags[0]", "listed twice (or is the team_tag)"},
		{"bad tag", "costs: {tags: [\"a b!\"]}", "costs.tags[0]", "is not a tag key"},
		{"too many tags", "costs: {tags: [a, b, c, d, e, f]}", "costs.tags", "at most 5 tags"},
		{"drift", "costs: {drift_percent: 0}", "costs.drift_percent", "must be 1 to 1000 (percent)"},
		{"refresh hour", "costs: {refresh_hour_utc: 24}", "costs.refresh_hour_utc", "must be an hour, 0 to 23"},
		{"alerts descending", "costs: {budget_alerts: [80, 50]}", "costs.budget_alerts[1]", "whole percentages from 1 to 500, ascending"},
		{"alert fraction", "costs: {budget_alerts: [50.5]}", "costs.budget_alerts[0]", "whole percentages"},
		{"alert too high", "costs: {budget_alerts: [50, 600]}", "costs.budget_alerts[1]", "whole percentages from 1 to 500"},
		{"alert not a number", "costs: {budget_alerts: [half]}", "costs.budget_alerts[0]", ""},
		{"unknown key", "costs: {cost_explorr: false}", "costs.cost_explorr", ""},
		{"review without channel", "costs: {review: {schedule: \"0 9 * * 1\"}}", "costs.review.channel", "is required"},
		{"review cron", "costs: {review: {channel: \"#c\", schedule: \"first monday\"}}", "costs.review.schedule", "is not a cron line"},
		{"review cron zone", "costs: {review: {channel: \"#c\", schedule: \"CRON_TZ=UTC 0 9 * * 1\"}}", "costs.review.schedule", "leave the zone out: give it as time_zone"},
		{"review zone", "costs: {review: {channel: \"#c\", time_zone: Mars/Olympus}}", "costs.review.time_zone", "Mars/Olympus"},
		{"account name", "accounts: [{name: Prod!, id: \"111122223333\"}]", "accounts[0].name", "short lower-case name"},
		{"account ID unquoted", "accounts: [{name: prod, id: 12345}]", "accounts[0].id", "not a 12-digit AWS account ID"},
		{"account external ID", "accounts: [{name: prod, id: \"111122223333\", role_arn: \"arn:aws:iam::111122223333:role/o\", external_id: \"x\"}]", "accounts[0].external_id", "an STS external ID"},
		{"account region", "accounts: [{name: prod, id: \"111122223333\", regions: [europe]}]", "accounts[0].regions[0]", "not an AWS region name"},
		{"idle cpu", "idle: {cpu_below: 120}", "idle.cpu_below", "a percentage above 0 and at most 100"},
		{"idle for", "idle: {for: 30m}", "idle.for", "between 1h and 14d"},
		{"idle check", "idle: {check_every: 2d}", "idle.check_every", "between 5m and 24h"},
		{"off-hours stop before start", "off_hours: {office: {stop: \"07:00\", start: \"08:00\"}}", "off_hours.office.stop", "later in the day than start"},
		{"off-hours no days", "off_hours: {office: {stop: \"20:00\", start: \"08:00\", days: []}}", "off_hours.office.days", "at least one working day"},
		{"off-hours warning", "off_hours: {office: {stop: \"20:00\", start: \"08:00\", warn_before: 13h}}", "off_hours.office.warn_before", "between 0s and 12h"},
		{"off-hours holiday", "off_hours: {office: {stop: \"20:00\", start: \"08:00\", holidays: [\"25/12\"]}}", "off_hours.office.holidays[0]", "not a date like 2026-12-25"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml+"\n"+base), "t.yaml")
			ps, ok := err.(Problems)
			if !ok || len(ps) == 0 {
				t.Fatalf("error = %v, want problems", err)
			}
			var hit *Problem
			for i := range ps {
				if ps[i].Path == tc.path {
					hit = &ps[i]
				}
			}
			if hit == nil {
				t.Fatalf("no problem at %s in:\n%s", tc.path, strings.Join(ps.Lines(), "\n"))
			}
			if !strings.Contains(hit.Message, tc.want) {
				t.Errorf("%s: %q, want it to say %q", tc.path, hit.Message, tc.want)
			}
			if hit.Line != 1 {
				t.Errorf("%s: line %d, want 1 (where the value is)", tc.path, hit.Line)
			}
			if len(ps) != 1 {
				t.Errorf("more than the one problem:\n%s", strings.Join(ps.Lines(), "\n"))
			}
		})
	}
}
