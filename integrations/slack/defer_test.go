package slack

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// Under a job attempt (the job runner's), a call whose slot is not due
// does not wait: it takes the slot and returns DeferSlot, so the job is
// put back for then and no worker waits. The job's next run goes in that
// slot without taking another, so a deferral costs the pace nothing.
// Outside a job (a request answered inline) the call waits as before.
func TestPace_FirstCallOfAJobDefersToItsSlot(t *testing.T) {
	e := setup(t, slackfake.Options{RateLimits: true}, Options{})
	ctx := context.Background()
	for i := range 3 { // Tier 2's burst
		if _, err := e.c.CreateChannel(ctx, "burst-"+string(rune('a'+i)), false); err != nil {
			t.Fatal(err)
		}
	}
	job := workflows.Job{ID: 7, Kind: workflows.JobOpenChannel, Payload: "inc-7"}
	_, err := e.c.CreateChannel(workflows.JobAttempt(ctx, job), "inc-7-slow", false)
	at, deferred := workflows.DeferredUntil(err)
	every := DefaultLimits[Tier2].Every
	if !deferred || !at.Equal(t0.Add(every)) {
		t.Fatalf("fourth create in a job: %v (deferred %v until %v), want deferred to %v", err, deferred, at, t0.Add(every))
	}
	if len(e.sleeps) != 0 || len(e.fake.CallsTo("conversations.create")) != 3 {
		t.Fatalf("it waited (%v) or called Slack (%d calls)", e.sleeps, len(e.fake.CallsTo("conversations.create")))
	}
	// The runner puts the job back with its slot; run again at the slot.
	e.clock.Set(at)
	job.Deferred, job.Slot, job.RunAt = true, "conversations.create", at
	if _, err := e.c.CreateChannel(workflows.JobAttempt(ctx, job), "inc-7-slow", false); err != nil {
		t.Fatalf("at its slot: %v", err)
	}
	// The slot was used, not another: the next create is a pace later.
	next := e.c.NextCall(ctx, "conversations.create", "")
	if !next.Equal(at.Add(every)) {
		t.Fatalf("next create at %v, want %v", next, at.Add(every))
	}
	// A second call of the same attempt waits for its slot in place.
	job2 := workflows.Job{ID: 8, Kind: workflows.JobOpenChannel, Payload: "inc-8"}
	attempt := workflows.JobAttempt(ctx, job2)
	workflows.Called(attempt)
	if _, err := e.c.CreateChannel(attempt, "inc-8-after-a-call", false); err != nil {
		t.Fatalf("second call of an attempt: %v", err)
	}
	if len(e.sleeps) != 1 || e.sleeps[0] != every {
		t.Fatalf("sleeps %v, want one pace", e.sleeps)
	}
	for _, c := range e.fake.Calls() {
		if c.Status == 429 {
			t.Errorf("429 from Slack: %+v", c)
		}
	}
}

// A slot is good only near its time. A job run long after the slot taken
// for it (its worker died holding it and the job was claimed again when
// its lease ran out) must not call at once: the other jobs have used the
// slots since, and a few such jobs claimed together are a burst Slack
// answers with 429. It takes a new slot, deferring again.
func TestPace_StaleSlotTakesANewOne(t *testing.T) {
	e := setup(t, slackfake.Options{RateLimits: true}, Options{})
	ctx := context.Background()
	every := DefaultLimits[Tier2].Every
	slot := t0
	// Replica A put the job back for its slot, then died. 30 s later, the
	// lease run out, another worker claims it; meanwhile the bucket was
	// kept full by other creates.
	e.clock.Set(t0.Add(30 * time.Second))
	for i := range 3 {
		if _, err := e.c.CreateChannel(ctx, "busy-"+string(rune('a'+i)), false); err != nil {
			t.Fatal(err)
		}
	}
	job := workflows.Job{ID: 9, Kind: workflows.JobOpenChannel, Payload: "inc-9",
		Deferred: true, Slot: "conversations.create", RunAt: slot}
	_, err := e.c.CreateChannel(workflows.JobAttempt(ctx, job), "inc-9-late", false)
	at, deferred := workflows.DeferredUntil(err)
	if !deferred || !at.Equal(e.clock.Now().Add(every)) {
		t.Fatalf("a create on a 30 s old slot: %v (deferred %v until %v), want deferred to a new slot at %v",
			err, deferred, at, e.clock.Now().Add(every))
	}
	if n := len(e.fake.CallsTo("conversations.create")); n != 3 {
		t.Fatalf("%d creates reached Slack, want 3 (the stale slot used none)", n)
	}
	// Within a pace of its slot, the slot is still used.
	e.clock.Set(at.Add(every / 2))
	job.RunAt, job.Payload = at, "inc-9"
	if _, err := e.c.CreateChannel(workflows.JobAttempt(ctx, job), "inc-9-late", false); err != nil {
		t.Fatalf("half a pace after its slot: %v", err)
	}
	for _, c := range e.fake.Calls() {
		if c.Status == 429 {
			t.Errorf("429 from Slack: %+v", c)
		}
	}
}

// lateTransport delays the calls of one method on their way to Slack, on
// the manual clock: the slot was taken at one instant, the call reaches
// Slack later (the pacing transaction, the network, a busy process).
type lateTransport struct {
	clock  *workflows.ManualClock
	method string
	delay  func(i int) time.Duration // for the method's i-th call
	n      int
}

func (l *lateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/"+l.method) {
		l.clock.Advance(l.delay(l.n))
		l.n++
	}
	return http.DefaultTransport.RoundTrip(req)
}

// Slack counts a tier in a sliding minute of when calls reach it, not of
// when their slots were taken. A burst's first call that reaches Slack a
// little late, and the call 18 paces after it that reaches Slack on time
// (a job run at its deferred slot), were 21 calls in one minute under a
// pace that left 1.2 ms to spare: Slack's 429, a minute into the storm.
// The pace leaves room for calls up to SlotLate after their slot.
func TestPace_CallsReachingSlackLateStayUnderTheTier(t *testing.T) {
	for _, late := range []time.Duration{time.Millisecond, 50 * time.Millisecond, SlotLate} {
		t.Run(late.String(), func(t *testing.T) {
			e := setup(t, slackfake.Options{RateLimits: true}, Options{})
			tr := &lateTransport{clock: e.clock, method: "conversations.create", delay: func(i int) time.Duration {
				if i == 0 {
					return late // the burst's first call
				}
				return 0
			}}
			e.c = New(e.fake.Token(), Options{APIURL: strings.TrimSuffix(e.fake.APIURL(), "/"), Clock: e.clock.Now,
				Sleep:      func(ctx context.Context, d time.Duration) error { e.clock.Advance(d); return ctx.Err() },
				HTTPClient: &http.Client{Transport: tr}})
			ctx := context.Background()
			// 25 incidents at once, each channel made by a job: three
			// go at once, the others are put back for their slot and run
			// at it.
			for i := range 25 {
				job := workflows.Job{ID: int64(i + 1), Kind: workflows.JobOpenChannel, Payload: fmt.Sprintf("inc-%d", i+1)}
				name := fmt.Sprintf("inc-%d-storm", i+1)
				_, err := e.c.CreateChannel(workflows.JobAttempt(ctx, job), name, false)
				at, deferred := workflows.DeferredUntil(err)
				if err != nil && !deferred {
					t.Fatalf("create %d: %v", i+1, err)
				}
				if !deferred {
					continue
				}
				if at.After(e.clock.Now()) {
					e.clock.Set(at)
				}
				job.Deferred, job.Slot, job.RunAt = true, "conversations.create", at
				if _, err := e.c.CreateChannel(workflows.JobAttempt(ctx, job), name, false); err != nil {
					t.Fatalf("create %d at its slot %v: %v", i+1, at.Sub(t0), err)
				}
			}
			for _, c := range e.fake.CallsTo("conversations.create") {
				if c.Status == http.StatusTooManyRequests {
					t.Errorf("429 from Slack at %v: the first call reached Slack %v after its slot", c.At.Sub(t0), late)
				}
			}
		})
	}
}

// A job put back for its slot uses it when run up to SlotLate after it
// (the runner claims due jobs once a second, and may be busy), and takes
// a new slot when run any later: the pace leaves room for SlotLate, no
// more.
func TestPace_SlotIsGoodForSlotLate(t *testing.T) {
	for _, tc := range []struct {
		late time.Duration
		used bool
	}{{0, true}, {SlotLate, true}, {SlotLate + time.Nanosecond, false}} {
		t.Run(tc.late.String(), func(t *testing.T) {
			e := setup(t, slackfake.Options{RateLimits: true}, Options{})
			ctx := context.Background()
			for i := range 3 { // Tier 2's burst
				if _, err := e.c.CreateChannel(ctx, "burst-"+string(rune('a'+i)), false); err != nil {
					t.Fatal(err)
				}
			}
			job := workflows.Job{ID: 7, Kind: workflows.JobOpenChannel, Payload: "inc-7"}
			_, err := e.c.CreateChannel(workflows.JobAttempt(ctx, job), "inc-7-slot", false)
			at, deferred := workflows.DeferredUntil(err)
			if !deferred {
				t.Fatalf("fourth create: %v, want deferred", err)
			}
			e.clock.Set(at.Add(tc.late))
			job.Deferred, job.Slot, job.RunAt = true, "conversations.create", at
			_, err = e.c.CreateChannel(workflows.JobAttempt(ctx, job), "inc-7-slot", false)
			if _, again := workflows.DeferredUntil(err); again == tc.used || (tc.used && err != nil) {
				t.Fatalf("run %v after its slot: %v (deferred again %v), want the slot used %v", tc.late, err, again, tc.used)
			}
		})
	}
}
