package main

import (
	"context"
	"fmt"

	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// publishHome is the job that refreshes one person's App Home tab: it
// resolves the person in Slack, gathers their overview from workflows and
// publishes it rendered.
func (a *App) publishHome(ctx context.Context, j workflows.Job) error {
	p, err := a.Slack.ResolvePerson(ctx, j.Payload)
	if err != nil {
		if workflows.IsPermanent(err) {
			a.Log.InfoContext(ctx, "no Slack user for a Home refresh", "person", j.Payload)
			return nil
		}
		return fmt.Errorf("resolve %s: %w", j.Payload, err)
	}
	if p.SlackID == "" {
		return nil
	}
	h, err := a.Servers.Home(ctx, p)
	if err != nil {
		return err
	}
	if a.Runbooks != nil {
		h.Runbooks = runbooks.OpenButtons(a.Runbooks.Available(p))
	}
	return a.Slack.PublishHome(ctx, p.SlackID, slackout.Renderer{}.Home(h))
}
