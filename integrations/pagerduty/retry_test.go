package pagerduty_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestRetry_RateLimitHonoursRetryAfter(t *testing.T) {
	r := newRig(t)
	r.fake.Throttle("POST /incidents", 1, 7*time.Second)

	in := r.triggered(t, "opsbot-inc-20")

	if got := r.sleeps.got(); !slices.Equal(got, []time.Duration{7 * time.Second}) {
		t.Fatalf("waits = %v, want [7s] from Retry-After", got)
	}
	posts := r.fake.CallsTo("POST /incidents")
	if len(posts) != 2 || posts[0].Status != 429 || posts[1].Status != 201 {
		t.Fatalf("POST calls = %+v, want 429 then 201", posts)
	}
	if n := len(r.fake.Incidents()); n != 1 || in.ID == "" {
		t.Fatalf("%d incidents, returned %+v", n, in)
	}
}

func TestRetry_ServerErrorsBackOffThenGiveUpForTheRunner(t *testing.T) {
	r := newRig(t)
	in := r.triggered(t, "opsbot-inc-21")
	r.fake.FailNext("GET /incidents/{id}/log_entries", 503, 5)

	_, err := r.pd.LogEntries(context.Background(), in.ID)
	if err == nil || isPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if got := r.sleeps.got(); !slices.Equal(got, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}) {
		t.Fatalf("waits = %v, want exponential 100ms, 200ms", got)
	}
	if n := len(r.fake.CallsTo("GET /incidents/{id}/log_entries")); n != 3 {
		t.Fatalf("attempts = %d, want MaxAttempts 3", n)
	}
}

func TestRetry_RateLimitWithoutRetryAfterBacksOff(t *testing.T) {
	r := newRig(t)
	in := r.triggered(t, "opsbot-inc-22")
	r.fake.FailNext("PUT /incidents", 429, 2)

	if err := r.pd.SetStatus(context.Background(), in.ID, workflows.PDAcknowledged, r.bob.Email); err != nil {
		t.Fatalf("ack: %v", err)
	}
	if got := r.sleeps.got(); !slices.Equal(got, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}) {
		t.Fatalf("waits = %v", got)
	}
	if got, _ := r.fake.Incident(in.ID); got.Status != "acknowledged" {
		t.Fatalf("status = %s", got.Status)
	}
}

func TestRetry_RetryAfterLongerThanMaxDelayLeavesItToTheRunner(t *testing.T) {
	r := newRig(t)
	r.fake.Throttle("POST /incidents", 1, 2*time.Minute)

	_, err := r.pd.Trigger(context.Background(), r.page("opsbot-inc-23"))
	if err == nil || isPermanent(err) {
		t.Fatalf("err = %v, want retryable", err)
	}
	if got := r.sleeps.got(); len(got) != 0 {
		t.Fatalf("waited %v, want no wait", got)
	}
}

func TestRetry_UnauthorizedIsPermanentAndNotRetried(t *testing.T) {
	r := newRig(t)
	bad := r.client("wrong-token", r.fake.URL())

	_, err := bad.Trigger(context.Background(), r.page("opsbot-inc-24"))
	if err == nil || !isPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	calls := r.fake.Calls()
	if len(calls) != 1 || calls[0].Status != 401 || len(r.sleeps.got()) != 0 {
		t.Fatalf("calls = %+v, waits %v: want one 401, no retry", calls, r.sleeps.got())
	}
	if _, err := bad.Responders(context.Background(), "Q1", ""); err == nil || !isPermanent(err) {
		t.Fatalf("responders err = %v, want permanent", err)
	}
}

func TestRetry_NetworkErrorIsRetried(t *testing.T) {
	r := newRig(t)
	in := r.triggered(t, "opsbot-inc-25")
	var drops atomic.Int32
	drops.Store(1)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if drops.Add(-1) >= 0 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // the connection drops with no answer
			}
			return
		}
		r.fake.ServeHTTP(w, req)
	}))
	t.Cleanup(flaky.Close)
	c := r.client(r.fake.Token(), flaky.URL)

	got, err := c.Responders(context.Background(), in.ID, "")
	if err != nil {
		t.Fatalf("responders: %v", err)
	}
	if len(got) == 0 || len(r.sleeps.got()) != 1 {
		t.Fatalf("responders %v, waits %v: want one retry", got, r.sleeps.got())
	}
}

func TestRetry_CancelledContextStopsWaiting(t *testing.T) {
	r := newRig(t)
	r.fake.FailNext("GET /incidents/{id}", 500, 10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.pd.Responders(ctx, "Q1", "")
	if err == nil || isPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	if n := len(r.fake.Calls()); n > 1 {
		t.Fatalf("%d calls after cancel, want at most 1", n)
	}
}
