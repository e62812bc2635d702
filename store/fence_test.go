package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// A worker whose lease ran out and whose job was claimed again, by
// another worker or by itself, holds nothing: its Done, Retry, Bury and
// Renew change nothing and say ErrLeaseLost; the claim that holds the
// job keeps it, lease and all.
func TestFence_StaleClaimChangesNothing(t *testing.T) {
	forEachDB(t, testFence_StaleClaimChangesNothing)
}

func testFence_StaleClaimChangesNothing(t *testing.T, db *DB) {
	ctx := context.Background()
	enqueue(t, db, workflows.Job{Kind: "dm", Key: "dm:U1", Payload: "hello", RunAt: t0})
	stale := claim(t, db, t0, "a", 1)[0]
	late := t0.Add(lease + time.Second)
	for _, owner := range []string{"b", "a"} { // the other replica, then a itself again
		t.Run("reclaimed by "+owner, func(t *testing.T) {
			cur := claim(t, db, late, owner, 1)
			if len(cur) != 1 || cur[0].ID != stale.ID || cur[0].Token == stale.Token {
				t.Fatalf("reclaim = %+v, want job %d under a new token", cur, stale.ID)
			}
			live := cur[0]
			for name, call := range map[string]func() error{
				"Done":  func() error { return db.Done(ctx, stale, late) },
				"Retry": func() error { return db.Retry(ctx, stale, late, "slack down") },
				"Bury":  func() error { return db.Bury(ctx, stale, late, "gave up") },
				"Renew": func() error { return db.Renew(ctx, stale, late.Add(time.Hour)) },
			} {
				if err := call(); !errors.Is(err, workflows.ErrLeaseLost) {
					t.Errorf("stale %s = %v, want ErrLeaseLost", name, err)
				}
			}
			// Still running under the live claim, with its own lease: no
			// one else can claim it before that lease ends.
			if js := claim(t, db, late.Add(lease-time.Nanosecond), "c", 1); len(js) != 0 {
				t.Fatalf("claimed under a live lease after stale calls: %+v", js)
			}
			if n := count(t, db, "jobs"); n != 1 {
				t.Fatalf("%d jobs, want the one", n)
			}
			stale = live
			late = late.Add(lease + time.Second)
		})
	}
	if err := db.Done(ctx, stale, late); err != nil {
		t.Fatalf("Done by the live claim: %v", err)
	}
	if n := count(t, db, "jobs"); n != 0 {
		t.Fatalf("%d jobs after Done, want 0", n)
	}
}

// Renew keeps a job from being claimed past its first lease, and the
// claim that renewed it still finishes it.
func TestFence_RenewedLeaseIsNotReclaimed(t *testing.T) {
	forEachDB(t, testFence_RenewedLeaseIsNotReclaimed)
}

func testFence_RenewedLeaseIsNotReclaimed(t *testing.T, db *DB) {
	ctx := context.Background()
	enqueue(t, db, workflows.Job{Kind: "create_channel", Payload: "inc-1", RunAt: t0})
	j := claim(t, db, t0, "a", 1)[0]
	if err := db.Renew(ctx, j, t0.Add(lease+time.Minute)); err != nil {
		t.Fatal(err)
	}
	if js := claim(t, db, t0.Add(lease+time.Second), "b", 1); len(js) != 0 {
		t.Fatalf("claimed a renewed job: %+v", js)
	}
	if js := claim(t, db, t0.Add(lease+time.Minute+time.Nanosecond), "b", 1); len(js) != 1 {
		t.Fatalf("not claimed after the renewed lease ran out: %+v", js)
	}
}
