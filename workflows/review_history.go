package workflows

import (
	"context"
	"fmt"
	"time"
)

// AlertHistory reads PagerDuty's past for the alert review: the incidents
// opened on some services within a window, each with its alerts and the
// moments that matter (first acknowledgement, resolution). The PagerDuty
// integration implements it with go-pagerduty's ListIncidents and each
// incident's alerts and log.
type AlertHistory interface {
	// HistoryPage returns the incidents of one page of the list that
	// starts at offset (PagerDuty's offset pagination), each complete
	// with its alerts; next is the offset of the following page, or -1
	// after the last one.
	HistoryPage(ctx context.Context, q HistoryQuery, offset int) (page []PastIncident, next int, err error)
}

// HistoryQuery selects the incidents a review looks at: created at or
// after Since and before Until on one of Services (PagerDuty service IDs).
type HistoryQuery struct {
	Services     []string
	Since, Until time.Time
}

// PastIncident is a PagerDuty incident as the review sees it.
type PastIncident struct {
	ID          string
	Number      int
	Title       string
	Service     string // PagerDuty service ID
	ServiceName string
	Urgency     string // "high" pages people; "low" does not
	CreatedAt   time.Time
	// AckedAt is the first acknowledgement; zero when nobody acknowledged.
	AckedAt time.Time
	// ResolvedAt is zero while the incident is open.
	ResolvedAt time.Time
	// ResolvedByPerson is set when a person resolved it; otherwise the
	// integration that raised it (or a timeout) did.
	ResolvedByPerson bool
	Alerts           []PastAlert
}

// AutoResolved reports an incident that went away on its own: resolved
// by its integration or a timeout, never acknowledged by anyone.
func (p PastIncident) AutoResolved() bool {
	return !p.ResolvedAt.IsZero() && p.AckedAt.IsZero() && !p.ResolvedByPerson
}

// PastAlert is one alert of a past incident.
type PastAlert struct {
	ID        string
	Key       string // alert_key (the monitoring tool's dedup key)
	Summary   string
	CreatedAt time.Time
}

// Gathering is a review's gathering in progress: what was fetched so far
// and where the next page starts. A PagerDuty error stops Gather with
// everything before it kept here, so the next attempt goes on from Next
// instead of starting again; the review job stores it between attempts.
type Gathering struct {
	Query     HistoryQuery
	Next      int // offset of the next page; -1 when all is gathered
	Incidents []PastIncident
	Calls     int // pages fetched, for the log
}

// Done reports whether every page was gathered.
func (g *Gathering) Done() bool { return g.Next < 0 }

// Gather fetches the remaining pages into g. On an error g keeps every
// page fetched before it, and Gather can be called again to go on.
func Gather(ctx context.Context, h AlertHistory, g *Gathering) error {
	for !g.Done() {
		page, next, err := h.HistoryPage(ctx, g.Query, g.Next)
		if err != nil {
			return fmt.Errorf("gather PagerDuty history from offset %d: %w", g.Next, err)
		}
		g.Calls++
		g.Incidents = append(g.Incidents, page...)
		if next >= 0 && next <= g.Next {
			// A page that does not move on would loop for ever.
			return Permanent(fmt.Errorf("gather PagerDuty history: page at %d points back to %d", g.Next, next))
		}
		g.Next = next
	}
	return nil
}
