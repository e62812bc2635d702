package pagerduty

import (
	"context"
	"fmt"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/opsbot/opsbot/workflows"
)

var _ workflows.AlertHistory = (*Client)(nil)

// HistoryPage lists one page of the incidents created in [q.Since,
// q.Until) on q.Services (GET /incidents with since, until, service_ids[],
// oldest first) and completes each with its alerts (GET
// /incidents/{id}/alerts) and the moments of its log that the review
// needs (GET /incidents/{id}/log_entries?is_overview=true): the first
// acknowledgement and who resolved it. Every call goes through the retry
// loop, so a 429 waits for PagerDuty's Retry-After (or ratelimit-reset)
// before asking again.
//
// For N incidents that is ceil(N/PageSize) list calls plus at least two
// calls per incident (more when one has over PageSize alerts or log
// entries).
func (c *Client) HistoryPage(ctx context.Context, q workflows.HistoryQuery, offset int) ([]workflows.PastIncident, int, error) {
	if len(q.Services) == 0 {
		return nil, -1, nil // a team with no PagerDuty service has no history
	}
	o := pagerduty.ListIncidentsOptions{
		Limit:      c.opts.PageSize,
		Offset:     uint(offset),
		Since:      q.Since.UTC().Format(time.RFC3339),
		Until:      q.Until.UTC().Format(time.RFC3339),
		ServiceIDs: q.Services,
		SortBy:     "created_at:asc", // oldest first: Gather narrows the window from the last one
		TimeZone:   "UTC",
	}
	var list *pagerduty.ListIncidentsResponse
	err := c.call(ctx, fmt.Sprintf("list incidents %s to %s from %d", o.Since, o.Until, offset), func(ctx context.Context) error {
		var err error
		list, err = c.pd.ListIncidentsWithContext(ctx, o)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	out := make([]workflows.PastIncident, 0, len(list.Incidents))
	for i := range list.Incidents {
		p, err := c.pastIncident(ctx, &list.Incidents[i])
		if err != nil {
			return nil, 0, err
		}
		out = append(out, p)
	}
	next := -1
	if list.More && len(list.Incidents) > 0 {
		next = offset + len(list.Incidents)
	}
	return out, next, nil
}

// pastIncident completes one listed incident with its alerts and log.
func (c *Client) pastIncident(ctx context.Context, in *pagerduty.Incident) (workflows.PastIncident, error) {
	created, err := time.Parse(time.RFC3339, in.CreatedAt)
	if err != nil {
		return workflows.PastIncident{}, workflows.Permanent(fmt.Errorf("incident %s: created_at %q: %w", in.ID, in.CreatedAt, err))
	}
	p := workflows.PastIncident{
		ID: in.ID, Number: int(in.IncidentNumber), Title: workflows.PlainText(in.Title), // without opsbot's marks
		Service: in.Service.ID, ServiceName: workflows.PlainText(in.Service.Summary),
		Urgency: in.Urgency, CreatedAt: created.UTC(),
	}
	if in.ResolvedAt != "" {
		if t, err := time.Parse(time.RFC3339, in.ResolvedAt); err == nil {
			p.ResolvedAt = t.UTC()
		}
	}
	if p.Alerts, err = c.alerts(ctx, in.ID); err != nil {
		return p, err
	}
	if err := c.overview(ctx, &p); err != nil {
		return p, err
	}
	return p, nil
}

// alerts lists every alert of an incident, page by page.
func (c *Client) alerts(ctx context.Context, incidentID string) ([]workflows.PastAlert, error) {
	o := pagerduty.ListIncidentAlertsOptions{Limit: c.opts.PageSize}
	var out []workflows.PastAlert
	for {
		var page *pagerduty.ListAlertsResponse
		err := c.call(ctx, fmt.Sprintf("list alerts of %s from %d", incidentID, o.Offset), func(ctx context.Context) error {
			var err error
			page, err = c.pd.ListIncidentAlertsWithContext(ctx, incidentID, o)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, a := range page.Alerts {
			at, _ := time.Parse(time.RFC3339, a.CreatedAt)
			out = append(out, workflows.PastAlert{ID: a.ID, Key: a.AlertKey, Summary: workflows.PlainText(a.Summary), CreatedAt: at.UTC()})
		}
		if !page.More || len(page.Alerts) == 0 {
			return out, nil
		}
		o.Offset += uint(len(page.Alerts))
		if o.Offset+o.Limit > workflows.HistoryOffsetCap {
			// PagerDuty lists no further: an incident this noisy is
			// counted by the first 10,000 of its alerts.
			c.log.Warn("incident has more alerts than PagerDuty lists; counting the first ones", "incident", incidentID, "alerts", len(out))
			return out, nil
		}
	}
}

// overview reads the incident's log overview for the first
// acknowledgement and the resolution's author.
func (c *Client) overview(ctx context.Context, p *workflows.PastIncident) error {
	o := pagerduty.ListIncidentLogEntriesOptions{Limit: c.opts.PageSize, IsOverview: true}
	resolveSeen := false // entries come newest first: the first resolve is the last one
	for {
		var page *pagerduty.ListIncidentLogEntriesResponse
		err := c.call(ctx, fmt.Sprintf("list log overview of %s from %d", p.ID, o.Offset), func(ctx context.Context) error {
			var err error
			page, err = c.pd.ListIncidentLogEntriesWithContext(ctx, p.ID, o)
			return err
		})
		if err != nil {
			return err
		}
		for _, e := range page.LogEntries {
			at, err := time.Parse(time.RFC3339, e.CreatedAt)
			if err != nil {
				continue
			}
			switch e.Type {
			case "acknowledge_log_entry":
				if p.AckedAt.IsZero() || at.Before(p.AckedAt) {
					p.AckedAt = at.UTC()
				}
			case "resolve_log_entry":
				if !resolveSeen {
					resolveSeen = true
					p.ResolvedByPerson = e.Agent.Type == "user_reference" || e.Agent.Type == "user"
					if p.ResolvedAt.IsZero() {
						p.ResolvedAt = at.UTC()
					}
				}
			}
		}
		if !page.More || len(page.LogEntries) == 0 {
			return nil
		}
		o.Offset += uint(len(page.LogEntries))
		if o.Offset+o.Limit > workflows.HistoryOffsetCap {
			return nil // PagerDuty lists no further; the overview is newest first
		}
	}
}
