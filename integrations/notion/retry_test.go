package notion_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/workflows"
)

// written makes a small page to call SetMeeting and Meeting on.
func (r *rig) written(t *testing.T) workflows.DocRef {
	t.Helper()
	ref, err := r.c.WritePostmortem(context.Background(), workflows.Postmortem{IncidentID: "inc-1", Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestRetryAfter_NoRequestBeforeItIsUp(t *testing.T) {
	r := newRig(t, notion.Options{})
	r.fake.FailNext(notionfake.Fault{Match: "POST /v1/databases/", Status: 429, RetryAfter: 5})
	if _, err := r.c.WritePostmortem(context.Background(), postmortem("inc-7")); err != nil {
		t.Fatal(err)
	}
	reqs := r.fake.Requests()
	for len(reqs) > 0 && reqs[0].Path != "" && strings.HasPrefix(reqs[0].Method+" "+reqs[0].Path, "GET /v1/databases/") {
		reqs = reqs[1:] // the database check before writing
	}
	if reqs[0].Status != 429 || len(reqs) < 2 {
		t.Fatalf("requests = %+v, want a 429 first", reqs[:1])
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 5*time.Second {
		t.Errorf("next request %v after the 429, want at least Retry-After = 5s", gap)
	}
	if reqs[1].Path != reqs[0].Path {
		t.Errorf("after the 429 came %s %s, want the query again", reqs[1].Method, reqs[1].Path)
	}
}

func TestPacing_AtMostThreeRequestsASecond(t *testing.T) {
	r := newRig(t, notion.Options{})
	ref := r.written(t)
	start := len(r.fake.Requests())
	const n = 12
	for range n {
		if _, _, err := r.c.Meeting(context.Background(), ref); err != nil {
			t.Fatal(err)
		}
	}
	reqs := r.fake.Requests()[start:]
	if len(reqs) != n {
		t.Fatalf("requests = %d, want %d", len(reqs), n)
	}
	for i := 1; i < n; i++ {
		if gap := reqs[i].At.Sub(reqs[i-1].At); gap < time.Second/3 {
			t.Fatalf("requests %d and %d are %v apart, want at least a third of a second", i-1, i, gap)
		}
	}
	if took := reqs[n-1].At.Sub(reqs[0].At); took < (n-1)*time.Second/3 {
		t.Errorf("%d requests took %v, want at least %v", n, took, (n-1)*time.Second/3)
	}
}

func TestRateLimit_AFasterClientRecoversFromNotions429s(t *testing.T) {
	r := newRig(t, notion.Options{})
	r.fake.SetRateLimit(3, 3)
	fast := r.client(r.fake.Token(), notion.Options{RequestsPerSecond: 50, MaxAttempts: 10})
	doc := postmortem("inc-7")
	ref, err := fast.WritePostmortem(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	checkBody(t, r.fake, ref.PageID, doc.Body)
	reqs := r.fake.Requests()
	limited := 0
	for i, q := range reqs {
		if q.Status != 429 {
			continue
		}
		limited++
		if i+1 < len(reqs) && reqs[i+1].At.Before(q.At.Add(time.Duration(q.RetryAfter)*time.Second)) {
			t.Errorf("request %d came %v after a 429 with Retry-After %ds", i+1, reqs[i+1].At.Sub(q.At), q.RetryAfter)
		}
	}
	if limited == 0 {
		t.Errorf("no 429 at 50 requests a second against a 3-a-second limit: the test tests nothing")
	}
	// The default pace stays under the limit: no 429 at all.
	r.fake.SetRateLimit(3, 3)
	before := len(reqs)
	if _, err := r.c.WritePostmortem(context.Background(), postmortem("inc-8")); err != nil {
		t.Fatal(err)
	}
	for _, q := range r.fake.Requests()[before:] {
		if q.Status == 429 {
			t.Fatalf("paced client was rate limited: %+v", q)
		}
	}
}

// A revoked token is a set-up problem a person fixes: the post-mortem
// waits for it (a workflows.DocSetupError, retried) instead of being lost,
// and this call is not retried.
func TestUnauthorized_IsASetUpProblemAndNotRetried(t *testing.T) {
	r := newRig(t, notion.Options{})
	bad := r.client("secret_revoked", notion.Options{})
	_, err := bad.WritePostmortem(context.Background(), postmortem("inc-7"))
	var ne *notion.Error
	var setup *workflows.DocSetupError
	if !errors.As(err, &setup) || !errors.As(err, &ne) || ne.Status != 401 || ne.Code != "unauthorized" {
		t.Fatalf("write with a bad token = %v, want a set-up error from a 401 unauthorized", err)
	}
	if !strings.Contains(err.Error(), "NOTION_TOKEN") {
		t.Errorf("the error does not say what to check: %v", err)
	}
	if n := len(r.fake.Requests()); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

func TestServerErrors_RetriedWithBackoffThenGivenUp(t *testing.T) {
	r := newRig(t, notion.Options{})
	ref := r.written(t)
	r.fake.FailNext(notionfake.Fault{Match: "GET /v1/pages/", Status: 503, Count: 2})
	if _, _, err := r.c.Meeting(context.Background(), ref); err != nil {
		t.Fatalf("two 503s then success = %v", err)
	}
	r.fake.FailNext(notionfake.Fault{Match: "GET /v1/pages/", Status: 500, Count: 100})
	start := len(r.fake.Requests())
	began := r.clock.Now()
	_, _, err := r.c.Meeting(context.Background(), ref)
	if err == nil || isPermanent(err) {
		t.Fatalf("endless 500s = %v, want a retryable error", err)
	}
	if n := len(r.fake.Requests()) - start; n != 5 {
		t.Errorf("attempts = %d, want MaxAttempts = 5", n)
	}
	if waited := r.clock.Now().Sub(began); waited < 7500*time.Millisecond {
		t.Errorf("backoff waited %v, want 0.5+1+2+4 s", waited)
	}
}

// flaky fails the first n round trips with a connection error.
type flaky struct {
	n    atomic.Int32
	base http.RoundTripper
}

func (f *flaky) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.n.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	return f.base.RoundTrip(req)
}

func TestNetworkErrors_Retried(t *testing.T) {
	r := newRig(t, notion.Options{})
	ref := r.written(t)
	f := &flaky{base: http.DefaultTransport}
	f.n.Store(2)
	c := r.client(r.fake.Token(), notion.Options{HTTPClient: &http.Client{Transport: f}})
	if err := c.SetMeeting(context.Background(), ref, t0.Add(48*time.Hour)); err != nil {
		t.Fatalf("set meeting through two connection errors = %v", err)
	}
	if got, ok, err := c.Meeting(context.Background(), ref); err != nil || !ok || !got.At.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("meeting = %v %v %v", got, ok, err)
	}
}

func TestCancelledContext_StopsWithoutPermanent(t *testing.T) {
	r := newRig(t, notion.Options{})
	ref := r.written(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := r.c.Meeting(ctx, ref)
	if !errors.Is(err, context.Canceled) || isPermanent(err) {
		t.Fatalf("meeting with a cancelled context = %v", err)
	}
}
