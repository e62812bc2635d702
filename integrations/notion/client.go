// Package notion implements workflows.DocWriter with jomei/notionapi:
// post-mortems are pages in a Notion database, one per incident, found
// again by their "Incident ID" property so a retry never makes two.
//
// notionapi has no base-URL option and its own 429 retry resends a body
// it has already read, so the client is built with a RoundTripper that
// points it at NOTION_API_URL and paces every request (Notion allows
// about three a second), and with WithRetry(1); this package retries 429
// (after Retry-After), 5xx and network errors itself.
package notion

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/jomei/notionapi"

	"github.com/opsbot/opsbot/workflows"
)

var _ workflows.DocWriter = (*Client)(nil)

// DefaultAPIURL is Notion's API root.
const DefaultAPIURL = "https://api.notion.com"

// Props names the post-mortem database's properties, so a team can use
// its own column names. Empty names take the defaults.
type Props struct {
	Title      string // title property; default "Name"
	IncidentID string // rich_text; default "Incident ID"
	Severity   string // select; default "Severity"
	Status     string // select; default "Status"
	Start      string // date; default "Start"
	End        string // date; default "End"
	Duration   string // rich_text such as "1h 20m"; default "Duration"
	Commander  string // rich_text (the real name) or people (the Notion person); default "Commander"
	Services   string // multi_select; default "Services"
	Meeting    string // date of the review meeting; default "Meeting"
}

// DefaultProps are the property names used when none are configured.
var DefaultProps = Props{
	Title: "Name", IncidentID: "Incident ID", Severity: "Severity", Status: "Status",
	Start: "Start", End: "End", Duration: "Duration", Commander: "Commander",
	Services: "Services", Meeting: "Meeting",
}

// withDefaults fills empty names from DefaultProps.
func (p Props) withDefaults() Props {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&p.Title, DefaultProps.Title)
	def(&p.IncidentID, DefaultProps.IncidentID)
	def(&p.Severity, DefaultProps.Severity)
	def(&p.Status, DefaultProps.Status)
	def(&p.Start, DefaultProps.Start)
	def(&p.End, DefaultProps.End)
	def(&p.Duration, DefaultProps.Duration)
	def(&p.Commander, DefaultProps.Commander)
	def(&p.Services, DefaultProps.Services)
	def(&p.Meeting, DefaultProps.Meeting)
	return p
}

// Schema is the database schema these properties need (name → Notion
// property type): what to create in Notion, or in the sandbox's fake.
func (p Props) Schema() map[string]string {
	p = p.withDefaults()
	return map[string]string{
		p.Title: "title", p.IncidentID: "rich_text", p.Severity: "select", p.Status: "select",
		p.Start: "date", p.End: "date", p.Duration: "rich_text", p.Commander: "rich_text",
		p.Services: "multi_select", p.Meeting: "date",
	}
}

// Options configure the client. Only DatabaseID is required.
type Options struct {
	// APIURL replaces Notion's API root (NOTION_API_URL: tests, the
	// sandbox, a proxy). Default DefaultAPIURL.
	APIURL string
	// DatabaseID is the post-mortem database, shared with the integration.
	DatabaseID string
	// Props names the database's properties.
	Props Props
	// Log receives a line per page written and per retry. Default: discard.
	Log *slog.Logger
	// Clock paces requests and times waits. Default: the system clock.
	Clock func() time.Time
	// Sleep waits d or until ctx is done. Default: a timer. Tests pass one
	// that advances their manual clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// RequestsPerSecond paces all requests of this client. Default 3,
	// Notion's average limit per integration.
	RequestsPerSecond float64
	// MaxAttempts bounds the tries of one call (429, 5xx, network
	// errors). Default 5.
	MaxAttempts int
	// HTTPClient carries the requests; its Transport is wrapped. Default:
	// a client with a 30-second timeout.
	HTTPClient *http.Client
}

// Client writes post-mortems to one Notion database.
type Client struct {
	api *notionapi.Client
	// http and token make the few calls whose answer notionapi reads
	// lossily (a date's "2026-11-24" and "2026-11-24T00:00:00Z" parse
	// alike), through the same pacing and retries.
	http  *http.Client
	token string
	db    notionapi.DatabaseID
	props Props
	log   *slog.Logger
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	pace  *pacer
	tries int
	// schema is the database's properties as last read, so optional
	// ones it lacks are left out of pages instead of failing them.
	schema schemaCache
	// users maps e-mails to Notion people, for people properties.
	users userCache
	// reviews holds the review databases' properties, as read once.
	reviews reviewSchemas
}

// New builds the client. It makes no network call.
func New(token string, opts Options) *Client {
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	if opts.Clock == nil {
		opts.Clock = workflows.SystemClock{}.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.RequestsPerSecond <= 0 {
		opts.RequestsPerSecond = 3
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := opts.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: 30 * time.Second}
	}
	target, err := url.Parse(opts.APIURL)
	if err != nil || target.Host == "" {
		// A bad URL is a configuration error found at the first call:
		// New makes no network call and returns no error.
		target = &url.URL{Scheme: "invalid", Host: "notion-api-url.invalid"}
		log.Error("notion: bad API URL", "url", opts.APIURL, "err", err)
	}
	interval := time.Duration(float64(time.Second)/opts.RequestsPerSecond) + 1 // round up
	p := &pacer{interval: interval, now: opts.Clock, sleep: opts.Sleep}
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	hc := *base
	hc.Transport = &transport{base: rt, target: target, pace: p}
	c := &Client{
		api:   notionapi.NewClient(notionapi.Token(token), notionapi.WithHTTPClient(&hc), notionapi.WithRetry(1)),
		http:  &hc,
		token: token,
		db:    notionapi.DatabaseID(opts.DatabaseID),
		props: opts.Props.withDefaults(),
		log:   log,
		now:   opts.Clock,
		sleep: opts.Sleep,
		pace:  p,
		tries: opts.MaxAttempts,
	}
	return c
}

// sleep waits d on a real timer, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Error is an answer from Notion that was not a success.
type Error struct {
	Status  int    // HTTP status
	Code    string // Notion's code: validation_error, unauthorized, rate_limited, ...
	Message string
	err     error
}

// Error says what Notion answered, with status and code for the log.
func (e *Error) Error() string {
	return fmt.Sprintf("notion answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns notionapi's error.
func (e *Error) Unwrap() error { return e.err }
