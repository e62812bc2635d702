package workflows

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// deferred is an outside call that could not go yet: a rate limit
// (Slack's tier, a Retry-After) says not before at; slot, when set, is
// the rate key whose slot at at was taken for the job.
type deferred struct {
	at   time.Time
	slot string
	err  error
}

func (d deferred) Error() string { return d.err.Error() }
func (d deferred) Unwrap() error { return d.err }

// Defer wraps err, an outside call held back by a rate limit, with the
// time it may go. The job runner puts the job back to run then, instead
// of holding a worker while it waits, and does not count it as a failure:
// nothing was tried.
func Defer(at time.Time, err error) error { return deferred{at: at, err: err} }

// DeferSlot is Defer for a call whose slot at at, under the rate key
// slot, was taken for it: the job's next run (Job.Slot) goes at once.
func DeferSlot(at time.Time, slot string, err error) error {
	return deferred{at: at, slot: slot, err: err}
}

// DeferredUntil returns the time a deferred error says to come back, and
// whether err is one.
func DeferredUntil(err error) (time.Time, bool) {
	var d deferred
	if errors.As(err, &d) {
		return d.at, true
	}
	return time.Time{}, false
}

// deferredSlot is the rate key whose slot a deferred error took, or "".
func deferredSlot(err error) string {
	var d deferred
	if errors.As(err, &d) {
		return d.slot
	}
	return ""
}

// Deferrer is a JobQueue that can put a job back without counting an
// attempt (store.DB). A queue without it retries a deferred job as a
// failed attempt, at the deferred time.
type Deferrer interface {
	Defer(ctx context.Context, j Job, at time.Time, slot, reason string) error
}

// deferJob puts a job held back by a rate limit back in the queue for at,
// under its claim (ctx must outlive the lease's cancellation).
func (r *Runner) deferJob(ctx context.Context, log *slog.Logger, j Job, at time.Time, cause error) {
	log.InfoContext(ctx, "job held back by a rate limit", "until", at, "err", cause)
	var err error
	if d, ok := r.Queue.(Deferrer); ok {
		err = d.Defer(ctx, j, at, deferredSlot(cause), cause.Error())
	} else {
		err = r.Queue.Retry(ctx, j, at, cause.Error())
	}
	if err != nil {
		r.logRecord(ctx, log, "reschedule job", err)
	}
}

// Releaser is a JobQueue that can give a claimed job back unrun, as it
// was before the claim (store.DB). The runner gives back the jobs it
// holds behind a deferred job of their lane.
type Releaser interface {
	Release(ctx context.Context, j Job) error
}

// attempt is what an outside client needs to know of the job attempt it
// serves: whether it has made a call yet, and the slot its last deferral
// took.
type attempt struct {
	called atomic.Bool
	mu     sync.Mutex
	slot   string    // "" once used
	slotAt time.Time // when the slot is
}

type attemptKey struct{}

// JobAttempt marks ctx as one attempt of job j: the job runner runs each
// attempt under it (clients' tests may too).
func JobAttempt(ctx context.Context, j Job) context.Context {
	a := &attempt{}
	if j.Deferred {
		a.slot, a.slotAt = j.Slot, j.RunAt
	}
	return context.WithValue(ctx, attemptKey{}, a)
}

// UseSlot reports whether the job attempt under ctx holds a slot of rate
// key, taken for it when it was deferred, that is still good at now; the
// slot is used up either way. A slot is good until late after its time.
// A job run later than that (its worker died holding it, and the job was
// claimed again when its lease ran out; or the first claim used the slot
// and died before recording it) would add its call to minutes whose
// slots the other jobs have used since, and a few such jobs claimed
// together make a burst Slack answers with 429: it takes a new slot
// instead.
func UseSlot(ctx context.Context, key string, now time.Time, late time.Duration) bool {
	a, ok := ctx.Value(attemptKey{}).(*attempt)
	if !ok || key == "" {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.slot != key {
		return false
	}
	a.slot = ""
	return !now.After(a.slotAt.Add(late))
}

// MayDefer reports whether a rate-limited outside call under ctx should
// not wait for its slot but take it and return DeferSlot: ctx is a job
// attempt of the runner that has made no outside call yet, so putting the
// job back for the slot repeats nothing and frees the worker. A call after another
// (a message's pin after the message) waits for its slot instead: the
// job run again would repeat the first.
func MayDefer(ctx context.Context) bool {
	a, ok := ctx.Value(attemptKey{}).(*attempt)
	return ok && !a.called.Load()
}

// Called records that the job attempt under ctx has made an outside call
// (see MayDefer).
func Called(ctx context.Context) {
	if a, ok := ctx.Value(attemptKey{}).(*attempt); ok {
		a.called.Store(true)
	}
}

// attemptCalled reports whether the job attempt under ctx may have made
// an outside call: true unless ctx is a job attempt that has made none.
func attemptCalled(ctx context.Context) bool {
	a, ok := ctx.Value(attemptKey{}).(*attempt)
	return !ok || a.called.Load()
}
