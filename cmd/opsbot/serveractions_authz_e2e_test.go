package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/actions"
)

// actionsPolicy gives the standard policy an actions section: members may
// diagnose, and a snapshot needs an approver.
func actionsPolicy(cfg string) string {
	return strings.Replace(cfg, "    lifecycle: {default_lease: 1d,", "    actions: {members: [diagnose], need_approver: [snapshot]}\n    lifecycle: {default_lease: 1d,", 1)
}

// TestServerActions_Authorization presses each action as each kind of
// person, through Slack (forged clicks for people who never saw the
// button), and checks what ran and what was refused, with the reason.
func TestServerActions_Authorization(t *testing.T) {
	h := newEditedHarness(t, actionsPolicy)
	mine := h.launched("test-small for 2d")         // dev's
	h.ops(lead, "server request test-small for 1d") // the approver's own
	h.settle()
	leads := h.requests()[1]
	now := h.clock.Now()
	button := func(srv string, a workflows.ServerAction) string { return actions.ButtonValue(srv, a, now) }

	cases := []struct {
		name   string
		user   string
		server string
		action workflows.ServerAction
		want   string // in the answer
		ran    bool   // queued at once
	}{
		{"owner reboots", dev, mine.ID, workflows.ActionReboot, "is under way", true},
		{"same-team member diagnoses", dev2, mine.ID, workflows.ActionDiagnose, "is under way", true},
		{"same-team member may not reboot", dev2, mine.ID, workflows.ActionStop, "lets members run only diagnose", false},
		{"other team's member", analyst, mine.ID, workflows.ActionDiagnose, "belongs to team platform, and you are in team data", false},
		{"user absent from config", stranger, mine.ID, workflows.ActionReboot, "You are not in any team in opsbot's config", false},
		{"admin in no team", admin, mine.ID, workflows.ActionReboot, "is under way", true},
		{"owner's snapshot waits for an approver", dev, mine.ID, workflows.ActionSnapshot, "needs one of team platform's approvers", false},
		{"approver's own snapshot waits for another approver", lead, leads.ID, workflows.ActionSnapshot, "needs one of team platform's approvers", false},
		{"unknown server", dev, "srv-404", workflows.ActionReboot, "There is no server", false},
	}
	for _, c := range cases {
		before := len(h.slack.Responses())
		h.forge(c.user, workflows.ActServerAction, button(c.server, c.action))
		rs := h.slack.Responses()
		if len(rs) == before {
			t.Errorf("%s: no answer", c.name)
			continue
		}
		got := responseText(rs[len(rs)-1])
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: answer %q, want %q", c.name, got, c.want)
		}
		h.drain()
	}
	if n := h.ec2.Reboots(mine.Instance.ID); n != 2 {
		t.Errorf("reboots = %d, want 2 (the owner's and the admin's)", n)
	}
	log := h.audit(mine.ID)
	mustContain(t, "refusals audited", log, "U0DEV2 <dev2@example.com> action.refuse", "action.refuse You are not in any team", "action.refuse srv-1 belongs to team platform")

	// The approvals: nobody decides what they asked for or their own
	// server; a double click decides once.
	approvals := h.channelMessages("platform-approvals")
	find := func(srv string) slackfake.Message {
		for _, m := range approvals {
			if strings.Contains(messageText(m), srv+": Snapshot disk needs an approver") {
				return m
			}
		}
		t.Fatalf("no approval message for %s", srv)
		return slackfake.Message{}
	}
	devsOp, leadsOp := find(mine.ID), find(leads.ID)
	h.click(dev, devsOp, workflows.ActOpApprove, "op-4")
	mustContain(t, "asker approves", h.lastResponse(), "Only team platform's approvers decide")
	h.click(lead, leadsOp, workflows.ActOpApprove, "op-5")
	mustContain(t, "approver approves own", h.lastResponse(), "You asked for op-5 yourself")
	h.click(lead2, leadsOp, workflows.ActOpApprove, "op-5")
	mustContain(t, "another approver", h.lastResponse(), "You approved op-5")
	h.click(lead, devsOp, workflows.ActOpApprove, "op-4")
	mustContain(t, "approver approves", h.lastResponse(), "You approved op-4")
	h.forge(lead2, workflows.ActOpDeny, "op-4")
	mustContain(t, "double decision", h.lastResponse(), "op-4 was queued already")
	h.drain()
	if n := len(h.ec2.Snapshots()); n != 2 {
		t.Fatalf("snapshots = %d, want 2", n)
	}

	// A replay of a signed click (same request delivered twice) acts once.
	_, view := h.showServer(dev, mine.ID)
	req, err := h.slack.BlockAction(testSecret, slackfake.Click{User: dev, Channel: view.Channel, MessageTS: view.TS,
		ActionID: workflows.ActServerAction, Value: actions.ButtonValue(mine.ID, workflows.ActionReboot, h.clock.Now()), Forge: true})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	for range 2 {
		again, _ := http.NewRequest(req.Method, req.URL.String(), bytes.NewReader(body))
		again.Header = req.Header.Clone()
		h.send(again, nil)
	}
	h.drain()
	if n := h.ec2.Reboots(mine.Instance.ID); n != 3 {
		t.Errorf("reboots after a replayed click = %d, want 3", n)
	}
}
