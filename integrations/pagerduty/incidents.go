package pagerduty

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/opsbot/opsbot/workflows"
)

// Trigger opens an incident on req.Service as req.From, with req.Key as
// PagerDuty's incident_key. PagerDuty refuses a second open incident with
// the same key on a service; that refusal is how a retried Trigger finds the
// incident the first one opened, which it then returns.
//
// If the first incident was already resolved when the retry comes,
// PagerDuty opens a new one: keys only de-duplicate open incidents.
func (c *Client) Trigger(ctx context.Context, req workflows.PageRequest) (workflows.PDIncident, error) {
	switch {
	case req.Service == "":
		return workflows.PDIncident{}, workflows.Permanent(fmt.Errorf("trigger %s: no PagerDuty service given", req.Key))
	case strings.TrimSpace(req.Title) == "":
		return workflows.PDIncident{}, workflows.Permanent(fmt.Errorf("trigger %s: no title given", req.Key))
	case req.From == "":
		return workflows.PDIncident{}, workflows.Permanent(fmt.Errorf("trigger %s: no From email given", req.Key))
	}
	urgency := req.Urgency
	if urgency == "" {
		urgency = "high"
	}
	opts := &pagerduty.CreateIncidentOptions{
		Title:       req.Title,
		Service:     &pagerduty.APIReference{ID: req.Service, Type: "service_reference"},
		Urgency:     urgency,
		IncidentKey: req.Key,
	}
	if req.Details != "" {
		opts.Body = &pagerduty.APIDetails{Type: "incident_body", Details: req.Details}
	}
	var created *pagerduty.Incident
	err := c.call(ctx, "trigger "+req.Key+" on "+req.Service, func(ctx context.Context) error {
		var err error
		created, err = c.pd.CreateIncidentWithContext(ctx, req.From, opts)
		return err
	})
	if err == nil {
		c.log.InfoContext(ctx, "pagerduty incident triggered", "key", req.Key, "incident", created.ID, "service", req.Service)
		return toPDIncident(created), nil
	}
	if ae, ok := apiError(err); ok && req.Key != "" && isDuplicateKey(ae) {
		in, ferr := c.openByKey(ctx, req.Key, req.Service)
		if ferr != nil {
			return workflows.PDIncident{}, fmt.Errorf("trigger %s: PagerDuty has an open incident with this key: %w", req.Key, ferr)
		}
		c.log.InfoContext(ctx, "pagerduty incident already open for key", "key", req.Key, "incident", in.ID)
		return in, nil
	}
	return workflows.PDIncident{}, err
}

// isDuplicateKey recognises PagerDuty's answer to a second open incident
// with the same key: 400 "Open incident with matching dedup key already
// exists on this service".
func isDuplicateKey(ae pagerduty.APIError) bool {
	t := errorText(ae)
	return ae.StatusCode == http.StatusBadRequest && strings.Contains(t, "dedup key") && strings.Contains(t, "already exists")
}

// openByKey finds the open incident on service whose incident_key is key.
func (c *Client) openByKey(ctx context.Context, key, service string) (workflows.PDIncident, error) {
	o := pagerduty.ListIncidentsOptions{
		IncidentKey: key,
		Statuses:    []string{workflows.PDTriggered, workflows.PDAcknowledged},
		ServiceIDs:  []string{service},
		Limit:       c.opts.PageSize,
	}
	var list *pagerduty.ListIncidentsResponse
	err := c.call(ctx, "find incident with key "+key, func(ctx context.Context) error {
		var err error
		list, err = c.pd.ListIncidentsWithContext(ctx, o)
		return err
	})
	if err != nil {
		return workflows.PDIncident{}, err
	}
	for i := range list.Incidents {
		if in := &list.Incidents[i]; in.IncidentKey == key {
			return toPDIncident(in), nil
		}
	}
	return workflows.PDIncident{}, workflows.Permanent(fmt.Errorf("find incident with key %s: none is open", key))
}

// SetStatus acknowledges or resolves an incident as the PagerDuty user
// whose email is from. Resolving a resolved incident, or acknowledging
// one, is a success: the incident is already where it was asked to go.
func (c *Client) SetStatus(ctx context.Context, incidentID, status, from string) error {
	doing := fmt.Sprintf("set incident %s %s", incidentID, status)
	switch {
	case status != workflows.PDAcknowledged && status != workflows.PDResolved:
		return workflows.Permanent(fmt.Errorf("%s: PagerDuty only takes %q or %q", doing, workflows.PDAcknowledged, workflows.PDResolved))
	case from == "":
		return workflows.Permanent(fmt.Errorf("%s: no From email given", doing))
	}
	err := c.call(ctx, doing, func(ctx context.Context) error {
		_, err := c.pd.ManageIncidentsWithContext(ctx, from, []pagerduty.ManageIncidentsOptions{{ID: incidentID, Status: status}})
		return err
	})
	if ae, ok := apiError(err); ok && ae.StatusCode == http.StatusBadRequest && strings.Contains(errorText(ae), "already resolved") {
		c.log.InfoContext(ctx, "pagerduty incident already resolved", "incident", incidentID, "wanted", status)
		return nil
	}
	if ae, ok := apiError(err); ok && ae.StatusCode >= 400 && ae.StatusCode < 500 && !ae.RateLimited() {
		// PagerDuty said no (an unknown From, a deleted incident): tell the
		// workflow so it takes back what it recorded.
		return workflows.Permanent(fmt.Errorf("%s: %w", doing, &workflows.PagerRefusal{Reason: refusalText(ae)}))
	}
	if err != nil {
		return err
	}
	c.log.InfoContext(ctx, "pagerduty incident status set", "incident", incidentID, "status", status, "from", from)
	return nil
}

// refusalText is PagerDuty's error message and details as a person reads
// them: "Requester User Not Found".
func refusalText(ae pagerduty.APIError) string {
	if !ae.APIError.Valid {
		return fmt.Sprintf("HTTP %d", ae.StatusCode)
	}
	o := ae.APIError.ErrorObject
	parts := []string{o.Message}
	for _, e := range o.Errors {
		if e != "" && e != o.Message {
			parts = append(parts, e)
		}
	}
	return strings.Join(parts, ": ")
}
