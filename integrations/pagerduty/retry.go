package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/opsbot/opsbot/internal/gcra"
	"github.com/opsbot/opsbot/workflows"
)

// attempt is what the HTTP layer saw during one try of a call.
// go-pagerduty keeps neither the response headers of an error nor the
// type of a network error (it formats it with %v), so recorder notes them
// here, reached through the request's context.
type attempt struct {
	retryAfter string // Retry-After of the last response
	reset      string // ratelimit-reset of the last response (seconds)
	transport  error  // the network error, if the request never got an answer
}

type attemptKey struct{}

// recorder is the go-pagerduty HTTPClient: it sends with the real client
// and notes what retry decisions need.
type recorder struct{ next *http.Client }

// Do sends r and records the headers or network error of the answer.
func (c recorder) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(r)
	if a, ok := r.Context().Value(attemptKey{}).(*attempt); ok {
		if err != nil {
			a.transport = err
		} else {
			a.retryAfter = resp.Header.Get("Retry-After")
			a.reset = resp.Header.Get("Ratelimit-Reset")
		}
	}
	return resp, err
}

// call runs fn until it succeeds, fails in a way no retry can fix, runs out
// of attempts, or ctx ends. doing says what was being done, for errors and
// logs. Errors that a retry cannot fix are returned Permanent.
func (c *Client) call(ctx context.Context, doing string, fn func(ctx context.Context) error) error {
	for n := 1; ; n++ {
		// A retry has waited its backoff or Retry-After already.
		if n == 1 {
			if err := c.waitTurn(ctx); err != nil {
				return fmt.Errorf("%s: wait for the pace: %w", doing, err)
			}
		}
		a := &attempt{}
		err := fn(context.WithValue(ctx, attemptKey{}, a))
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", doing, errors.Join(ctx.Err(), err))
		}
		retry, wait, permanent := c.decide(err, a, n)
		switch {
		case permanent:
			return workflows.Permanent(fmt.Errorf("%s: %w", doing, err))
		case !retry:
			return fmt.Errorf("%s (after %d attempts): %w", doing, n, err)
		}
		c.log.WarnContext(ctx, "pagerduty call failed, retrying", "doing", doing, "attempt", n, "wait", wait, "err", err)
		if serr := c.opts.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%s: %w", doing, errors.Join(serr, err))
		}
	}
}

// decide says whether the n-th failed try is retried, after how long, and
// whether the error is one no retry can fix.
func (c *Client) decide(err error, a *attempt, n int) (retry bool, wait time.Duration, permanent bool) {
	var ae pagerduty.APIError
	switch {
	case errors.As(err, &ae):
		switch s := ae.StatusCode; {
		case ae.RateLimited():
			wait = c.backoff(n)
			if d, ok := c.retryAfter(a); ok {
				c.holdOff(d)
				if d > c.opts.MaxDelay {
					return false, 0, false // too long to hold a worker: the job runs again later
				}
				wait = d
			}
		case s >= 500 || s == http.StatusRequestTimeout:
			wait = c.backoff(n)
		case s >= 400:
			return false, 0, true
		default:
			return false, 0, false
		}
	case a.transport != nil:
		wait = c.backoff(n)
	default:
		// A decoding error or a bad argument: the same call fails the same way.
		return false, 0, false
	}
	return n < c.opts.MaxAttempts, wait, false
}

// backoff is the wait after n failures: BaseDelay doubled n-1 times,
// capped at MaxDelay.
func (c *Client) backoff(n int) time.Duration {
	d := c.opts.BaseDelay
	for i := 1; i < n && d < c.opts.MaxDelay; i++ {
		d *= 2
	}
	return min(d, c.opts.MaxDelay)
}

// retryAfter reads how long PagerDuty asked us to wait: Retry-After in
// seconds or as an HTTP date, else ratelimit-reset in seconds.
func (c *Client) retryAfter(a *attempt) (time.Duration, bool) {
	if v := strings.TrimSpace(a.retryAfter); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(c.opts.Clock()), 0), true
		}
	}
	if v := strings.TrimSpace(a.reset); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second, true
		}
	}
	return 0, false
}

// apiError returns the PagerDuty error answer inside err.
func apiError(err error) (pagerduty.APIError, bool) {
	var ae pagerduty.APIError
	ok := errors.As(err, &ae)
	return ae, ok
}

// errorText is every message of a PagerDuty error answer, lowercased, for
// recognising answers such as a duplicate incident key.
func errorText(ae pagerduty.APIError) string {
	if !ae.APIError.Valid {
		return ""
	}
	o := ae.APIError.ErrorObject
	return strings.ToLower(o.Message + " " + strings.Join(o.Errors, " "))
}

// waitTurn takes the next slot of the client's pace (PerMinute, Burst)
// and waits for it on the injected clock, so calls stay under
// PagerDuty's limit instead of running into 429s.
func (c *Client) waitTurn(ctx context.Context) error {
	now := c.opts.Clock()
	c.paceMu.Lock()
	var at time.Time
	c.pace, at, _ = gcra.Take(c.pace, c.limit, now, now.Add(time.Hour))
	c.paceMu.Unlock()
	if d := at.Sub(now); d > 0 {
		return c.opts.Sleep(ctx, d)
	}
	return nil
}

// holdOff records a 429's Retry-After: no call of this client goes
// before it ends, and they resume one interval apart.
func (c *Client) holdOff(d time.Duration) {
	c.paceMu.Lock()
	defer c.paceMu.Unlock()
	c.pace = gcra.Block(c.pace, c.limit, c.opts.Clock().Add(d))
}
