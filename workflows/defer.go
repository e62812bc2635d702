package workflows

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// deferred is an outside call that could not go yet: a rate limit
// (Slack's tier, a Retry-After) says not before at.
type deferred struct {
	at  time.Time
	err error
}

func (d deferred) Error() string { return d.err.Error() }
func (d deferred) Unwrap() error { return d.err }

// Defer wraps err, an outside call held back by a rate limit, with the
// time it may go. The job runner puts the job back to run then, instead
// of holding a worker while it waits, and does not count it as a failure:
// nothing was tried.
func Defer(at time.Time, err error) error { return deferred{at: at, err: err} }

// DeferredUntil returns the time a deferred error says to come back, and
// whether err is one.
func DeferredUntil(err error) (time.Time, bool) {
	var d deferred
	if errors.As(err, &d) {
		return d.at, true
	}
	return time.Time{}, false
}

// Deferrer is a JobQueue that can put a job back without counting an
// attempt (store.DB). A queue without it retries a deferred job as a
// failed attempt, at the deferred time.
type Deferrer interface {
	Defer(ctx context.Context, j Job, at time.Time, reason string) error
}

// deferJob puts a job held back by a rate limit back in the queue for at,
// under its claim (ctx must outlive the lease's cancellation).
func (r *Runner) deferJob(ctx context.Context, log *slog.Logger, j Job, at time.Time, cause error) {
	log.InfoContext(ctx, "job held back by a rate limit", "until", at, "err", cause)
	var err error
	if d, ok := r.Queue.(Deferrer); ok {
		err = d.Defer(ctx, j, at, cause.Error())
	} else {
		err = r.Queue.Retry(ctx, j, at, cause.Error())
	}
	if err != nil {
		r.logRecord(ctx, log, "reschedule job", err)
	}
}
