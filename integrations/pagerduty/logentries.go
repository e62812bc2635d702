package pagerduty

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/opsbot/opsbot/workflows"
)

// LogEntries returns the incident's whole PagerDuty log, page by page, as
// timeline entries sorted oldest first. IncidentID is left for the caller
// (it is opsbot's ID, which PagerDuty does not know).
func (c *Client) LogEntries(ctx context.Context, incidentID string) ([]workflows.TimelineEntry, error) {
	o := pagerduty.ListIncidentLogEntriesOptions{Limit: c.opts.PageSize}
	var out []workflows.TimelineEntry
	for {
		var page *pagerduty.ListIncidentLogEntriesResponse
		err := c.call(ctx, fmt.Sprintf("list log entries of %s from %d", incidentID, o.Offset), func(ctx context.Context) error {
			var err error
			page, err = c.pd.ListIncidentLogEntriesWithContext(ctx, incidentID, o)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, e := range page.LogEntries {
			te, err := timelineEntry(e)
			if err != nil {
				return nil, workflows.Permanent(fmt.Errorf("log entries of %s: %w", incidentID, err))
			}
			out = append(out, te)
		}
		if !page.More || len(page.LogEntries) == 0 {
			break
		}
		o.Offset += uint(len(page.LogEntries))
	}
	// PagerDuty lists newest first. Reversing before the stable sort keeps
	// entries of the same second (a trigger and its assignment) in the
	// order they happened; a list that already starts with its oldest
	// entry is left as it is.
	if n := len(out); n > 1 && !out[0].At.Before(out[n-1].At) {
		slices.Reverse(out)
	}
	slices.SortStableFunc(out, func(a, b workflows.TimelineEntry) int { return a.At.Compare(b.At) })
	return out, nil
}

// timelineEntry turns one log entry into a timeline entry. The text is
// the entry's summary ("Acknowledged by Ada Lovelace."), followed by what
// its channel says when that adds something (a note's content).
func timelineEntry(e pagerduty.LogEntry) (workflows.TimelineEntry, error) {
	at, err := time.Parse(time.RFC3339, e.CreatedAt)
	if err != nil {
		return workflows.TimelineEntry{}, fmt.Errorf("log entry %s: created_at %q: %w", e.ID, e.CreatedAt, err)
	}
	actor := e.Agent.Summary
	if actor == "" {
		actor = "PagerDuty"
	}
	text := e.Summary
	if extra, _ := e.Channel.Raw["summary"].(string); extra != "" && extra != text {
		if text == "" {
			text = extra
		} else {
			text += ": " + extra
		}
	}
	return workflows.TimelineEntry{
		At:         at.UTC(),
		Kind:       workflows.TLPagerDuty,
		Actor:      workflows.PlainText(actor), // as typed in PagerDuty: without opsbot's marks
		Text:       workflows.PlainText(text),
		Source:     "pagerduty",
		ExternalID: e.ID,
		Action:     logActions[e.Type],
	}, nil
}

// logActions maps the log entry types that record an incident event to
// the V3 webhook event type of the same event, so the timeline lists it
// once. Entries of other types (notifications, assignment at trigger
// time) have no webhook twin.
var logActions = map[string]string{
	"trigger_log_entry":         "incident.triggered",
	"acknowledge_log_entry":     "incident.acknowledged",
	"unacknowledge_log_entry":   "incident.unacknowledged",
	"resolve_log_entry":         "incident.resolved",
	"reopen_log_entry":          "incident.reopened",
	"escalate_log_entry":        "incident.escalated",
	"assign_log_entry":          "incident.reassigned",
	"annotate_log_entry":        "incident.annotated",
	"priority_change_log_entry": "incident.priority_updated",
}
