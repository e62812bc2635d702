package workflows

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestValidatePayload_RefusesMalformedJobs(t *testing.T) {
	msg := `{"Channel":"C1","Text":"hi"}`
	cases := []struct {
		name string
		job  Job
		ok   bool
	}{
		{"provision of a request", Job{Kind: JobProvision, Payload: "srv-42"}, true},
		{"provision with an empty payload", Job{Kind: JobProvision, Payload: ""}, false},
		{"provision of an incident ID", Job{Kind: JobProvision, Payload: "inc-4"}, false},
		{"provision with trailing words", Job{Kind: JobProvision, Payload: "srv-4 x"}, false},
		{"end with an action", Job{Kind: JobEnd, Payload: "srv-42 stop"}, true},
		{"end with terminate", Job{Kind: JobEnd, Payload: "srv-42 terminate"}, true},
		{"end without an action", Job{Kind: JobEnd, Payload: "srv-42"}, false},
		{"end with an empty payload", Job{Kind: JobEnd, Payload: ""}, false},
		{"end with an unknown action", Job{Kind: JobEnd, Payload: "srv-42 reboot"}, false},
		{"end with doubled spaces", Job{Kind: JobEnd, Payload: "srv-42  stop"}, false},
		{"message", Job{Kind: JobMessage, Payload: msg}, true},
		{"message without a recipient", Job{Kind: JobMessage, Payload: `{"Text":"hi"}`}, false},
		{"message that is not JSON", Job{Kind: JobMessage, Payload: "hi"}, false},
		{"page", Job{Kind: JobPage, Payload: "inc-7"}, true},
		{"page with an empty payload", Job{Kind: JobPage, Payload: ""}, false},
		{"status push", Job{Kind: JobPDStatus, Payload: "inc-7 acknowledged a@example.com"}, true},
		{"status push without status", Job{Kind: JobPDStatus, Payload: "inc-7"}, false},
		{"status push with what to take back", Job{Kind: JobPDStatus, Payload: "inc-7 resolved a@example.com U1 identified triggered"}, true},
		{"status push without an email", Job{Kind: JobPDStatus, Payload: "inc-7 resolved - U1 identified triggered"}, true},
		{"status push too long", Job{Kind: JobPDStatus, Payload: "inc-7 resolved a@example.com U1 identified triggered extra"}, false},
		{"PagerDuty note", Job{Kind: JobPDNote, Payload: `{"incident":"inc-7","from":"a@example.com","text":"Cancelled"}`}, true},
		{"PagerDuty note without text", Job{Kind: JobPDNote, Payload: `{"incident":"inc-7","from":"a@example.com","text":" "}`}, false},
		{"PagerDuty note not JSON", Job{Kind: JobPDNote, Payload: "inc-7"}, false},
		{"PagerDuty event", Job{Kind: JobPagerEvent, Payload: `{"ID":"e1"}`}, true},
		{"PagerDuty event that is not JSON", Job{Kind: JobPagerEvent, Payload: "{"}, false},
		{"home of nobody", Job{Kind: JobHome, Payload: " "}, false},
		{"a kind this package does not know", Job{Kind: "other.kind", Payload: ""}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidatePayload(c.job)
			if (err == nil) != c.ok {
				t.Fatalf("ValidatePayload(%+v) = %v, want ok=%v", c.job, err, c.ok)
			}
		})
	}
}

// memQueue is a JobQueue holding jobs in memory, for runner tests.
type memQueue struct {
	mu     sync.Mutex
	jobs   []Job
	buried []Job
}

func (q *memQueue) Claim(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int) ([]Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.jobs
	q.jobs = nil
	return out, nil
}
func (q *memQueue) Renew(ctx context.Context, j Job, until time.Time) error { return nil }
func (q *memQueue) Done(ctx context.Context, j Job, now time.Time) error    { return nil }
func (q *memQueue) Retry(ctx context.Context, j Job, at time.Time, lastErr string) error {
	return nil
}
func (q *memQueue) Bury(ctx context.Context, j Job, now time.Time, lastErr string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.buried = append(q.buried, Job{ID: j.ID, LastError: lastErr})
	return nil
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A malformed payload is given up before its handler runs: the old
// provision handler would have looked up a request named "".
func TestRunner_MalformedPayloadIsBuriedWithoutRunningItsHandler(t *testing.T) {
	q := &memQueue{jobs: []Job{{ID: 1, Kind: JobProvision, Payload: ""}}}
	ran := false
	var gaveUp error
	r := &Runner{Queue: q, Clock: NewManualClock(time.Unix(0, 0)), Log: quietLog(),
		Handlers: map[string]JobHandler{JobProvision: func(ctx context.Context, j Job) error { ran = true; return nil }},
		GiveUp:   func(ctx context.Context, j Job, err error) { gaveUp = err },
	}
	if _, err := r.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Fatal("the handler ran on a malformed payload")
	}
	if len(q.buried) != 1 || !strings.Contains(q.buried[0].LastError, "srv-N") || !IsPermanent(gaveUp) {
		t.Fatalf("buried %+v, gave up with %v; want one job buried with the reason, permanently", q.buried, gaveUp)
	}
}

// GiveUp used to run outside the runner's recover: a panic there took
// the whole process down. Now it is logged and the runner goes on.
func TestRunner_PanicInGiveUpIsRecovered(t *testing.T) {
	q := &memQueue{jobs: []Job{{ID: 1, Kind: "x", Payload: "a"}, {ID: 2, Kind: "x", Payload: "b"}}}
	var mu sync.Mutex
	calls := 0
	r := &Runner{Queue: q, Clock: NewManualClock(time.Unix(0, 0)), Log: quietLog(), Concurrency: 1,
		Handlers: map[string]JobHandler{"x": func(ctx context.Context, j Job) error { return Permanent(errors.New("no")) }},
		GiveUp: func(ctx context.Context, j Job, err error) {
			mu.Lock()
			calls++
			mu.Unlock()
			panic("index out of range")
		},
	}
	if n, err := r.RunDue(context.Background()); n != 2 || err != nil {
		t.Fatalf("RunDue = %d, %v", n, err)
	}
	if calls != 2 || len(q.buried) != 2 {
		t.Fatalf("GiveUp called %d times, %d buried; want 2 and 2", calls, len(q.buried))
	}
}

// The real GiveUp of both workflows, handed jobs with empty payloads
// (which once indexed out of range in ending.go), records nothing and
// does not panic.
func TestGiveUp_EmptyPayloadDoesNothing(t *testing.T) {
	s := &Servers{Log: quietLog()}
	inc := &Incidents{Log: quietLog()}
	for _, kind := range []string{JobProvision, JobAwait, JobEnd, JobPage, JobPDStatus, JobPostmortem, JobInvite} {
		for _, payload := range []string{"", "   "} {
			j := Job{Kind: kind, Payload: payload}
			s.GiveUp(context.Background(), j, errors.New("failed"))
			inc.GiveUp(context.Background(), j, errors.New("failed"))
		}
	}
}
