package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/opsbot/opsbot/config"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/audit"
)

// ExportLine is one audit entry as `opsbot audit export` writes it, one
// JSON object per line. The fields are stable (docs/actions.md): a SIEM
// may rely on them; new fields may be added, none renamed or removed.
type ExportLine struct {
	ID           int64  `json:"id"`             // increasing; resume with --after-id
	At           string `json:"at"`             // RFC 3339, UTC, nanoseconds
	Actor        string `json:"actor"`          // as recorded: "U0DEV <dev@example.com>", "opsbot", "pagerduty"
	ActorSlackID string `json:"actor_slack_id"` // "" for opsbot's own acts
	ActorEmail   string `json:"actor_email"`
	Action       string `json:"action"`  // "request.create", "action.reboot", "ec2.stop", ...
	Subject      string `json:"subject"` // "srv-42", "apr-3", "inc-7"
	Reason       string `json:"reason"`
	Detail       string `json:"detail"`
}

const exportPage = 1000

// auditExport writes the audit log from --since (a date, an RFC 3339 time
// or a duration back from now) to --until as JSON lines, oldest first.
func auditExport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	since := fs.String("since", "", "first instant: 2026-11-01, 2026-11-01T09:00:00Z or a duration back from now like 7d (required)")
	until := fs.String("until", "", "end (exclusive), same forms; default now")
	after := fs.Int64("after-id", 0, "only entries with a larger id (resume an export)")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	now := time.Now()
	from, err := parseInstant(*since, now)
	if err != nil || *since == "" {
		fmt.Fprintf(stderr, "opsbot audit export: --since is required: a date (2026-11-01), an RFC 3339 time or a duration like 7d\n")
		return exitCode(2)
	}
	var to time.Time
	if *until != "" {
		if to, err = parseInstant(*until, now); err != nil {
			fmt.Fprintf(stderr, "opsbot audit export: --until: %v\n", err)
			return exitCode(2)
		}
	}
	env, problems := config.LoadEnv(getenv)
	if len(problems) > 0 {
		return fmt.Errorf("environment: %s", problems[0])
	}
	db, err := store.Open(ctx, env.DB.DSN())
	if err != nil {
		return fmt.Errorf("open store %s: %w", env.DB, err)
	}
	defer db.Close()
	return writeAudit(ctx, db, audit.Filter{Since: from, Until: to, AfterID: *after}, stdout)
}

// writeAudit pages through the log in id order and writes each entry.
func writeAudit(ctx context.Context, r audit.Reader, f audit.Filter, w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	f.Ascending, f.Limit = true, exportPage
	for {
		entries, err := r.AuditEntries(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := enc.Encode(exportLine(e)); err != nil {
				return fmt.Errorf("write the export: %w", err)
			}
			if e.ID > f.AfterID {
				f.AfterID = e.ID
			}
		}
		if len(entries) < exportPage {
			return nil
		}
	}
}

func exportLine(e workflows.AuditEntry) ExportLine {
	p := audit.ActorPerson(e.Actor)
	return ExportLine{ID: e.ID, At: e.At.UTC().Format(time.RFC3339Nano), Actor: e.Actor, ActorSlackID: p.SlackID, ActorEmail: p.Email,
		Action: e.Action, Subject: e.Subject, Reason: e.Reason, Detail: e.Detail}
}

func parseInstant(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	d, err := workflows.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date, an RFC 3339 time or a duration", s)
	}
	return now.Add(-d), nil
}
