package store

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// message is a queued message job to channel, for lane tests.
func message(t *testing.T, channel, text string) workflows.Job {
	t.Helper()
	b, err := json.Marshal(workflows.Message{Channel: channel, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return workflows.Job{Kind: workflows.JobMessage, Payload: string(b), RunAt: t0}
}

func texts(t *testing.T, js []workflows.Job) []string {
	var out []string
	for _, j := range js {
		m, err := workflows.DecodeMessage(j.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m.Text)
	}
	return out
}

// A job a rate limit put back keeps its place in its lane: the later
// messages to its channel are not claimed until it is claimed again;
// messages to other channels are.
func TestDefer_LaterJobsOfTheLaneWaitForIt(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		enqueue(t, db, message(t, "C1", "first"), message(t, "C1", "second"), message(t, "C2", "other"))
		a := claim(t, db, t0, "a", 1)
		if got := texts(t, a); len(got) != 1 || got[0] != "first" {
			t.Fatalf("first claim: %v", got)
		}
		if err := db.Defer(ctx, a[0], t0.Add(5*time.Second), "chat.postMessage/C1", "held back"); err != nil {
			t.Fatal(err)
		}
		if got := texts(t, claim(t, db, t0.Add(time.Second), "b", 10)); len(got) != 1 || got[0] != "other" {
			t.Fatalf("claimed while the first message to C1 waits for its slot: %v, want only the other channel's", got)
		}
		// At its slot it is claimed first; the next claim (the runner's,
		// as soon as it has room) takes the one behind it.
		js := claim(t, db, t0.Add(5*time.Second), "b", 10)
		if got := texts(t, js); len(got) != 1 || got[0] != "first" {
			t.Fatalf("at the slot: %v, want first", got)
		}
		if !js[0].Deferred || js[0].Slot != "chat.postMessage/C1" || js[0].Attempts != 0 {
			t.Fatalf("claimed: %+v", js)
		}
		js = append(js, claim(t, db, t0.Add(5*time.Second), "b", 10)...)
		if got := texts(t, js); len(got) != 2 || got[1] != "second" || js[1].Deferred {
			t.Fatalf("then: %v (%+v)", got, js)
		}
		// Given back unrun, a job is as it was before its claim.
		if err := db.Release(ctx, js[1]); err != nil {
			t.Fatal(err)
		}
		again := claim(t, db, t0.Add(5*time.Second), "c", 10)
		if len(again) != 1 || again[0].ID != js[1].ID || again[0].Attempts != 0 || !again[0].RunAt.Equal(t0) || again[0].Deferred {
			t.Fatalf("released job claimed again: %+v", again)
		}
		if err := db.Release(ctx, js[1]); !errors.Is(err, workflows.ErrLeaseLost) {
			t.Fatalf("release under a stale claim: %v", err)
		}
	})
}

// A posting job that must wait for its rate limit's slot holds no
// worker: the runner puts it back for the slot (its claim released), the
// messages behind it in its lane go back to wait for it, other lanes and
// kinds go on, and at the slot it runs in the slot taken for it, before
// the messages behind it.
func TestRunner_JobWaitingForItsSlotHoldsNoWorker(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		clock := workflows.NewManualClock(t0)
		enqueue(t, db, message(t, "C1", "first"), message(t, "C1", "second"), message(t, "C2", "other"),
			workflows.Job{Kind: "other-kind", Payload: "x", RunAt: t0})
		var mu sync.Mutex
		var ran []string
		slot := t0.Add(3 * time.Second)
		r := &workflows.Runner{Queue: db, Clock: clock, Log: quietLog(), Owner: "a", Concurrency: 1,
			Lane: workflows.MessageLane,
			Handlers: map[string]workflows.JobHandler{
				workflows.JobMessage: func(ctx context.Context, j workflows.Job) error {
					m, _ := workflows.DecodeMessage(j.Payload)
					if m.Text == "first" && workflows.MayDefer(ctx) && !workflows.UseSlot(ctx, "chat.postMessage/C1", clock.Now(), time.Second) {
						if clock.Now().Before(slot) {
							return workflows.DeferSlot(slot, "chat.postMessage/C1", errors.New("paced"))
						}
						t.Errorf("first ran at its slot without the slot taken for it")
					}
					mu.Lock()
					ran = append(ran, m.Text)
					mu.Unlock()
					return nil
				},
				"other-kind": func(ctx context.Context, j workflows.Job) error {
					mu.Lock()
					ran = append(ran, "other-kind")
					mu.Unlock()
					return nil
				},
			}}
		// One worker: had the first message waited in it, nothing else
		// would have run.
		if _, err := r.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := append([]string(nil), ran...)
		mu.Unlock()
		if len(got) != 2 || !contains(got, "other") || !contains(got, "other-kind") {
			t.Fatalf("before the slot ran %v, want the other channel's message and the other kind only", got)
		}
		// Nothing is held: a claim by another replica sees the waiting
		// messages (not yet due).
		if js := claim(t, db, t0.Add(time.Second), "b", 10); len(js) != 0 {
			t.Fatalf("claimed before the slot: %+v", js)
		}
		clock.Set(slot)
		if _, err := r.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		if len(ran) != 4 || ran[2] != "first" || ran[3] != "second" {
			t.Fatalf("ran %v, want first then second at the slot", ran)
		}
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
