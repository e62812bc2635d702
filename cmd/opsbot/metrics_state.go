package main

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

// stateCollector reads the figures of opsbot's state at scrape time
// (docs/operations.md, "Metrics"): the queue by kind and state, the age
// of the oldest due job, leases ending within a day, and each team's
// budget. They come from the database, so every replica reports the
// same (aggregate them with max, not sum). A read is kept cacheFor, so
// several scrapers cost one read, and bounded by readTimeout; when it
// fails, opsbot_state_up is 0 and the other figures are left out.
type stateCollector struct {
	gauges  func(ctx context.Context, now time.Time, within time.Duration) (store.Gauges, error)
	budgets func(ctx context.Context) ([]workflows.BudgetSummary, error)
	clock   workflows.Clock
	leading func() bool

	mu     sync.Mutex
	at     time.Time // wall time of the cached read
	atNow  time.Time // the clock's time of it (tests move the clock)
	cached []prometheus.Metric
}

const (
	stateCacheFor    = 10 * time.Second
	stateReadTimeout = 3 * time.Second
	leaseHorizon     = 24 * time.Hour
)

var (
	descJobs = prometheus.NewDesc("opsbot_jobs_queued", "Jobs in the durable queue, by kind and state (pending: waiting or due; running: claimed; dead: failed for good, kept for people to look at).",
		[]string{"kind", "state"}, nil)
	descOldestDue = prometheus.NewDesc("opsbot_jobs_oldest_due_seconds", "How long the pending job due longest ago has been due (0 when none is due): a stuck or overwhelmed queue grows it.", nil, nil)
	descLeases    = prometheus.NewDesc("opsbot_leases_ending_24h", "Leases of launching or running servers that end within the next 24 hours, by team.", []string{"team"}, nil)
	descBudget    = prometheus.NewDesc("opsbot_budget_usd", "Each team's monthly budget, in US dollars.", []string{"team"}, nil)
	descCommitted = prometheus.NewDesc("opsbot_budget_committed_usd", "Budget committed this month (approved leases and extensions, less releases), by team.", []string{"team"}, nil)
	descSpent     = prometheus.NewDesc("opsbot_budget_spent_usd", "What the team's servers cost so far this month, by team.", []string{"team"}, nil)
	descReserved  = prometheus.NewDesc("opsbot_budget_reserved_usd", "Budget held by requests waiting for approval, by team.", []string{"team"}, nil)
	descUp        = prometheus.NewDesc("opsbot_state_up", "1 when the last read of the queue, leases and budgets for /metrics succeeded, 0 when the store could not be read.", nil, nil)
	descLeader    = prometheus.NewDesc("opsbot_scheduler_leader", "1 when this replica holds the scheduler's leader lease (runs the lease, nag and review ticks), else 0. Exactly one replica should.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobs, descOldestDue, descLeases, descBudget, descCommitted, descSpent, descReserved, descUp, descLeader} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	leader := 0.0
	if c.leading != nil && c.leading() {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, leader)
	for _, m := range c.read() {
		ch <- m
	}
}

// read returns the cached figures, reading them again when stale.
func (c *stateCollector) read() []prometheus.Metric {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.cached != nil && time.Since(c.at) < stateCacheFor && now.Sub(c.atNow) < stateCacheFor {
		return c.cached
	}
	ctx, cancel := context.WithTimeout(context.Background(), stateReadTimeout)
	defer cancel()
	var out []prometheus.Metric
	up := 1.0
	g, err := c.gauges(ctx, now, leaseHorizon)
	if err != nil {
		up = 0
	} else {
		for _, j := range g.Jobs {
			out = append(out, prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(j.N), j.Kind, j.State))
		}
		age := 0.0
		if !g.OldestDue.IsZero() {
			age = max(now.Sub(g.OldestDue).Seconds(), 0)
		}
		out = append(out, prometheus.MustNewConstMetric(descOldestDue, prometheus.GaugeValue, age))
		for team, n := range g.LeasesEnding {
			out = append(out, prometheus.MustNewConstMetric(descLeases, prometheus.GaugeValue, float64(n), team))
		}
	}
	bs, err := c.budgets(ctx)
	if err != nil {
		up = 0
	} else {
		for _, b := range bs {
			out = append(out,
				prometheus.MustNewConstMetric(descBudget, prometheus.GaugeValue, b.Budget.Dollars(), b.Team),
				prometheus.MustNewConstMetric(descCommitted, prometheus.GaugeValue, b.Committed.Dollars(), b.Team),
				prometheus.MustNewConstMetric(descSpent, prometheus.GaugeValue, b.Spent.Dollars(), b.Team),
				prometheus.MustNewConstMetric(descReserved, prometheus.GaugeValue, b.Reserved.Dollars(), b.Team))
		}
	}
	out = append(out, prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up))
	c.cached, c.at, c.atNow = out, time.Now(), now
	return out
}
