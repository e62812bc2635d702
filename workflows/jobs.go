package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
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
	// Trace is the W3C traceparent of the span that enqueued the job
	// (empty when tracing is off): the job's run continues that trace,
	// in whichever process claims it. The store fills it in from the
	// enqueuing transaction's context when it is empty.
	Trace string
	// Deferred says a rate limit put the job back last time (Defer), and
	// Slot is the rate key whose slot at RunAt was taken for it then (""
	// when none was): its next run uses that slot instead of another.
	Deferred bool
	Slot     string
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
	// Lane, when set, names the lane a job runs in: the jobs of one lane
	// run one after another, in the order they were claimed (so messages
	// to one channel keep their order); lanes run in parallel. An empty
	// lane runs alone.
	Lane func(Job) string
	// KindLimits caps how many jobs of a kind this runner holds at once
	// (JobOpenChannel: 1): a kind at its cap is not claimed, so a slow,
	// rate-limited kind never takes every worker. Needs a Queue that is a
	// KindClaimer.
	KindLimits map[string]int
	// Batches, when set, does the jobs of some kinds many at once (see
	// BatchHandler), up to BatchSize (default DefaultBatchSize) a batch.
	Batches   map[string]BatchHandler
	BatchSize int
	// Busy, when set, says requests are coming in (GroupCommit.Busy):
	// batches then wait, up to BatchYield, so that the CPU goes to
	// answering them first.
	Busy func() bool
	// ObserveBatch, when set, is told of each batch that committed.
	ObserveBatch func(kind string, jobs int)
	MaxAttempts  int           // default 10
	Lease        time.Duration // default 2m
	// RenewEvery is how often the leases of claimed jobs not finished
	// yet are renewed; default Lease/3.
	RenewEvery  time.Duration
	Concurrency int // default 4
	// Trace, when set, wraps each run of a job (tracing): it returns the
	// context the job runs and records its outcome under, and a function
	// called with the outcome once it is recorded.
	Trace func(ctx context.Context, j Job) (context.Context, func(error))
	// Before, when set, runs at the start of each RunDue: it moves what
	// the intake journal holds into the queue, so that RunDue sees every
	// job taken in before it was called (an error is logged, and the jobs
	// due run all the same). Run needs none: the journal's own mover
	// wakes it.
	Before func(ctx context.Context) error

	holding atomic.Int64 // jobs held by its claims (Holding)

	batches batching // when each batch kind may be batched again
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
func (r *Runner) RunDue(ctx context.Context) (int, error) {
	if r.Before != nil {
		if err := r.Before(ctx); err != nil && r.Log != nil {
			// What was taken in stays where it is and is moved later;
			// what is due already runs.
			r.Log.Warn("before running due jobs", "err", err)
		}
	}
	return r.runDue(ctx, ctx, false)
}

// Holding is how many claimed jobs this runner holds now, running or
// waiting for their lane, across Run and RunDue. The sandbox waits for
// none before it moves its clock on, so that a jump never outruns the
// lease of a job still at work.
func (r *Runner) Holding() int { return int(r.holding.Load()) }

// KindClaimer is a JobQueue that can claim jobs of some kinds only, or
// of all but some (except). The runner uses it for KindLimits; a queue
// without it is claimed from as a whole.
type KindClaimer interface {
	ClaimKinds(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int, kinds []string, except bool) ([]Job, error)
}

// runDue claims while ctx lives and runs the claimed jobs under work. It
// keeps up to Concurrency jobs running and claims again as soon as one
// finishes, so a slow job holds its own worker only. Jobs run in their
// lane, one at a time and in order; a kind with a limit in KindLimits
// that is reached is left out of the claims until one of its jobs ends,
// so slow kinds (channel creation, paced at Slack's Tier 2) take at most
// that many workers and the others keep serving the other jobs (the
// set-up messages of channels already made). While held, every job's
// lease is renewed; a job whose lease is lost anyway is stopped.
func (r *Runner) runDue(ctx, work context.Context, yield bool) (int, error) {
	conc := r.Concurrency
	if conc <= 0 {
		conc = 4
	}
	p := &pool{r: r, ctx: work, held: &holds{held: map[int64]*hold{}, count: &r.holding}, kinds: map[string]int{},
		lanes: map[string][]Job{}, freed: make(chan struct{}, 1)}
	stop, renewed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(renewed)
		r.renew(work, p.held, stop)
	}()
	defer func() {
		p.wait()
		close(stop)
		<-renewed
	}()
	total := 0
	var drained time.Time
	for {
		// Idle is read before the claim: a job that ends during an empty
		// claim may free a capped kind, so only a claim made while none
		// ran says there is nothing left to do.
		if ctx.Err() == nil && time.Since(drained) >= drainEvery {
			// Jobs of batch kinds go many to a transaction first; what
			// is left of them (queued since) is claimed with the rest.
			total += r.drain(work, yield)
			drained = time.Now()
		}
		free, room, idle := p.room(conc)
		if free > 0 && ctx.Err() == nil {
			jobs, err := r.claim(ctx, free, room)
			if err != nil {
				return total, fmt.Errorf("claim jobs: %w", err)
			}
			for _, j := range jobs {
				p.start(j)
			}
			total += len(jobs)
			if len(jobs) > 0 {
				continue
			}
		}
		if idle {
			return total, ctx.Err()
		}
		<-p.freed
	}
}

// claim takes up to limit due jobs: of each capped kind no more than
// its room, then of the other kinds.
func (r *Runner) claim(ctx context.Context, limit int, room map[string]int) ([]Job, error) {
	now := r.Clock.Now()
	kc, ok := r.Queue.(KindClaimer)
	if !ok || (len(r.KindLimits) == 0 && len(r.Batches) == 0) {
		return r.Queue.Claim(ctx, now, r.Owner, r.lease(), limit)
	}
	var out []Job
	capped := make([]string, 0, len(r.KindLimits))
	for k := range r.KindLimits {
		capped = append(capped, k)
	}
	sort.Strings(capped)
	for _, k := range capped {
		if n := min(room[k], limit-len(out)); n > 0 {
			js, err := kc.ClaimKinds(ctx, now, r.Owner, r.lease(), n, []string{k}, false)
			if err != nil {
				return out, err
			}
			out = append(out, js...)
		}
	}
	var js []Job
	var err error
	if oc, ok := r.Queue.(OthersClaimer); ok && len(r.Batches) > 0 && r.Trace == nil {
		js, err = oc.ClaimOthers(ctx, now, r.Owner, r.lease(), limit-len(out), capped, r.batchedKinds(now))
	} else {
		js, err = kc.ClaimKinds(ctx, now, r.Owner, r.lease(), limit-len(out), capped, true)
	}
	return append(out, js...), err
}

// OthersClaimer is a KindClaimer that can leave the waiting jobs of
// batched kinds to their batches (see BatchHandler).
type OthersClaimer interface {
	ClaimOthers(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int, except, batched []string) ([]Job, error)
}

// pool is the jobs one runDue holds: running, or waiting their turn in
// their lane.
type pool struct {
	r     *Runner
	ctx   context.Context
	held  *holds
	freed chan struct{} // a job ended (buffered 1: a pending wake)

	mu      sync.Mutex
	running int              // jobs held (running or queued in a lane)
	kinds   map[string]int   // jobs held, by kind
	lanes   map[string][]Job // the queue of each busy lane
	wg      sync.WaitGroup
}

// room says how many more jobs may be claimed, how many of each capped
// kind, and whether none is held.
func (p *pool) room(conc int) (int, map[string]int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	room := map[string]int{}
	for k, n := range p.r.KindLimits {
		room[k] = max(n-p.kinds[k], 0)
	}
	return conc - p.running, room, p.running == 0
}

func (p *pool) wait() { p.wg.Wait() }

// signal wakes runDue to look at the pool again; a wake already pending
// covers this one.
func (p *pool) signal() {
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

// start holds j and runs it in its lane: now if the lane is free,
// after the jobs before it otherwise.
func (p *pool) start(j Job) {
	p.held.add(p.ctx, j)
	name := ""
	if p.r.Lane != nil {
		name = p.r.Lane(j)
	}
	p.mu.Lock()
	p.running++
	p.kinds[j.Kind]++
	if name == "" {
		name = fmt.Sprintf("#%d", j.ID) // a lane of its own
	}
	if q, busy := p.lanes[name]; busy {
		p.lanes[name] = append(q, j)
		p.mu.Unlock()
		return
	}
	p.lanes[name] = nil
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			deferred := p.r.run(p.held, j)
			p.mu.Lock()
			p.running--
			p.kinds[j.Kind]--
			q := p.lanes[name]
			if deferred && len(q) > 0 {
				// The jobs behind it wait for it in the queue (the store
				// holds a lane's later jobs while an earlier one is
				// deferred), not in this worker.
				if rel, ok := p.r.Queue.(Releaser); ok {
					p.running -= len(q)
					for _, x := range q {
						p.kinds[x.Kind]--
					}
					delete(p.lanes, name)
					p.mu.Unlock()
					p.release(rel, q)
					p.signal()
					return
				}
			}
			if len(q) == 0 {
				delete(p.lanes, name)
				p.mu.Unlock()
				p.signal()
				return
			}
			j, p.lanes[name] = q[0], q[1:]
			p.mu.Unlock()
			p.signal()
		}
	}()
}

// release gives the jobs back to the queue unrun, under their claims.
func (p *pool) release(rel Releaser, jobs []Job) {
	for _, x := range jobs {
		if p.held.release(x.ID) {
			continue // lost meanwhile: the claim that took it decides
		}
		if err := rel.Release(context.WithoutCancel(p.ctx), x); err != nil {
			p.r.logRecord(p.ctx, p.r.Log.With("job", x.ID, "kind", x.Kind), "give back job", err)
		}
	}
}

func (r *Runner) lease() time.Duration {
	if r.Lease <= 0 {
		return 2 * time.Minute
	}
	return r.Lease
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
					r.Log.WarnContext(ctx, "job lease lost: another worker claimed the job; stopping it here",
						"job", j.ID, "kind", j.Kind, "key", j.Key, "token", j.Token)
				}
			case err != nil:
				// The database may be away for a moment; the lease has
				// time left, and the next tick tries again.
				r.Log.WarnContext(ctx, "renew job lease", "job", j.ID, "kind", j.Kind, "err", err)
			}
		}
	}
}

// holds are the jobs of one claim not finished yet, each with the
// context it runs under, cancelled if its lease is lost.
type holds struct {
	mu    sync.Mutex
	held  map[int64]*hold
	count *atomic.Int64 // the runner's, across its claims (Holding)
}

type hold struct {
	job    Job
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// add holds j, under a context of its own.
func (h *holds) add(ctx context.Context, j Job) {
	c, cancel := context.WithCancelCause(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.held[j.ID]; !ok {
		h.count.Add(1)
	}
	h.held[j.ID] = &hold{job: j, ctx: c, cancel: cancel}
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
	h.count.Add(-1)
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
	h.count.Add(-1)
	x.cancel(nil)
	return false
}

// run runs one held job and records its outcome under its claim. A job
// whose lease was lost is not started, or its outcome is dropped: the
// claim that took it over decides. It reports whether the job was put
// back for a rate limit's slot.
func (r *Runner) run(held *holds, j Job) (deferred bool) {
	log := r.Log.With("job", j.ID, "kind", j.Kind, "key", j.Key, "attempt", j.Attempts+1, "token", j.Token)
	ctx := held.context(j.ID)
	if errors.Is(context.Cause(ctx), ErrLeaseLost) {
		held.release(j.ID)
		log.Warn("job not started: its lease was lost while it waited its turn")
		return
	}
	if r.Trace != nil {
		var end func(error)
		ctx, end = r.Trace(ctx, j)
		end(r.runTraced(ctx, log, held, j, &deferred))
		return deferred
	}
	r.runTraced(ctx, log, held, j, &deferred)
	return deferred
}

// runTraced runs j under ctx and records its outcome; it returns the
// job's error, and sets deferred when a rate limit put the job back.
func (r *Runner) runTraced(ctx context.Context, log *slog.Logger, held *holds, j Job, deferred *bool) error {
	start := time.Now()
	err := r.call(JobAttempt(ctx, j), j)
	if r.Observe != nil {
		r.Observe(j.Kind, err, time.Since(start))
	}
	// Records are written under a context the lease's cancellation does
	// not reach: the fence, not the context, decides whether they count.
	rec := context.WithoutCancel(ctx)
	if held.release(j.ID) {
		log.WarnContext(rec, "job outcome dropped: its lease was lost to another claim", "err", err)
		return err
	}
	now := r.Clock.Now()
	if err == nil {
		if err := r.Queue.Done(rec, j, now); err != nil {
			r.logRecord(rec, log, "mark job done", err)
		}
		return err
	}
	if at, ok := DeferredUntil(err); ok && !IsPermanent(err) {
		// Held back by a rate limit: nothing was tried, so it is no
		// failed attempt, and the worker is free for other keys.
		r.deferJob(rec, log, j, at, err)
		*deferred = true
		return err
	}
	max := r.MaxAttempts
	if max <= 0 {
		max = 10
	}
	var p permanent
	if errors.As(err, &p) || j.Attempts+1 >= max {
		log.ErrorContext(rec, "job failed for good", "err", err)
		if berr := r.Queue.Bury(rec, j, now, err.Error()); berr != nil {
			r.logRecord(rec, log, "bury job", berr)
			if errors.Is(berr, ErrLeaseLost) {
				return err // the claim that took it over will decide
			}
		}
		r.giveUp(rec, log, j, err)
		return err
	}
	wait := Backoff(j.Attempts + 1)
	log.WarnContext(rec, "job failed, will retry", "err", err, "in", wait)
	if rerr := r.Queue.Retry(rec, j, now.Add(wait), err.Error()); rerr != nil {
		r.logRecord(rec, log, "reschedule job", rerr)
	}
	return err
}

// logRecord logs a failure to record a job's outcome. A lost lease is
// expected now and then (this process stalled past it) and is a warning.
func (r *Runner) logRecord(ctx context.Context, log *slog.Logger, what string, err error) {
	if errors.Is(err, ErrLeaseLost) {
		log.WarnContext(ctx, "job outcome dropped: "+what, "err", err)
		return
	}
	log.ErrorContext(ctx, what, "err", err)
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
			log.ErrorContext(ctx, "recording a failed job panicked", "panic", fmt.Sprint(p))
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
		if _, err := r.runDue(ctx, work, true); err != nil && ctx.Err() == nil {
			r.Log.ErrorContext(ctx, "run jobs", "err", err)
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
