package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
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
	// Owner and Token name the claim the job was handed out under. Each
	// claim of a job gets a new token, so a worker whose lease ran out,
	// and whose job another worker claimed since, can no longer finish,
	// retry, bury or renew it: its outcome is dropped (ErrLeaseLost).
	Owner string
	Token int64
}

// ErrLeaseLost is returned by Done, Retry, Bury and Renew when the claim
// they name no longer holds the job: its lease ran out and another
// claim took it, or it is gone. The caller's outcome is dropped.
var ErrLeaseLost = errors.New("job lease lost to another claim")

// JobQueue hands out due jobs to workers. A claimed job is leased to one
// worker until the lease runs out, so replicas share the queue and a
// crashed worker's jobs are picked up again. Every call after Claim names
// the claim (the job's Owner and Token) and acts only if that claim
// still holds the job; otherwise it changes nothing and returns
// ErrLeaseLost.
type JobQueue interface {
	// Claim leases up to limit jobs due at now to owner for lease. Jobs
	// whose key has another job running are not claimed.
	Claim(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int) ([]Job, error)
	// Renew extends the lease of a claimed job to until.
	Renew(ctx context.Context, j Job, until time.Time) error
	// Done removes a finished job.
	Done(ctx context.Context, j Job, now time.Time) error
	// Retry puts a job back to run at the given time, with the error.
	Retry(ctx context.Context, j Job, at time.Time, lastErr string) error
	// Bury keeps a job that will not be retried, for people to look at.
	Bury(ctx context.Context, j Job, now time.Time, lastErr string) error
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
	// RenewEvery is how often the leases of claimed jobs not finished
	// yet are renewed; default Lease/3.
	RenewEvery  time.Duration
	Concurrency int // default 4
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
	lease := r.lease()
	total := 0
	for {
		jobs, err := r.Queue.Claim(ctx, r.Clock.Now(), r.Owner, lease, conc)
		if err != nil {
			return total, fmt.Errorf("claim jobs: %w", err)
		}
		if len(jobs) == 0 {
			return total, nil
		}
		r.runClaimed(work, jobs)
		total += len(jobs)
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

func (r *Runner) lease() time.Duration {
	if r.Lease <= 0 {
		return 2 * time.Minute
	}
	return r.Lease
}

// runClaimed runs one claim's jobs, lane by lane, while renewing the
// leases of those not finished yet: a job waiting its turn in a lane, or
// running long, stays this worker's. A job whose lease is lost anyway
// (this process stalled past it and another claimed the job) is stopped:
// its context is cancelled, and its outcome dropped.
func (r *Runner) runClaimed(ctx context.Context, jobs []Job) {
	held := newHolds(ctx, jobs)
	stop := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		r.renew(ctx, held, stop)
	}()
	var wg sync.WaitGroup
	for _, lane := range r.lanes(jobs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, j := range lane {
				r.run(held, j)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-renewed
}

// renew extends the leases of the held jobs every RenewEvery until stop.
func (r *Runner) renew(ctx context.Context, held *holds, stop <-chan struct{}) {
	every := r.RenewEvery
	if every <= 0 {
		every = r.lease() / 3
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		until := r.Clock.Now().Add(r.lease())
		for _, j := range held.jobs() {
			err := r.Queue.Renew(ctx, j, until)
			switch {
			case errors.Is(err, ErrLeaseLost):
				if held.lose(j.ID) {
					r.Log.Warn("job lease lost: another worker claimed the job; stopping it here",
						"job", j.ID, "kind", j.Kind, "key", j.Key, "token", j.Token)
				}
			case err != nil:
				// The database may be away for a moment; the lease has
				// time left, and the next tick tries again.
				r.Log.Warn("renew job lease", "job", j.ID, "kind", j.Kind, "err", err)
			}
		}
	}
}

// holds are the jobs of one claim not finished yet, each with the
// context it runs under, cancelled if its lease is lost.
type holds struct {
	mu   sync.Mutex
	held map[int64]*hold
}

type hold struct {
	job    Job
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func newHolds(ctx context.Context, jobs []Job) *holds {
	h := &holds{held: make(map[int64]*hold, len(jobs))}
	for _, j := range jobs {
		c, cancel := context.WithCancelCause(ctx)
		h.held[j.ID] = &hold{job: j, ctx: c, cancel: cancel}
	}
	return h
}

// jobs lists the held jobs, oldest ID first.
func (h *holds) jobs() []Job {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Job, 0, len(h.held))
	for _, x := range h.held {
		out = append(out, x.job)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// context returns the context job id runs under.
func (h *holds) context(id int64) context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	if x, ok := h.held[id]; ok {
		return x.ctx
	}
	c, cancel := context.WithCancelCause(context.Background())
	cancel(ErrLeaseLost)
	return c
}

// lose marks job id's lease lost and cancels its run. It reports false
// when the job was released first (it finished, and a renewal raced its
// Done).
func (h *holds) lose(id int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	x, ok := h.held[id]
	if !ok {
		return false
	}
	x.cancel(ErrLeaseLost)
	delete(h.held, id)
	return true
}

// release stops renewing job id, before its outcome is recorded, and
// reports whether its lease was lost meanwhile.
func (h *holds) release(id int64) (lost bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	x, ok := h.held[id]
	if !ok {
		return true
	}
	delete(h.held, id)
	x.cancel(nil)
	return false
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

// run runs one held job and records its outcome under its claim. A job
// whose lease was lost is not started, or its outcome is dropped: the
// claim that took it over decides.
func (r *Runner) run(held *holds, j Job) {
	log := r.Log.With("job", j.ID, "kind", j.Kind, "key", j.Key, "attempt", j.Attempts+1, "token", j.Token)
	ctx := held.context(j.ID)
	if errors.Is(context.Cause(ctx), ErrLeaseLost) {
		held.release(j.ID)
		log.Warn("job not started: its lease was lost while it waited its turn")
		return
	}
	start := time.Now()
	err := r.call(ctx, j)
	if r.Observe != nil {
		r.Observe(j.Kind, err, time.Since(start))
	}
	// Records are written under a context the lease's cancellation does
	// not reach: the fence, not the context, decides whether they count.
	rec := context.WithoutCancel(ctx)
	if held.release(j.ID) {
		log.Warn("job outcome dropped: its lease was lost to another claim", "err", err)
		return
	}
	now := r.Clock.Now()
	if err == nil {
		if err := r.Queue.Done(rec, j, now); err != nil {
			r.logRecord(log, "mark job done", err)
		}
		return
	}
	if at, ok := DeferredUntil(err); ok && !IsPermanent(err) {
		// Held back by a rate limit: nothing was tried, so it is no
		// failed attempt, and the worker is free for other keys.
		r.deferJob(rec, log, j, at, err)
		return
	}
	max := r.MaxAttempts
	if max <= 0 {
		max = 10
	}
	var p permanent
	if errors.As(err, &p) || j.Attempts+1 >= max {
		log.Error("job failed for good", "err", err)
		if berr := r.Queue.Bury(rec, j, now, err.Error()); berr != nil {
			r.logRecord(log, "bury job", berr)
			if errors.Is(berr, ErrLeaseLost) {
				return // the claim that took it over will decide
			}
		}
		r.giveUp(rec, log, j, err)
		return
	}
	wait := Backoff(j.Attempts + 1)
	log.Warn("job failed, will retry", "err", err, "in", wait)
	if rerr := r.Queue.Retry(rec, j, now.Add(wait), err.Error()); rerr != nil {
		r.logRecord(log, "reschedule job", rerr)
	}
}

// logRecord logs a failure to record a job's outcome. A lost lease is
// expected now and then (this process stalled past it) and is a warning.
func (r *Runner) logRecord(log *slog.Logger, what string, err error) {
	if errors.Is(err, ErrLeaseLost) {
		log.Warn("job outcome dropped: "+what, "err", err)
		return
	}
	log.Error(what, "err", err)
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
