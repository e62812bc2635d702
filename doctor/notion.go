package doctor

import (
	"context"
	"strings"

	"github.com/opsbot/opsbot/integrations/notion"
)

// notion checks the post-mortem database: reachable with the token, and
// having the properties opsbot writes.
func (d *Doctor) notion(ctx context.Context) {
	const area = "notion"
	pol := d.Config.Catalog.Incidents
	switch {
	case pol == nil:
		d.add(Check{Area: area, Name: "post-mortem database", Status: StatusSkip, Detail: "incidents are not configured"})
		return
	case pol.NotionDatabase == "" && !d.Env.NotionToken.IsSet():
		d.add(Check{Area: area, Name: "post-mortem database", Status: StatusSkip, Detail: "Notion is off (no incidents.notion_database, no NOTION_TOKEN): post-mortems are not written"})
		return
	case pol.NotionDatabase == "":
		d.add(Check{Area: area, Name: "post-mortem database", Status: StatusFail, Detail: "NOTION_TOKEN is set but incidents.notion_database is not",
			Fix: "run `opsbot notion init --parent PAGE` to create the database under a page shared with the integration, and put the ID it prints in incidents.notion_database"})
		return
	case d.Notion == nil:
		d.add(Check{Area: area, Name: "post-mortem database", Status: StatusFail, Detail: "incidents.notion_database is set but NOTION_TOKEN is not",
			Fix: "create an internal integration at https://www.notion.so/my-integrations, set NOTION_TOKEN to its secret, and share the database with it"})
		return
	}
	name := "post-mortem database " + pol.NotionDatabase
	var setup notion.Setup
	err := d.within(ctx, func(ctx context.Context) (err error) {
		setup, err = d.Notion.CheckSetup(ctx)
		return err
	})
	problems, skipped := setup.Problems, setup.Skipped
	switch {
	case err != nil:
		d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: "Notion did not answer: " + err.Error(),
			Fix: "check that api.notion.com is reachable from here (NOTION_API_URL, proxies)"})
	case !setup.OK():
		d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: strings.Join(problems, "; "),
			Fix: "add the missing properties with the types named (or run `opsbot notion init --parent PAGE` for a new database), share the database with the integration (··· → Connections), and check incidents.notion_database"})
	case len(skipped) > 0:
		d.add(Check{Area: area, Name: name, Status: StatusWarn, Detail: "post-mortems are written without: " + strings.Join(skipped, "; "),
			Fix: "add those properties to the database with the types named"})
	default:
		d.add(Check{Area: area, Name: name, Status: StatusOK, Detail: "reachable, with every property opsbot writes"})
	}
}

// reviewDatabases checks the databases review pages are written to (the
// alert review's, the cost review's), when the config names them.
func (d *Doctor) reviewDatabases(ctx context.Context) {
	const area = "notion"
	type db struct{ what, key, id string }
	var dbs []db
	if pol := d.Config.Catalog.Incidents; pol != nil && pol.Review != nil && pol.Review.NotionDatabase != "" {
		dbs = append(dbs, db{"alert review database", "incidents.review.notion_database", pol.Review.NotionDatabase})
	}
	if c := d.Config.Costs; c != nil && c.Review != nil && c.Review.NotionDatabase != "" {
		dbs = append(dbs, db{"cost review database", "costs.review.notion_database", c.Review.NotionDatabase})
	}
	for _, x := range dbs {
		name := x.what + " " + x.id
		if d.NotionPages == nil {
			d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: x.key + " is set but NOTION_TOKEN is not: no review page is written",
				Fix: "set NOTION_TOKEN to the integration's secret and share the database with it, or remove " + x.key})
			continue
		}
		var setup notion.Setup
		err := d.within(ctx, func(ctx context.Context) (err error) {
			setup, err = d.NotionPages.CheckReviewDatabase(ctx, x.id)
			return err
		})
		switch {
		case err != nil:
			d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: "Notion did not answer: " + err.Error(),
				Fix: "check that api.notion.com is reachable from here (NOTION_API_URL, proxies)"})
		case !setup.OK():
			d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: strings.Join(setup.Problems, "; "),
				Fix: "give the database the properties Name (title) and Review ID (text), and Date (date) if you like (or run `opsbot notion init --parent PAGE --reviews`), share it with the integration, and check " + x.key})
		case len(setup.Skipped) > 0:
			d.add(Check{Area: area, Name: name, Status: StatusWarn, Detail: "review pages are written without: " + strings.Join(setup.Skipped, "; "),
				Fix: "add those properties to the database with the types named"})
		default:
			d.add(Check{Area: area, Name: name, Status: StatusOK, Detail: "reachable, with Name, Review ID and Date"})
		}
	}
}
