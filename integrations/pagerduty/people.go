package pagerduty

import (
	"context"
	"fmt"
	"strings"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/opsbot/opsbot/workflows"
)

// Assignees returns the emails of the people a PagerDuty incident is
// assigned to now: one of the ways to be allowed to change it in Slack.
func (c *Client) Assignees(ctx context.Context, incidentID string) ([]string, error) {
	var in *pagerduty.Incident
	err := c.call(ctx, "get incident "+incidentID, func(ctx context.Context) error {
		var err error
		in, err = c.pd.GetIncidentWithContext(ctx, incidentID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("assignees of %s: %w", incidentID, err)
	}
	var out []string
	for _, a := range in.Assignments {
		email, err := c.userEmail(ctx, a.Assignee.ID)
		if err != nil {
			return out, fmt.Errorf("assignees of %s: %w", incidentID, err)
		}
		out = append(out, email)
	}
	return out, nil
}

// HasUser reports whether the account has a user with this email, who
// PagerDuty would accept as the From of a change. PagerDuty's query
// matches names and emails by substring, so the answer is checked for the
// exact email.
func (c *Client) HasUser(ctx context.Context, email string) (bool, error) {
	if email == "" {
		return false, nil
	}
	o := pagerduty.ListUsersOptions{Query: email, Limit: c.opts.PageSize}
	for {
		var page *pagerduty.ListUsersResponse
		err := c.call(ctx, "find user "+email, func(ctx context.Context) error {
			var err error
			page, err = c.pd.ListUsersWithContext(ctx, o)
			return err
		})
		if err != nil {
			return false, err
		}
		for _, u := range page.Users {
			if strings.EqualFold(u.Email, email) {
				return true, nil
			}
		}
		if !page.More || len(page.Users) == 0 {
			return false, nil
		}
		o.Offset += uint(len(page.Users))
	}
}

// AddNote adds a note to an incident as the user whose email is from,
// once: when the incident already has a note with the same content (a
// retry after a crash between the note and its record), none is added.
func (c *Client) AddNote(ctx context.Context, incidentID, from, content string) error {
	if from == "" {
		return workflows.Permanent(fmt.Errorf("note on %s: no From email given", incidentID))
	}
	var notes []pagerduty.IncidentNote
	err := c.call(ctx, "list notes of "+incidentID, func(ctx context.Context) error {
		var err error
		notes, err = c.pd.ListIncidentNotesWithContext(ctx, incidentID)
		return err
	})
	if err != nil {
		return err
	}
	for _, n := range notes {
		if n.Content == content {
			return nil
		}
	}
	note := pagerduty.IncidentNote{Content: content, User: pagerduty.APIObject{Summary: from}}
	return c.call(ctx, "note on "+incidentID, func(ctx context.Context) error {
		_, err := c.pd.CreateIncidentNoteWithContext(ctx, incidentID, note)
		return err
	})
}
