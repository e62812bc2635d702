package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/opsbot/opsbot/workflows/runbooks"
)

// RunbooksPrefix is where the sample runbooks' endpoint is mounted: the
// internal service sandbox.yaml's runbooks call.
const RunbooksPrefix = "/fake/runbooks"

// RunbookSecret is the HMAC secret the sample runbooks share with the
// endpoint (sandbox.yaml names its variable, SANDBOX_RUNBOOK_SECRET).
const RunbookSecret = "sandbox-runbook-secret-0123456789"

// ProgressEvery is how long the promote endpoint waits between two
// progress callbacks.
var ProgressEvery = 2 * time.Second

// runbookEndpoint plays a team's internal service: it checks each call's
// signature and timestamp, does the action once per idempotency key
// (answering a repeated key with the first answer), restarts at once,
// and promotes in the background, reporting through opsbot's callback.
type runbookEndpoint struct {
	s       *Sandbox
	mu      sync.Mutex
	answers map[string]answer // by idempotency key
}

type answer struct {
	status int
	body   string
}

func (e *runbookEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if err := runbooks.Verify([]byte(RunbookSecret), r.Header.Get(runbooks.HeaderTimestamp), r.Header.Get(runbooks.HeaderSignature), body, e.s.clock.Now()); err != nil {
		http.Error(w, `{"error":"`+err.Error()+`"}`, http.StatusUnauthorized)
		return
	}
	var call struct {
		RunID       string         `json:"run_id"`
		Params      map[string]any `json:"params"`
		CallbackURL string         `json:"callback_url"`
	}
	if err := json.Unmarshal(body, &call); err != nil {
		http.Error(w, `{"error":"not JSON"}`, http.StatusBadRequest)
		return
	}
	key := r.Header.Get(runbooks.HeaderIdempotency)
	e.mu.Lock()
	a, seen := e.answers[key]
	if !seen {
		switch r.URL.Path {
		case "/restart":
			out, _ := json.Marshal(map[string]any{"service": call.Params["service"], "status": "restarted", "replicas": call.Params["replicas"], "took_ms": 840})
			a = answer{http.StatusOK, string(out)}
		case "/promote":
			a = answer{http.StatusAccepted, `{"status":"accepted","steps":3}`}
			// b-0 is accepted and never reported on: opsbot times the run
			// out after the runbook's callback_timeout.
			if build := fmt.Sprint(call.Params["build"]); build != "b-0" {
				go e.promote(call.RunID, build, call.CallbackURL)
			}
		default:
			a = answer{http.StatusNotFound, `{"error":"no such runbook here"}`}
		}
		if key != "" {
			e.answers[key] = a
		}
	}
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

// promote reports a promotion's progress, then its end, through opsbot's
// signed callback route.
func (e *runbookEndpoint) promote(run, build, url string) {
	if url == "" {
		url = e.s.opts.BaseURL + "/runbooks/callback"
	}
	steps := []struct{ status, text string }{
		{"running", "copying " + build + " to the production registry"},
		{"running", "canary: 10% of traffic on " + build + ", error rate 0.1%"},
		{"succeeded", build + " is live on 100% of production"},
	}
	for i, st := range steps {
		time.Sleep(ProgressEvery)
		body, _ := json.Marshal(runbooks.Progress{RunID: run, Seq: i + 1, Status: st.status, Text: st.text})
		if !e.callback(run, url, body) {
			return
		}
	}
}

// callback posts one signed progress report, as a careful endpoint
// does: no answer, a 429 or a 5xx is tried again (signed afresh), up to
// 5 times; any other answer (200, or 409 for a report recorded already)
// ends it. It reports whether the promotion should go on: not after a
// report opsbot never took (the next one would overtake it).
func (e *runbookEndpoint) callback(run, url string, body []byte) bool {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ts := strconv.FormatInt(e.s.clock.Now().Unix(), 10)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(runbooks.HeaderTimestamp, ts)
		req.Header.Set(runbooks.HeaderSignature, runbooks.Sign([]byte(RunbookSecret), ts, body))
		resp, err := e.s.client.Do(req)
		status := 0
		if err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		cancel()
		if err == nil && status != http.StatusTooManyRequests && status < 500 {
			return true
		}
		if attempt == 5 {
			e.s.log.Warn("runbook callback: giving up", "run", run, "status", status, "err", err)
			return false
		}
		time.Sleep(wait)
		wait *= 2
	}
}
