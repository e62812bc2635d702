package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Channel creation is paced at Slack's Tier 2 (one every 3 s): a storm
// queues many creates before the set-up messages of the channels already
// made. With a cap of one create at a time, the other workers serve the
// messages while a create waits in its pacer. (Before: the four oldest
// jobs, all creates, took all four workers, and each batch waited for
// its slowest; the messages waited behind every remaining create.)
func TestRunner_SlowKindNeverStarvesOtherJobs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		clock := workflows.NewManualClock(t0.Add(time.Minute))
		var jobs []workflows.Job
		for i := 0; i < 6; i++ {
			jobs = append(jobs, workflows.Job{Kind: "create_channel", Key: fmt.Sprintf("create_channel:inc-%d", i), Payload: fmt.Sprintf("inc-%d", i), RunAt: t0.Add(time.Duration(i))})
		}
		for i := 0; i < 3; i++ {
			jobs = append(jobs, workflows.Job{Kind: "setup", Payload: fmt.Sprintf("C%d", i), RunAt: t0.Add(time.Second)})
		}
		enqueue(t, db, jobs...)
		entered, pacer := make(chan string, 6), make(chan struct{})
		delivered := make(chan string, 3)
		r := &workflows.Runner{Queue: db, Clock: clock, Log: quietLog(), Owner: "a", Concurrency: 4,
			KindLimits: map[string]int{"create_channel": 1},
			Lane: func(j workflows.Job) string {
				if j.Kind == "setup" {
					return "channel:" + j.Payload
				}
				return ""
			},
			Handlers: map[string]workflows.JobHandler{
				"create_channel": func(ctx context.Context, j workflows.Job) error {
					entered <- j.Payload
					select { // waiting in the Tier 2 pacer
					case <-pacer:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				},
				"setup": func(ctx context.Context, j workflows.Job) error {
					delivered <- j.Payload
					return nil
				},
			}}
		done := make(chan int, 1)
		go func() {
			n, err := r.RunDue(context.Background())
			if err != nil {
				t.Error(err)
			}
			done <- n
		}()
		for i := 0; i < 3; i++ {
			select {
			case <-delivered:
			case <-time.After(10 * time.Second):
				close(pacer)
				t.Fatalf("%d of 3 set-up messages delivered while a create waits in its pacer", i)
			}
		}
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("no create started")
		}
		if n := len(entered); n != 0 {
			t.Errorf("%d creates running at once, want 1", n+1)
		}
		for i := 0; i < 6; i++ {
			pacer <- struct{}{}
		}
		select {
		case n := <-done:
			if n != 9 {
				t.Errorf("ran %d jobs, want 9", n)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the creates did not all run")
		}
		if n := count(t, db, "jobs"); n != 0 {
			t.Errorf("%d jobs left", n)
		}
	})
}
