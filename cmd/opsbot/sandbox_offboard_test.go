package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/sandbox"
)

// TestSandbox_OffboardingHandsOverLeesServerAndKeyPairs: in the sandbox,
// Lee (a departed-looking platform member with two key pairs of their
// own) has a server; Avery offboards Lee: the report in
// #platform-approvals hands the server to the team and lists Lee's key
// pairs (not the team's shared one) in its thread; Avery deletes one and
// runs Diagnose on the handed-over server.
func TestSandbox_OffboardingHandsOverLeesServerAndKeyPairs(t *testing.T) {
	rs := startSandbox(t)
	general, _ := channelNamed(rs.state(sandbox.Dana), "general")
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Lee, "channel": general, "text": "/ops server request test-small for 2d leftover"})
	rs.eventually("Lee's instance launched", 15*time.Second, func() (bool, string) {
		return len(rs.state(sandbox.Avery).Instances) == 1, "no instance"
	})
	rs.act("/api/clock/advance", map[string]any{"duration": "10s"})
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Avery, "channel": general, "text": "/ops offboard lee@example.com"})
	var approvals, ts, action, value string
	rs.eventually("the report and the key pairs in its thread", 15*time.Second, func() (bool, string) {
		id, text := channelNamed(rs.state(sandbox.Avery), "platform-approvals")
		approvals = id
		if !strings.Contains(text, "Offboarding:") || !strings.Contains(text, "EC2 key pairs of") {
			return false, text
		}
		for _, c := range rs.state(sandbox.Avery).Channels {
			if c.ID != id {
				continue
			}
			for _, m := range c.Messages {
				var blocks []struct {
					Elements []map[string]any `json:"elements"`
				}
				_ = json.Unmarshal(m.Blocks, &blocks)
				for _, b := range blocks {
					for _, el := range b.Elements {
						if a, _ := el["action_id"].(string); strings.HasPrefix(a, "offboard.key.delete") {
							txt, _ := el["text"].(map[string]any)
							if txt["text"] == "Delete key pair lee-laptop" {
								ts, action, value = m.TS, a, el["value"].(string)
							}
						}
					}
				}
			}
		}
		return ts != "", text
	})
	_, text := channelNamed(rs.state(sandbox.Avery), "platform-approvals")
	mustContain(t, "report", text, "srv-1 (test-small", "handed to team platform", "`lee-laptop`", "tagged Owner=lee@example.com", "`lee`", "named after them")
	if strings.Contains(text, "platform-ci") {
		t.Errorf("the team's shared key pair is listed as Lee's")
	}
	rs.act("/api/slack/click", map[string]any{"user": sandbox.Avery, "channel": approvals, "ts": ts, "action_id": action, "value": value})
	rs.eventually("the key pair deleted", 15*time.Second, func() (bool, string) {
		_, text := channelNamed(rs.state(sandbox.Avery), "platform-approvals")
		return strings.Contains(text, "deleted by"), text
	})
	// The handed-over server's actions work for the team's approver.
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Avery, "channel": general, "text": "/ops server srv-1"})
	rs.eventually("the server shown as the team's", 10*time.Second, func() (bool, string) {
		var eph strings.Builder
		for _, e := range rs.state(sandbox.Avery).Ephemerals {
			eph.WriteString(e.Text + "\n" + blockText(e.Blocks) + "\n")
		}
		return strings.Contains(eph.String(), "team platform, since"), eph.String()
	})
}
