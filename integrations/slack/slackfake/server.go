// Package slackfake is a stateful fake of the Slack Web API. The real
// slack-go client talks to it through slack.OptionAPIURL(srv.APIURL()), so
// tests and the local sandbox exercise opsbot over Slack's wire format:
// form-encoded or JSON requests, {"ok":...} answers, Slack's error codes,
// and HTTP 429 with Retry-After when a method's rate tier is exceeded.
//
// It also plays Slack towards the app: it builds signed slash commands,
// interaction payloads and Events API callbacks, and serves the
// response_url endpoint those carry, recording what the app posts there.
package slackfake

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opsbot/opsbot/internal/faults"
	"github.com/opsbot/opsbot/workflows"
)

// Options configure a fake workspace. Every field has a default.
type Options struct {
	// Clock drives message timestamps, rate limits, trigger and
	// response_url expiry and request signatures. Default: the system
	// clock. Tests pass a workflows.ManualClock's Now.
	Clock func() time.Time
	// Token is the only bot token accepted. Default "xoxb-slackfake".
	Token string
	// AppToken is the only app-level token accepted, by
	// apps.connections.open (Socket Mode). Default "xapp-slackfake".
	AppToken string
	// SocketPing is how often a Socket Mode connection is pinged, as
	// Slack does; slack-go reconnects when pings stop. Default 10s.
	SocketPing time.Duration
	// Team identity reported by auth.test and put in payloads.
	TeamID, TeamName, TeamDomain string
	// The app's bot user, bot and app IDs.
	BotUserID, BotName, BotID, AppID string
	// BaseURL is where this fake is reachable, without a trailing slash.
	// Start fills it in; set it when mounting the fake elsewhere. It is
	// used for response_url and permalinks.
	BaseURL string
	// AppURL is the opsbot server that signed requests are addressed to,
	// without a trailing slash (the CONTRACT's /slack/... routes are
	// appended).
	AppURL string
	// Scopes are the bot token's granted OAuth scopes, sent back in the
	// X-OAuth-Scopes header of every Web API answer as Slack does.
	// Default DefaultScopes; SetScopes changes them.
	Scopes []string
	// RateLimits turns on Slack's per-method rate tiers. Off by default:
	// with a stopped test clock a window never refills, which would make
	// unrelated tests fail after twenty calls. Tests of pacing and the
	// sandbox turn it on (or call SetRateLimits).
	RateLimits bool
	// Log receives one debug line per API call. Default: discard.
	Log *slog.Logger
}

// Server is a fake Slack workspace. It is an http.Handler serving
// /api/{method}, /response/{id} and the Socket Mode WebSocket at
// /link/; all methods are safe for concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger
	hs   *httptest.Server

	mu         sync.Mutex
	seq        int
	lastTS     time.Time
	users      map[string]*User
	userOrder  []string
	channels   map[string]*Channel
	chanOrder  []string
	messages   map[string][]*Message // channel ID -> ordered by ts
	pins       map[string][]Pin      // channel ID -> pins in order
	ephemerals map[string][]Ephemeral
	views      map[string]*View
	viewOrder  []string
	triggers   map[string]trigger
	responses  []Response
	respURLs   map[string]*responseURL
	calls      []Call
	limiter    *limiter
	faults     map[string][]int
	inject     *faults.Injector
	socket     socketState
	uploads    map[string]*File // file ID -> an upload not completed yet
	maxFile    int64
}

// New returns a fake workspace that is not listening anywhere; mount it as
// an http.Handler and set Options.BaseURL to where it is reachable.
func New(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = workflows.SystemClock{}.Now
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&opts.Token, "xoxb-slackfake")
	def(&opts.AppToken, "xapp-slackfake")
	if opts.SocketPing <= 0 {
		opts.SocketPing = 10 * time.Second
	}
	def(&opts.TeamID, "T0FAKE001")
	def(&opts.TeamName, "Sandbox")
	def(&opts.TeamDomain, "sandbox")
	def(&opts.BotUserID, "U0BOT0001")
	def(&opts.BotName, "opsbot")
	def(&opts.BotID, "B0BOT0001")
	def(&opts.AppID, "A0APP0001")
	if opts.Scopes == nil {
		opts.Scopes = slices.Clone(DefaultScopes)
	}
	opts.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
	opts.AppURL = strings.TrimSuffix(opts.AppURL, "/")
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:       opts,
		log:        log,
		users:      map[string]*User{},
		channels:   map[string]*Channel{},
		messages:   map[string][]*Message{},
		pins:       map[string][]Pin{},
		ephemerals: map[string][]Ephemeral{},
		views:      map[string]*View{},
		triggers:   map[string]trigger{},
		respURLs:   map[string]*responseURL{},
		limiter:    newLimiter(opts.RateLimits),
		faults:     map[string][]int{},
		socket:     newSocketState(),
		uploads:    map[string]*File{},
		maxFile:    DefaultMaxFileSize,
	}
	s.addUserLocked(User{ID: opts.BotUserID, Name: opts.BotName, RealName: opts.BotName, IsBot: true})
	return s
}

// Start returns a fake workspace listening on a loopback port. Close it
// when done.
func Start(opts Options) *Server {
	s := New(opts)
	s.hs = httptest.NewServer(s)
	s.mu.Lock()
	s.opts.BaseURL = s.hs.URL
	s.mu.Unlock()
	return s
}

// Close stops a server made by Start, Socket Mode connections included.
func (s *Server) Close() {
	s.closeSockets()
	if s.hs != nil {
		s.hs.Close()
	}
}

// AppToken is the app-level token apps.connections.open accepts.
func (s *Server) AppToken() string { return s.opts.AppToken }

// URL is the fake's base URL, without a trailing slash.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.BaseURL
}

// APIURL is what slack.OptionAPIURL wants: the Web API root with its
// trailing slash.
func (s *Server) APIURL() string { return s.URL() + "/api/" }

// Token is the bot token the fake accepts.
func (s *Server) Token() string { return s.opts.Token }

// BotUserID is the app's bot user.
func (s *Server) BotUserID() string { return s.opts.BotUserID }

// TeamID is the workspace's ID.
func (s *Server) TeamID() string { return s.opts.TeamID }

// SetRateLimits turns rate tiers on or off and forgets past calls.
func (s *Server) SetRateLimits(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limiter = newLimiter(on)
}

// SetTier moves a method to another rate tier, e.g. to test Tier 1
// pacing.
func (s *Server) SetTier(method string, t Tier) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limiter.tiers[method] = t
}

// DefaultScopes are the bot scopes a fake workspace grants by default:
// those opsbot's app manifest asks for (a test in cmd/opsbot keeps them
// in step).
var DefaultScopes = []string{
	"channels:history", "channels:manage", "channels:read", "chat:write", "commands", "files:write",
	"groups:read", "im:write", "pins:write", "reactions:read", "users:read", "users:read.email",
}

// Scopes returns the scopes the bot token was granted.
func (s *Server) Scopes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.opts.Scopes)
}

// SetScopes changes the scopes the bot token was granted (what
// X-OAuth-Scopes reports), as reinstalling the app with another
// manifest would.
func (s *Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	s.opts.Scopes = slices.Clone(scopes)
	s.mu.Unlock()
}

// FailNext makes the next len(statuses) calls of method answer with those
// HTTP statuses (500, 503, ...) before doing anything, so retry paths can
// be tested.
func (s *Server) FailNext(method string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], statuses...)
}

// SetFaults makes Web API calls fail as in plans (nil: none): refused
// with 429 and Retry-After or a 5xx, or done and then unanswered or
// answered 500. Methods are named as Slack names them.
func (s *Server) SetFaults(in *faults.Injector) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inject = in
}

// ServeHTTP routes Web API calls and response_url posts.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/"):
		method := strings.TrimPrefix(r.URL.Path, "/api/")
		s.mu.Lock()
		in := s.inject
		s.mu.Unlock()
		in.Serve(w, r, method, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.serveAPI(w, r, method)
		}), s.refuse(method))
	case strings.HasPrefix(r.URL.Path, uploadPath):
		s.serveUpload(w, r, strings.TrimPrefix(r.URL.Path, uploadPath))
	case strings.HasPrefix(r.URL.Path, "/response/"):
		s.serveResponseURL(w, r, strings.TrimPrefix(r.URL.Path, "/response/"))
	case r.URL.Path == socketPath:
		s.serveSocket(w, r)
	default:
		http.NotFound(w, r)
	}
}

// refuse answers an injected fault as Slack does: 429 with Retry-After
// and {"ok":false,"error":"ratelimited"}, or a 5xx with an HTML page.
func (s *Server) refuse(method string) faults.Refuse {
	return func(w http.ResponseWriter, status int, retryAfter time.Duration) {
		s.mu.Lock()
		call := Call{Method: method, At: s.now(), Status: status, Error: http.StatusText(status), RetryAfter: retryAfter}
		s.calls = append(s.calls, call)
		s.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
			writeJSON(w, status, map[string]any{"ok": false, "error": "ratelimited"})
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body>%d %s</body></html>", status, http.StatusText(status))
	}
}

// now reads the injected clock.
func (s *Server) now() time.Time { return s.opts.Clock() }

// writeJSON answers with a JSON body and status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
