package bot

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseOps_Good(t *testing.T) {
	tests := []struct {
		in   string
		want OpsCommand
	}{
		{"", OpsCommand{Kind: OpsHelp}},
		{"help", OpsCommand{Kind: OpsHelp}},
		{"server request test-small for 2d load test", OpsCommand{Kind: OpsRequest, Template: "test-small", Duration: 48 * time.Hour, Reason: "load test"}},
		{"server request test-small", OpsCommand{Kind: OpsRequest, Template: "test-small"}},
		{"server request test-small fix the build", OpsCommand{Kind: OpsRequest, Template: "test-small", Reason: "fix the build"}},
		{"Server Request gpu FOR 90m", OpsCommand{Kind: OpsRequest, Template: "gpu", Duration: 90 * time.Minute}},
		{"server request", OpsCommand{Kind: OpsRequestUI}},
		{"servers", OpsCommand{Kind: OpsServers}},
		{"lease extend SRV-42 1d need more time", OpsCommand{Kind: OpsExtend, Server: "srv-42", Duration: 24 * time.Hour, Reason: "need more time"}},
		{"lease release srv-42", OpsCommand{Kind: OpsRelease, Server: "srv-42"}},
		{"lease extend", OpsCommand{Kind: OpsExtendUI}},
		{"budget", OpsCommand{Kind: OpsBudget}},
		{"budget data", OpsCommand{Kind: OpsBudget, Team: "data"}},
		{"approvals", OpsCommand{Kind: OpsApprovals}},
	}
	for _, tt := range tests {
		got, err := ParseOps(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseOps(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseOps_MistakesSayWhatAndShowUsage(t *testing.T) {
	tests := []struct {
		in, problem, usage string
	}{
		{"server request test-small for 2x", `"2x" is not a duration`, UsageRequest},
		{"server request test-small for -1d", "not a positive duration", UsageRequest},
		{"server request test-small for 999d", "too long", UsageRequest},
		{"server request test-small for", "needs a duration", UsageRequest},
		{"server launch x", "Say what to do", UsageRequest},
		{"lease extend srv-1", "Name the server and how much longer", UsageExtend},
		{"lease extend srv-1 forever", `"forever" is not a duration`, UsageExtend},
		{"lease release", "Name one server", UsageRelease},
		{"lease renew srv-1", "not a lease command", UsageExtend},
		{"budget a b", "at most one team", UsageBudget},
		{"servers mine", "takes no arguments", UsageServers},
		{"deploy prod", "not an /ops command", UsageHelp},
	}
	for _, tt := range tests {
		_, err := ParseOps(tt.in)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ParseOps(%q) err = %v, want a usage error", tt.in, err)
			continue
		}
		if !strings.Contains(ue.Problem, tt.problem) || ue.Usage != tt.usage {
			t.Errorf("ParseOps(%q) = %q / %q; want %q / %q", tt.in, ue.Problem, ue.Usage, tt.problem, tt.usage)
		}
	}
}

// TestParseOps_OddSpellings is what people really type: extra spaces,
// shouting, a duration without `for`, junk at the end. Each either means
// one thing, read that way, or is refused with the usage line; nothing is
// silently dropped into the reason.
func TestParseOps_OddSpellings(t *testing.T) {
	day := 24 * time.Hour
	good := []struct {
		in   string
		want OpsCommand
	}{
		// The leak: a duration where the reason starts is the duration.
		{"server request test-small 2d quick check", OpsCommand{Kind: OpsRequest, Template: "test-small", Duration: 2 * day, Reason: "quick check"}},
		{"server request test-small 2D", OpsCommand{Kind: OpsRequest, Template: "test-small", Duration: 2 * day}},
		{"server request test-small 1h30m", OpsCommand{Kind: OpsRequest, Template: "test-small", Duration: 90 * time.Minute}},
		{"  server   request   test-small   for   4h   spaced   out  ", OpsCommand{Kind: OpsRequest, Template: "test-small", Duration: 4 * time.Hour, Reason: "spaced out"}},
		{"SERVER REQUEST Test-Small FOR 2d", OpsCommand{Kind: OpsRequest, Template: "Test-Small", Duration: 2 * day}},
		// Numbers that are not durations stay in the reason.
		{"server request test-small repro 2nd bug on 4k screens", OpsCommand{Kind: OpsRequest, Template: "test-small", Reason: "repro 2nd bug on 4k screens"}},
		// With the duration given, a later one is the reason's own text.
		{"server request test-small for 1d then 2d more", OpsCommand{Kind: OpsRequest, Template: "test-small", Duration: day, Reason: "then 2d more"}},
		{"server request test-small for 2d reason with for words", OpsCommand{Kind: OpsRequest, Template: "test-small", Duration: 2 * day, Reason: "reason with for words"}},
		{"lease extend srv-42 for 1d more time", OpsCommand{Kind: OpsExtend, Server: "srv-42", Duration: day, Reason: "more time"}},
		{"LEASE EXTEND SRV-42 4H", OpsCommand{Kind: OpsExtend, Server: "srv-42", Duration: 4 * time.Hour}},
		{"Lease Release SRV-42", OpsCommand{Kind: OpsRelease, Server: "srv-42"}},
		{"BUDGET", OpsCommand{Kind: OpsBudget}},
		{"Servers", OpsCommand{Kind: OpsServers}},
		{"APPROVALS", OpsCommand{Kind: OpsApprovals}},
		{"help me please", OpsCommand{Kind: OpsHelp}},
		{"   ", OpsCommand{Kind: OpsHelp}},
	}
	for _, tt := range good {
		got, err := ParseOps(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseOps(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	bad := []struct {
		in, problem, usage string
	}{
		{"server request test-small 0d", "not a positive duration", UsageRequest},
		{"server request test-small -1h", "not a positive duration", UsageRequest},
		{"server request test-small 999d", "too long", UsageRequest},
		{"server request test-small 1.5d", `"1.5d" is not a duration`, UsageRequest},
		{"server request test-small 2days", `"2days" is not a duration`, UsageRequest},
		{"server request test-small 30s", "shorter than a minute", UsageRequest},
		{"server request test-small 2 days", `"2" has no unit`, UsageRequest},
		{"server request test-small for quick check", `"quick" is not a duration`, UsageRequest},
		{"server request test-small for", "needs a duration", UsageRequest},
		{"server request test-small FOR", "needs a duration", UsageRequest},
		{"server request test-small quick check 2d", `"2d" in the reason looks like a duration`, UsageRequest},
		{"server request test-small quick check for 2d", "Put `for 2d` right after the template", UsageRequest},
		{"server request test-small 1d quick check for 2d", "Two durations", UsageRequest},
		{"server request 2d test-small", "Name the template first", UsageRequest},
		{"server request for 2d test-small", "Name the template first", UsageRequest},
		{"server list", "/ops servers", UsageRequest},
		{"server", "Say what to do", UsageRequest},
		{"lease extend srv-42", "Name the server and how much longer", UsageExtend},
		{"lease extend srv-42 for", "Name the server and how much longer", UsageExtend},
		{"lease extend srv-42 0d", "not a positive duration", UsageExtend},
		{"lease extend srv-42 -1h", "not a positive duration", UsageExtend},
		{"lease extend srv-42 999d", "too long", UsageExtend},
		{"lease extend srv-42 1.5d", `"1.5d" is not a duration`, UsageExtend},
		{"lease extend srv-42 2", `"2" has no unit`, UsageExtend},
		{"lease extend 1d srv-42", "Name the server first", UsageExtend},
		{"lease release srv-42 now", "Name one server", UsageRelease},
		{"lease release srv-42 srv-43", "Name one server", UsageRelease},
		{"lease", "Say `extend` or `release`", UsageExtend},
		{"lease stop srv-42", "not a lease command", UsageExtend},
		{"budget team-a please", "at most one team", UsageBudget},
		{"approvals all", "takes no arguments", UsageApprovals},
		{"servers --all", "takes no arguments", UsageServers},
		{"request test-small", "not an /ops command", UsageHelp},
		{"SERVERZ", "not an /ops command", UsageHelp},
	}
	for _, tt := range bad {
		_, err := ParseOps(tt.in)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ParseOps(%q) err = %v, want a usage error", tt.in, err)
			continue
		}
		if !strings.Contains(ue.Problem, tt.problem) || ue.Usage != tt.usage {
			t.Errorf("ParseOps(%q) = %q / %q; want %q / %q", tt.in, ue.Problem, ue.Usage, tt.problem, tt.usage)
		}
	}
}

func TestParseOps_Costs(t *testing.T) {
	for _, tc := range []struct {
		text        string
		team, month string
	}{
		{"costs", "", ""},
		{"costs data", "data", ""},
		{"costs nov", "", "nov"},
		{"costs 2026-11", "", "2026-11"},
		{"costs last", "", "last"},
		{"costs all 2026-10", "all", "2026-10"},
		{"cost platform november", "platform", "november"},
	} {
		c, err := ParseOps(tc.text)
		if err != nil || c.Kind != OpsCosts || c.Team != tc.team || c.Month != tc.month {
			t.Errorf("%q = %+v, %v", tc.text, c, err)
		}
	}
	if _, err := ParseOps("costs a b c"); err == nil || !strings.Contains(err.Error(), UsageCosts) {
		t.Errorf("three words: %v", err)
	}
}

// TestParse_WordsSlackMadeLinksOf: with should_escape Slack sends a word
// that looks like a domain or an email as a link; the name typed is read.
func TestParse_WordsSlackMadeLinksOf(t *testing.T) {
	c, err := ParseOps("server request <http://api.dev|api.dev> for 1d see <https://wiki.example.com/x>")
	if err != nil || c.Template != "api.dev" || c.Reason != "see https://wiki.example.com/x" {
		t.Errorf("request: %+v, %v", c, err)
	}
	if c, err := ParseOps("run <http://deploy.app|deploy.app>"); err != nil || c.Rest != "deploy.app" {
		t.Errorf("run: %+v, %v", c, err)
	}
	if c, err := ParseOps("offboard <mailto:lead@example.com|lead@example.com>"); err != nil || c.Rest != "lead@example.com" {
		t.Errorf("offboard: %+v, %v", c, err)
	}
	if c, err := ParseIncident("add <mailto:Dana@Example.com|Dana@Example.com>"); err != nil || c.Who != "dana@example.com" {
		t.Errorf("add: %+v, %v", c, err)
	}
	if c, err := ParseIncident("declare A &amp;lt; B on <http://shop.example.com|shop.example.com> sev2"); err != nil || c.Title != "A &lt; B on shop.example.com" {
		t.Errorf("declare: %+v, %v", c, err)
	}
}
