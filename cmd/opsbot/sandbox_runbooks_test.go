package main

import (
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/sandbox"
)

// TestSandbox_Runbooks runs the two sample runbooks in the sandbox
// through its page API: restart-service against the local endpoint (which
// checks the signature), promote-build approved by Avery and reported
// through the signed callback.
func TestSandbox_Runbooks(t *testing.T) {
	sandbox.ProgressEvery = 10 * time.Millisecond
	rs := startSandbox(t)
	general, _ := channelNamed(rs.state(sandbox.Dana), "general")
	form := func(user string) string {
		var id string
		rs.eventually("the runbook form", 10*time.Second, func() (bool, string) {
			for _, v := range rs.sb.Slack().Views(user) {
				if v.CallbackID == "runbook.run" && v.Open {
					id = v.ID
				}
			}
			return id != "", "no open runbook form"
		})
		return id
	}
	dm := func(user, want string) string {
		var text string
		rs.eventually("a DM saying "+want, 15*time.Second, func() (bool, string) {
			_, text = channelNamed(rs.state(user), "dm")
			return strings.Contains(text, want), text
		})
		return text
	}

	rs.act("/api/slack/command", map[string]any{"user": sandbox.Dana, "channel": general, "text": "/ops run restart-service"})
	rs.act("/api/slack/submit", map[string]any{"user": sandbox.Dana, "view_id": form(sandbox.Dana), "values": map[string]map[string]slackfake.InputValue{
		"service": {"service": {Type: "static_select", Value: "checkout-api"}},
		"drain":   {"drain": {Type: "static_select", Value: "yes"}},
	}})
	mustContain(t, "restart", dm(sandbox.Dana, "restart-service answered: HTTP 200"), `"status":"restarted"`)
	dm(sandbox.Dana, "run-1: restart-service done")

	rs.act("/api/slack/command", map[string]any{"user": sandbox.Dana, "channel": general, "text": "/ops run promote-build"})
	rs.act("/api/slack/submit", map[string]any{"user": sandbox.Dana, "view_id": form(sandbox.Dana), "values": map[string]map[string]slackfake.InputValue{
		"build": {"build": {Value: "b-1042"}},
	}})
	approve := func(run string) {
		var approvals, ts string
		rs.eventually("the run's approval", 10*time.Second, func() (bool, string) {
			for _, c := range rs.state(sandbox.Avery).Channels {
				for _, m := range c.Messages {
					if c.Name == "platform-approvals" && strings.Contains(string(m.Blocks), `"`+run+`"`) {
						approvals, ts = c.ID, m.TS
						return true, ""
					}
				}
			}
			return false, "no approval for " + run
		})
		rs.act("/api/slack/click", map[string]any{"user": sandbox.Avery, "channel": approvals, "ts": ts, "action_id": "op.approve", "value": run})
	}
	approve("run-2")
	// The run's message, edited in place, carries the progress as soon as
	// it says done. The thread's replies (the 202, each update) are posts,
	// which Slack paces to about one a second in a channel: they may come
	// after the edit, so the test waits for them rather than read once.
	text := dm(sandbox.Dana, "run-2: promote-build done")
	mustContain(t, "promote", text, "b-1042 is live on 100% of production", "Update 1 (running)", "copying b-1042", "canary: 10%")
	dm(sandbox.Dana, "promote-build answered: HTTP 202")
	dm(sandbox.Dana, "run-2 · update 3")
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Avery, "channel": general, "text": "/ops audit run-2"})
	mustContain(t, "audit", rs.ephemeralWith(sandbox.Avery, "Audit log: run-2"), "runbook.approve run-2", "runbook.progress run-2", "runbook.done run-2")

	// b-0: accepted, then silence. Past promote-build's callback_timeout
	// (10m) the run is timed out and Dana is told.
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Dana, "channel": general, "text": "/ops run promote-build"})
	rs.act("/api/slack/submit", map[string]any{"user": sandbox.Dana, "view_id": form(sandbox.Dana), "values": map[string]map[string]slackfake.InputValue{
		"build": {"build": {Value: "b-0"}},
	}})
	approve("run-3")
	dm(sandbox.Dana, "run-3: promote-build accepted, in progress")
	rs.act("/api/clock/advance", map[string]any{"duration": "1h"})
	// The notice and the edit of the run's message are two deliveries.
	dm(sandbox.Dana, "sent no final report within 10m")
	text = dm(sandbox.Dana, "No final report from its endpoint within 10m")
	mustContain(t, "timeout", text, "run-3: promote-build timed out")
}
