package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/sandbox"
)

// TestSandbox_AlertReviewAndStatsOnTheSeededHistory runs /incident
// review and /incident stats in the sandbox, on the two weeks of
// PagerDuty history it seeds.
func TestSandbox_AlertReviewAndStatsOnTheSeededHistory(t *testing.T) {
	rs := startSandbox(t)
	general, _ := channelNamed(rs.state(sandbox.Dana), "general")
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Dana, "channel": general, "text": "/incident review"})
	rs.eventually("the alert review in #incidents", 20*time.Second, func() (bool, string) {
		_, text := channelNamed(rs.state(sandbox.Dana), "incidents")
		ok := strings.Contains(text, "Alert review rev-1: platform") && strings.Contains(text, "disk-full-db-1") &&
			strings.Contains(text, "flapping") && strings.Contains(text, "1 paged outside business hours") &&
			strings.Contains(text, "Certificate for api-#.example.com expires in # days")
		return ok, text + fmt.Sprintf("\nephemerals: %v", rs.state(sandbox.Dana).Ephemerals)
	})
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Dana, "channel": general, "text": "/incident stats platform 30d"})
	rs.eventually("the stats", 10*time.Second, func() (bool, string) {
		for _, e := range rs.state(sandbox.Dana).Ephemerals {
			if strings.Contains(e.Text, "Incidents of platform") || strings.Contains(e.Text, "No incidents") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%v", rs.state(sandbox.Dana).Ephemerals)
	})
}
