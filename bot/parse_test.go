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
