// Package pagerduty implements workflows.Pager with go-pagerduty: it opens,
// acknowledges and resolves incidents, finds who responds to them and
// reads their log. It also takes in PagerDuty's V3 webhooks (webhook.go)
// and turns them into neutral workflows.PagerEvent values.
//
// go-pagerduty does not retry. Every call here goes through one retry loop
// (retry.go) that retries rate limits (honouring Retry-After), 5xx answers
// and network errors with bounded exponential backoff, and marks answers
// no retry can fix (400, 401, 403, 404) workflows.Permanent so the job
// runner stops at once.
package pagerduty

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/opsbot/opsbot/internal/gcra"
	"github.com/opsbot/opsbot/workflows"
)

var _ workflows.Pager = (*Client)(nil)

// DefaultAPIURL is PagerDuty's REST API.
const DefaultAPIURL = "https://api.pagerduty.com"

// Options configure the adapter. Every field has a default.
type Options struct {
	// APIURL overrides the REST API's base URL (PAGERDUTY_API_URL: tests,
	// the sandbox, proxies). Default DefaultAPIURL.
	APIURL string
	// HTTPClient sends the requests. Default: a client with a 30s timeout.
	HTTPClient *http.Client
	// Log receives one line per retry and per change made. Default: discard.
	Log *slog.Logger
	// Clock is opsbot's "now": it decides who is on call now and turns a
	// Retry-After date into a wait. Default: the system clock.
	Clock func() time.Time
	// MaxAttempts bounds the tries of one call, the first included.
	// Default 5.
	MaxAttempts int
	// BaseDelay is the first backoff; it doubles on each retry. Default
	// 500ms.
	BaseDelay time.Duration
	// MaxDelay caps one backoff. A Retry-After longer than this ends the
	// retries early (the error is not Permanent, so the job runner tries
	// again later instead of holding a worker). Default 30s.
	MaxDelay time.Duration
	// Sleep waits between attempts and returns early with ctx's error.
	// Default: a timer. Tests pass one that records the waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// PageSize is the limit asked for on paginated lists. Default 100
	// (PagerDuty's maximum).
	PageSize uint
	// PerMinute paces every REST call of this client ahead of
	// PagerDuty's limit (960 requests a minute per API key), with Burst
	// calls at once after a quiet spell. Default 900 and 20: a review
	// gathering hundreds of incidents waits its turn instead of meeting
	// 429s, and leaves room for the incident work sharing the key.
	PerMinute, Burst int
}

// Client is PagerDuty as opsbot uses it. It is safe for concurrent use.
type Client struct {
	pd   *pagerduty.Client
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	emails map[string]string // user ID → email; emails rarely change

	paceMu sync.Mutex
	pace   gcra.State // the bucket every call takes a slot of
	limit  gcra.Limit
}

// New builds the adapter around a go-pagerduty client for token. It makes
// no network call.
func New(token string, opts Options) *Client {
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	opts.APIURL = strings.TrimSuffix(opts.APIURL, "/")
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = workflows.SystemClock{}.Now
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = 500 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 30 * time.Second
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.PageSize == 0 || opts.PageSize > 100 {
		opts.PageSize = 100
	}
	if opts.PerMinute <= 0 {
		opts.PerMinute = 900
	}
	if opts.Burst <= 0 {
		opts.Burst = 20
	}
	pd := pagerduty.NewClient(token, pagerduty.WithAPIEndpoint(opts.APIURL))
	pd.HTTPClient = recorder{next: opts.HTTPClient}
	return &Client{pd: pd, opts: opts, log: opts.Log, emails: map[string]string{}, limit: gcra.PerMinute(opts.PerMinute, opts.Burst)}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// toPDIncident keeps what opsbot needs of a PagerDuty incident.
func toPDIncident(in *pagerduty.Incident) workflows.PDIncident {
	return workflows.PDIncident{
		ID:          in.ID,
		Number:      int(in.IncidentNumber),
		URL:         in.HTMLURL,
		Status:      in.Status,
		Service:     in.Service.ID,
		ServiceName: in.Service.Summary,
		Title:       in.Title,
		CreatedAt:   parseTime(in.CreatedAt),
	}
}

// parseTime reads one of PagerDuty's RFC 3339 times; zero when it is
// missing or unreadable.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
