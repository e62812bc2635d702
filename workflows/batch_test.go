package workflows

import (
	"context"
	"testing"
	"time"
)

func TestRunner_BatchesWaitForBusyIntakeAtMostBatchYield(t *testing.T) {
	busy := true
	r := &Runner{Busy: func() bool { return busy }, Log: quietLog(),
		Batches: map[string]BatchHandler{"event": func(context.Context, time.Time, int) (int, error) { return 0, nil }}}
	if r.Yielding() {
		t.Error("yielding before any batch was worked: the first events would wait")
	}
	if !r.mayDrain(true) {
		t.Fatal("the first look found intake busy and worked nothing; it must work the batches that waited longest")
	}
	if !r.Yielding() || r.mayDrain(true) {
		t.Error("a second look while intake is busy worked batches: it must leave the CPU to intake")
	}
	if !r.mayDrain(false) {
		t.Error("RunDue (no yield) left batches waiting")
	}
	r.batches.mu.Lock()
	r.batches.last = time.Now().Add(-BatchYield)
	r.batches.mu.Unlock()
	if r.Yielding() || !r.mayDrain(true) {
		t.Error("batches waited past BatchYield for a busy intake")
	}
	busy = false
	if r.Yielding() || !r.mayDrain(true) {
		t.Error("a quiet intake held the batches back")
	}
}

func TestRunner_TracedRunsHaveNoBatches(t *testing.T) {
	called := false
	r := &Runner{Log: quietLog(), Clock: NewManualClock(time.Unix(0, 0)),
		Trace:   func(ctx context.Context, j Job) (context.Context, func(error)) { return ctx, func(error) {} },
		Batches: map[string]BatchHandler{"event": func(context.Context, time.Time, int) (int, error) { called = true; return 0, nil }}}
	if n := r.drain(context.Background(), false); n != 0 || called {
		t.Error("a traced runner worked a batch: its jobs would lose their own spans")
	}
}
