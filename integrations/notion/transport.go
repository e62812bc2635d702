package notion

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// transport points notionapi at the configured API root, paces every
// request, and records what came back so the retry loop can read the
// status and Retry-After that notionapi's errors leave out.
type transport struct {
	base   http.RoundTripper
	target *url.URL
	pace   *pacer
}

// exchange is what the last request of one attempt got back.
type exchange struct {
	sent       bool
	status     int // 0: no answer (a network error)
	retryAfter time.Duration
}

type exchangeKey struct{}

func withExchange(ctx context.Context, e *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, e)
}

// RoundTrip sends req to the target host after waiting for its slot.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := t.pace.wait(ctx); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	out := req.Clone(ctx)
	out.URL.Scheme = t.target.Scheme
	out.URL.Host = t.target.Host
	out.URL.Path = strings.TrimSuffix(t.target.Path, "/") + req.URL.Path
	out.URL.RawPath = ""
	out.Host = ""
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	if ex != nil {
		*ex = exchange{sent: true}
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	if ex != nil {
		ex.status = resp.StatusCode
		if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
			ex.retryAfter = time.Duration(s) * time.Second
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		// notionapi neither reads nor closes a 429's body; do it here so
		// the connection goes back to the pool.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}

// pacer spaces requests at least interval apart on the injected clock,
// and holds them all back after a 429 until Retry-After has passed.
type pacer struct {
	interval time.Duration
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu   sync.Mutex
	next time.Time
}

// wait reserves the next slot and sleeps until it.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := p.now()
	slot := p.next
	if slot.Before(now) {
		slot = now
	}
	p.next = slot.Add(p.interval)
	p.mu.Unlock()
	if d := slot.Sub(now); d > 0 {
		if err := p.sleep(ctx, d); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// holdUntil makes no request start before t.
func (p *pacer) holdUntil(t time.Time) {
	p.mu.Lock()
	if t.After(p.next) {
		p.next = t
	}
	p.mu.Unlock()
}
