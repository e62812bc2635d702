package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// stallable is a replica's view of the queue that can be stalled, as a
// paused or partitioned process is: its lease renewals do not reach the
// database until it resumes.
type stallable struct {
	workflows.JobQueue
	mu   sync.Mutex
	gate chan struct{} // non-nil while stalled
}

func (s *stallable) stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
}

func (s *stallable) resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.gate)
	s.gate = nil
}

func (s *stallable) Renew(ctx context.Context, j workflows.Job, until time.Time) error {
	s.mu.Lock()
	g := s.gate
	s.mu.Unlock()
	if g != nil {
		<-g
	}
	return s.JobQueue.Renew(ctx, j, until)
}

// syncBuffer is a log sink several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// Four queued DMs, two replicas, a worker that waits (in a pacer, say)
// longer than its lease: exactly four deliveries. While replica a lives
// it renews its leases and b claims nothing; when a stalls past the
// lease, b claims the jobs and delivers them, and a, on resuming, finds
// its leases lost: its waits are cancelled, nothing is delivered twice,
// and its outcomes are dropped and logged. (Before fencing and renewal:
// b re-claimed the waiting jobs after one lease and both delivered.)
func TestRunner_TwoReplicasExpiredLeaseDeliverEachJobOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		a, b := twoReplicas(t, e)
		clock := workflows.NewManualClock(t0)
		const jobLease = 30 * time.Second
		var jobs []workflows.Job
		for i := 1; i <= 4; i++ {
			jobs = append(jobs, workflows.Job{Kind: "dm", Key: fmt.Sprintf("dm:U%d", i), Payload: fmt.Sprintf("U%d", i), RunAt: t0})
		}
		enqueue(t, a, jobs...)

		var mu sync.Mutex
		delivered := map[string]int{}
		deliver := func(j workflows.Job) {
			mu.Lock()
			defer mu.Unlock()
			delivered[j.Payload]++
		}
		// Replica a's DMs wait in its pacer until released; a wait ends
		// early if the job's context does.
		started, release := make(chan string, 4), make(chan struct{})
		causes := make(chan error, 4)
		aLog := &syncBuffer{}
		qa := &stallable{JobQueue: a}
		ra := &workflows.Runner{Queue: qa, Clock: clock, Log: slog.New(slog.NewTextHandler(aLog, nil)), Owner: "a",
			Lease: jobLease, RenewEvery: 5 * time.Millisecond, Concurrency: 4,
			Handlers: map[string]workflows.JobHandler{"dm": func(ctx context.Context, j workflows.Job) error {
				started <- j.Payload
				select {
				case <-release:
					deliver(j)
					return nil
				case <-ctx.Done():
					causes <- context.Cause(ctx)
					return ctx.Err()
				}
			}}}
		rb := &workflows.Runner{Queue: b, Clock: clock, Log: quietLog(), Owner: "b", Lease: jobLease, Concurrency: 4,
			Handlers: map[string]workflows.JobHandler{"dm": func(ctx context.Context, j workflows.Job) error {
				deliver(j)
				return nil
			}}}

		aDone := make(chan error, 1)
		go func() { _, err := ra.RunDue(context.Background()); aDone <- err }()
		for range 4 {
			<-started
		}

		// a is alive: past its first lease, its renewals keep the jobs.
		clock.Advance(jobLease * 2 / 3)
		waitRenewed(t, a, clock.Now().Add(jobLease))
		clock.Advance(jobLease * 2 / 3)
		if n, err := rb.RunDue(context.Background()); err != nil || n != 0 {
			t.Fatalf("replica b ran %d jobs (%v) while a held them under renewed leases", n, err)
		}

		// a stalls past its lease: b takes over and delivers.
		qa.stall()
		clock.Advance(2 * jobLease)
		if n, err := rb.RunDue(context.Background()); err != nil || n != 4 {
			t.Fatalf("replica b ran %d jobs (%v), want the 4 whose lease ran out", n, err)
		}
		// a resumes: its renewals fail, its waits end, nothing more goes out.
		qa.resume()
		select {
		case err := <-aDone:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			close(release)
			t.Fatal("replica a still runs its jobs after losing their leases")
		}
		close(release)
		for range 4 {
			if c := <-causes; !errors.Is(c, workflows.ErrLeaseLost) {
				t.Errorf("a's wait ended with %v, want ErrLeaseLost", c)
			}
		}
		for _, j := range jobs {
			if delivered[j.Payload] != 1 {
				t.Errorf("DM to %s delivered %d times, want once (all: %v)", j.Payload, delivered[j.Payload], delivered)
			}
		}
		if n := count(t, a, "jobs"); n != 0 {
			t.Errorf("%d jobs left, want none: b's Done must stand", n)
		}
		if got := strings.Count(aLog.String(), "job lease lost"); got != 4 {
			t.Errorf("replica a logged %d lost leases, want 4:\n%s", got, aLog.String())
		}
	})
}

// waitRenewed waits until every running job's lease reaches at least until.
func waitRenewed(t *testing.T, db *DB, until time.Time) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var least int64
		err := db.read.QueryRowContext(context.Background(),
			db.q(`SELECT COALESCE(MIN(locked_until), 0) FROM jobs WHERE state = 'running'`)).Scan(&least)
		if err != nil {
			t.Fatal(err)
		}
		if least >= unixNanos(until) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leases not renewed: the least ends at %s, want %s", fromNanos(least), until)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
