package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Call is one Web API request as the fake received it, for tests that
// check what was sent and when.
type Call struct {
	Method string
	// Params holds the request's arguments, token removed. JSON bodies
	// are flattened: string fields as they are, others as JSON text.
	Params url.Values
	At     time.Time
	// Status is the HTTP status answered; Error the Slack error code, if
	// any ("ratelimited" for a 429).
	Status int
	Error  string
	// RetryAfter is what a 429 told the client to wait.
	RetryAfter time.Duration
}

// params are a request's arguments from the query, a form body or a JSON
// body, all read the same way.
type params struct{ url.Values }

// result is the body of a successful answer, without "ok".
type result map[string]any

// apiError is a Slack error code with optional response_metadata messages.
type apiError struct {
	Code     string
	Messages []string
}

func (e *apiError) Error() string { return e.Code }

// fail builds a Slack error answer.
func fail(code string, msgs ...string) error { return &apiError{Code: code, Messages: msgs} }

type handler func(s *Server, p params) (result, error)

// methods is the Web API surface the fake implements.
var methods = map[string]handler{
	"auth.test":                    (*Server).authTest,
	"chat.postMessage":             (*Server).chatPostMessage,
	"chat.update":                  (*Server).chatUpdate,
	"chat.postEphemeral":           (*Server).chatPostEphemeral,
	"chat.delete":                  (*Server).chatDelete,
	"chat.getPermalink":            (*Server).chatGetPermalink,
	"conversations.open":           (*Server).convOpen,
	"conversations.create":         (*Server).convCreate,
	"conversations.invite":         (*Server).convInvite,
	"conversations.info":           (*Server).convInfo,
	"conversations.history":        (*Server).convHistory,
	"conversations.replies":        (*Server).convReplies,
	"conversations.setTopic":       (*Server).convSetTopic,
	"conversations.setPurpose":     (*Server).convSetPurpose,
	"conversations.list":           (*Server).convList,
	"pins.add":                     (*Server).pinsAdd,
	"pins.list":                    (*Server).pinsList,
	"reactions.add":                (*Server).reactionsAdd,
	"users.info":                   (*Server).usersInfo,
	"users.lookupByEmail":          (*Server).usersLookupByEmail,
	"users.list":                   (*Server).usersList,
	"views.open":                   (*Server).viewsOpen,
	"views.update":                 (*Server).viewsUpdate,
	"views.publish":                (*Server).viewsPublish,
	"apps.connections.open":        (*Server).appsConnectionsOpen,
	"files.getUploadURLExternal":   (*Server).filesGetUploadURL,
	"files.completeUploadExternal": (*Server).filesCompleteUpload,
}

// checkToken says why a token may not call method, or "". Socket Mode's
// apps.connections.open takes only the app-level token; everything else
// only the bot token.
func (s *Server) checkToken(method, token string) string {
	want, other := s.opts.Token, s.opts.AppToken
	if method == "apps.connections.open" {
		want, other = s.opts.AppToken, s.opts.Token
	}
	switch token {
	case "":
		return "not_authed"
	case want:
		return ""
	case other:
		return "not_allowed_token_type"
	}
	return "invalid_auth"
}

const maxBody = 1 << 20

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, method string) {
	p, token, perr := readParams(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	call := Call{Method: method, Params: p.Values, At: now, Status: http.StatusOK}
	defer func() {
		s.calls = append(s.calls, call)
		s.log.Debug("slack api call", "method", method, "status", call.Status, "error", call.Error)
	}()
	answerErr := func(code string, msgs []string, extra ...map[string]any) {
		call.Error = code
		body := map[string]any{"ok": false, "error": code}
		if len(msgs) > 0 {
			body["response_metadata"] = map[string]any{"messages": msgs}
		}
		for _, e := range extra {
			for k, v := range e {
				body[k] = v
			}
		}
		writeJSON(w, http.StatusOK, body)
	}
	if perr != nil {
		answerErr("invalid_form_data", []string{perr.Error()})
		return
	}
	if code := s.checkToken(method, token); code != "" {
		answerErr(code, nil)
		return
	}
	if token == s.opts.Token {
		// Slack reports a token's granted scopes on every answer.
		w.Header().Set("X-OAuth-Scopes", strings.Join(s.opts.Scopes, ","))
	}
	if q := s.faults[method]; len(q) > 0 {
		call.Status, s.faults[method] = q[0], q[1:]
		call.Error = http.StatusText(call.Status)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(call.Status)
		fmt.Fprintf(w, "<html><body>%d %s</body></html>", call.Status, http.StatusText(call.Status))
		return
	}
	h, ok := methods[method]
	if !ok {
		answerErr("unknown_method", nil)
		return
	}
	if wait, ok := s.limiter.allow(method, s.rateKey(method, p), now); !ok {
		secs := int((wait + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		call.Status, call.Error = http.StatusTooManyRequests, "ratelimited"
		call.RetryAfter = time.Duration(secs) * time.Second
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
		return
	}
	res, err := h(s, p)
	if err != nil {
		var ie *inviteError
		if errors.As(err, &ie) {
			answerErr(ie.Error(), nil, map[string]any{"errors": ie.failed})
			return
		}
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{Code: "internal_error", Messages: []string{err.Error()}}
		}
		answerErr(ae.Code, ae.Messages)
		return
	}
	body := map[string]any{"ok": true}
	for k, v := range res {
		body[k] = v
	}
	writeJSON(w, http.StatusOK, body)
}

// rateKey scopes a method's limit: chat.postMessage is limited per
// channel, everything else per workspace.
func (s *Server) rateKey(method string, p params) string {
	if method != "chat.postMessage" {
		return method
	}
	if ch := s.lookupChannel(p.Get("channel")); ch != nil {
		return method + "/" + ch.ID
	}
	return method + "/" + p.Get("channel")
}

// readParams collects arguments the way Slack accepts them: query string,
// form body, or JSON body, and the token from the Authorization header or
// a "token" argument.
func readParams(r *http.Request) (params, string, error) {
	v := url.Values{}
	for k, vs := range r.URL.Query() {
		v[k] = append(v[k], vs...)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return params{v}, "", fmt.Errorf("read body: %w", err)
	}
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case len(body) == 0:
	case ctype == "application/json":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return params{v}, "", fmt.Errorf("decode JSON body: %w", err)
		}
		for k, raw := range m {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				v.Set(k, str)
			} else {
				v.Set(k, string(raw))
			}
		}
	default:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return params{v}, "", fmt.Errorf("decode form body: %w", err)
		}
		for k, vs := range form {
			v[k] = append(v[k], vs...)
		}
	}
	token := v.Get("token")
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	v.Del("token")
	return params{v}, token, nil
}

// flag reads a boolean argument the way Slack does ("true" or "1").
func (p params) flag(name string) bool {
	switch strings.ToLower(p.Get(name)) {
	case "true", "1":
		return true
	}
	return false
}

// Calls returns every Web API call received so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		c.Params = cloneValues(c.Params)
		out[i] = c
	}
	return out
}

// CallsTo returns the calls of one method, oldest first.
func (s *Server) CallsTo(method string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
