package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

// A run of an Update that is rolled back and run again (PostgreSQL's
// serialization failures; here every write is rehearsed: run, rolled
// back, run again) takes the same human IDs again: on PostgreSQL the
// rehearsal's numbers were lost (inc-2, inc-4, inc-6). A run that asks
// for fewer numbers than the one before leaves the rest unused, and no
// number is ever handed out twice.
func TestNextID_RunAgainTakesTheSameNumbers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		db, err := Open(context.Background(), e.fresh(t), WithRehearsedWrites())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		ctx := context.Background()
		var got []string
		for range 3 {
			err := db.Update(ctx, func(tx workflows.Tx) error {
				inc, err := tx.NextID("inc")
				if err != nil {
					return err
				}
				srv, err := tx.NextID("srv")
				got = append(got, inc, srv)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		// Each Update appended twice (rehearsal, real run): the real runs'.
		real := []string{got[2], got[3], got[6], got[7], got[10], got[11]}
		if want := []string{"inc-1", "srv-1", "inc-2", "srv-2", "inc-3", "srv-3"}; !slices.Equal(real, want) {
			t.Fatalf("IDs %v, want %v (all runs: %v)", real, want, got)
		}
		// The rehearsal takes two numbers, the real run one: the second
		// is not used, and never handed out again.
		runs := 0
		var kept string
		err = db.Update(ctx, func(tx workflows.Tx) error {
			runs++
			a, err := tx.NextID("inc")
			if err != nil {
				return err
			}
			if runs == 1 {
				_, err = tx.NextID("inc")
			}
			kept = a
			return err
		})
		if err != nil || kept != "inc-4" {
			t.Fatalf("fewer numbers on the run again: %q, %v; want inc-4", kept, err)
		}
		var next string
		if err := db.Update(ctx, func(tx workflows.Tx) (err error) { next, err = tx.NextID("inc"); return err }); err != nil {
			t.Fatal(err)
		}
		if next == "inc-4" || (e.name == "postgres" && next != "inc-6") || (e.name == "sqlite" && next != "inc-5") {
			t.Fatalf("after a run that left a number unused: %s", next)
		}
	})
}

// Two replicas open incidents at once, each transaction looking its
// PagerDuty incident up first, as a storm's trigger events do: PostgreSQL
// aborts some of them (the lookups and the new rows share index pages)
// and the store runs them again, and still the numbers are inc-1 to
// inc-N, none lost.
func TestNextID_RacingReplicasKeepNumbersDense(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		a, b := twoReplicas(t, e)
		const n = 40
		var wg sync.WaitGroup
		for i := range n {
			db := a
			if i%2 == 1 {
				db = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				pd := fmt.Sprintf("QRACE%03d", i)
				err := db.Update(context.Background(), func(tx workflows.Tx) error {
					if _, err := tx.IncidentByPagerDuty(pd); err == nil {
						return nil
					}
					id, err := tx.NextID("inc")
					if err != nil {
						return err
					}
					return tx.CreateIncident(&workflows.Incident{ID: id, Title: "race", Severity: workflows.Sev3, Status: workflows.StatusInvestigating,
						Team: "platform", PDIncidentID: pd, PDService: "PRACE", CreatedAt: t0})
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		var ids []string
		if err := a.View(context.Background(), func(tx workflows.Tx) error {
			incs, err := tx.Incidents(workflows.IncidentFilter{})
			for _, inc := range incs {
				ids = append(ids, inc.ID)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d transactions run again", e.name, a.Retries()+b.Retries())
		if len(ids) != n {
			t.Fatalf("%d incidents, want %d", len(ids), n)
		}
		for i := 1; i <= n; i++ {
			if !slices.Contains(ids, fmt.Sprintf("inc-%d", i)) {
				t.Fatalf("inc-%d missing: %v", i, ids)
			}
		}
	})
}
