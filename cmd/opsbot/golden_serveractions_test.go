package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// TestGolden_ServerActions renders every message of the server actions:
// the server with its buttons, the answers to a press, the DM and its
// thread, the approvers' message, and the refusals.
func TestGolden_ServerActions(t *testing.T) {
	h := newEditedHarness(t, actionsPolicy)
	got := map[string]json.RawMessage{}
	last := func(user string) json.RawMessage {
		es := h.slack.Ephemerals(user)
		return es[len(es)-1].Blocks
	}
	lastDM := func(user, contains string) slackfake.Message {
		ms := h.dms(user)
		for i := len(ms) - 1; i >= 0; i-- {
			if strings.Contains(messageText(ms[i]), contains) {
				return ms[i]
			}
		}
		t.Fatalf("no DM to %s containing %q", user, contains)
		return slackfake.Message{}
	}
	r := h.launched("test-small for 2d")
	h.ec2.SetConsole(r.Instance.ID, "boot ok\n<!channel> *not bold* `x`\nlogin: ")
	_, view := h.showServer(dev, r.ID)
	got["actions_view_owner"] = view.Blocks
	h.ops(dev2, "server "+r.ID)
	got["actions_view_member"] = last(dev2)

	h.press(dev, view, r.ID+" reboot")
	got["actions_reply_queued"] = last(dev)
	h.drain()
	got["actions_dm_rebooted"] = lastDM(dev, "rebooted").Blocks
	h.press(dev, view, r.ID+" reboot")
	got["actions_refused_double_click"] = last(dev)

	for i, pct := range []float64{3, 7.5, 22, 41, 60, 88, 97, 52, 18, 9, 4, 2} {
		h.cw.SetCPU(r.Instance.ID, h.clock.Now().Add(time.Duration(i-12)*5*time.Minute+3*time.Minute), pct)
	}
	h.clock.Advance(3 * time.Minute)
	h.press(dev, view, r.ID+" diagnose")
	h.drain()
	parent := lastDM(dev, "diagnosis")
	got["actions_dm_diagnosis"] = parent.Blocks
	thread := h.slack.Thread(parent.Channel, parent.TS)
	got["actions_thread_diagnosis"] = thread[len(thread)-1].Blocks

	h.press(dev, view, r.ID+" snapshot")
	got["actions_reply_needs_approver"] = last(dev)
	h.drain()
	approval := lastMessageWith(t, h.channelMessages("platform-approvals"), "needs an approver")
	got["actions_approval_pending"] = approval
	msgs := h.channelMessages("platform-approvals")
	h.click(lead, msgs[len(msgs)-1], workflows.ActOpApprove, "op-3")
	h.drain()
	got["actions_approval_approved"] = h.channelMessages("platform-approvals")[len(msgs)-1].Blocks
	got["actions_dm_snapshot"] = lastDM(dev, "snapshot started").Blocks
	_, view = h.showServer(dev, r.ID)
	got["actions_view_with_snapshot"] = view.Blocks

	h.forge(analyst, workflows.ActServerAction, r.ID+" reboot "+itoa(h.clock.Now().Unix()))
	got["actions_refused_other_team"] = last(analyst)
	h.forge(stranger, workflows.ActServerAction, r.ID+" reboot "+itoa(h.clock.Now().Unix()))
	got["actions_refused_not_in_config"] = last(stranger)
	h.ops(analyst, "server "+r.ID)
	got["actions_view_refused"] = last(analyst)
	h.forge(dev2, workflows.ActServerAction, r.ID+" stop "+itoa(h.clock.Now().Unix()))
	got["actions_refused_member"] = last(dev2)
	h.press(dev, view, r.ID+" stop")
	h.drain()
	got["dm_lease_stopped_by_action"] = lastDM(dev, "stopped it").Blocks
	h.ops(dev, "server srv-1 reboot")
	got["actions_usage"] = last(dev)
	compareGolden(t, got)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestGolden_Audit renders /ops audit's answers.
func TestGolden_Audit(t *testing.T) {
	h := newHarness(t)
	got := map[string]json.RawMessage{}
	last := func(user string) json.RawMessage {
		es := h.slack.Ephemerals(user)
		return es[len(es)-1].Blocks
	}
	h.launched("test-small for 1d smoke <!channel>")
	h.ops(dev, "lease extend srv-1 1d needs *more* time")
	h.drain()
	h.ops(lead, "audit srv-1")
	got["audit_server"] = last(lead)
	h.ops(dev, "audit srv-1")
	got["audit_refused"] = last(dev)
	h.ops(lead, "audit srv-1 2d 3d")
	got["audit_usage"] = last(lead)
	h.ops(lead, "audit srv-1 2020-01-01")
	h.ops(admin, "audit data")
	got["audit_empty"] = last(admin)
	compareGolden(t, got)
}
