package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// batchWorld is a runner whose "event" jobs are worked in batches (each
// a transaction that takes its jobs and records what it did) and, one by
// one, by a single handler that records the same.
type batchWorld struct {
	db      *DB
	runner  *workflows.Runner
	mu      sync.Mutex
	batches []int    // size of each batch that committed
	singles []string // payloads run alone
}

func newBatchWorld(t *testing.T, db *DB, clock workflows.Clock, poison string) *batchWorld {
	w := &batchWorld{db: db}
	do := func(tx workflows.Tx, payload string) error {
		if payload == poison {
			return errors.New("cannot do " + payload)
		}
		_, err := tx.MarkSent("done:"+payload, clock.Now())
		return err
	}
	w.runner = &workflows.Runner{Queue: db, Clock: clock, Log: quietLog(), Owner: "a", Concurrency: 4, BatchSize: 8,
		Handlers: map[string]workflows.JobHandler{
			"event": func(ctx context.Context, j workflows.Job) error {
				err := db.Update(ctx, func(tx workflows.Tx) error { return do(tx, j.Payload) })
				if err == nil {
					w.mu.Lock()
					w.singles = append(w.singles, j.Payload)
					w.mu.Unlock()
				}
				return err
			},
			"other": func(ctx context.Context, j workflows.Job) error { return nil },
		},
		Batches: map[string]workflows.BatchHandler{
			"event": func(ctx context.Context, now time.Time, limit int) (int, error) {
				var n int
				err := db.Update(ctx, func(tx workflows.Tx) error {
					jobs, err := tx.TakeDueJobs("event", now, limit)
					if err != nil {
						return err
					}
					n = len(jobs)
					for _, j := range jobs {
						if err := do(tx, j.Payload); err != nil {
							return err
						}
					}
					return nil
				})
				if err == nil && n > 0 {
					w.mu.Lock()
					w.batches = append(w.batches, n)
					w.mu.Unlock()
				}
				return n, err
			},
		}}
	return w
}

// done lists the payloads recorded as done, sorted.
func (w *batchWorld) done(t *testing.T, payloads []string) []string {
	t.Helper()
	var out []string
	view(t, w.db, func(tx workflows.Tx) error {
		for _, p := range payloads {
			ok, err := tx.Sent("done:" + p)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, p)
			}
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func events(n int, at time.Time) ([]workflows.Job, []string) {
	var jobs []workflows.Job
	var payloads []string
	for i := range n {
		p := fmt.Sprintf("ev-%02d", i)
		payloads = append(payloads, p)
		jobs = append(jobs, workflows.Job{Kind: "event", Payload: p, RunAt: at.Add(time.Duration(i))})
	}
	return jobs, payloads
}

func TestBatches_WorkAQueueOfEventsManyToATransaction(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		clock := workflows.NewManualClock(t0.Add(time.Minute))
		jobs, payloads := events(20, t0)
		enqueue(t, db, jobs...)
		enqueue(t, db, workflows.Job{Kind: "event", Payload: "later", RunAt: t0.Add(time.Hour)}) // not due
		w := newBatchWorld(t, db, clock, "")
		n, err := w.runner.RunDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n != 20 {
			t.Errorf("ran %d jobs, want 20", n)
		}
		if got := w.done(t, payloads); len(got) != 20 {
			t.Errorf("%d of 20 events done: %v", len(got), got)
		}
		if fmt.Sprint(w.batches) != "[8 8 4]" || len(w.singles) != 0 {
			t.Errorf("batches %v and %d run alone, want [8 8 4] and none", w.batches, len(w.singles))
		}
		if left := claim(t, db, clock.Now().Add(2*time.Hour), "b", 10); len(left) != 1 || left[0].Payload != "later" {
			t.Errorf("left in the queue: %v, want only the event not due yet", left)
		}
	})
}

func TestBatches_AFailingEventIsRunAloneAndTheOthersAreDone(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		clock := workflows.NewManualClock(t0.Add(time.Minute))
		jobs, payloads := events(10, t0)
		enqueue(t, db, jobs...)
		w := newBatchWorld(t, db, clock, "ev-03")
		if _, err := w.runner.RunDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := append(append([]string(nil), payloads[:3]...), payloads[4:]...)
		if got := w.done(t, payloads); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("done %v, want every event but ev-03", got)
		}
		if len(w.batches) != 0 || len(w.singles) != 9 {
			t.Errorf("batches %v, %d run alone: want the failed batch undone and 9 run alone", w.batches, len(w.singles))
		}
		// The failing one waits for its retry, counted as a failed attempt.
		retry := claim(t, db, clock.Now().Add(time.Hour), "b", 10)
		if len(retry) != 1 || retry[0].Payload != "ev-03" || retry[0].Attempts != 1 {
			t.Errorf("queue after: %+v, want ev-03 once, after one failed attempt", retry)
		}
	})
}

func TestBatches_TwoRunnersNeverTakeOneEventTwice(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		clock := workflows.NewManualClock(t0.Add(time.Minute))
		jobs, payloads := events(60, t0)
		enqueue(t, db, jobs...)
		a, b := newBatchWorld(t, db, clock, ""), newBatchWorld(t, db, clock, "")
		b.runner.Owner = "b"
		var wg sync.WaitGroup
		for _, w := range []*batchWorld{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := w.runner.RunDue(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		total := len(a.singles) + len(b.singles)
		for _, n := range append(append([]int(nil), a.batches...), b.batches...) {
			total += n
		}
		if total != 60 {
			t.Errorf("events worked %d times in all (batches %v and %v, alone %d and %d), want 60",
				total, a.batches, b.batches, len(a.singles), len(b.singles))
		}
		if got := a.done(t, payloads); len(got) != 60 {
			t.Errorf("%d of 60 done", len(got))
		}
	})
}

func TestTakeDueJobs_TakesOnlyWaitingKeylessDueJobsOfItsKind(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		now := t0.Add(time.Minute)
		enqueue(t, db,
			workflows.Job{Kind: "event", Payload: "due-1", RunAt: t0},
			workflows.Job{Kind: "event", Payload: "keyed", Key: "event:k", RunAt: t0},
			workflows.Job{Kind: "event", Payload: "future", RunAt: now.Add(time.Second)},
			workflows.Job{Kind: "other", Payload: "other", RunAt: t0},
			workflows.Job{Kind: "event", Payload: "running", RunAt: t0.Add(-time.Second)},
			workflows.Job{Kind: "event", Payload: "due-2", RunAt: t0.Add(time.Second)},
		)
		// The oldest is claimed (running) before the batch looks.
		if got := claimKinds(t, db, now, "a", 1, "event"); len(got) != 1 || got[0].Payload != "running" {
			t.Fatalf("claimed %v", got)
		}
		var took []string
		update(t, db, func(tx workflows.Tx) error {
			jobs, err := tx.TakeDueJobs("event", now, 10)
			for _, j := range jobs {
				took = append(took, j.Payload)
			}
			return err
		})
		if fmt.Sprint(took) != "[due-1 due-2]" {
			t.Errorf("took %v, want [due-1 due-2] in run order", took)
		}
		update(t, db, func(tx workflows.Tx) error {
			jobs, err := tx.TakeDueJobs("event", now, 10)
			if len(jobs) != 0 {
				t.Errorf("taken twice: %v", jobs)
			}
			return err
		})
	})
}

func claimKinds(t *testing.T, db *DB, now time.Time, owner string, limit int, kinds ...string) []workflows.Job {
	t.Helper()
	jobs, err := db.ClaimKinds(context.Background(), now, owner, time.Minute, limit, kinds, false)
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}
