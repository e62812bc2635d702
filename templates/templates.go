// Package templates holds opsbot's default incident texts (the response
// checklist and the post-mortem body), loads replacements named in config,
// and turns rendered text into document blocks. Templates are Go
// text/template with no extra functions, so any text/template user can
// write one; the data each receives is ChecklistData or PostmortemData.
//
// It imports only the standard library: workflows imports it, not the
// reverse.
package templates

import (
	_ "embed"
	"fmt"
	"os"
	"strings"
	"text/template"
	"unicode/utf8"
)

// Checklist is the default response checklist, posted in each new incident
// channel. Its data is ChecklistData.
//
//go:embed checklist.md
var Checklist string

// Postmortem is the default post-mortem body. Its data is PostmortemData.
//
//go:embed postmortem.md
var Postmortem string

// ChecklistData is what a checklist template can use. Every field is text
// ready to show; empty means unknown or not yet set.
type ChecklistData struct {
	ID        string // "inc-7"
	Title     string
	Severity  string // "sev1".."sev3"
	Team      string
	Commander string // who is commander so far
	PDURL     string // the PagerDuty incident's address
	Channel   string // the incident channel's name, without "#"
}

// PostmortemData is what a post-mortem template can use. Times are text
// already formatted in the team's time zone, so templates need no
// functions.
type PostmortemData struct {
	ID         string
	Title      string
	Severity   string
	Status     string
	Team       string
	Start      string
	End        string // empty while the incident is open
	Duration   string // like "2h 15m"
	Commander  string
	Comms      string
	Scribe     string
	Services   []string
	Summary    string
	Impact     string
	LastUpdate string
	Timeline   []TimelineItem
	PDURL      string
}

// TimelineItem is one timeline entry as a post-mortem shows it.
type TimelineItem struct {
	At    string // "Nov 21 15:04 CET" in the team's zone, with its name
	Kind  string // declared, status, update, pagerduty, pinned, ...
	Actor string
	Text  string
}

// Load returns the text of the template file at path, or fallback when
// path is empty. Relative paths are the caller's to resolve. The file must
// be UTF-8, since its output goes to Slack and Notion.
func Load(path, fallback string) (string, error) {
	if path == "" {
		return fallback, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read template %s: %w", path, err)
	}
	if !utf8.Valid(data) {
		return "", fmt.Errorf("read template %s: not UTF-8 text", path)
	}
	return string(data), nil
}

// parse parses text as a template named name (the file it came from, for
// messages).
func parse(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Parse(text)
}

func render(name, text string, data any) (string, error) {
	t, err := parse(name, text)
	if err != nil {
		return "", fmt.Errorf("parse %s template: %w", name, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render %s template: %w", name, err)
	}
	return b.String(), nil
}

// RenderChecklist executes a checklist template (Checklist or one loaded
// from config) with d.
func RenderChecklist(text string, d ChecklistData) (string, error) {
	return render("checklist", text, d)
}

// RenderPostmortem executes a post-mortem template (Postmortem or one
// loaded from config) with d. Pass the result to ParseBlocks for a
// document body.
func RenderPostmortem(text string, d PostmortemData) (string, error) {
	return render("postmortem", text, d)
}

// CheckChecklist parses a checklist template and executes it against a
// fully filled and an empty ChecklistData, so a template that would fail
// when an incident is declared fails when the config is loaded instead.
// name is the file it came from.
func CheckChecklist(name, text string) error {
	return check(name, text, sampleChecklist, ChecklistData{})
}

// CheckPostmortem is CheckChecklist for post-mortem templates.
func CheckPostmortem(name, text string) error {
	return check(name, text, samplePostmortem, PostmortemData{})
}

func check(name, text string, full, empty any) error {
	t, err := parse(name, text)
	if err != nil {
		return err
	}
	for _, data := range []any{full, empty} {
		var b strings.Builder
		if err := t.Execute(&b, data); err != nil {
			return err
		}
	}
	return nil
}

var sampleChecklist = ChecklistData{
	ID:        "inc-7",
	Title:     "Checkout returns 502",
	Severity:  "sev2",
	Team:      "platform",
	Commander: "@alice",
	PDURL:     "https://example.pagerduty.com/incidents/Q1ABCDEF",
	Channel:   "inc-7-checkout-returns-502",
}

var samplePostmortem = PostmortemData{
	ID:         "inc-7",
	Title:      "Checkout returns 502",
	Severity:   "sev2",
	Status:     "resolved",
	Team:       "platform",
	Start:      "Tue 4 Mar 14:02 CET",
	End:        "Tue 4 Mar 16:17 CET",
	Duration:   "2h 15m",
	Commander:  "@alice",
	Comms:      "@bob",
	Scribe:     "@carol",
	Services:   []string{"checkout", "payments"},
	Summary:    "A bad deploy of the payments proxy made checkout fail.",
	Impact:     "About 30% of checkouts failed for two hours.",
	LastUpdate: "Rolled back; error rate back to normal.",
	Timeline: []TimelineItem{
		{At: "14:02", Kind: "declared", Actor: "@alice", Text: "Declared sev2: Checkout returns 502"},
		{At: "15:40", Kind: "status", Actor: "@alice", Text: "Status: identified"},
	},
	PDURL: "https://example.pagerduty.com/incidents/Q1ABCDEF",
}
