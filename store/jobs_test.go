package store

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

const lease = 2 * time.Minute

func enqueue(tb testing.TB, db *DB, jobs ...workflows.Job) {
	tb.Helper()
	update(tb, db, func(tx workflows.Tx) error {
		for _, j := range jobs {
			if err := tx.Enqueue(j); err != nil {
				return err
			}
		}
		return nil
	})
}

func claim(tb testing.TB, db *DB, now time.Time, owner string, limit int) []workflows.Job {
	tb.Helper()
	js, err := db.Claim(context.Background(), now, owner, lease, limit)
	if err != nil {
		tb.Fatalf("claim: %v", err)
	}
	return js
}

func payloads(js []workflows.Job) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.Payload)
	}
	return out
}

func TestClaim_DueJobsOldestFirst(t *testing.T) { forEachDB(t, testClaim_DueJobsOldestFirst) }

func testClaim_DueJobsOldestFirst(t *testing.T, db *DB) {
	enqueue(t, db,
		workflows.Job{Kind: "post", Payload: "b", RunAt: t0.Add(time.Second)},
		workflows.Job{Kind: "post", Payload: "a", RunAt: t0},
		workflows.Job{Kind: "post", Payload: "later", RunAt: t0.Add(time.Hour)},
		workflows.Job{Kind: "post", Payload: "c", RunAt: t0.Add(2 * time.Second)},
	)
	now := t0.Add(time.Minute)
	got := claim(t, db, now, "w1", 2)
	want := []workflows.Job{{Kind: "post", Payload: "a", RunAt: t0}, {Kind: "post", Payload: "b", RunAt: t0.Add(time.Second)}}
	for i := range want {
		if i < len(got) {
			want[i].ID = got[i].ID
		}
		want[i].Owner, want[i].Token = "w1", 1 // each job's first claim
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("claimed %+v, want %+v", got, want)
	}
	second := claim(t, db, now, "w2", 10)
	if p := payloads(second); !reflect.DeepEqual(p, []string{"c"}) {
		t.Fatalf("second claim = %v, want [c]: claimed jobs must not be handed out again", p)
	}
	if p := claim(t, db, now, "w2", 10); len(p) != 0 {
		t.Fatalf("third claim = %v, want nothing", payloads(p))
	}
	for _, j := range append(got, second...) {
		if err := db.Done(context.Background(), j, now); err != nil {
			t.Fatal(err)
		}
	}
	if p := payloads(claim(t, db, t0.Add(time.Hour), "w2", 10)); !reflect.DeepEqual(p, []string{"later"}) {
		t.Fatalf("claim an hour later = %v, want [later]", p)
	}
}

func TestClaim_ExpiredLeaseIsReclaimedAndCounted(t *testing.T) {
	forEachDB(t, testClaim_ExpiredLeaseIsReclaimedAndCounted)
}

func testClaim_ExpiredLeaseIsReclaimedAndCounted(t *testing.T, db *DB) {
	enqueue(t, db, workflows.Job{Kind: "launch", Key: "launch:srv-1", Payload: "srv-1", RunAt: t0})
	first := claim(t, db, t0, "w1", 1)
	if len(first) != 1 || first[0].Attempts != 0 {
		t.Fatalf("first claim = %+v", first)
	}
	if js := claim(t, db, t0.Add(lease), "w2", 1); len(js) != 0 {
		t.Fatalf("claimed while the lease still holds: %+v", js)
	}
	again := claim(t, db, t0.Add(lease+time.Nanosecond), "w2", 1)
	if len(again) != 1 || again[0].ID != first[0].ID {
		t.Fatalf("after the lease ran out claim = %+v, want job %d again", again, first[0].ID)
	}
	if again[0].Attempts != 1 || !strings.Contains(again[0].LastError, "w1") {
		t.Fatalf("reclaimed job = attempts %d, error %q; want the lost attempt counted", again[0].Attempts, again[0].LastError)
	}
}

func TestEnqueue_ReplacesWaitingJobWithSameKey(t *testing.T) {
	forEachDB(t, testEnqueue_ReplacesWaitingJobWithSameKey)
}

func testEnqueue_ReplacesWaitingJobWithSameKey(t *testing.T, db *DB) {
	enqueue(t, db, workflows.Job{Kind: "post", Key: "msg:apr-1", Payload: "v1", RunAt: t0})
	// It fails once, so it has attempts and an error.
	j := claim(t, db, t0, "w1", 1)[0]
	if err := db.Retry(context.Background(), j, t0.Add(time.Hour), "slack down"); err != nil {
		t.Fatal(err)
	}
	enqueue(t, db, workflows.Job{Kind: "update", Key: "msg:apr-1", Payload: "v2", RunAt: t0.Add(time.Minute)})
	enqueue(t, db, workflows.Job{Kind: "post", Payload: "no key 1", RunAt: t0.Add(time.Hour)},
		workflows.Job{Kind: "post", Payload: "no key 2", RunAt: t0.Add(time.Hour)})
	if n := count(t, db, "jobs"); n != 3 {
		t.Fatalf("%d jobs, want 3: same key replaced, no key never", n)
	}
	got := claim(t, db, t0.Add(time.Minute), "w1", 10)
	want := []workflows.Job{{ID: j.ID, Kind: "update", Key: "msg:apr-1", Payload: "v2", RunAt: t0.Add(time.Minute), Owner: "w1", Token: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("claimed %+v, want %+v (replaced, attempts reset)", got, want)
	}
}

func TestEnqueue_SameKeyWhileRunningWaitsBeside(t *testing.T) {
	forEachDB(t, testEnqueue_SameKeyWhileRunningWaitsBeside)
}

func testEnqueue_SameKeyWhileRunningWaitsBeside(t *testing.T, db *DB) {
	ctx := context.Background()
	enqueue(t, db, workflows.Job{Kind: "post", Key: "k", Payload: "v1", RunAt: t0})
	running := claim(t, db, t0, "w1", 1)[0]
	enqueue(t, db, workflows.Job{Kind: "post", Key: "k", Payload: "v2", RunAt: t0},
		workflows.Job{Kind: "post", Key: "other", Payload: "o", RunAt: t0})
	if n := count(t, db, "jobs"); n != 3 {
		t.Fatalf("%d jobs, want 3: the running job is not replaced", n)
	}
	// v2 waits while v1 runs under a live lease.
	if p := payloads(claim(t, db, t0.Add(time.Second), "w2", 10)); !reflect.DeepEqual(p, []string{"o"}) {
		t.Fatalf("claim while k runs = %v, want [o]", p)
	}
	if err := db.Done(ctx, running, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if p := payloads(claim(t, db, t0.Add(2*time.Second), "w2", 10)); !reflect.DeepEqual(p, []string{"v2"}) {
		t.Fatalf("claim after k finished = %v, want [v2]", p)
	}
}

func TestClaim_OneJobPerKeyWhenLeaseRanOut(t *testing.T) {
	forEachDB(t, testClaim_OneJobPerKeyWhenLeaseRanOut)
}

func testClaim_OneJobPerKeyWhenLeaseRanOut(t *testing.T, db *DB) {
	enqueue(t, db, workflows.Job{Kind: "post", Key: "k", Payload: "v1", RunAt: t0})
	claim(t, db, t0, "w1", 1)
	enqueue(t, db, workflows.Job{Kind: "post", Key: "k", Payload: "v2", RunAt: t0.Add(time.Second)})
	later := t0.Add(time.Hour) // w1's lease ran out: both v1 and v2 are due
	if p := payloads(claim(t, db, later, "w2", 10)); !reflect.DeepEqual(p, []string{"v1"}) {
		t.Fatalf("claim = %v, want only [v1]: one job per key at a time", p)
	}
	if p := claim(t, db, later, "w3", 10); len(p) != 0 {
		t.Fatalf("claim while v1 runs again = %v, want nothing", payloads(p))
	}
}

func TestRetry_WaitsUntilRunAt(t *testing.T) { forEachDB(t, testRetry_WaitsUntilRunAt) }

func testRetry_WaitsUntilRunAt(t *testing.T, db *DB) {
	ctx := context.Background()
	enqueue(t, db, workflows.Job{Kind: "launch", Payload: "srv-1", RunAt: t0})
	j := claim(t, db, t0, "w1", 1)[0]
	retryAt := t0.Add(workflows.Backoff(1))
	if err := db.Retry(ctx, j, retryAt, "RequestLimitExceeded"); err != nil {
		t.Fatal(err)
	}
	if js := claim(t, db, retryAt.Add(-time.Nanosecond), "w1", 1); len(js) != 0 {
		t.Fatalf("claimed before its retry time: %+v", js)
	}
	got := claim(t, db, retryAt, "w1", 1)
	want := []workflows.Job{{ID: j.ID, Kind: "launch", Payload: "srv-1", RunAt: retryAt, Attempts: 1, LastError: "RequestLimitExceeded",
		Owner: "w1", Token: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("claimed %+v, want %+v", got, want)
	}
	if err := db.Retry(ctx, workflows.Job{ID: 999, Owner: "w1", Token: 1}, retryAt, "x"); !errors.Is(err, workflows.ErrLeaseLost) {
		t.Fatalf("Retry(unknown) = %v, want ErrLeaseLost", err)
	}
}

func TestRetry_SupersededByNewerWaitingJob(t *testing.T) {
	forEachDB(t, testRetry_SupersededByNewerWaitingJob)
}

func testRetry_SupersededByNewerWaitingJob(t *testing.T, db *DB) {
	enqueue(t, db, workflows.Job{Kind: "post", Key: "k", Payload: "v1", RunAt: t0})
	old := claim(t, db, t0, "w1", 1)[0]
	enqueue(t, db, workflows.Job{Kind: "post", Key: "k", Payload: "v2", RunAt: t0})
	if err := db.Retry(context.Background(), old, t0.Add(time.Minute), "boom"); err != nil {
		t.Fatal(err)
	}
	if p := payloads(claim(t, db, t0.Add(time.Hour), "w1", 10)); !reflect.DeepEqual(p, []string{"v2"}) {
		t.Fatalf("claim = %v, want [v2] alone", p)
	}
}

func TestBury_KeepsJobForPeople(t *testing.T) { forEachDB(t, testBury_KeepsJobForPeople) }

func testBury_KeepsJobForPeople(t *testing.T, db *DB) {
	ctx := context.Background()
	enqueue(t, db, workflows.Job{Kind: "launch", Key: "launch:srv-1", Payload: "srv-1", RunAt: t0})
	j := claim(t, db, t0, "w1", 1)[0]
	if err := db.Bury(ctx, j, t0.Add(time.Second), "InvalidAMIID.NotFound"); err != nil {
		t.Fatal(err)
	}
	if js := claim(t, db, t0.Add(24*time.Hour), "w1", 10); len(js) != 0 {
		t.Fatalf("claimed a buried job: %+v", js)
	}
	dead, err := db.DeadJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []DeadJob{{Job: workflows.Job{ID: j.ID, Kind: "launch", Key: "launch:srv-1", Payload: "srv-1", RunAt: t0,
		Attempts: 1, LastError: "InvalidAMIID.NotFound"}, DiedAt: t0.Add(time.Second)}}
	if !reflect.DeepEqual(dead, want) {
		t.Fatalf("dead jobs = %+v, want %+v", dead, want)
	}
	// A dead job does not hold its key.
	enqueue(t, db, workflows.Job{Kind: "launch", Key: "launch:srv-1", Payload: "again", RunAt: t0})
	if p := payloads(claim(t, db, t0.Add(time.Minute), "w1", 10)); !reflect.DeepEqual(p, []string{"again"}) {
		t.Fatalf("claim after bury = %v, want [again]", p)
	}
	if err := db.Bury(ctx, j, t0, "x"); err == nil {
		t.Fatal("burying a dead job again succeeded")
	}
}

func TestDone_NeverClaimedAgainAndFreesKey(t *testing.T) {
	forEachDB(t, testDone_NeverClaimedAgainAndFreesKey)
}

func testDone_NeverClaimedAgainAndFreesKey(t *testing.T, db *DB) {
	ctx := context.Background()
	enqueue(t, db, workflows.Job{Kind: "stop", Key: "stop:srv-1", Payload: "srv-1", RunAt: t0})
	j := claim(t, db, t0, "w1", 1)[0]
	if err := db.Done(ctx, j, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if js := claim(t, db, t0.Add(24*time.Hour), "w1", 10); len(js) != 0 {
		t.Fatalf("claimed a done job (even after its lease would have run out): %+v", js)
	}
	if err := db.Done(ctx, j, t0.Add(2*time.Second)); !errors.Is(err, workflows.ErrLeaseLost) {
		t.Fatalf("Done twice = %v, want ErrLeaseLost: the claim holds nothing any more", err)
	}
	enqueue(t, db, workflows.Job{Kind: "stop", Key: "stop:srv-1", Payload: "next", RunAt: t0})
	if p := payloads(claim(t, db, t0.Add(time.Minute), "w1", 10)); !reflect.DeepEqual(p, []string{"next"}) {
		t.Fatalf("claim after done = %v, want [next]", p)
	}
}

func TestClaim_ConcurrentWorkersNeverShareAJob(t *testing.T) {
	forEachDB(t, testClaim_ConcurrentWorkersNeverShareAJob)
}

func testClaim_ConcurrentWorkersNeverShareAJob(t *testing.T, db *DB) {
	var jobs []workflows.Job
	for i := 0; i < 200; i++ {
		jobs = append(jobs, workflows.Job{Kind: "post", Payload: "p", RunAt: t0.Add(time.Duration(i))})
	}
	enqueue(t, db, jobs...)
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		owner := string(rune('a' + w))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				js, err := db.Claim(context.Background(), t0.Add(time.Second), owner, lease, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(js) == 0 {
					return
				}
				mu.Lock()
				for _, j := range js {
					if prev, ok := seen[j.ID]; ok {
						t.Errorf("job %d claimed by %s and %s", j.ID, prev, owner)
					}
					seen[j.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 200 {
		t.Fatalf("%d jobs claimed, want 200", len(seen))
	}
}

// The Runner from workflows, driven by a manual clock over this store:
// a failing job is retried with backoff, then succeeds once.
func TestRunner_OverStore(t *testing.T) { forEachDB(t, testRunner_OverStore) }

func testRunner_OverStore(t *testing.T, db *DB) {
	clock := workflows.NewManualClock(t0)
	enqueue(t, db, workflows.Job{Kind: "launch", Key: "launch:srv-1", Payload: "srv-1", RunAt: t0})
	calls := 0
	r := &workflows.Runner{
		Queue: db, Clock: clock, Log: discardLogger(), Owner: "test",
		Handlers: map[string]workflows.JobHandler{"launch": func(ctx context.Context, j workflows.Job) error {
			calls++
			if calls == 1 {
				return errors.New("throttled")
			}
			return nil
		}},
	}
	ctx := context.Background()
	if n, err := r.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("first run = %d, %v", n, err)
	}
	if n, _ := r.RunDue(ctx); n != 0 {
		t.Fatalf("ran again before the backoff: %d", n)
	}
	clock.Advance(workflows.Backoff(1))
	if n, err := r.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("run after backoff = %d, %v", n, err)
	}
	if calls != 2 || count(t, db, "jobs") != 0 {
		t.Fatalf("calls = %d, jobs left = %d; want 2 and 0", calls, count(t, db, "jobs"))
	}
}

// A job whose payload its kind cannot read is refused when queued, and
// the transaction that queued it keeps nothing.
func TestEnqueue_RefusesMalformedPayload(t *testing.T) {
	forEachDB(t, testEnqueue_RefusesMalformedPayload)
}

func testEnqueue_RefusesMalformedPayload(t *testing.T, db *DB) {
	err := db.Update(context.Background(), func(tx workflows.Tx) error {
		if err := tx.Audit(workflows.AuditEntry{At: t0, Actor: "opsbot", Action: "x", Subject: "srv-1"}); err != nil {
			return err
		}
		return tx.Enqueue(workflows.Job{Kind: workflows.JobEnd, Key: "server.end:srv-1", Payload: "", RunAt: t0})
	})
	if err == nil || !strings.Contains(err.Error(), "srv-N stop|terminate") {
		t.Fatalf("enqueue of an empty end job: %v, want a refusal naming the shape", err)
	}
	if n := count(t, db, "jobs"); n != 0 {
		t.Fatalf("%d jobs queued, want 0", n)
	}
	if n := count(t, db, "audit"); n != 0 {
		t.Fatalf("%d audit entries kept, want 0", n)
	}
}
