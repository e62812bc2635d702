package notion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/jomei/notionapi"

	"github.com/opsbot/opsbot/workflows"
)

// Backoff bounds between attempts that carry no Retry-After.
const (
	backoffBase = 500 * time.Millisecond
	backoffMax  = 30 * time.Second
	// defaultRetryAfter is used when a 429 comes without Retry-After.
	defaultRetryAfter = time.Second
)

// attempt is one try of a call. maybeApplied is true when an earlier try
// may have been carried out by Notion although no answer said so (a lost
// answer or a 5xx): a write must then look before writing again.
type attempt func(ctx context.Context, maybeApplied bool) error

// final marks an error an attempt found that no retry can fix.
type final struct{ error }

func (f final) Unwrap() error { return f.error }

// verdict is what to do about a failed attempt.
type verdict int

const (
	retry verdict = iota
	giveUp
	stop // the context is done
)

// do runs fn until it succeeds, a failure no retry can fix happens
// (returned wrapped in workflows.Permanent), ctx is done, or MaxAttempts
// tries have failed.
func (c *Client) do(ctx context.Context, what string, fn attempt) error {
	maybeApplied := false
	for n := 1; ; n++ {
		ex := &exchange{}
		err := fn(withExchange(ctx, ex), maybeApplied)
		if err == nil {
			return nil
		}
		v, ambiguous := classify(ctx, err, ex)
		err = describe(err, ex)
		switch {
		case v == stop:
			return fmt.Errorf("%s: %w", what, err)
		case v == giveUp:
			return workflows.Permanent(fmt.Errorf("%s: %w", what, err))
		case n >= c.tries:
			return fmt.Errorf("%s: gave up after %d attempts: %w", what, n, err)
		}
		maybeApplied = maybeApplied || ambiguous
		wait := backoff(n)
		if ex.status == http.StatusTooManyRequests {
			wait = ex.retryAfter
			if wait <= 0 {
				wait = defaultRetryAfter
			}
			// Every request of this client waits, not just this one.
			c.pace.holdUntil(c.now().Add(wait))
			wait = 0
		}
		c.log.WarnContext(ctx, "notion: retrying", "call", what, "attempt", n, "status", ex.status, "wait", wait, "err", err)
		if wait > 0 {
			if err := c.sleep(ctx, wait); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
	}
}

// classify says whether a failure is worth another try, and whether the
// request may have been carried out anyway.
func classify(ctx context.Context, err error, ex *exchange) (v verdict, ambiguous bool) {
	var f final
	switch {
	case ctx.Err() != nil:
		return stop, false
	case errors.As(err, &f):
		return giveUp, false
	case !ex.sent:
		// Failed before a request went out (pacing cancelled, a bad
		// body): nothing to retry into.
		return giveUp, false
	case ex.status == 0:
		var ue *url.Error
		var ne net.Error
		if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
			return retry, true // the request may have arrived
		}
		return giveUp, false
	case ex.status == http.StatusTooManyRequests:
		return retry, false
	case ex.status == http.StatusConflict:
		return retry, false // conflict_error: the transaction was not done
	case ex.status >= 500:
		return retry, true
	case ex.status >= 200 && ex.status < 300:
		// The answer was cut or unreadable: the change may have happened.
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return retry, true
		}
		return giveUp, false
	}
	return giveUp, false // 400, 401, 403, 404: the same request fails again
}

// describe turns notionapi's errors, which drop the status, into an
// *Error with status and code.
func describe(err error, ex *exchange) error {
	var ne *notionapi.Error
	if errors.As(err, &ne) {
		status := ne.Status
		if status == 0 {
			status = ex.status
		}
		return &Error{Status: status, Code: string(ne.Code), Message: ne.Message, err: err}
	}
	var rl *notionapi.RateLimitedError
	if errors.As(err, &rl) {
		return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: rl.Message, err: err}
	}
	if ex.status >= 300 {
		return &Error{Status: ex.status, Code: http.StatusText(ex.status), Message: err.Error(), err: err}
	}
	return err
}

// backoff is the wait after n failed tries: 0.5s, 1s, 2s, ... capped.
func backoff(n int) time.Duration {
	d := backoffBase
	for i := 1; i < n && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}
