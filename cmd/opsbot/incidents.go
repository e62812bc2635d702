package main

import (
	"time"

	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/pagerduty"
	"github.com/opsbot/opsbot/workflows"
)

// buildIncidents wires the incidents workflow when the config has an
// `incidents:` section: PagerDuty when its token is set, Notion when its
// token and database are. It returns nil when incidents are off.
func (a *App) buildIncidents(deps Deps) *workflows.Incidents {
	pol := a.Config.Catalog.Incidents
	if pol == nil {
		return nil
	}
	inc := &workflows.Incidents{
		Store: a.DB, Clock: a.Clock, Catalog: a.Config.Catalog, Log: a.Log.With("component", "incidents"),
		Channels: a.Slack, Directory: a.Slack, Wake: a.Wake,
	}
	if a.Env.PagerDutyAPIToken.IsSet() {
		a.PagerDuty = pagerduty.New(a.Env.PagerDutyAPIToken.Reveal(), pagerduty.Options{
			APIURL: a.Env.PagerDutyAPIURL, Log: a.Log.With("component", "pagerduty"), Clock: a.Clock.Now, HTTPClient: a.outsideClient(deps.HTTP, "pagerduty", 30*time.Second), Sleep: a.Metrics.sleeper("pagerduty", deps.Sleep),
		})
		inc.Pager = a.PagerDuty
		inc.History = a.PagerDuty
	}
	if a.Env.NotionToken.IsSet() && pol.NotionDatabase != "" {
		a.Notion = notion.New(a.Env.NotionToken.Reveal(), notion.Options{
			APIURL: a.Env.NotionAPIURL, DatabaseID: pol.NotionDatabase, Log: a.Log.With("component", "notion"), Clock: a.Clock.Now, HTTPClient: a.outsideClient(deps.HTTP, "notion", 30*time.Second), Sleep: a.Metrics.sleeper("notion", deps.Sleep),
		})
		inc.Docs = a.Notion
	}
	if r := pol.Review; r != nil && r.NotionDatabase != "" {
		if c := a.notionPages(deps); c != nil {
			inc.Pages = c
		}
	}
	return inc
}

// notionPages is the Notion client review pages are written with: the
// post-mortems' one when there is one (one pace for the integration's
// requests), else one of its own. Nil without NOTION_TOKEN.
func (a *App) notionPages(deps Deps) *notion.Client {
	switch {
	case !a.Env.NotionToken.IsSet():
		return nil
	case a.Notion != nil:
		return a.Notion
	case a.pages == nil:
		a.pages = notion.New(a.Env.NotionToken.Reveal(), notion.Options{
			APIURL: a.Env.NotionAPIURL, Log: a.Log.With("component", "notion"), Clock: a.Clock.Now, HTTPClient: a.outsideClient(deps.HTTP, "notion", 30*time.Second), Sleep: a.Metrics.sleeper("notion", deps.Sleep),
		})
	}
	return a.pages
}

// webhookSecrets are the PagerDuty signing secrets, for rotation.
func (a *App) webhookSecrets() []string {
	var out []string
	for _, s := range a.Env.PagerDutyWebhookSecrets {
		out = append(out, s.Reveal())
	}
	return out
}
