package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Job is a unit of outside work in the durable outbox: a launch, a stop,
// a message. Jobs are enqueued in the same transaction as the state
// change that calls for them, so the change and its consequence are one.
type Job struct {
	ID        int64
	Kind      string
	Key       string // see CommonTx.Enqueue
	Payload   string
	RunAt     time.Time
	Attempts  int // attempts made before this one
	LastError string
}

// JobQueue hands out due jobs to workers. A claimed job is leased to one
// worker until the lease runs out, so replicas share the queue and a
// crashed worker's jobs are picked up again.
type JobQueue interface {
	// Claim leases up to limit jobs due at now to owner for lease. Jobs
	// whose key has another job running are not claimed.
	Claim(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int) ([]Job, error)
	// Done removes a finished job.
	Done(ctx context.Context, id int64, now time.Time) error
	// Retry puts a job back to run at the given time, with the error.
	Retry(ctx context.Context, id int64, at time.Time, lastErr string) error
	// Bury keeps a job that will not be retried, for people to look at.
	Bury(ctx context.Context, id int64, now time.Time, lastErr string) error
}

// JobHandler does one job. It must be idempotent: a job can run again
// after a crash between the work and Done.
type JobHandler func(ctx context.Context, j Job) error

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so the runner gives up on the job at once.
func Permanent(err error) error { return permanent{err} }

// Runner works the outbox: it claims due jobs, runs their handlers, and
// retries failures with exponential backoff.
type Runner struct {
	Queue    JobQueue
	Clock    Clock
	Log      *slog.Logger
	Owner    string // this process, for job leases
	Handlers map[string]JobHandler
	// GiveUp is called with a job that will not be retried, so its
	// workflow can record the failure (mark a launch failed, and so on).
	GiveUp func(ctx context.Context, j Job, err error)
	// Observe, when set, is told how each job ended, for metrics.
	Observe func(kind string, err error, d time.Duration)
	// Lane, when set, names the lane a job runs in: jobs claimed together
	// in one lane run one after another, in the order they were queued
	// (so messages to one channel keep their order); lanes run in
	// parallel. An empty lane runs alone.
	Lane        func(Job) string
	MaxAttempts int           // default 10
	Lease       time.Duration // default 2m
	Concurrency int           // default 4
}

// Backoff is how long to wait before attempt n+1 after n failures: 2s,
// 4s, 8s ... capped at 10 minutes.
func Backoff(n int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < n && d < 10*time.Minute; i++ {
		d *= 2
	}
	return min(d, 10*time.Minute)
}

// RunDue runs every job due now and returns how many ran.
func (r *Runner) RunDue(ctx context.Context) (int, error) { return r.runDue(ctx, ctx) }

// runDue claims while ctx lives and runs the claimed jobs under work.
func (r *Runner) runDue(ctx, work context.Context) (int, error) {
	conc := r.Concurrency
	if conc <= 0 {
		conc = 4
	}
	lease := r.Lease
	if lease <= 0 {
		lease = 2 * time.Minute
	}
	total := 0
	for {
		jobs, err := r.Queue.Claim(ctx, r.Clock.Now(), r.Owner, lease, conc)
		if err != nil {
			return total, fmt.Errorf("claim jobs: %w", err)
		}
		if len(jobs) == 0 {
			return total, nil
		}
		var wg sync.WaitGroup
		for _, lane := range r.lanes(jobs) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, j := range lane {
					r.run(work, j)
				}
			}()
		}
		wg.Wait()
		total += len(jobs)
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// lanes groups jobs by lane, keeping their order within each.
func (r *Runner) lanes(jobs []Job) [][]Job {
	var out [][]Job
	index := map[string]int{}
	for _, j := range jobs {
		name := ""
		if r.Lane != nil {
			name = r.Lane(j)
		}
		if i, ok := index[name]; ok && name != "" {
			out[i] = append(out[i], j)
			continue
		}
		index[name] = len(out)
		out = append(out, []Job{j})
	}
	return out
}

func (r *Runner) run(ctx context.Context, j Job) {
	log := r.Log.With("job", j.ID, "kind", j.Kind, "key", j.Key, "attempt", j.Attempts+1)
	start := time.Now()
	err := r.call(ctx, j)
	if r.Observe != nil {
		r.Observe(j.Kind, err, time.Since(start))
	}
	now := r.Clock.Now()
	if err == nil {
		if err := r.Queue.Done(ctx, j.ID, now); err != nil {
			log.Error("mark job done", "err", err)
		}
		return
	}
	max := r.MaxAttempts
	if max <= 0 {
		max = 10
	}
	var p permanent
	if errors.As(err, &p) || j.Attempts+1 >= max {
		log.Error("job failed for good", "err", err)
		if berr := r.Queue.Bury(ctx, j.ID, now, err.Error()); berr != nil {
			log.Error("bury job", "err", berr)
		}
		r.giveUp(ctx, log, j, err)
		return
	}
	wait := Backoff(j.Attempts + 1)
	log.Warn("job failed, will retry", "err", err, "in", wait)
	if rerr := r.Queue.Retry(ctx, j.ID, now.Add(wait), err.Error()); rerr != nil {
		log.Error("reschedule job", "err", rerr)
	}
}

// giveUp tells the job's workflow it failed for good. It runs under the
// same recover as a handler: a panic there (a payload it cannot read)
// must not take the runner, and the process, down.
func (r *Runner) giveUp(ctx context.Context, log *slog.Logger, j Job, cause error) {
	if r.GiveUp == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			log.Error("recording a failed job panicked", "panic", fmt.Sprint(p))
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, JobTimeout)
	defer cancel()
	r.GiveUp(ctx, j, cause)
}

func (r *Runner) call(ctx context.Context, j Job) (err error) {
	ctx, cancel := context.WithTimeout(ctx, JobTimeout)
	defer cancel()
	h, ok := r.Handlers[j.Kind]
	if !ok {
		return Permanent(fmt.Errorf("no handler for job kind %q", j.Kind))
	}
	if err := ValidatePayload(j); err != nil {
		return Permanent(err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("job panicked: %v", p))
		}
	}()
	return h(ctx, j)
}

// JobTimeout bounds one run of one job.
const JobTimeout = time.Minute

// Run works the queue until ctx ends, checking for due jobs every poll
// interval and whenever wake receives. When ctx ends, jobs already
// started run to completion (each bounded by JobTimeout) and no new ones
// are claimed, so a shutdown leaves no job half done.
func (r *Runner) Run(ctx context.Context, poll time.Duration, wake <-chan struct{}) error {
	t := time.NewTicker(poll)
	defer t.Stop()
	work := context.WithoutCancel(ctx)
	for {
		if ctx.Err() != nil {
			return nil
		}
		if _, err := r.runDue(ctx, work); err != nil && ctx.Err() == nil {
			r.Log.Error("run jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-wake:
		}
	}
}

// IsPermanent reports whether err was marked as one no retry can fix.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}
