package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Statuses whose time the stats measure: PagerDuty's (triggered until
// someone acknowledges, acknowledged until resolved) and the response's
// own (investigating, identified, monitoring, until resolved).
const (
	InTriggered    = "triggered"
	InAcknowledged = "acknowledged"
)

// statusOrder is the order the stats list statuses in.
var statusOrder = []string{InTriggered, InAcknowledged,
	string(StatusInvestigating), string(StatusIdentified), string(StatusMonitoring)}

// StatusTime is how long incidents stayed in one status: the median and
// p90 over the incidents that left it (an incident's stretches in one
// status add up), nearest rank.
type StatusTime struct {
	Status      string
	Incidents   int
	Median, P90 time.Duration
}

// statusChangeText is the timeline's record of a status change;
// parseStatusChange reads it back.
func statusChangeText(from, to IncidentStatus) string {
	return fmt.Sprintf("Status %s → %s", from, to)
}

func parseStatusChange(text string) (from, to IncidentStatus, ok bool) {
	rest, ok := strings.CutPrefix(text, "Status ")
	if !ok {
		return "", "", false
	}
	a, b, ok := strings.Cut(rest, " → ")
	if !ok {
		return "", "", false
	}
	from, okA := ParseStatus(a)
	to, okB := ParseStatus(b)
	return from, to, okA && okB
}

// StatusTimes is how long one incident spent in each status, from its
// creation, its timeline (PagerDuty's acknowledgements, unacknowledgements,
// reopenings and resolution; opsbot's status changes) and its
// resolution. Only stretches that ended count: an open incident's
// current status is not measured yet.
func StatusTimes(inc *Incident, tl []TimelineEntry) map[string]time.Duration {
	out := map[string]time.Duration{}
	tl = slices.Clone(tl)
	slices.SortStableFunc(tl, func(a, b TimelineEntry) int { return a.At.Compare(b.At) })
	// PagerDuty's view: triggered → acknowledged → resolved, and back.
	state, since := InTriggered, inc.CreatedAt
	leave := func(next string, at time.Time) {
		if state != "" && at.After(since) {
			out[state] += at.Sub(since)
		}
		state, since = next, at
	}
	for _, e := range tl {
		switch e.Action {
		case "incident.acknowledged":
			if state == InTriggered {
				leave(InAcknowledged, e.At)
			}
		case "incident.unacknowledged":
			if state == InAcknowledged {
				leave(InTriggered, e.At)
			}
		case "incident.reopened":
			if state == "" {
				state, since = InTriggered, e.At
			}
		case "incident.resolved":
			if state != "" {
				leave("", e.At)
			}
		}
	}
	if state != "" && !inc.ResolvedAt.IsZero() {
		leave("", inc.ResolvedAt)
	}
	// The response's own statuses, from /incident status.
	state, since = string(StatusInvestigating), inc.CreatedAt
	for _, e := range tl {
		if e.Kind != TLStatus {
			continue
		}
		from, to, ok := parseStatusChange(e.Text)
		if !ok {
			continue
		}
		switch {
		case from == StatusResolved:
			state, since = string(to), e.At // reopened
		case state != "":
			next := string(to)
			if to == StatusResolved {
				next = ""
			}
			leave(next, e.At)
		}
	}
	if state != "" && !inc.ResolvedAt.IsZero() {
		leave("", inc.ResolvedAt)
	}
	return out
}

// statusTimes sums up the incidents' times in each status, in
// statusOrder, leaving out statuses no incident left.
func statusTimes(per []map[string]time.Duration) []StatusTime {
	var out []StatusTime
	for _, st := range statusOrder {
		var ds []time.Duration
		for _, m := range per {
			if d, ok := m[st]; ok {
				ds = append(ds, d)
			}
		}
		if len(ds) == 0 {
			continue
		}
		out = append(out, StatusTime{Status: st, Incidents: len(ds), Median: Percentile(ds, 50), P90: Percentile(ds, 90)})
	}
	return out
}

// statusLine writes the times in each status on one line.
func statusLine(ts []StatusTime) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s %s / %s", t.Status, Short(t.Median), Short(t.P90))
	}
	return strings.Join(parts, " · ")
}
