package main

import (
	"testing"
)

// On SQLite a PagerDuty event answered waits in the intake journal, not
// yet a job in the database, until the journal is moved (behind the
// answer, or before RunDue); with OPSBOT_INTAKE_JOURNAL=false it is a
// job in the database when answered, as on PostgreSQL.
func TestIntakeJournal_OnByDefaultOnSQLiteOffWhenSetSo(t *testing.T) {
	pending := `opsbot_jobs_queued{kind="incident.pd-event",state="pending"}`
	for _, off := range []bool{false, true} {
		h := newUnbootedHarness(t)
		h.noJournal = off
		h.boot()
		if (h.app.Journal == nil) != off {
			t.Fatalf("OPSBOT_INTAKE_JOURNAL off=%v: journal %v", off, h.app.Journal)
		}
		if _, err := h.pd.Trigger(pdService, "DB latency above 2s"); err != nil {
			t.Fatal(err)
		}
		queued, _ := sample(h.scrape(), pending)
		if off {
			if queued != 1 {
				t.Errorf("journal off: %v events queued when answered, want 1", queued)
			}
		} else {
			if queued != 0 || h.app.Journal.Waiting() != 1 {
				t.Errorf("journal on: %v queued and %d in the journal when answered, want 0 and 1", queued, h.app.Journal.Waiting())
			}
			if w, _ := sample(h.scrape(), "opsbot_intake_journal_waiting"); w != 1 {
				t.Errorf("opsbot_intake_journal_waiting = %v, want 1", w)
			}
		}
		h.drain()
		if incs := h.incidentChannels(); len(incs) != 1 {
			t.Errorf("off=%v: %d incident channels after the runner ran, want 1", off, len(incs))
		}
		if !off && h.app.Journal.Waiting() != 0 {
			t.Errorf("%d still in the journal after RunDue", h.app.Journal.Waiting())
		}
	}
}
