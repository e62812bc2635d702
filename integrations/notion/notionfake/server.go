// Package notionfake is a stateful fake of the Notion API: databases with
// a property schema, pages with properties, and block trees. The real
// jomei/notionapi client talks to it over Notion's JSON wire format, so
// tests and the local sandbox exercise the same requests Notion sees.
//
// It enforces Notion's documented limits (100 children per request, two
// levels of nesting, 2,000 characters per rich-text content, 100 items per
// rich-text array, 1,000 blocks and 500 KB per payload), checks the
// Authorization and Notion-Version headers, validates properties against
// the schema, and, when asked, rate-limits to an average of three requests
// a second with 429 rate_limited and Retry-After, all on an injected clock.
package notionfake

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/opsbot/opsbot/internal/faults"
	"github.com/opsbot/opsbot/workflows"
)

// Limits Notion documents for request payloads.
const (
	MaxChildren     = 100     // block children in one array
	MaxRichText     = 100     // items in one rich-text array
	MaxContent      = 2000    // characters in one text.content
	MaxBlocks       = 1000    // blocks in one payload, nested ones included
	MaxPayloadBytes = 500_000 // bytes in one payload
	MaxNesting      = 2       // levels of children below a request's own children
)

// versions are the Notion-Version values the fake accepts.
var versions = map[string]bool{"2021-05-13": true, "2021-08-16": true, "2022-02-22": true, "2022-06-28": true, "2025-09-03": true}

// Options configure the fake. Every field has a default.
type Options struct {
	// Clock stamps pages and blocks and drives the rate limit. Default:
	// the system clock. Tests pass a workflows.ManualClock's Now.
	Clock func() time.Time
	// Token is the only integration token accepted (Bearer). Default
	// "secret_notionfake".
	Token string
	// RateLimit is the average number of requests a second allowed;
	// 0 turns rate limiting off (the default: a stopped test clock would
	// never refill). Notion allows about 3.
	RateLimit float64
	// Burst is how many requests may come at once before the average
	// applies. Default 3.
	Burst int
	// Log receives one debug line per request. Default: discard.
	Log *slog.Logger
}

// Fault is an answer to give instead of the real one.
type Fault struct {
	// Match selects requests by "METHOD /path-prefix", e.g.
	// "PATCH /v1/blocks/"; empty matches every request.
	Match string
	// Skip lets this many matching requests through before failing.
	Skip int
	// Count is how many matching requests fail. Default 1.
	Count int
	// Status is the HTTP status, e.g. 429, 500, 502, 503.
	Status int
	// Code is Notion's error code; default from Status.
	Code string
	// RetryAfter is the Retry-After value in seconds (429: default 1).
	RetryAfter int
	// AfterApply carries the request out and then answers the fault: an
	// answer lost on the way back, so the caller cannot know it worked.
	AfterApply bool
}

// Server is the fake. It is an http.Handler serving /v1/...; all methods
// are safe for concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger
	hs   *httptest.Server

	mu      sync.Mutex
	seq     int
	dbs     map[string]*database
	dbOrder []string
	pages   map[string]*page
	blocks  map[string]*block
	// users are the workspace's persons by key, listed in userOrder.
	users      map[string]*user
	userOrder  []string
	hideEmails bool
	requests   []Request
	faults     []*Fault
	inject     *faults.Injector
	rate       float64
	burst      float64
	tokens     float64
	filled     time.Time
}

// New returns a fake with no databases, not listening anywhere.
func New(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = workflows.SystemClock{}.Now
	}
	if opts.Token == "" {
		opts.Token = "secret_notionfake"
	}
	if opts.Burst <= 0 {
		opts.Burst = 3
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: log, dbs: map[string]*database{}, pages: map[string]*page{}, blocks: map[string]*block{}, users: map[string]*user{}}
	s.SetRateLimit(opts.RateLimit, opts.Burst)
	return s
}

// Start returns a fake listening on a loopback port. Close it when done.
func Start(opts Options) *Server {
	s := New(opts)
	s.hs = httptest.NewServer(s)
	return s
}

// Close stops a server made by Start.
func (s *Server) Close() {
	if s.hs != nil {
		s.hs.Close()
	}
}

// URL is the base URL of a started fake (what NOTION_API_URL holds).
func (s *Server) URL() string {
	if s.hs == nil {
		return ""
	}
	return s.hs.URL
}

// Token is the integration token the fake accepts.
func (s *Server) Token() string { return s.opts.Token }

// SetRateLimit sets the average requests a second (0: off) and the burst.
func (s *Server) SetRateLimit(perSecond float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate, s.burst = perSecond, float64(max(burst, 1))
	s.tokens, s.filled = s.burst, s.now()
}

// FailNext queues a fault for the next matching requests.
func (s *Server) FailNext(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	if f.Code == "" {
		f.Code = codeFor(f.Status)
	}
	if f.Status == http.StatusTooManyRequests && f.RetryAfter <= 0 {
		f.RetryAfter = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// ClearFaults drops the faults still waiting: Notion answers again.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

func codeFor(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "restricted_resource"
	case http.StatusNotFound:
		return "object_not_found"
	case http.StatusConflict:
		return "conflict_error"
	case http.StatusBadGateway:
		return "bad_gateway"
	case http.StatusServiceUnavailable:
		return "service_unavailable"
	case http.StatusGatewayTimeout:
		return "gateway_timeout"
	}
	if status >= 500 {
		return "internal_server_error"
	}
	return "validation_error"
}

func (s *Server) now() time.Time { return s.opts.Clock() }

// ServeHTTP answers Notion API requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	in := s.inject
	s.mu.Unlock()
	method := Method(r)
	in.Serve(w, r, method, http.HandlerFunc(s.serve), func(w http.ResponseWriter, status int, retryAfter time.Duration) {
		e := &apiError{Status: status, Code: "internal_server_error", Message: "Unexpected error occurred."}
		switch status {
		case http.StatusTooManyRequests:
			e = &apiError{Status: status, Code: "rate_limited", Message: "You have been rate limited. Please try again in a few minutes.",
				RetryAfter: int(retryAfter / time.Second)}
		case http.StatusServiceUnavailable:
			e = &apiError{Status: status, Code: "service_unavailable", Message: "Notion is unavailable, please try again later."}
		}
		s.mu.Lock()
		s.seq++
		reqID := newID("request", s.seq)
		s.requests = append(s.requests, Request{At: s.now(), Method: r.Method, Path: r.URL.Path, Status: e.Status, Code: e.Code, RetryAfter: e.RetryAfter})
		s.mu.Unlock()
		writeError(w, e, reqID)
	})
}

// Method names an API call for fault plans: the HTTP method and the path
// with IDs starred, "PATCH /v1/blocks/*/children".
func Method(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	for i := range parts {
		if i == 2 {
			parts[i] = "*"
		}
	}
	return r.Method + " /" + strings.Join(parts, "/")
}

// SetFaults makes API calls fail as in's plan says (nil: none), each
// named by Method: refused with 429 and Retry-After or a 5xx, or done
// and then unanswered or answered 500.
func (s *Server) SetFaults(in *faults.Injector) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inject = in
}

// serve answers one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4*MaxPayloadBytes))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	reqID := newID("request", s.seq)
	rec := Request{At: s.now(), Method: r.Method, Path: r.URL.Path, Bytes: len(body)}
	parsed, perr := decodeBody(body)
	if perr == nil {
		rec.Children, rec.Blocks = countChildren(parsed)
	}
	out, aerr := s.handle(r, body, parsed, perr)
	if aerr != nil {
		rec.Status, rec.Code, rec.RetryAfter = aerr.Status, aerr.Code, aerr.RetryAfter
		s.requests = append(s.requests, rec)
		s.log.Debug("notionfake", "method", r.Method, "path", r.URL.Path, "status", aerr.Status, "code", aerr.Code)
		writeError(w, aerr, reqID)
		return
	}
	rec.Status = http.StatusOK
	s.requests = append(s.requests, rec)
	s.log.Debug("notionfake", "method", r.Method, "path", r.URL.Path, "status", http.StatusOK)
	writeJSON(w, http.StatusOK, out)
}

// handle checks the request the way Notion does, in order: token,
// version, rate limit, size, then the endpoint. Callers hold s.mu.
func (s *Server) handle(r *http.Request, body []byte, parsed map[string]any, perr error) (any, *apiError) {
	if r.Header.Get("Authorization") != "Bearer "+s.opts.Token {
		return nil, errorf(http.StatusUnauthorized, "unauthorized", "API token is invalid.")
	}
	if v := r.Header.Get("Notion-Version"); !versions[v] {
		if v == "" {
			return nil, errorf(http.StatusBadRequest, "missing_version", "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.")
		}
		return nil, errorf(http.StatusBadRequest, "validation_error", "Notion-Version header failed validation: %q is not a known version.", v)
	}
	if wait, ok := s.allow(); !ok {
		e := errorf(http.StatusTooManyRequests, "rate_limited", "You have been rate limited. Please try again in a few minutes.")
		e.RetryAfter = wait
		return nil, e
	}
	f, afterApply := s.fault(r.Method + " " + r.URL.Path)
	if f != nil && !afterApply {
		return nil, f
	}
	if len(body) > MaxPayloadBytes {
		return nil, invalid("the request body is `%d` bytes, more than the limit of `%d`.", len(body), MaxPayloadBytes)
	}
	if perr != nil {
		return nil, errorf(http.StatusBadRequest, "invalid_json", "Error parsing JSON body.")
	}
	if _, n := countChildren(parsed); n > MaxBlocks {
		return nil, invalid("the request contains `%d` blocks, more than the limit of `%d`.", n, MaxBlocks)
	}
	out, aerr := s.route(r.Method, strings.TrimSuffix(r.URL.Path, "/"), r.URL.Query(), parsed)
	if aerr == nil && f != nil {
		return nil, f
	}
	return out, aerr
}

// allow takes a token from the bucket, or says how many whole seconds
// to wait (Notion's Retry-After is an integer).
func (s *Server) allow() (int, bool) {
	if s.rate <= 0 {
		return 0, true
	}
	now := s.now()
	if el := now.Sub(s.filled); el > 0 {
		s.tokens = math.Min(s.burst, s.tokens+el.Seconds()*s.rate)
	}
	s.filled = now
	if s.tokens < 1 {
		return max(1, int(math.Ceil((1-s.tokens)/s.rate))), false
	}
	s.tokens--
	return 0, true
}

// fault takes the first queued fault matching the request, and says
// whether it is to be answered after the request is carried out.
func (s *Server) fault(req string) (*apiError, bool) {
	for i, f := range s.faults {
		if f.Match != "" && !strings.HasPrefix(req, f.Match) {
			continue
		}
		if f.Skip > 0 {
			f.Skip--
			continue
		}
		if f.Count--; f.Count <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		e := errorf(f.Status, f.Code, "injected by the fake")
		e.RetryAfter = f.RetryAfter
		return e, f.AfterApply
	}
	return nil, false
}

type endpoint func(s *Server, id string, q url.Values, body map[string]any) (any, *apiError)

// route finds the endpoint for a method and path.
func (s *Server) route(method, path string, q url.Values, body map[string]any) (any, *apiError) {
	parts := strings.Split(strings.TrimPrefix(path, "/v1/"), "/")
	if !strings.HasPrefix(path, "/v1/") {
		parts = nil
	}
	var ep endpoint
	id := ""
	switch {
	case len(parts) == 1 && parts[0] == "pages" && method == http.MethodPost:
		ep = (*Server).createPage
	case len(parts) == 2 && parts[0] == "pages" && method == http.MethodGet:
		ep, id = (*Server).getPage, parts[1]
	case len(parts) == 2 && parts[0] == "pages" && method == http.MethodPatch:
		ep, id = (*Server).updatePage, parts[1]
	case len(parts) == 1 && parts[0] == "databases" && method == http.MethodPost:
		ep = (*Server).createDatabase
	case len(parts) == 2 && parts[0] == "databases" && method == http.MethodGet:
		ep, id = (*Server).getDatabase, parts[1]
	case len(parts) == 3 && parts[0] == "databases" && parts[2] == "query" && method == http.MethodPost:
		ep, id = (*Server).queryDatabase, parts[1]
	case len(parts) == 2 && parts[0] == "blocks" && method == http.MethodGet:
		ep, id = (*Server).getBlock, parts[1]
	case len(parts) == 2 && parts[0] == "blocks" && method == http.MethodDelete:
		ep, id = (*Server).deleteBlock, parts[1]
	case len(parts) == 3 && parts[0] == "blocks" && parts[2] == "children" && method == http.MethodGet:
		ep, id = (*Server).listChildren, parts[1]
	case len(parts) == 3 && parts[0] == "blocks" && parts[2] == "children" && method == http.MethodPatch:
		ep, id = (*Server).appendChildren, parts[1]
	case len(parts) == 1 && parts[0] == "users" && method == http.MethodGet:
		ep = (*Server).listUsers
	default:
		return nil, errorf(http.StatusBadRequest, "invalid_request_url", "Invalid request URL.")
	}
	return ep(s, id, q, body)
}

// decodeBody reads a JSON object body; an empty body is an empty object.
func decodeBody(body []byte) (map[string]any, error) {
	out := map[string]any{}
	if len(bytes.TrimSpace(body)) == 0 {
		return out, nil
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}
