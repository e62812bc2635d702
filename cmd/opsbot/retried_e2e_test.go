package main

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

// TestRetriedTransactions_CountWhatCommittedOnce: PostgreSQL runs a
// write transaction again after a serialization failure, so what a
// transaction's closure hands out (a count, a flag) must be set afresh on
// each run. With every write rehearsed (run, rolled back, run again, as
// a retry does: store.WithRehearsedWrites), the tick reports, the
// pruned-key count and the whole server workflow count each thing once.
func TestRetriedTransactions_CountWhatCommittedOnce(t *testing.T) {
	h := newUnbootedHarness(t)
	h.storeOpts = []store.Option{store.WithRehearsedWrites()}
	h.boot()
	ctx := context.Background()
	tick := func() workflows.TickReport {
		t.Helper()
		rep, err := h.app.Servers.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h.drain()
		return rep
	}
	r := h.launched("test-small for 2h")
	if r.State != workflows.StateRunning {
		t.Fatalf("%s is %s", r.ID, r.State)
	}
	// A launch over the auto-approval limit waits for an approver.
	h.ops(dev, "server request huge for 1d")
	h.drain()
	if h.db == "" || h.app.DB.Retries() == 0 {
		t.Fatal("no write was rehearsed")
	}
	// An incident whose update nag falls due.
	h.incidentCmd(dev, "general", "declare Search down sev1")
	h.drain()
	h.clock.Advance(30 * time.Minute)
	if rep, err := h.app.Incidents.Tick(ctx); err != nil || rep.Sent != 1 {
		t.Errorf("nag tick: %+v (%v), want one nag sent", rep, err)
	}
	h.drain()
	if got := h.updateNags(h.incidentChannels()[0].ID); len(got) != 1 {
		t.Errorf("%d update nags posted, want 1", len(got))
	}
	h.clock.Advance(31 * time.Minute) // 59 minutes left: the 1h warning
	if rep := tick(); rep != (workflows.TickReport{Warnings: 1}) {
		t.Errorf("tick at the warning: %+v, want one warning", rep)
	}
	if n := len(h.dms(dev)); n == 0 {
		t.Error("no warning DM")
	}
	h.clock.Advance(3 * time.Hour) // past the end and its 30m grace; 4h after the approval was asked
	if rep := tick(); rep != (workflows.TickReport{Ends: 1, Reminders: 1}) {
		t.Errorf("tick past the end and the reminder period: %+v, want one end and one reminder", rep)
	}
	h.clock.Advance(48 * time.Hour)
	if rep := tick(); rep != (workflows.TickReport{Expired: 1}) {
		t.Errorf("tick past the approval's expiry: %+v, want one expiry", rep)
	}

	// The Slack request keys older than a day, as the hourly prune sees them.
	raw, err := sql.Open("sqlite", h.db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var keys int64
	if err := raw.QueryRow(`SELECT COUNT(*) FROM sent WHERE sent_key LIKE 'slack-%'`).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if keys == 0 {
		t.Fatal("no Slack request keys recorded")
	}
	n, err := workflows.PruneIntake(ctx, h.app.DB, h.clock.Now())
	if err != nil || n != keys {
		t.Errorf("pruned %d keys (%v), want %d", n, err, keys)
	}
}
