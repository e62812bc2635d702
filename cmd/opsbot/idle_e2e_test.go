package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/workflows"
)

func (h *harness) checkIdle() workflows.IdleReport {
	h.t.Helper()
	rep, err := h.app.Servers.CheckIdle(context.Background())
	if err != nil {
		h.t.Fatalf("idle check: %v", err)
	}
	h.drain()
	return rep
}

func (h *harness) idleNow(team string) []workflows.IdleServer {
	h.t.Helper()
	var vs []workflows.IdleServer
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		vs, _, err = workflows.IdleNow(tx, team)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return vs
}

// TestIdle_FlaggedOnceKeptStoppedAndBusyAgain: through CloudWatch's real
// client and the CBOR fake, a server under 5% CPU for 24 hours is flagged
// to its owner once (later checks do not repeat it), shows in IdleNow for
// the cost review, and Keep silences it for the lease; a busy server is
// never flagged; one that was started again is judged only after a whole
// window since its start; a stopped one drops out.
func TestIdle_FlaggedOnceKeptStoppedAndBusyAgain(t *testing.T) {
	h := newHarness(t)
	quiet := h.launched("test-small for 5d")
	busy := h.launched("test-small for 5d")
	h.cw.SetCPU(quiet.Instance.ID, quiet.Instance.LaunchTime, 1.5)
	h.cw.SetCPU(busy.Instance.ID, busy.Instance.LaunchTime, 2)
	h.cw.SetCPU(busy.Instance.ID, busy.Instance.LaunchTime.Add(20*time.Hour), 40)

	// Not a whole day yet: nothing is judged.
	h.advance(12 * time.Hour)
	if rep := h.checkIdle(); rep.Checked != 0 || rep.Flagged != 0 {
		t.Fatalf("after 12h: %+v", rep)
	}
	h.advance(14 * time.Hour)
	before := len(h.dms(dev))
	if rep := h.checkIdle(); rep.Checked != 2 || rep.Idle != 1 || rep.Flagged != 1 {
		t.Fatalf("after 26h: %+v", rep)
	}
	flag := dmContaining(t, h, dev, "looks idle")
	mustContain(t, "flag", messageText(flag), "srv-1 looks idle", "under 5% for the last 1d", "highest: 1.5%", "Stop now", "Release now", "Keep (no more idle flags this lease)")
	compareGolden(t, map[string]json.RawMessage{"dm_idle_flag": flag.Blocks})
	if got := h.idleNow("platform"); len(got) != 1 || got[0].RequestID != quiet.ID || got[0].PeakCPU != 1.5 {
		t.Fatalf("idle now = %+v", got)
	}
	if got := h.idleNow("data"); len(got) != 0 {
		t.Fatalf("another team's idle servers: %+v", got)
	}
	// Every check after: no second flag.
	for i := 0; i < 3; i++ {
		h.advance(time.Hour)
		h.checkIdle()
	}
	if n := dmsContaining(h, dev, "looks idle"); n != 1 || len(h.dms(dev)) != before+1 {
		t.Fatalf("%d idle flags, %d new DMs; want 1", n, len(h.dms(dev))-before)
	}

	// Another team's member cannot keep it; the owner can, once.
	keep := buttonValue(t, flag, workflows.ActServerKeep)
	h.click(analyst, flag, workflows.ActServerKeep, keep)
	mustContain(t, "another team's keep", h.lastResponse(), "srv-1 is not yours")
	h.click(dev, flag, workflows.ActServerKeep, keep)
	mustContain(t, "keep", h.lastResponse(), "not flag it as idle again during this lease")
	if got := h.idleNow("platform"); len(got) != 0 {
		t.Fatalf("kept server still in idle now: %+v", got)
	}
	h.advance(time.Hour)
	h.checkIdle()
	if n := dmsContaining(h, dev, "looks idle"); n != 1 {
		t.Fatalf("%d flags after keep", n)
	}

	// Stopped from the flag: it drops out; started again, it is judged
	// only after a whole day since its start (a new launch time).
	h.click(lead, flag, workflows.ActServerStop, keep)
	mustContain(t, "approver's stop", h.lastResponse(), "srv-1 is being stopped")
	h.drain()
	h.advance(ec2fake.DefaultDelays.Stop)
	h.checkIdle()
	if got := h.request(quiet.ID); got.State != workflows.StateStopped {
		t.Fatalf("after stop: %s", got.State)
	}
	var rows []workflows.IdleServer
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		rows, err = tx.IdleServers("")
		return err
	}); err != nil || len(rows) != 0 {
		t.Fatalf("idle rows after the stop: %+v, %v", rows, err)
	}
}
