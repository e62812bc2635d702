// Package doctor checks a real opsbot installation against the services
// it uses (Slack, PagerDuty, Notion, AWS) and says, for each thing that is
// wrong, what to do about it in plain words: the scope to add, the channel
// to invite the bot to, the IAM action to grant. `opsbot doctor` prints
// its Report as a checklist or as JSON.
//
// Every check has its own timeout, reads only (the one write-shaped call,
// RunInstances, is a DryRun), and never puts a secret in its output.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opsbot/opsbot/config"
	awsint "github.com/opsbot/opsbot/integrations/aws"
	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/pagerduty"
	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/workflows/costs"
)

// Status is a check's outcome.
type Status string

// The outcomes. Only StatusFail makes the doctor exit non-zero.
const (
	StatusOK   Status = "ok"
	StatusFail Status = "fail"
	StatusWarn Status = "warn" // works, but something is missing or could not be told
	StatusSkip Status = "skip" // not checked: not configured, or an earlier check failed
)

// Check is one line of the checklist.
type Check struct {
	// Area is slack, pagerduty, notion or aws.
	Area string `json:"area"`
	// Name says what was checked: "token", "scopes", "channel #approvals",
	// "template dev-small: AMI ami-…".
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Detail is what was found.
	Detail string `json:"detail,omitempty"`
	// Fix says what to do, for a failure or a warning.
	Fix string `json:"fix,omitempty"`
}

// Report is the whole checklist.
type Report struct {
	OK       bool    `json:"ok"`
	Failures int     `json:"failures"`
	Warnings int     `json:"warnings"`
	Checks   []Check `json:"checks"`
}

// DefaultTimeout bounds each check (each call to a service, retries
// included).
const DefaultTimeout = 15 * time.Second

// Doctor holds what is checked. A nil client means its token is not set;
// the checks say whether that matters for this config.
type Doctor struct {
	Config    *config.Config
	Env       config.Env
	Slack     *slackout.Client
	PagerDuty *pagerduty.Client
	Notion    *notion.Client
	// NotionPages checks the review databases (incidents.review and
	// costs.review notion_database); nil without NOTION_TOKEN.
	NotionPages *notion.Client
	AWS         *awsint.EC2
	// Costs is Cost Explorer in the payer account; checked only when the
	// config's costs section turns it on.
	Costs costs.Explorer
	// Scopes are the bot scopes the app manifest asks for (what
	// `opsbot manifest` prints): the token must have every one.
	Scopes []string
	// PublicURL is where Slack and PagerDuty reach opsbot
	// (https://opsbot.example.com); with it, the PagerDuty webhook
	// subscription must point at PublicURL + /webhooks/pagerduty.
	PublicURL string
	// Timeout bounds each check; default DefaultTimeout.
	Timeout time.Duration
	// Now is the clock (the dry-run launch's lease-end tag); default
	// time.Now.
	Now func() time.Time

	checks []Check
}

// Run performs every check and returns the report.
func (d *Doctor) Run(ctx context.Context) Report {
	if d.Timeout <= 0 {
		d.Timeout = DefaultTimeout
	}
	d.checks = nil
	d.slack(ctx)
	d.pagerDuty(ctx)
	d.notion(ctx)
	d.reviewDatabases(ctx)
	d.aws(ctx)
	r := Report{OK: true, Checks: d.checks}
	for _, c := range r.Checks {
		switch c.Status {
		case StatusFail:
			r.Failures++
			r.OK = false
		case StatusWarn:
			r.Warnings++
		}
	}
	return r
}

func (d *Doctor) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// add records a check.
func (d *Doctor) add(c Check) { d.checks = append(d.checks, c) }

// within runs one check's calls under its timeout.
func (d *Doctor) within(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	err := fn(ctx)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("no answer within %s: %w", d.Timeout, err)
	}
	return err
}

// areaNames are the headings of the text checklist.
var areaNames = map[string]string{"slack": "Slack", "pagerduty": "PagerDuty", "notion": "Notion", "aws": "AWS"}

var marks = map[Status]string{StatusOK: "✓", StatusFail: "✗", StatusWarn: "!", StatusSkip: "-"}

// WriteText prints the checklist: a heading per service, one line per
// check (✓ ok, ✗ failed, ! warning, - skipped), the fix under each
// failure and warning, and a summary line.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	area := ""
	for _, c := range r.Checks {
		if c.Area != area {
			if area != "" {
				b.WriteString("\n")
			}
			area = c.Area
			b.WriteString(areaNames[area] + "\n")
		}
		fmt.Fprintf(&b, "  %s %s", marks[c.Status], c.Name)
		if c.Detail != "" {
			fmt.Fprintf(&b, ": %s", c.Detail)
		}
		b.WriteString("\n")
		if c.Fix != "" && (c.Status == StatusFail || c.Status == StatusWarn) {
			fmt.Fprintf(&b, "      fix: %s\n", c.Fix)
		}
	}
	b.WriteString("\n")
	switch {
	case r.OK && r.Warnings == 0:
		b.WriteString("All checks passed.\n")
	case r.OK:
		fmt.Fprintf(&b, "No failures, %s.\n", plural(r.Warnings, "warning"))
	default:
		fmt.Fprintf(&b, "%s failed, %s.\n", plural(r.Failures, "check"), plural(r.Warnings, "warning"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the report as one JSON document (docs/operations.md
// documents the shape; fields are only ever added).
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
