package doctor

import (
	"context"
	"errors"

	"github.com/opsbot/opsbot/workflows/costs"
)

// costExplorer checks, when the config turns Cost Explorer on, that the
// payer account's credentials may call GetCostAndUsage. Cost Explorer has
// no dry run, so this is one real call for yesterday without grouping:
// it costs $0.01, and the report says so.
func (d *Doctor) costExplorer(ctx context.Context, arn string) {
	const area, name = "aws", "Cost Explorer"
	p := d.Config.Costs
	if p == nil || !p.CostExplorer {
		return
	}
	if d.Costs == nil {
		d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: "costs.cost_explorer is on but no Cost Explorer client could be set up",
			Fix: "check costs.payer_account names an account in accounts: whose role opsbot may assume"})
		return
	}
	metric := p.Metric
	if metric == "" {
		metric = costs.MetricUnblended
	}
	day := d.now().UTC().AddDate(0, 0, -1)
	q := costs.Query{Start: day.Format("2006-01-02"), End: day.AddDate(0, 0, 1).Format("2006-01-02"), Metric: metric}
	err := d.within(ctx, func(ctx context.Context) error {
		_, err := d.Costs.CostAndUsage(ctx, q)
		return err
	})
	switch {
	case err == nil:
		d.add(Check{Area: area, Name: name, Status: StatusOK, Detail: "GetCostAndUsage allowed (one call for yesterday's " + metric + "; Cost Explorer charges $0.01 a request)"})
	case errors.Is(err, costs.ErrAccessDenied):
		d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: "IAM refused ce:GetCostAndUsage",
			Fix: grant("ce:GetCostAndUsage", arn) + "; with costs.payer_account, grant it to that account's role"})
	case errors.Is(err, costs.ErrDataUnavailable):
		d.add(Check{Area: area, Name: name, Status: StatusWarn, Detail: "GetCostAndUsage allowed, but Cost Explorer has no data yet",
			Fix: "enable Cost Explorer in the payer account's Billing console; data appears within 24 hours, and until then the review uses opsbot's ledger"})
	default:
		d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: "GetCostAndUsage failed: " + err.Error()})
	}
}
