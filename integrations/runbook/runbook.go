// Package runbook speaks HTTP for runbook actions: the signed POST to a
// runbook's endpoint (runbooks.Caller) and opsbot's signed callback
// route, where long-running endpoints report progress.
package runbook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/opsbot/opsbot/workflows/runbooks"
)

// CallbackPath is opsbot's route for runbook callbacks.
const CallbackPath = "/runbooks/callback"

// MaxCallbackBody bounds a callback's body.
const MaxCallbackBody = 64 << 10

// Client posts runbook calls.
type Client struct {
	HTTP *http.Client // its own timeout is not used: each call has the runbook's
}

var _ runbooks.Caller = (*Client)(nil)

// Post sends one signed call. Any HTTP answer is an Answer (its body cut
// at runbooks.BodyLimit); no answer at all is an error.
func (c *Client) Post(ctx context.Context, call runbooks.Call) (runbooks.Answer, error) {
	ts := strconv.FormatInt(call.At.Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, call.URL, bytes.NewReader(call.Body))
	if err != nil {
		return runbooks.Answer{}, fmt.Errorf("build call to %s: %w", call.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "opsbot-runbooks")
	req.Header.Set(runbooks.HeaderTimestamp, ts)
	req.Header.Set(runbooks.HeaderSignature, runbooks.Sign(call.Secret, ts, call.Body))
	req.Header.Set(runbooks.HeaderIdempotency, call.Key)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	// Redirects are not followed: a signed body goes to the URL in config only.
	client := *hc
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return runbooks.Answer{}, fmt.Errorf("call %s: %w", call.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, runbooks.BodyLimit))
	if err != nil && ctx.Err() != nil {
		return runbooks.Answer{}, fmt.Errorf("read answer of %s: %w", call.URL, ctx.Err())
	}
	a := runbooks.Answer{Status: resp.StatusCode, Body: string(bytes.ToValidUTF8(body, []byte("?")))}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		a.RetryAfter = time.Duration(s) * time.Second
	}
	return a, nil
}

// Receiver is what the callback handler hands a verified body to.
type Receiver interface {
	Callback(ctx context.Context, body []byte, ts, sig string) (runbooks.CallbackOutcome, error)
}

// Handler serves POST /runbooks/callback: the body (at most 64 KB) and
// its signature headers go to the workflow, which verifies them against
// the run's runbook secret and answers.
type Handler struct {
	Receive Receiver
	Log     *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCallbackBody))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	out, err := h.Receive.Callback(r.Context(), body, r.Header.Get(runbooks.HeaderTimestamp), r.Header.Get(runbooks.HeaderSignature))
	if err != nil {
		h.Log.ErrorContext(r.Context(), "runbook callback", "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(out.Code)
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": out.Code == http.StatusOK, "message": out.Message})
}
