package bot

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// FuzzParseOps: whatever follows /ops is either a command or a usage
// error that says what was wrong and shows a usage line; a command's
// duration is within what ParseDuration allows.
func FuzzParseOps(f *testing.F) {
	for _, s := range []string{
		"", "help", "servers", "approvals", "budget", "budget platform",
		"server request", "server request test-small", "server request test-small for 4h load test",
		"server request build-box for 2d", "server request huge for 0d", "server request for for for",
		"lease extend", "lease extend srv-1 1d still needed", "lease extend srv-1", "lease release srv-1",
		"lease release", "SERVER REQUEST Test-Small FOR 90M", "lease   extend\tsrv-2   999999d",
		"server request x for", "lease extend srv-1 -1h", "lease", "server", "servers mine",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cmd, err := ParseOps(text)
		checkUsage(t, "/ops "+text, err)
		if err != nil {
			return
		}
		if cmd.Kind == "" {
			t.Fatalf("/ops %q parsed with no kind", text)
		}
		if cmd.Duration < 0 || cmd.Duration > workflows.MaxDuration {
			t.Fatalf("/ops %q parsed with duration %v", text, cmd.Duration)
		}
	})
}

// FuzzParseIncident: the same for /incident, and a scheduled
// post-mortem's DATE TIME always reads as a date and time.
func FuzzParseIncident(f *testing.F) {
	for _, s := range []string{
		"", "help", "declare", "declare Database is down", "declare API errors sev1", "declare sev2",
		"status resolved", "status inc-7 monitoring", "status", "severity sev1", "severity inc-3 2",
		"role commander <@U0LEAD>", "role scribe <@U0DEV|dev>", "role comms dev@example.com", "role comms @dev",
		"update Rolled back the deploy", "update", "postmortem", "postmortem done", "postmortem inc-2 done",
		"postmortem scheduled 2026-11-24 15:00", "postmortem scheduled 2026-02-30 25:61", "postmortem scheduled tomorrow",
		"INC-9", "status INC-9 Resolved", "role commander <@U0LEAD> extra",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cmd, err := ParseIncident(text)
		checkUsage(t, "/incident "+text, err)
		if err != nil {
			return
		}
		if cmd.Kind == "" {
			t.Fatalf("/incident %q parsed with no kind", text)
		}
		if cmd.Kind == IncScheduled {
			if _, err := time.Parse("2006-01-02 15:04", cmd.When); err != nil {
				t.Fatalf("/incident %q scheduled at %q, which is no date and time: %v", text, cmd.When, err)
			}
		}
		if cmd.Kind == IncRole && cmd.Who == "" {
			t.Fatalf("/incident %q names a role holder with no one", text)
		}
	})
}

// checkUsage fails unless err is nil or a usage error with a problem and
// a usage line.
func checkUsage(t *testing.T, text string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("%q: error %T %v is not a usage error", text, err, err)
	}
	if strings.TrimSpace(ue.Problem) == "" || !strings.HasPrefix(ue.Usage, "/") {
		t.Fatalf("%q: usage error without a problem or usage line: %+v", text, ue)
	}
}
