// Package pdfake is a stateful fake of PagerDuty's REST API and of its V3
// webhooks. The real go-pagerduty client talks to it through
// pagerduty.WithAPIEndpoint(srv.URL()), so tests and the local sandbox
// exercise opsbot over PagerDuty's wire format: JSON bodies, the
// "Token token=" header, the From header, offset pagination, PagerDuty's
// error objects, and 429 with Retry-After when asked.
//
// It also plays PagerDuty towards the app: every incident change, whether
// made through the API or through the controls that act "inside
// PagerDuty" (Trigger, Acknowledge, Resolve, ...), appends a log entry
// and emits a signed V3 webhook to Options.WebhookURL.
package pdfake

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opsbot/opsbot/internal/faults"
	"github.com/opsbot/opsbot/workflows"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// Options configure a fake account. Every field has a default.
type Options struct {
	// Clock stamps incidents, log entries and events. Default: the system
	// clock. Tests pass a workflows.ManualClock's Now.
	Clock func() time.Time
	// Token is the only API token accepted. Default "pdfake-token".
	Token string
	// Subdomain names the account in html_url links. Default "sandbox".
	Subdomain string
	// BaseURL is where this fake is reachable, without a trailing slash;
	// it is used for "self" links. Start fills it in.
	BaseURL string
	// WebhookURL receives the V3 webhooks (opsbot's /webhooks/pagerduty).
	// Empty: events are recorded but not sent.
	WebhookURL string
	// WebhookSecrets sign every webhook, one signature each, as during a
	// rotation. Default: DefaultWebhookSecret.
	WebhookSecrets []string
	// SyncWebhooks delivers a change's webhooks before the API call that
	// made it answers (or the control returns), so tests see them at
	// once. Off: a background sender delivers them in order.
	SyncWebhooks bool
	// HTTPClient delivers webhooks. Default: a client with a 10s timeout.
	HTTPClient *http.Client
	// Log receives one debug line per API call and per delivery.
	Log *slog.Logger
	// OffsetCap is the most offset+limit a list answers (default
	// DefaultOffsetCap, PagerDuty's 10,000); tests lower it.
	OffsetCap int
}

// DefaultWebhookSecret signs webhooks when Options.WebhookSecrets is empty.
const DefaultWebhookSecret = "pdfake-webhook-secret"

// Call is one API request the fake answered, for tests to assert on.
type Call struct {
	At     time.Time
	Method string
	Path   string
	Route  string // the route pattern, e.g. "GET /incidents/{id}/log_entries"
	Query  url.Values
	From   string // the From header
	Body   string
	Status int
}

type fault struct {
	route      string
	left       int
	status     int
	retryAfter string
}

// Server is a fake PagerDuty account. It is an http.Handler; all methods
// are safe for concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger
	hs   *httptest.Server
	mux  *http.ServeMux
	out  *outbox

	mu        sync.Mutex
	seq       int
	number    int
	users     map[string]*User
	userOrder []string
	services  map[string]*Service
	policies  map[string]*EscalationPolicy
	polOrder  []string
	incidents map[string]*Incident
	incOrder  []string
	calls     []Call
	faults    []*fault
	inject    *faults.Injector
	events    []Event
	subs      []WebhookSubscription
	pending   []int // events emitted by the change in progress
}

// New returns a fake account that is not listening anywhere; mount it as
// an http.Handler and set Options.BaseURL to where it is reachable.
func New(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = workflows.SystemClock{}.Now
	}
	if opts.Token == "" {
		opts.Token = "pdfake-token"
	}
	if opts.Subdomain == "" {
		opts.Subdomain = "sandbox"
	}
	if len(opts.WebhookSecrets) == 0 {
		opts.WebhookSecrets = []string{DefaultWebhookSecret}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
	s := &Server{
		opts:      opts,
		log:       opts.Log,
		mux:       http.NewServeMux(),
		users:     map[string]*User{},
		services:  map[string]*Service{},
		policies:  map[string]*EscalationPolicy{},
		incidents: map[string]*Incident{},
	}
	s.out = newOutbox(s)
	s.routes()
	return s
}

// Start returns a fake account listening on a loopback port. Close it
// when done.
func Start(opts Options) *Server {
	s := New(opts)
	s.hs = httptest.NewServer(s)
	s.mu.Lock()
	s.opts.BaseURL = s.hs.URL
	s.mu.Unlock()
	return s
}

// Close stops the webhook sender and a server made by Start.
func (s *Server) Close() {
	s.out.close()
	if s.hs != nil {
		s.hs.Close()
	}
}

// URL is the fake's base URL, for pagerduty.WithAPIEndpoint.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.BaseURL
}

// Token is the API token the fake accepts.
func (s *Server) Token() string { return s.opts.Token }

// SetWebhookURL changes where webhooks go (the sandbox learns opsbot's
// address after both are running).
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	s.opts.WebhookURL = u
	s.mu.Unlock()
}

// FailNext makes the next n calls of route (e.g. "GET /incidents", or "*"
// for any) answer status with PagerDuty's error object, before doing
// anything.
func (s *Server) FailNext(route string, status, n int) {
	s.addFault(&fault{route: route, left: n, status: status})
}

// Throttle makes the next n calls of route answer 429 with a Retry-After
// of retryAfter (whole seconds), as PagerDuty's rate limiter does.
func (s *Server) Throttle(route string, n int, retryAfter time.Duration) {
	s.addFault(&fault{route: route, left: n, status: http.StatusTooManyRequests,
		retryAfter: strconv.Itoa(int(retryAfter.Round(time.Second) / time.Second))})
}

func (s *Server) addFault(f *fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
}

// takeFault returns the fault for route, if one is armed. Caller holds mu.
func (s *Server) takeFault(route string) *fault {
	for i, f := range s.faults {
		if f.route != route && f.route != "*" {
			continue
		}
		if f.left--; f.left <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

// Calls returns every API request answered so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		c.Query = cloneValues(c.Query)
		out[i] = c
	}
	return out
}

// CallsTo returns the calls of one route, e.g. "PUT /incidents".
func (s *Server) CallsTo(route string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Route == route {
			out = append(out, c)
		}
	}
	return out
}

// handler answers one API call with a status and a JSON value. It runs
// with s.mu held.
type handler func(r *http.Request, body []byte) (int, any)

func (s *Server) routes() {
	s.route("POST /incidents", s.createIncident)
	s.route("GET /incidents", s.listIncidents)
	s.route("PUT /incidents", s.manageIncidents)
	s.route("GET /incidents/{id}", s.getIncident)
	s.route("GET /incidents/{id}/log_entries", s.listLogEntries)
	s.route("GET /incidents/{id}/alerts", s.listAlerts)
	s.route("GET /incidents/{id}/notes", s.listNotes)
	s.route("POST /incidents/{id}/notes", s.createNote)
	s.route("GET /oncalls", s.listOnCalls)
	s.route("GET /users", s.listUsers)
	s.route("GET /users/{id}", s.getUser)
	s.route("GET /services/{id}", s.getService)
	s.route("GET /webhook_subscriptions", s.listWebhookSubscriptions)
	s.route("GET /abilities", s.listAbilities)
	s.route("/", func(*http.Request, []byte) (int, any) {
		return fail(http.StatusNotFound, 2100, "Not Found")
	})
}

// route registers h behind authentication, fault injection and call
// recording.
func (s *Server) route(pattern string, h handler) {
	serve := s.serveRoute(pattern, h)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		in := s.inject
		s.mu.Unlock()
		in.Serve(w, r, pattern, serve, func(w http.ResponseWriter, status int, retryAfter time.Duration) {
			s.mu.Lock()
			s.calls = append(s.calls, Call{At: s.now(), Method: r.Method, Path: r.URL.Path, Route: pattern, Query: r.URL.Query(), Status: status})
			s.mu.Unlock()
			f := &fault{status: status}
			if retryAfter > 0 {
				f.retryAfter = strconv.Itoa(int(retryAfter / time.Second))
			}
			code, v := faultAnswer(f)
			writeJSON(w, code, v, f.retryAfter)
		})
	})
}

// SetFaults makes API calls fail as in's plan says (nil: none), each
// route a method ("PUT /incidents"): refused with 429 and Retry-After or
// a 5xx, or done and then unanswered or answered 500.
func (s *Server) SetFaults(in *faults.Injector) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inject = in
}

// serveRoute is a route's handler behind authentication, armed faults
// and call recording.
func (s *Server) serveRoute(pattern string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			writeJSON(w, http.StatusBadRequest, errorBody(2001, "Invalid Input Provided", "request body unreadable or too large"), "")
			return
		}
		s.mu.Lock()
		call := Call{At: s.now(), Method: r.Method, Path: r.URL.Path, Route: pattern,
			Query: r.URL.Query(), From: r.Header.Get("From"), Body: string(body)}
		var status int
		var v any
		retryAfter := ""
		if r.Header.Get("Authorization") != "Token token="+s.opts.Token {
			status, v = fail(http.StatusUnauthorized, 2006, "Authentication failed")
		} else if f := s.takeFault(pattern); f != nil {
			status, v = faultAnswer(f)
			retryAfter = f.retryAfter
		} else {
			status, v = h(r, body)
		}
		call.Status = status
		s.calls = append(s.calls, call)
		pending := s.takePending()
		s.mu.Unlock()
		s.log.Debug("pdfake call", "route", pattern, "path", r.URL.Path, "status", status)
		s.dispatch(pending)
		writeJSON(w, status, v, retryAfter)
	}
}

// ServeHTTP answers REST API calls.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// faultAnswer is the error object PagerDuty sends with an injected status.
func faultAnswer(f *fault) (int, any) {
	switch {
	case f.status == http.StatusTooManyRequests:
		return fail(f.status, 2020, "Rate Limit Exceeded")
	case f.status >= 500:
		return fail(f.status, 2000, "Internal Error")
	case f.status == http.StatusNotFound:
		return fail(f.status, 2100, "Not Found")
	}
	return fail(f.status, 2001, "Invalid Input Provided", "injected by pdfake")
}

// now reads the injected clock.
func (s *Server) now() time.Time { return s.opts.Clock().UTC() }

// writeJSON answers with PagerDuty's content type.
func writeJSON(w http.ResponseWriter, status int, v any, retryAfter string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is PagerDuty's error object.
func errorBody(code int, message string, errs ...string) map[string]any {
	e := map[string]any{"message": message, "code": code}
	if len(errs) > 0 {
		e["errors"] = errs
	}
	return map[string]any{"error": e}
}

// fail is a handler's error answer.
func fail(status, code int, message string, errs ...string) (int, any) {
	return status, errorBody(code, message, errs...)
}

// invalid is PagerDuty's usual 400.
func invalid(errs ...string) (int, any) {
	return fail(http.StatusBadRequest, 2001, "Invalid Input Provided", errs...)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
