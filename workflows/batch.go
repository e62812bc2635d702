package workflows

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// BatchHandler does, in one transaction, up to limit jobs of its kind
// that are due at now: it takes them from the queue in that transaction
// (Tx.TakeDueJobs) and does the work of each there, so the jobs' work
// and their end are committed together or not at all. It returns how
// many it took. A batch that fails changed nothing: its jobs are still
// waiting, and the runner stops batching the kind for a while
// (BatchPause) so that the jobs are claimed and run one by one through
// the kind's JobHandler; a job that cannot be done then fails (and is
// retried or given up) alone.
//
// Batches are for kinds whose jobs are many, small and mostly store
// work: PagerDuty events arrive by the thousand in a storm, and each run
// alone costs a claim, a transaction and a Done around a few reads. A
// kind with a BatchHandler must have a JobHandler too (for its jobs
// claimed one by one: a job queued after the runner looked, a job whose
// worker died, any job while batching is paused), and no key or lane.
type BatchHandler func(ctx context.Context, now time.Time, limit int) (taken int, err error)

// DefaultBatchSize is the most jobs one batch holds (Runner.BatchSize).
const DefaultBatchSize = 128

// drainEvery is how often, at most, a runner busy with other jobs looks
// for batches: an empty look is a write transaction.
const drainEvery = 10 * time.Millisecond

// BatchYield is the longest batches wait while intake is busy (Runner.Busy).
const BatchYield = time.Second

// BatchPause is how long a kind is not batched after one of its batches
// failed.
const BatchPause = time.Minute

func (r *Runner) batchSize() int {
	if r.BatchSize > 0 {
		return r.BatchSize
	}
	return DefaultBatchSize
}

// batching holds when each batch kind may be batched again.
type batching struct {
	mu     sync.Mutex
	last   time.Time // when drain last worked batches
	paused map[string]time.Time
}

// drain works the due jobs of the batch kinds in batches until fewer
// than a batch's worth are left, and says how many it did. With yield
// (the live loop, not RunDue) it may wait while intake is busy (see
// mayDrain). Traced, it does nothing: each job keeps a span of its own,
// with its children under it, so traced jobs run one by one.
func (r *Runner) drain(ctx context.Context, yield bool) int {
	if len(r.Batches) == 0 || r.Trace != nil {
		return 0
	}
	if !r.mayDrain(yield) {
		return 0
	}
	kinds := make([]string, 0, len(r.Batches))
	for k := range r.Batches {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	total := 0
	for _, k := range kinds {
		for ctx.Err() == nil {
			now := r.Clock.Now()
			if r.batchPaused(k, now) {
				break
			}
			n, err := r.runBatch(ctx, k, now)
			if err != nil {
				r.Log.WarnContext(ctx, "a batch of jobs failed; running them one by one for a while",
					"kind", k, "for", BatchPause, "err", err)
				r.pauseBatch(k, now.Add(BatchPause))
				break
			}
			total += n
			if n < r.batchSize() {
				break
			}
		}
	}
	return total
}

func (r *Runner) runBatch(ctx context.Context, kind string, now time.Time) (n int, err error) {
	ctx, cancel := context.WithTimeout(ctx, JobTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("batch panicked: %v", p)
		}
	}()
	start := time.Now()
	n, err = r.Batches[kind](ctx, now, r.batchSize())
	if err == nil && n > 0 && r.ObserveBatch != nil {
		r.ObserveBatch(kind, n)
	}
	if err == nil && n > 0 && r.Observe != nil {
		each := time.Since(start) / time.Duration(n)
		for range n {
			r.Observe(kind, nil, each)
		}
	}
	return n, err
}

// batchedKinds are the batch kinds not paused at now: their waiting jobs
// are left to batches.
func (r *Runner) batchedKinds(now time.Time) []string {
	var out []string
	for k := range r.Batches {
		if !r.batchPaused(k, now) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// mayDrain says whether batches are worked now: not while requests are
// coming in (answering them comes first), unless the last batches were
// worked BatchYield ago or more; then they are worked in larger ones.
func (r *Runner) mayDrain(yield bool) bool {
	busy := yield && r.Busy != nil && r.Busy()
	r.batches.mu.Lock()
	defer r.batches.mu.Unlock()
	if busy && time.Since(r.batches.last) < BatchYield {
		return false
	}
	r.batches.last = time.Now()
	return true
}

// Yielding reports whether batches wait now for intake (see mayDrain):
// intake need not wake the runner for the jobs it queues then; the
// runner's next look (at most a poll later) works them.
func (r *Runner) Yielding() bool {
	if len(r.Batches) == 0 || r.Busy == nil || !r.Busy() {
		return false
	}
	r.batches.mu.Lock()
	defer r.batches.mu.Unlock()
	return time.Since(r.batches.last) < BatchYield
}

func (r *Runner) batchPaused(kind string, now time.Time) bool {
	r.batches.mu.Lock()
	defer r.batches.mu.Unlock()
	return now.Before(r.batches.paused[kind])
}

func (r *Runner) pauseBatch(kind string, until time.Time) {
	r.batches.mu.Lock()
	defer r.batches.mu.Unlock()
	if r.batches.paused == nil {
		r.batches.paused = map[string]time.Time{}
	}
	r.batches.paused[kind] = until
}
