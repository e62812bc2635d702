package costs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows/costs"
)

// TestReview_WaitsForTheRefreshQueuedWithIt: opsbot starts (or comes
// back) after both the refresh hour and the review's slot, so one tick
// queues the day's refresh and the review together. The review waits for
// the refresh instead of posting opsbot's own figures.
func TestReview_WaitsForTheRefreshQueuedWithIt(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC)) // 09:30 in Berlin
	if rep := w.tick(); rep.Refreshes != 1 || rep.Reviews != 1 {
		t.Fatalf("tick = %+v, want the refresh and the review", rep)
	}
	// The runner's workers run both at once: here the review first.
	ctx := context.Background()
	js, err := w.db.Claim(ctx, w.clock.Now(), "test", time.Minute, 100)
	if err != nil || len(js) != 2 {
		t.Fatalf("claimed %d jobs (%v), want the refresh and the review", len(js), err)
	}
	if js[0].Kind != costs.JobReview {
		js[0], js[1] = js[1], js[0]
	}
	hs := w.svc.Handlers()
	if err := hs[costs.JobReview](ctx, js[0]); err == nil {
		t.Fatal("the review went on before the refresh it came with")
	}
	if err := w.db.Retry(ctx, js[0], w.clock.Now().Add(2*time.Second), "waiting"); err != nil {
		t.Fatal(err)
	}
	if err := hs[costs.JobRefresh](ctx, js[1]); err != nil {
		t.Fatal(err)
	}
	if err := w.db.Done(ctx, js[1], w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Minute)
	w.drain()
	rs := reviewsIn(w.messages())
	if len(rs) == 0 {
		t.Fatal("no review")
	}
	if strings.Contains(rs[0].Text, "missing") || !strings.Contains(rs[0].Text, "Total") {
		t.Errorf("the review did not wait for the bill: %s", rs[0].Text)
	}
}

// TestHoldReview_OnceAMonthThenEdited: held by hand it is last month's
// review, the schedule's own; held again it is worked out again into
// the same messages (the same keys: Slack edits them), never a second
// review.
func TestHoldReview_OnceAMonthThenEdited(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 15, 10, 0, 0, 0, time.UTC))
	w.tick()
	w.drain()
	m, fresh, err := w.svc.HoldReview(context.Background())
	if err != nil || !fresh || m != "2026-11" {
		t.Fatalf("HoldReview = %s, %v, %v", m, fresh, err)
	}
	w.drain()
	first := reviewsIn(w.messages())
	if len(first) != 3 {
		t.Fatalf("%d review messages, want the review and two team parts", len(first))
	}
	if _, fresh, err := w.svc.HoldReview(context.Background()); err != nil || fresh {
		t.Fatalf("held again: %v, %v", fresh, err)
	}
	w.drain()
	again := reviewsIn(w.messages())
	if len(again) != len(first) {
		t.Fatalf("held again: %s", titles(again))
	}
	for i := range again {
		if again[i].Key != first[i].Key {
			t.Errorf("held again, message %d has key %q, first %q", i, again[i].Key, first[i].Key)
		}
	}
}
