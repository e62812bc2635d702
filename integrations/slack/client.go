// Package slack is opsbot's outgoing side of Slack: it delivers workflow
// messages (workflows.Notifier) through the Web API with slack-go, renders
// them as Block Kit, and answers directory questions (Slack user ID <->
// email) for the bot. Incoming requests are the bot package's business.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/opsbot/opsbot/workflows"
)

// Options tune a Client. Zero values are sensible defaults.
type Options struct {
	// APIURL overrides the Web API root (SLACK_API_URL); it must end in
	// "/", which is added when missing.
	APIURL string
	Log    *slog.Logger
	// Clock dates cache entries. Default: the system clock.
	Clock func() time.Time
	// Sleep waits between attempts; it must return early with ctx's error
	// when ctx ends. Default: a timer. Tests pass one that moves a manual
	// clock, so retries are instant and deterministic.
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxAttempts bounds tries per Web API call (default 4).
	MaxAttempts int
	// BackoffBase is the first wait after a 5xx or network error, doubled
	// each time up to BackoffMax (defaults 500ms and 20s).
	BackoffBase, BackoffMax time.Duration
	// MaxRetryAfter is the longest 429 Retry-After waited in-process
	// (default 90s). A longer one is returned as an error so the outbox
	// reschedules the job instead of holding a worker.
	MaxRetryAfter time.Duration
	// CacheTTL is how long user, email, DM and channel-name lookups are
	// trusted (default 1h).
	CacheTTL time.Duration
	// HTTPClient is used for every call (default: 30s timeout).
	HTTPClient *http.Client
	// Limits overrides the pace of rate tiers (default DefaultLimits).
	Limits map[Tier]Limit
	// Shared, when set, holds the rate buckets and Retry-Afters every
	// replica sees (the store), so the cluster together keeps to Slack's
	// limits. Nil: this process paces itself alone.
	Shared SharedPace
}

// Client talks to one Slack workspace as its bot. It is safe for
// concurrent use.
type Client struct {
	api   *slackapi.Client
	token string // for the doctor's auth.test, which needs the response headers
	opts  Options
	log   *slog.Logger
	r     Renderer

	emails   *cache // user ID -> email
	userIDs  *cache // lowercased email -> user ID
	dms      *cache // user ID -> IM channel ID
	channels *cache // channel name -> channel ID
	pacer    *pacer

	botMu   sync.Mutex
	botUser string // the bot's own user ID, from auth.test
}

var _ workflows.Notifier = (*Client)(nil)

// New returns a client for the bot token. It makes no network call.
func New(token string, opts Options) *Client {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = workflows.SystemClock{}.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepTimer
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 4
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = 500 * time.Millisecond
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 20 * time.Second
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = 90 * time.Second
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = time.Hour
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	// slack-go's own retry (OptionRetryConfig) sleeps on the wall clock
	// with random jitter and hides attempts; retries are done here instead.
	apiOpts := []slackapi.Option{slackapi.OptionHTTPClient(opts.HTTPClient)}
	if opts.APIURL != "" {
		if !strings.HasSuffix(opts.APIURL, "/") {
			opts.APIURL += "/"
		}
		apiOpts = append(apiOpts, slackapi.OptionAPIURL(opts.APIURL))
	}
	mk := func() *cache { return newCache(opts.CacheTTL, opts.Clock) }
	return &Client{
		api: slackapi.New(token, apiOpts...), token: token, opts: opts, log: opts.Log,
		emails: mk(), userIDs: mk(), dms: mk(), channels: mk(), pacer: newPacer(),
	}
}

func sleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxRateLimited bounds the 429s one call waits out before it gives up
// and lets the outbox try again later.
const maxRateLimited = 8

// call runs one Web API call, paced and with retries: it waits for the
// method's rate bucket and any Retry-After, and after a 429 records the
// Retry-After Slack gave (never less) so every later call of the method
// waits too; after a 5xx or network error it backs off exponentially;
// anything else is returned at once. Errors that no retry can fix are
// marked workflows.Permanent.
func (c *Client) call(ctx context.Context, method string, fn func(context.Context) error) error {
	return c.callOn(ctx, method, "", fn)
}

// callOn is call for a method limited per channel (chat.postMessage):
// calls for one channel go out one at a time, in the order they arrived,
// each holding the channel's lane until it is done.
func (c *Client) callOn(ctx context.Context, method, channel string, fn func(context.Context) error) error {
	key := rateKey(method, channel)
	if key != method {
		leave, err := c.pacer.enter(ctx, channel)
		if err != nil {
			return fmt.Errorf("slack %s: wait for channel %s: %w", method, channel, err)
		}
		defer leave()
	}
	limited := 0
	for attempt := 1; ; attempt++ {
		if err := c.pace(ctx, method, key); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("slack %s: %w", method, ctx.Err())
			}
			if limited > 0 {
				return fmt.Errorf("slack %s (rate limited %d times): held back: %w", method, limited, err)
			}
			return fmt.Errorf("slack %s: held back: %w", method, err)
		}
		workflows.Called(ctx) // from here on the job waits for its slots (MayDefer)
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("slack %s: %w", method, ctx.Err())
		}
		var rl *slackapi.RateLimitedError
		if errors.As(err, &rl) {
			limited++
			until := c.opts.Clock().Add(max(rl.RetryAfter, time.Second))
			c.block(ctx, key, c.limitFor(method), until)
			if rl.RetryAfter > c.opts.MaxRetryAfter || limited > maxRateLimited {
				return workflows.Defer(until, fmt.Errorf("slack %s (rate limited %d times): %w", method, limited, err))
			}
			c.log.WarnContext(ctx, "slack rate limited, waiting", "method", method, "channel", channel, "retry_after", rl.RetryAfter)
			attempt-- // a 429 is not a failed attempt: the pacer waits it out
			continue
		}
		wait, retry := c.retryAfter(err, attempt)
		if retry && sendOnce[method] {
			// It may have been done: sending it again here could do it
			// twice. The job that asked retries, looking first.
			return fmt.Errorf("slack %s: outcome unknown, not sent again: %w", method, err)
		}
		if !retry || attempt >= c.opts.MaxAttempts {
			if permanent(err) {
				return workflows.Permanent(fmt.Errorf("slack %s: %w", method, err))
			}
			return fmt.Errorf("slack %s (attempt %d): %w", method, attempt, err)
		}
		c.log.WarnContext(ctx, "slack call failed, retrying", "method", method, "attempt", attempt, "wait", wait, "err", err)
		if serr := c.opts.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("slack %s: wait to retry: %w (after %w)", method, serr, err)
		}
	}
}

// retryAfter says whether err (not a 429: callOn handles those) is worth
// another attempt and after how long.
func (c *Client) retryAfter(err error, attempt int) (time.Duration, bool) {
	backoff := c.opts.BackoffBase << (attempt - 1)
	if backoff <= 0 || backoff > c.opts.BackoffMax {
		backoff = c.opts.BackoffMax
	}
	var sc slackapi.StatusCodeError
	if errors.As(err, &sc) {
		return backoff, sc.Code >= 500
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "internal_error", "service_unavailable", "request_timeout", "ratelimited", "fatal_error":
			return backoff, true
		}
		return 0, false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset") ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "EOF") {
		return backoff, true
	}
	return 0, false
}

// permanent reports Slack errors that mean the request itself is wrong or
// not allowed: retrying later gives the same answer.
func permanent(err error) bool {
	var se slackapi.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	switch se.Err {
	case "internal_error", "service_unavailable", "request_timeout", "ratelimited", "fatal_error":
		return false
	}
	return true
}

// SlackError returns the Slack error code in err ("channel_not_found"),
// or "".
func SlackError(err error) string {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}
