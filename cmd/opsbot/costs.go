package main

import (
	"context"
	"time"

	awsint "github.com/opsbot/opsbot/integrations/aws"
	"github.com/opsbot/opsbot/internal/chart"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/costs"
)

// buildCosts wires the costs workflow when the config has a costs
// section: Cost Explorer in the payer account (its role's credentials,
// or opsbot's own), its jobs, and /ops costs. Nil without the section.
func (a *App) buildCosts(deps Deps, handlers map[string]workflows.JobHandler) (*costs.Service, error) {
	p := a.Config.Costs
	if p == nil {
		return nil, nil
	}
	s := &costs.Service{Store: a.DB, Clock: a.Clock, Catalog: a.Config.Catalog, Policy: p, Log: a.Log.With("component", "costs"), Wake: a.Wake,
		Picture: costChart}
	if p.CostExplorer {
		creds, err := a.EC2.Credentials(p.PayerAccount)
		if err != nil {
			return nil, err
		}
		cfg := a.EC2.Config()
		s.Explorer = awsint.NewCostExplorer(awsint.CostExplorerOptions{Config: &cfg, Credentials: creds, Endpoint: deps.AWSCostEndpoint, MaxBackoff: deps.AWSMaxBackoff})
	}
	if r := p.Review; r != nil && r.NotionDatabase != "" {
		if c := a.notionPages(deps); c != nil {
			s.Pages = c
		}
	}
	for k, h := range s.Handlers() {
		handlers[k] = h
	}
	return s, nil
}

// costsTick refreshes the bill daily, sends budget alerts and queues
// the monthly cost review.
func (a *App) costsTick(ctx context.Context) error {
	if a.Costs == nil {
		return nil
	}
	rep, err := a.Costs.Tick(ctx)
	a.Metrics.observeTick("costs", err)
	if rep != (costs.TickReport{}) {
		a.Log.Info("costs tick", "refreshes", rep.Refreshes, "alerts", rep.Alerts, "reviews", rep.Reviews)
	}
	return err
}

// costChart draws the review's chart: monthly totals by service, stacked.
func costChart(c costs.Chart, title string) ([]byte, error) {
	ch := chart.Chart{Title: title, YLabel: "USD", Stacked: true}
	for _, m := range c.Months {
		ch.Labels = append(ch.Labels, m.Start(time.UTC).Format("Jan 2006"))
	}
	for _, se := range c.Series {
		s := chart.Series{Name: se.Name}
		for _, v := range se.Totals {
			s.Values = append(s.Values, v.Dollars())
		}
		ch.Series = append(ch.Series, s)
	}
	return ch.PNG()
}
