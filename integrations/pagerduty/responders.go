package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// Responders returns the emails of the incident's assignees, then of the
// people on call now (by opsbot's clock) on the escalation policy of
// service (the incident's own service when service is empty), each once.
// One failed lookup does not lose the others: it returns whom it found,
// with the errors, so the caller can invite them and ask again later.
func (c *Client) Responders(ctx context.Context, incidentID, service string) ([]string, error) {
	var out []string
	var errs []error
	seen := map[string]bool{}
	add := func(email string) {
		if k := strings.ToLower(email); email != "" && !seen[k] {
			seen[k] = true
			out = append(out, email)
		}
	}
	var in *pagerduty.Incident
	err := c.call(ctx, "get incident "+incidentID, func(ctx context.Context) error {
		var err error
		in, err = c.pd.GetIncidentWithContext(ctx, incidentID)
		return err
	})
	if err != nil {
		errs = append(errs, err)
	} else {
		for _, a := range in.Assignments {
			email, err := c.userEmail(ctx, a.Assignee.ID)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			add(email)
		}
		if service == "" {
			service = in.Service.ID
		}
	}
	if service != "" {
		oncall, err := c.onCallNow(ctx, service)
		if err != nil {
			errs = append(errs, err)
		}
		for _, email := range oncall {
			add(email)
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("responders of %s: %w", incidentID, errors.Join(errs...))
	}
	return out, nil
}

// onCallNow returns the emails of everyone on call now on the escalation
// policy of service, at any level.
func (c *Client) onCallNow(ctx context.Context, service string) ([]string, error) {
	var svc *pagerduty.Service
	err := c.call(ctx, "get service "+service, func(ctx context.Context) error {
		var err error
		svc, err = c.pd.GetServiceWithContext(ctx, service, &pagerduty.GetServiceOptions{})
		return err
	})
	if err != nil {
		return nil, err
	}
	policy := svc.EscalationPolicy.ID
	if policy == "" {
		return nil, nil
	}
	now := c.opts.Clock().UTC()
	o := pagerduty.ListOnCallOptions{
		EscalationPolicyIDs: []string{policy},
		Includes:            []string{"users"},
		Since:               now.Format(time.RFC3339),
		Until:               now.Add(time.Second).Format(time.RFC3339),
		Limit:               c.opts.PageSize,
	}
	var emails []string
	for {
		var page *pagerduty.ListOnCallsResponse
		err := c.call(ctx, "list on-call for policy "+policy, func(ctx context.Context) error {
			var err error
			page, err = c.pd.ListOnCallsWithContext(ctx, o)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, oc := range page.OnCalls {
			email := oc.User.Email
			if email == "" && oc.User.ID != "" {
				if email, err = c.userEmail(ctx, oc.User.ID); err != nil {
					return emails, err
				}
			}
			emails = append(emails, email)
		}
		if !page.More || len(page.OnCalls) == 0 {
			return emails, nil
		}
		o.Offset += uint(len(page.OnCalls))
	}
}

// userEmail returns a user's email, asking PagerDuty once per user.
func (c *Client) userEmail(ctx context.Context, userID string) (string, error) {
	c.mu.Lock()
	email, ok := c.emails[userID]
	c.mu.Unlock()
	if ok {
		return email, nil
	}
	var u *pagerduty.User
	err := c.call(ctx, "get user "+userID, func(ctx context.Context) error {
		var err error
		u, err = c.pd.GetUserWithContext(ctx, userID, pagerduty.GetUserOptions{})
		return err
	})
	if err != nil {
		return "", err
	}
	if u.Email == "" {
		return "", fmt.Errorf("get user %s: %w", userID, errNoEmail)
	}
	c.mu.Lock()
	c.emails[userID] = u.Email
	c.mu.Unlock()
	return u.Email, nil
}

// errNoEmail is returned when a PagerDuty user has no email.
var errNoEmail = errors.New("user has no email")
