package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// TestStoppedServer_NewMessageStartAgainAndRelease: at the stop that ends
// a lease the owner gets a new DM with Start again and Release; the old
// warning's Extend answers with the way forward; Start again is a new
// request through the normal path, for the owner only; Home shows the
// same buttons. Before, the owner only saw the old DM edited, and Extend
// answered that only running servers can be extended.
func TestStoppedServer_NewMessageStartAgainAndRelease(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.advance(r.LeaseEnd.Sub(h.clock.Now()) - time.Hour)
	warning := h.dms(dev)[len(h.dms(dev))-1]
	mustContain(t, "warning", messageText(warning), "lease ends in 1h", "Extend 1 day")
	before := len(h.dms(dev))

	h.advance(time.Hour + 31*time.Minute)
	if got := h.request(r.ID); got.State != workflows.StateStopped {
		t.Fatalf("state %s, want stopped", got.State)
	}
	dms := h.dms(dev)
	if len(dms) != before+1 {
		t.Fatalf("%d new DMs at the stop, want one", len(dms)-before)
	}
	stopped := dms[len(dms)-1]
	mustContain(t, "stopped DM", messageText(stopped), "srv-1's lease ended", "is stopped", "Start again", "Release now", "Release srv-1?")

	// The old warning's Extend button: the way forward, not a dead end.
	extendValue := buttonValue(t, warning, workflows.ActLeaseExtend)
	h.click(dev, warning, workflows.ActLeaseExtend, extendValue)
	mustContain(t, "extend on a stopped server", h.lastResponse(), "srv-1 is stopped", "Start again", "Release")
	rs := h.slack.Responses()
	compareGolden(t, map[string]json.RawMessage{"dm_lease_stopped": stopped.Blocks, "reply_extend_stopped": rs[len(rs)-1].Blocks})

	// Home shows the same buttons for the stopped server.
	h.send(h.slack.AppHomeOpened(testSecret, dev))
	h.drain()
	var home string
	for _, v := range h.slack.Views(dev) {
		if v.Type == "home" {
			home = blockText(v.JSON)
		}
	}
	mustContain(t, "home", home, "srv-1", "stopped", "Start again", "Release now")

	// Only the owner starts it again, and only a stopped server.
	h.click(lead, stopped, workflows.ActStartAgain, r.ID)
	mustContain(t, "approver's start again", h.lastResponse(), "Only srv-1's owner")
	h.click(dev, stopped, workflows.ActStartAgain, r.ID)
	mustContain(t, "start again", h.lastResponse(), "srv-2 approved")
	h.settle()
	again := h.request("srv-2")
	if again.Template != r.Template || again.Duration != r.Duration || again.State != workflows.StateRunning || !strings.Contains(again.Reason, "after srv-1") {
		t.Fatalf("started again as %+v", again)
	}

	// Release from the stopped message terminates it.
	h.click(dev, stopped, workflows.ActLeaseRelease, r.ID)
	h.drain()
	if got := h.request(r.ID); got.State != workflows.StateTerminated {
		t.Fatalf("after release: %s", got.State)
	}
	h.click(dev, stopped, workflows.ActStartAgain, r.ID)
	mustContain(t, "start again after release", h.lastResponse(), "only a stopped server can be started again")
}
