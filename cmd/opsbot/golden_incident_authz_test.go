package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// TestGolden_IncidentAuthzMessages renders every message of who may act,
// cancel, PagerDuty's refusals and alert storms, so a change of wording is
// a reviewed diff.
func TestGolden_IncidentAuthzMessages(t *testing.T) {
	h := newHarness(t)
	h.slack.AddUser(slackfake.User{ID: helper, Name: "helper", Email: "helper@elsewhere.com"})
	got := map[string]json.RawMessage{}
	last := func() json.RawMessage { rs := h.slack.Responses(); return json.RawMessage(rs[len(rs)-1].Blocks) }
	lastIn := func(ms []slackfake.Message, contains string) json.RawMessage {
		for i := len(ms) - 1; i >= 0; i-- {
			if strings.Contains(messageText(ms[i]), contains) {
				return ms[i].Blocks
			}
		}
		t.Fatalf("no message containing %q", contains)
		return nil
	}

	inc, ch := h.openIncident("Checkout failing")
	h.click(stranger, h.summary(ch.ID), workflows.ActIncidentResolve, inc.ID)
	got["refusal_incident_resolve"] = last()
	h.send(h.slack.BlockAction(testSecret, slackfake.Click{User: dev, Channel: ch.ID, MessageTS: h.summary(ch.ID).TS,
		ActionID: workflows.ActNagSnooze, Value: inc.ID + " update 366d", Forge: true}))
	got["refusal_snooze_too_long"] = last()
	h.incidentCmd(dev, ch.ID, "add <@"+helper+"|helper>")
	got["reply_incident_added"] = last()
	h.drain()
	got["incident_added"] = lastIn(h.slack.Messages(ch.ID), "Added to "+inc.ID)
	h.click(dev2, h.summary(ch.ID), workflows.ActIncidentResolve, inc.ID)
	got["refusal_incident_no_pagerduty_user"] = last()
	h.pd.FailNext("GET /users", 503, 5)
	h.click(dev2, h.summary(ch.ID), workflows.ActIncidentResolve, inc.ID)
	h.drain()
	got["incident_pagerduty_refused"] = lastIn(h.slack.Messages(ch.ID), "PagerDuty refused it")
	h.incidentCmd(dev, ch.ID, "cancel the alert was a test")
	got["reply_incident_cancelled"] = last()
	h.drain()
	got["incident_cancelled"] = lastIn(h.slack.Messages(ch.ID), "is cancelled")
	got["incident_announcement_cancelled"] = lastIn(h.channelMessages("incidents"), "cancelled")
	got["incident_summary_cancelled"] = h.summary(ch.ID).Blocks

	for i := range 6 {
		h.clock.Advance(time.Second)
		if _, err := h.pd.Trigger(pdService, fmt.Sprintf("Disk full on node %d", i)); err != nil {
			t.Fatal(err)
		}
		h.drain() // one at a time: the message is the same at every run
	}
	// Events run in any order: the parent is whichever incident was newest.
	parent := h.incident(h.incident("inc-7").LinkedTo)
	got["incident_linked"] = lastIn(h.slack.Messages(parent.ChannelID), "Alert storm")

	for i := range 6 {
		h.incidentCmd(stranger, "general", fmt.Sprintf("declare Thing %d", i))
	}
	got["refusal_declare_limit"] = last()
	h.incidentCmd(dev, "general", "declare x sev0")
	got["refusal_declare_unknown_severity"] = last()
	compareGolden(t, got)
}
