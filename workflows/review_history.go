package workflows

import (
	"cmp"
	"context"
	"fmt"
	"slices"
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
	// Skip are the incidents already gathered that were created at
	// Query.Since, after the window was narrowed to start there (see
	// HistoryOffsetCap): the new window lists them again.
	Skip []string `json:",omitempty"`
	// Splits counts the narrowings, for the log.
	Splits int `json:",omitempty"`
	// Cap and Limit override HistoryOffsetCap and HistoryPageLimit
	// (tests).
	Cap, Limit int `json:",omitempty"`
}

// PagerDuty's classic pagination answers no page whose offset+limit is
// over HistoryOffsetCap. A window holding more incidents is gathered in
// parts: when the next page would cross the cap, the window is narrowed
// to start at the last incident gathered (the list is oldest first) and
// paging starts again at 0, skipping the incidents created at that very
// instant that were gathered already.
const (
	HistoryOffsetCap = 10000
	HistoryPageLimit = 100 // the most a page holds, PagerDuty's maximum
)

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
		for _, p := range page {
			if !slices.Contains(g.Skip, p.ID) {
				g.Incidents = append(g.Incidents, p)
			}
		}
		if next >= 0 && next <= g.Next {
			// A page that does not move on would loop for ever.
			return Permanent(fmt.Errorf("gather PagerDuty history: page at %d points back to %d", g.Next, next))
		}
		g.Next = next
		if next >= 0 && next+cmp.Or(g.Limit, HistoryPageLimit) > cmp.Or(g.Cap, HistoryOffsetCap) {
			if err := g.narrow(); err != nil {
				return err
			}
		}
	}
	return nil
}

// narrow starts the window at the last incident gathered, from offset 0.
func (g *Gathering) narrow() error {
	if len(g.Incidents) == 0 {
		return Permanent(fmt.Errorf("gather PagerDuty history: offset cap reached with nothing gathered"))
	}
	last := g.Incidents[len(g.Incidents)-1].CreatedAt
	if !last.After(g.Query.Since) {
		// Over the cap's worth of incidents created at one instant:
		// no narrower window exists.
		return Permanent(fmt.Errorf("gather PagerDuty history: more than %d incidents created at %s", cmp.Or(g.Cap, HistoryOffsetCap), last.Format(time.RFC3339)))
	}
	g.Query.Since, g.Next, g.Skip = last, 0, nil
	g.Splits++
	for _, p := range g.Incidents {
		if p.CreatedAt.Equal(last) {
			g.Skip = append(g.Skip, p.ID)
		}
	}
	return nil
}
