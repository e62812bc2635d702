package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/opsbot/opsbot/config"
	"github.com/opsbot/opsbot/doctor"
	awsint "github.com/opsbot/opsbot/integrations/aws"
	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/pagerduty"
	slackout "github.com/opsbot/opsbot/integrations/slack"
)

const doctorUsage = "usage: opsbot doctor [--config FILE] [--url https://opsbot.example.com] [--json] [--timeout 15s]\n"

// runDoctor is `opsbot doctor`: it checks the installation the config
// and environment describe against Slack, PagerDuty, Notion and AWS and
// prints a checklist (or JSON); any failed check exits 1.
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "opsbot.yaml", "policy file (YAML)")
	url := fs.String("url", "", "opsbot's public https URL: the PagerDuty webhook subscription must point at it")
	asJSON := fs.Bool("json", false, "print the report as JSON (docs/operations.md documents the shape)")
	timeout := fs.Duration("timeout", doctor.DefaultTimeout, "time allowed for each check")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *timeout <= 0 {
		fmt.Fprint(stderr, doctorUsage)
		return exitCode(2)
	}
	if *url != "" && !strings.HasPrefix(*url, "https://") && !strings.HasPrefix(*url, "http://") {
		fmt.Fprintf(stderr, "opsbot doctor: --url %q is not an http(s) URL\n%s", *url, doctorUsage)
		return exitCode(2)
	}
	cfg, env, err := loadAll(*path, getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler) // the report says everything
	d := &doctor.Doctor{Config: cfg, Env: env, Scopes: manifestScopes(), PublicURL: *url, Timeout: *timeout}
	if env.SlackBotToken.IsSet() {
		d.Slack = slackout.New(env.SlackBotToken.Reveal(), slackout.Options{APIURL: env.SlackAPIURL, Log: log, MaxAttempts: 2})
	}
	if env.PagerDutyAPIToken.IsSet() {
		d.PagerDuty = pagerduty.New(env.PagerDutyAPIToken.Reveal(), pagerduty.Options{APIURL: env.PagerDutyAPIURL, Log: log, MaxAttempts: 2})
	}
	if env.NotionToken.IsSet() && cfg.Catalog.Incidents != nil && cfg.Catalog.Incidents.NotionDatabase != "" {
		d.Notion = notion.New(env.NotionToken.Reveal(), notion.Options{APIURL: env.NotionAPIURL, DatabaseID: cfg.Catalog.Incidents.NotionDatabase, Log: log, MaxAttempts: 2})
	}
	if env.NotionToken.IsSet() {
		// The review databases: checked with a client of their own when
		// no post-mortem database is set.
		d.NotionPages = d.Notion
		if d.NotionPages == nil {
			d.NotionPages = notion.New(env.NotionToken.Reveal(), notion.Options{APIURL: env.NotionAPIURL, Log: log, MaxAttempts: 2})
		}
	}
	if e, err := awsint.New(ctx, awsint.Options{Log: log, MaxAttempts: 2, MaxBackoff: time.Second}); err == nil {
		d.AWS = e
		if p := cfg.Costs; p != nil && p.CostExplorer {
			if creds, err := e.Credentials(p.PayerAccount); err == nil {
				c := e.Config()
				d.Costs = awsint.NewCostExplorer(awsint.CostExplorerOptions{Config: &c, Credentials: creds, MaxAttempts: 2, MaxBackoff: time.Second})
			}
		}
	}
	r := d.Run(ctx)
	if *asJSON {
		err = r.WriteJSON(stdout)
	} else {
		fmt.Fprintf(stdout, "opsbot doctor: checking the installation %s describes\n\n", cfg.Source)
		err = r.WriteText(stdout)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if !r.OK {
		return exitCode(1)
	}
	return nil
}

const notionUsage = "usage: opsbot notion init --parent PAGE [--title TITLE] [--reviews]\n" +
	"  PAGE is the ID or URL of a Notion page shared with the integration (NOTION_TOKEN)\n" +
	"  --reviews also creates the alert review and cost review databases\n"

// pageID finds a Notion page ID in an ID or a page URL: the last 32 hex
// digits, dashes allowed.
var pageID = regexp.MustCompile(`([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})(?:[?#].*)?$`)

// runNotion is `opsbot notion init`: it creates the post-mortem database,
// with every property opsbot writes, under a page.
func runNotion(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "init" {
		fmt.Fprint(stderr, notionUsage)
		return exitCode(2)
	}
	fs := flag.NewFlagSet("notion init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	parent := fs.String("parent", "", "the page to create the database under (ID or URL)")
	title := fs.String("title", "Post-mortems", "the database's title")
	reviews := fs.Bool("reviews", false, "also create the alert review and cost review databases")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		fmt.Fprint(stderr, notionUsage)
		return exitCode(2)
	}
	m := pageID.FindStringSubmatch(strings.TrimSpace(*parent))
	if m == nil || strings.TrimSpace(*title) == "" {
		fmt.Fprintf(stderr, "opsbot notion init: --parent %q is not a Notion page ID or URL\n%s", *parent, notionUsage)
		return exitCode(2)
	}
	env, problems := config.LoadEnv(getenv)
	problems = append(problems, env.Require(config.EnvNotionToken)...)
	if len(problems) > 0 {
		return config.Problems(problems)
	}
	page := strings.ToLower(strings.ReplaceAll(m[1], "-", ""))
	c := notion.New(env.NotionToken.Reveal(), notion.Options{APIURL: env.NotionAPIURL, Log: slog.New(slog.DiscardHandler)})
	id, url, err := c.CreateDatabase(ctx, page, strings.TrimSpace(*title))
	if err != nil {
		return fmt.Errorf("create the post-mortem database under page %s (is the page shared with the integration?): %w", page, err)
	}
	id = strings.ReplaceAll(id, "-", "")
	fmt.Fprintf(stdout, "Created the post-mortem database %q: %s\n", strings.TrimSpace(*title), url)
	yaml := "  incidents:\n    notion_database: " + id + "\n"
	if *reviews {
		alerts, aurl, err := c.CreateReviewDatabase(ctx, page, "Alert reviews")
		if err != nil {
			return fmt.Errorf("create the alert review database under page %s (the post-mortem database %s was made): %w", page, id, err)
		}
		fmt.Fprintf(stdout, "Created the alert review database \"Alert reviews\": %s\n", aurl)
		cost, curl, err := c.CreateReviewDatabase(ctx, page, "Cost reviews")
		if err != nil {
			return fmt.Errorf("create the cost review database under page %s (the post-mortem and alert review databases were made): %w", page, err)
		}
		fmt.Fprintf(stdout, "Created the cost review database \"Cost reviews\": %s\n", curl)
		yaml += "    review:\n      notion_database: " + strings.ReplaceAll(alerts, "-", "") + "\n" +
			"  costs:\n    review:\n      notion_database: " + strings.ReplaceAll(cost, "-", "") + "\n"
	}
	fmt.Fprintf(stdout, "\nPut the IDs in opsbot.yaml:\n\n%s", yaml)
	return nil
}
