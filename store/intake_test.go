package store

import (
	"context"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestTakeIn(t *testing.T) { forEachDB(t, testTakeIn) }

// TakeIn de-duplicates within a batch and against earlier ones, queues
// the fresh arrivals' jobs only, replaces a waiting job with the same
// key, and cancels only waiting jobs.
func testTakeIn(t *testing.T, db *DB) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	job := func(key, payload string) *workflows.Job {
		return &workflows.Job{Kind: "test.intake", Key: key, Payload: payload, RunAt: now}
	}
	take := func(as ...workflows.Arrival) []bool {
		t.Helper()
		var fresh []bool
		err := db.Update(ctx, func(tx workflows.Tx) (err error) {
			fresh, err = tx.TakeIn(as)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	if err := db.Update(ctx, func(tx workflows.Tx) error {
		_, err := tx.MarkSent("seen-before", now)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got := take(
		workflows.Arrival{At: now, Seen: []string{"a"}, Job: job("", "first a")},
		workflows.Arrival{At: now, Seen: []string{"b", "seen-before"}, Job: job("", "b, a replay")},
		workflows.Arrival{At: now, Seen: []string{"a"}, Job: job("", "a again in the same batch")},
		workflows.Arrival{At: now, Seen: []string{"c"}, Job: job("k", "c keyed")},
		workflows.Arrival{At: now, Seen: []string{"d"}, Job: job("k", "d replaces c's waiting job")},
		workflows.Arrival{At: now, Seen: []string{"e"}, Job: job("running", "e runs")},
	)
	want := []bool{true, false, false, true, true, true}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fresh %v, want %v", got, want)
		}
	}
	// A replay in a later batch, and the key a refused arrival brought
	// along is recorded all the same.
	if got := take(workflows.Arrival{At: now, Seen: []string{"a"}}, workflows.Arrival{At: now, Seen: []string{"b"}}); got[0] || got[1] {
		t.Fatalf("replays taken as fresh: %v", got)
	}
	jobs, err := db.Claim(ctx, now, "w", time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	payloads := map[string]bool{}
	for _, j := range jobs {
		payloads[j.Payload] = true
	}
	if len(jobs) != 3 || !payloads["first a"] || !payloads["d replaces c's waiting job"] || !payloads["e runs"] {
		t.Fatalf("queued %v", payloads)
	}
	// Cancelling: a waiting job goes, a running one stays.
	take(workflows.Arrival{At: now, Seen: []string{"f"}, Job: job("waiting", "f")})
	take(workflows.Arrival{At: now, Cancel: "waiting"}, workflows.Arrival{At: now, Cancel: "running"}, workflows.Arrival{At: now, Cancel: "nothing"})
	more, err := db.Claim(ctx, now, "w2", time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(more) != 0 {
		t.Fatalf("a cancelled job was still claimed: %+v", more)
	}
	for _, j := range jobs {
		if err := db.Done(ctx, j, now); err != nil && j.Key == "running" {
			t.Fatalf("the running job was cancelled: %v", err)
		}
	}
}
