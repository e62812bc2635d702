package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// showServer types `/ops server ID` as user and returns the answer and
// the ephemeral message it came in, to press its buttons.
func (h *harness) showServer(user, id string) (string, slackfake.Ephemeral) {
	h.t.Helper()
	text := h.ops(user, "server "+id)
	es := h.slack.Ephemerals(user)
	if len(es) == 0 {
		h.t.Fatalf("no answer to /ops server %s for %s", id, user)
	}
	return text, es[len(es)-1]
}

// forge sends a click on a button user never saw (a replayed or edited
// payload), from under the newest message opsbot answered them with.
func (h *harness) forge(user, actionID, value string) {
	h.t.Helper()
	h.ops(user, "help")
	es := h.slack.Ephemerals(user)
	e := es[len(es)-1]
	h.send(h.slack.BlockAction(testSecret, slackfake.Click{User: user, Channel: e.Channel, MessageTS: e.TS, ActionID: actionID, Value: value, Forge: true}))
}

// press clicks the button whose value starts with prefix on an ephemeral
// message; ok is false when there is no such button.
func (h *harness) press(user string, e slackfake.Ephemeral, prefix string) (value string, ok bool) {
	h.t.Helper()
	var blocks []struct {
		Elements []map[string]any `json:"elements"`
	}
	_ = json.Unmarshal(e.Blocks, &blocks)
	for _, b := range blocks {
		for _, el := range b.Elements {
			v, _ := el["value"].(string)
			if strings.HasPrefix(v, prefix) {
				h.send(h.slack.BlockAction(testSecret, slackfake.Click{User: user, Channel: e.Channel, MessageTS: e.TS,
					ActionID: el["action_id"].(string), Value: v}))
				return v, true
			}
		}
	}
	return "", false
}

func (h *harness) audit(subject string) string {
	h.t.Helper()
	es, err := h.app.DB.AuditLog(context.Background(), subject)
	if err != nil {
		h.t.Fatal(err)
	}
	var lines []string
	for _, e := range es {
		lines = append(lines, e.Actor+" "+e.Action+" "+e.Reason+" "+e.Detail)
	}
	return strings.Join(lines, "\n")
}

// TestServerActions_RebootSnapshotDiagnoseStopStart drives every action
// through Slack, the store and the real EC2 client against the fake.
func TestServerActions_RebootSnapshotDiagnoseStopStart(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d smoke")
	text, view := h.showServer(dev, r.ID)
	mustContain(t, "view", text, r.ID+" (test-small) is running", "Stop", "Reboot", "Snapshot disk", "Diagnose")
	if strings.Contains(text, "Start") {
		t.Errorf("a running server offers Start:\n%s", text)
	}

	// Reboot, then the same button again: one reboot.
	if _, ok := h.press(dev, view, r.ID+" reboot"); !ok {
		t.Fatal("no Reboot button")
	}
	mustContain(t, "reboot reply", h.lastResponse(), "reboot of "+r.ID+" is under way (op-1)")
	h.drain()
	if n := h.ec2.Reboots(r.Instance.ID); n != 1 {
		t.Fatalf("reboots = %d, want 1", n)
	}
	h.press(dev, view, r.ID+" reboot")
	mustContain(t, "double click", h.lastResponse(), "pressed already")
	h.drain()
	if n := h.ec2.Reboots(r.Instance.ID); n != 1 {
		t.Fatalf("a double click rebooted again: %d reboots", n)
	}
	mustContain(t, "reboot DM", messageText(h.dms(dev)[len(h.dms(dev))-1]), r.ID+": rebooted", "op-1")

	// Diagnose: the checks and the console in a thread under the DM.
	h.ec2.SetImpaired(r.Instance.ID, true)
	// CPU through the CloudWatch port: busy for the last 20 minutes.
	h.cw.SetCPU(r.Instance.ID, h.clock.Now().Add(-2*time.Hour), 12.5)
	h.cw.SetCPU(r.Instance.ID, h.clock.Now().Add(-17*time.Minute), 85)
	h.clock.Advance(3 * time.Minute)
	_, view = h.showServer(dev, r.ID)
	h.press(dev, view, r.ID+" diagnose")
	h.drain()
	var parent slackfake.Message
	for _, m := range h.dms(dev) {
		if strings.Contains(messageText(m), r.ID+": diagnosis") {
			parent = m
		}
	}
	if parent.TS == "" {
		t.Fatalf("no diagnosis DM: %v", h.dms(dev))
	}
	mustContain(t, "diagnosis", messageText(parent), "instance impaired", "failed: instance reachability")
	thread := h.slack.Thread(parent.Channel, parent.TS)
	if len(thread) < 2 {
		t.Fatalf("no thread under the diagnosis: %d", len(thread))
	}
	mustContain(t, "diagnosis thread", messageText(thread[len(thread)-1]), "Instance status check: impaired", "login:", "Reached target Reboot", "CPU over the last hour (5-minute maxima): ", "min 12.5%", "max 85.0%")

	// Snapshot: tagged, listed, released with the server unless kept.
	h.press(dev, view, r.ID+" snapshot")
	h.drain()
	snaps := h.ec2.Snapshots()
	if len(snaps) != 1 || snaps[0].Tags["opsbot:request"] != r.ID || snaps[0].Tags["opsbot:managed"] != "true" || snaps[0].VolumeID == "" {
		t.Fatalf("snapshots = %+v", snaps)
	}
	text, view = h.showServer(dev, r.ID)
	mustContain(t, "snapshots listed", text, snaps[0].ID, "Keep "+snaps[0].ID)

	// Stop, then Start within the lease.
	h.press(dev, view, r.ID+" stop")
	h.drain()
	if got := h.request(r.ID).State; got != workflows.StateStopped {
		t.Fatalf("after Stop: %s", got)
	}
	h.advance(time.Minute)
	text, view = h.showServer(dev, r.ID)
	if h.app.Actions.Starter == nil {
		if strings.Contains(text, "Start") {
			t.Errorf("Start offered without a Starter")
		}
	} else {
		h.press(dev, view, r.ID+" start")
		h.settle()
		if got := h.request(r.ID).State; got != workflows.StateRunning {
			t.Fatalf("after Start: %s", got)
		}
	}
	mustContain(t, "audit", h.audit(r.ID), "action.reboot", "ec2.reboot", "action.refuse", "ec2.diagnose", "ec2.snapshot", "ec2.stop")

	// Release: the snapshot that was not kept goes with the server.
	h.ops(dev, "lease release "+r.ID)
	h.settle()
	if s := h.ec2.Snapshots(); len(s) != 0 {
		t.Fatalf("snapshot not released with the server: %+v", s)
	}
	mustContain(t, "audit", h.audit(r.ID), "ec2.snapshot.delete")
}

// TestServerActions_KeptSnapshotOutlivesItsServer: Keep marks a snapshot
// to stay when the server is released.
func TestServerActions_KeptSnapshotOutlivesItsServer(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	_, view := h.showServer(dev, r.ID)
	h.press(dev, view, r.ID+" snapshot")
	h.drain()
	_, view = h.showServer(dev, r.ID)
	snap := h.ec2.Snapshots()[0].ID
	h.forge(analyst, workflows.ActSnapshotKeep, snap) // not theirs to keep
	mustContain(t, "other team keeps", h.lastResponse(), "Only "+r.ID+"'s owner")
	if _, ok := h.press(dev, view, snap); !ok {
		t.Fatal("no Keep button")
	}
	mustContain(t, "keep reply", h.lastResponse(), snap+" will be kept")
	h.ops(dev, "lease release "+r.ID)
	h.settle()
	if s := h.ec2.Snapshots(); len(s) != 1 {
		t.Fatalf("a kept snapshot was deleted: %+v", s)
	}
}

// TestServerActions_DryRunChangesNothing: in dry-run mode EC2 checks each
// change and opsbot reports it; the server stays as it is.
func TestServerActions_DryRunChangesNothing(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	h.dry = true
	h.restart()
	_, view := h.showServer(dev, r.ID)
	h.press(dev, view, r.ID+" stop")
	h.press(dev, view, r.ID+" reboot")
	h.drain()
	if got := h.request(r.ID).State; got != workflows.StateRunning {
		t.Fatalf("dry-run stop changed the state: %s", got)
	}
	if n := h.ec2.Reboots(r.Instance.ID); n != 0 {
		t.Fatalf("dry-run rebooted: %d", n)
	}
	dm := messageText(h.dms(dev)[len(h.dms(dev))-1])
	mustContain(t, "dry-run DM", dm, "checked (dry run)", "nothing was changed")
	mustContain(t, "audit", h.audit(r.ID), "ec2.stop.dryrun", "ec2.reboot.dryrun")
}

// TestServerActions_NotOursIsNotTouched: an instance whose tags no longer
// match opsbot's records is not rebooted.
func TestServerActions_NotOursIsNotTouched(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	c := h.adminEC2()
	if _, err := c.CreateTags(context.Background(), &ec2.CreateTagsInput{Resources: []string{r.Instance.ID},
		Tags: []types.Tag{{Key: aws.String("opsbot:request"), Value: aws.String("srv-999")}}}); err != nil {
		t.Fatal(err)
	}
	_, view := h.showServer(dev, r.ID)
	h.press(dev, view, r.ID+" reboot")
	h.drain()
	if n := h.ec2.Reboots(r.Instance.ID); n != 0 {
		t.Fatalf("rebooted an instance that is not opsbot's: %d", n)
	}
	mustContain(t, "refusal DM", messageText(h.dms(dev)[len(h.dms(dev))-1]), "reboot failed", "does not match opsbot's records")
	mustContain(t, "audit", h.audit(r.ID), "ec2.refuse")
}
