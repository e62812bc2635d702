package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// TestTakeToken_SharedByReplicas: three handles on one database (three
// replicas) taking slots of one bucket at once get distinct slots, one
// interval apart after the burst, as one process would; a Retry-After
// recorded through one holds back the others.
func TestTakeToken_SharedByReplicas(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		dsn := e.fresh(t)
		dbs := []*DB{openDSN(t, dsn), openDSN(t, dsn), openDSN(t, dsn)}
		ctx := context.Background()
		every, burst := time.Second, 3
		const per = 10
		var mu sync.Mutex
		var ats []time.Time
		var wg sync.WaitGroup
		for _, db := range dbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					at, ok, err := db.TakeToken(ctx, "conversations.create", every, burst, t0, t0.Add(time.Hour))
					if err != nil || !ok {
						t.Errorf("take: %v %v", ok, err)
						return
					}
					mu.Lock()
					ats = append(ats, at)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		seen := map[time.Time]int{}
		for _, at := range ats {
			seen[at]++
		}
		// 30 slots: three at t0 (the burst), then one a second to t0+27s.
		if seen[t0] != burst || len(seen) != 3*per-burst+1 {
			t.Fatalf("slots: %d at t0, %d distinct: %v", seen[t0], len(seen), seen)
		}
		for i := 1; i <= 3*per-burst; i++ {
			if seen[t0.Add(time.Duration(i)*every)] != 1 {
				t.Fatalf("slot %ds taken %d times", i, seen[t0.Add(time.Duration(i)*every)])
			}
		}
		// Beyond the horizon nothing is taken.
		at, ok, err := dbs[1].TakeToken(ctx, "conversations.create", every, burst, t0, t0.Add(time.Second))
		if err != nil || ok || !at.Equal(t0.Add(28*time.Second)) {
			t.Fatalf("beyond horizon: %v %v %v", at, ok, err)
		}
		// A 429 seen by replica 0 holds back replica 2 on another key.
		until := t0.Add(5 * time.Minute)
		if err := dbs[0].HoldOff(ctx, "pins.add", until, every, burst); err != nil {
			t.Fatal(err)
		}
		if next, err := dbs[2].NextToken(ctx, "pins.add", every, burst, t0); err != nil || !next.Equal(until) {
			t.Fatalf("next after another replica's 429: %v %v", next, err)
		}
		if at, ok, err := dbs[2].TakeToken(ctx, "pins.add", every, burst, t0, t0.Add(time.Minute)); err != nil || ok || !at.Equal(until) {
			t.Fatalf("take during another replica's Retry-After: %v %v %v", at, ok, err)
		}
		if next, err := dbs[2].NextToken(ctx, "users.info", every, burst, t0); err != nil || !next.Equal(t0) {
			t.Fatalf("untouched key: %v %v", next, err)
		}
		// Idle buckets are forgotten; busy ones are kept.
		n, err := dbs[1].ForgetIdleBuckets(ctx, t0.Add(time.Minute))
		if err != nil || n != 1 { // users.info has no row; conversations.create is idle by then
			t.Fatalf("forgot %d: %v", n, err)
		}
		if next, _ := dbs[0].NextToken(ctx, "pins.add", every, burst, t0); !next.Equal(until) {
			t.Fatal("a blocked bucket was forgotten")
		}
	})
}

// A job a rate limit held back goes back to wait without an attempt
// counted, under its claim only: a claim that lost the job changes
// nothing.
func TestDefer_KeepsAttemptsAndNeedsTheClaim(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		enqueue(t, db, workflows.Job{Kind: "k", Payload: "p", RunAt: t0})
		j := claim(t, db, t0, "a", 1)[0]
		stale := j
		stale.Token++
		if err := db.Defer(ctx, stale, t0.Add(time.Minute), "", "held back"); !errors.Is(err, workflows.ErrLeaseLost) {
			t.Fatalf("defer under another claim: %v", err)
		}
		if err := db.Defer(ctx, j, t0.Add(time.Minute), "conversations.create", "held back"); err != nil {
			t.Fatal(err)
		}
		if js := claim(t, db, t0.Add(59*time.Second), "b", 1); len(js) != 0 {
			t.Fatalf("claimed before its time: %+v", js)
		}
		js := claim(t, db, t0.Add(time.Minute), "b", 1)
		if len(js) != 1 || js[0].Attempts != 0 || js[0].LastError != "held back" || !js[0].Deferred || js[0].Slot != "conversations.create" {
			t.Fatalf("after the deferral: %+v", js)
		}
	})
}
