package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func hold(t *testing.T, db *DB, holder string, now time.Time) bool {
	t.Helper()
	ok, err := db.HoldLease(context.Background(), "scheduler", holder, now, now.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// One holder at a time: the holder renews, others are refused until it
// expires or is released, and then exactly one of them takes it.
func TestHoldLease_OneHolderUntilExpiryOrRelease(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		a, b := twoReplicas(t, e)
		if !hold(t, a, "a", t0) {
			t.Fatal("a did not get a free lease")
		}
		if hold(t, b, "b", t0.Add(time.Second)) {
			t.Fatal("b took a live lease")
		}
		if !hold(t, a, "a", t0.Add(20*time.Second)) { // renewed: now to t0+50s
			t.Fatal("a could not renew")
		}
		if hold(t, b, "b", t0.Add(40*time.Second)) {
			t.Fatal("b took a renewed lease before it ran out")
		}
		if !hold(t, b, "b", t0.Add(50*time.Second)) {
			t.Fatal("b did not take the lease once a's ran out")
		}
		if hold(t, a, "a", t0.Add(51*time.Second)) {
			t.Fatal("a took back a lease b holds")
		}
		if err := b.ReleaseLease(context.Background(), "scheduler", "b"); err != nil {
			t.Fatal(err)
		}
		if !hold(t, a, "a", t0.Add(52*time.Second)) {
			t.Fatal("a did not get a released lease")
		}
	})
}

// Replicas campaigning at the same instant for an expired lease: one wins.
func TestHoldLease_RacingCampaignsOneWinner(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		a, b := twoReplicas(t, e)
		hold(t, a, "old", t0)
		for round := 1; round <= 5; round++ {
			now := t0.Add(time.Duration(round) * time.Minute) // every earlier lease has run out
			var mu sync.Mutex
			var winners []string
			var wg sync.WaitGroup
			for i := 0; i < 6; i++ {
				db, holder := []*DB{a, b}[i%2], fmt.Sprintf("r%d-%d", round, i)
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := db.HoldLease(context.Background(), "scheduler", holder, now, now.Add(30*time.Second))
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						mu.Lock()
						winners = append(winners, holder)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(winners) != 1 {
				t.Fatalf("round %d: winners %v, want one", round, winners)
			}
		}
	})
}
