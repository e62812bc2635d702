package workflows

import (
	"context"
	"errors"
	"testing"
	"time"
)

// deferQueue is a memQueue that records deferrals.
type deferQueue struct {
	memQueue
	deferred map[int64]time.Time
	retried  int
}

func (q *deferQueue) Defer(ctx context.Context, j Job, at time.Time, slot, reason string) error {
	q.deferred[j.ID] = at
	return nil
}

func (q *deferQueue) Retry(ctx context.Context, j Job, at time.Time, lastErr string) error {
	q.retried++
	return nil
}

// A job held back by a rate limit on its last allowed attempt used to be
// buried like a failure (and every deferral counted as one); now it goes
// back to the queue for the time the limit names, attempts untouched.
func TestRunner_DeferredJobGoesBackWithoutCountingAnAttempt(t *testing.T) {
	at := time.Unix(600, 0)
	q := &deferQueue{memQueue: memQueue{jobs: []Job{{ID: 1, Kind: "x", Payload: "a", Attempts: 9}}}, deferred: map[int64]time.Time{}}
	gaveUp := false
	r := &Runner{Queue: q, Clock: NewManualClock(time.Unix(0, 0)), Log: quietLog(),
		Handlers: map[string]JobHandler{"x": func(ctx context.Context, j Job) error {
			return Defer(at, errors.New("slack conversations.create: held back"))
		}},
		GiveUp: func(ctx context.Context, j Job, err error) { gaveUp = true },
	}
	if _, err := r.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if gaveUp || len(q.buried) != 0 || q.retried != 0 || !q.deferred[1].Equal(at) {
		t.Fatalf("gave up %v, buried %d, retried %d, deferred %v", gaveUp, len(q.buried), q.retried, q.deferred)
	}
}

// Holding counts the jobs a runner holds while they run, across claims,
// and none once they are done: the sandbox waits on it before moving its
// clock, so a job at work is never outrun by its own lease.
func TestRunner_HoldingCountsJobsAtWork(t *testing.T) {
	q := &memQueue{jobs: []Job{{ID: 1, Kind: "x"}, {ID: 2, Kind: "x"}}}
	started, release := make(chan struct{}, 2), make(chan struct{})
	r := &Runner{Queue: q, Clock: NewManualClock(time.Unix(0, 0)), Log: quietLog(),
		Handlers: map[string]JobHandler{"x": func(ctx context.Context, j Job) error {
			started <- struct{}{}
			<-release
			return nil
		}},
	}
	done := make(chan error, 1)
	go func() { _, err := r.RunDue(context.Background()); done <- err }()
	<-started
	<-started
	if n := r.Holding(); n != 2 {
		t.Errorf("holding %d jobs while two run, want 2", n)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := r.Holding(); n != 0 {
		t.Errorf("holding %d jobs after they are done, want 0", n)
	}
}
