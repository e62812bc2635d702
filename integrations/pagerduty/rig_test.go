package pagerduty_test

import (
	"context"
	"sync"
	"testing"
	"time"

	opspd "github.com/opsbot/opsbot/integrations/pagerduty"
	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/workflows"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// rig is the real adapter, through the real go-pagerduty client, against
// the fake on a loopback httptest server.
type rig struct {
	clock  *workflows.ManualClock
	fake   *pdfake.Server
	pd     *opspd.Client
	sleeps *sleeps

	ada, bob, cy, dan pdfake.User
	policy            pdfake.EscalationPolicy
	svc               pdfake.Service
}

// sleeps records the waits between attempts instead of waiting.
type sleeps struct {
	mu    sync.Mutex
	d     []time.Duration
	clock *workflows.ManualClock // moved by each wait, when set
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	if s.clock != nil {
		s.clock.Advance(d)
	}
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func newRig(t *testing.T, tune ...func(*pdfake.Options)) *rig {
	t.Helper()
	clock := workflows.NewManualClock(t0)
	fo := pdfake.Options{Clock: clock.Now, SyncWebhooks: true}
	for _, f := range tune {
		f(&fo)
	}
	fake := pdfake.Start(fo)
	t.Cleanup(fake.Close)
	r := &rig{clock: clock, fake: fake, sleeps: &sleeps{clock: clock}}
	r.ada = fake.AddUser(pdfake.User{Name: "Ada Lovelace", Email: "ada@example.com"})
	r.bob = fake.AddUser(pdfake.User{Name: "Bob Hopper", Email: "bob@example.com"})
	r.cy = fake.AddUser(pdfake.User{Name: "Cy Shannon", Email: "cy@example.com"})
	r.dan = fake.AddUser(pdfake.User{Name: "Dan Knuth", Email: "dan@example.com"})
	r.policy = fake.AddEscalationPolicy(pdfake.EscalationPolicy{Name: "Checkout on-call",
		Levels: [][]string{{r.bob.ID}, {r.cy.ID, r.dan.ID}}})
	r.svc = fake.AddService(pdfake.Service{Name: "Checkout API", EscalationPolicyID: r.policy.ID})
	r.pd = r.client(fake.Token(), fake.URL())
	return r
}

// client is an adapter with small pages (to exercise pagination) and
// recorded sleeps.
func (r *rig) client(token, url string) *opspd.Client {
	return opspd.New(token, opspd.Options{
		APIURL: url, Clock: r.clock.Now, Sleep: r.sleeps.sleep,
		MaxAttempts: 3, BaseDelay: 100 * time.Millisecond, MaxDelay: 30 * time.Second, PageSize: 2,
	})
}

func (r *rig) page(key string) workflows.PageRequest {
	return workflows.PageRequest{Key: key, Service: r.svc.ID, Title: "Checkout is down", Urgency: "high",
		From: r.ada.Email, Details: "5xx on /pay"}
}

func (r *rig) triggered(t *testing.T, key string) workflows.PDIncident {
	t.Helper()
	in, err := r.pd.Trigger(context.Background(), r.page(key))
	if err != nil {
		t.Fatalf("trigger %s: %v", key, err)
	}
	return in
}

func isPermanent(err error) bool { return workflows.IsPermanent(err) }
