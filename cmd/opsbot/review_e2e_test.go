package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// lastReply is the blocks of the last ephemeral answer.
func (h *harness) lastReplyBlocks() json.RawMessage {
	rs := h.slack.Responses()
	return json.RawMessage(rs[len(rs)-1].Blocks)
}

// TestIncidentStats_FiguresAndRefusals runs incidents through PagerDuty
// and Slack, then asks /incident stats as a member, an outsider and with
// bad input.
func TestIncidentStats_FiguresAndRefusals(t *testing.T) {
	h := newHarness(t)
	// inc-1: paged, acknowledged in PagerDuty after 6 minutes, resolved from Slack after an hour.
	in1, err := h.pd.Trigger(pdService, "Checkout 5xx above 2%")
	if err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.advance(6 * time.Minute)
	if err := h.pd.Acknowledge(in1.ID, "PUONCALL"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.advance(54 * time.Minute)
	h.incidentCmd(dev, "general", "status inc-1 resolved")
	h.drain()
	// inc-2: declared from Slack (sev1), acknowledged after 2 minutes, resolved after 3 hours.
	h.advance(2 * time.Hour)
	h.incidentCmd(dev, "general", "declare Payments queue stuck sev1")
	h.drain()
	inc2 := h.incident("inc-2")
	h.advance(2 * time.Minute)
	if err := h.pd.Acknowledge(inc2.PDIncidentID, "PUONCALL"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.advance(3*time.Hour - 2*time.Minute)
	h.incidentCmd(dev, "general", "status inc-2 resolved")
	h.drain()
	h.incidentCmd(dev, "general", "action inc-2 Alert on queue age <@U0DEV> due 2026-11-23")
	// inc-3: still open.
	h.incidentCmd(dev2, "general", "declare Search is slow sev3")
	h.drain()
	h.advance(7 * 24 * time.Hour) // post-mortems past due, the action item overdue

	got := map[string]json.RawMessage{}
	text := h.incidentCmd(dev, "general", "stats")
	for _, want := range []string{"Incidents of platform, last 30 days", "3 incidents", "time to acknowledge median 2m, p90 6m",
		"time to resolve median 1h, p90 3h", "sev1: 1", "Platform API: 3", "0 done · 2 overdue", "1 open (1 overdue)"} {
		if !strings.Contains(text, want) {
			t.Errorf("stats lack %q:\n%s", want, text)
		}
	}
	got["reply_incident_stats"] = h.lastReplyBlocks()

	if text := h.incidentCmd(analyst, "general", "stats platform 7d"); !strings.Contains(text, "Only members of platform and opsbot's admins") {
		t.Errorf("another team's member saw platform's figures: %s", text)
	}
	if text := h.incidentCmd(stranger, "general", "stats"); !strings.Contains(text, "You are in no team") || !strings.Contains(text, "/incident stats [TEAM] [30d]") {
		t.Errorf("someone in no team: %s", text)
	}
	text = h.incidentCmd(dev, "general", "stats nosuchteam")
	if !strings.Contains(text, `There is no team "nosuchteam"`) || !strings.Contains(text, "Usage: /incident stats [TEAM] [30d]") {
		t.Errorf("unknown team: %s", text)
	}
	got["reply_stats_unknown_team"] = h.lastReplyBlocks()
	if text := h.incidentCmd(dev, "general", "stats platform 400d"); !strings.Contains(text, "is not a window") || !strings.Contains(text, "Usage: /incident stats") {
		t.Errorf("bad window: %s", text)
	}
	if text := h.incidentCmd(dev, "general", "stats data 7d"); !strings.Contains(text, "Only members of data") {
		t.Errorf("platform member asking for data: %s", text)
	}
	if text := h.incidentCmd(dev, "general", "stats PLATFORM 1d"); !strings.Contains(text, "No incidents in this window") {
		t.Errorf("a quiet day: %s", text)
	}
	checkGolden(t, got)
}
