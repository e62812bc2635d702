package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
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

func TestTakeIn_OneKeyEach(t *testing.T) { forEachDB(t, testTakeInOneKeyEach) }

// A batch of PagerDuty events (one key each, jobs without keys), which
// PostgreSQL takes in by one statement, ends as any other batch: the
// fresh ones' jobs queued in arrival order with their fields, a replay's
// and a job-less arrival's not.
func testTakeInOneKeyEach(t *testing.T, db *DB) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	if err := db.Update(ctx, func(tx workflows.Tx) error {
		_, err := tx.MarkSent("pd-event:P2", now)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	event := func(id string, job bool) workflows.Arrival {
		a := workflows.Arrival{At: now, Seen: []string{"pd-event:" + id}}
		if job {
			a.Job = &workflows.Job{Kind: "test.event", Payload: `{"id":"` + id + `"}`, RunAt: now.Add(time.Second), Trace: "00-trace-" + id}
		}
		return a
	}
	var fresh []bool
	if err := db.Update(ctx, func(tx workflows.Tx) (err error) {
		fresh, err = tx.TakeIn([]workflows.Arrival{event("P1", true), event("P2", true), event("P3", false), event("P4", true)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true, true}; !slices.Equal(fresh, want) {
		t.Fatalf("fresh %v, want %v", fresh, want)
	}
	jobs, err := db.Claim(ctx, now.Add(time.Minute), "w", time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range jobs {
		got = append(got, j.Payload)
		if j.Kind != "test.event" || j.Key != "" || !j.RunAt.Equal(now.Add(time.Second)) || j.Trace != "00-trace-"+j.Payload[7:9] {
			t.Fatalf("job %+v", j)
		}
	}
	if want := []string{`{"id":"P1"}`, `{"id":"P4"}`}; !slices.Equal(got, want) {
		t.Fatalf("queued %q, want %q in arrival order", got, want)
	}
	// Redelivered in a later batch: nothing new.
	if err := db.Update(ctx, func(tx workflows.Tx) (err error) {
		fresh, err = tx.TakeIn([]workflows.Arrival{event("P1", true), event("P3", true)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if fresh[0] || fresh[1] {
		t.Fatalf("redeliveries taken as fresh: %v", fresh)
	}
}

func TestTakeIn_TwoReplicasTakeEachKeyInOnce(t *testing.T) {
	forEachEngine(t, testTakeInTwoReplicas)
}

// Two replicas taking in the same events at once, in opposite orders
// and in batches that overlap differently (a PagerDuty retry reaching
// the other replica, a storm behind a load balancer): each event is
// fresh for exactly one of them and queued once, no take-in fails, and
// none is run again after a deadlock (keys are inserted in one order).
func testTakeInTwoReplicas(t *testing.T, e engine) {
	a, b := twoReplicas(t, e)
	ctx := context.Background()
	const n = 480
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("pd-event:Q%05d", i)
	}
	arrival := func(k string) workflows.Arrival {
		return workflows.Arrival{At: t0, Seen: []string{k}, Job: &workflows.Job{Kind: "test.event", Payload: `{"k":"` + k + `"}`, RunAt: t0}}
	}
	take := func(db *DB, order []string, size int, fresh map[string]int, errs *[]error) {
		for len(order) > 0 {
			m := min(size, len(order))
			batch := make([]workflows.Arrival, m)
			for i, k := range order[:m] {
				batch[i] = arrival(k)
			}
			got, err := db.TakeIn(ctx, batch)
			if err != nil {
				*errs = append(*errs, err)
			}
			for i, f := range got {
				if f {
					fresh[order[i]]++
				}
			}
			order = order[m:]
		}
	}
	reversed := slices.Clone(keys)
	slices.Reverse(reversed)
	freshA, freshB := map[string]int{}, map[string]int{}
	var errsA, errsB []error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); take(a, keys, 16, freshA, &errsA) }()
	go func() { defer wg.Done(); take(b, reversed, 24, freshB, &errsB) }()
	wg.Wait()
	if len(errsA)+len(errsB) > 0 {
		t.Fatalf("take-ins failed: %v %v", errsA, errsB)
	}
	for _, k := range keys {
		if freshA[k]+freshB[k] != 1 {
			t.Fatalf("%s fresh %d times on replica A and %d on B; want once in all", k, freshA[k], freshB[k])
		}
	}
	jobs, err := a.Claim(ctx, t0.Add(time.Minute), "w", time.Minute, 2*n)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != n {
		t.Fatalf("%d jobs queued for %d events", len(jobs), n)
	}
	if r := a.Retries() + b.Retries(); r != 0 {
		t.Fatalf("%d take-ins run again after a conflict; want none", r)
	}
}
