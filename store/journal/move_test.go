package journal

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestMove_AStoreThatFailsKeepsTheFileAndTheNextMoveRecordsItOnce(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	j := open(t, dir, st, func(o *Options) { o.MaxBatch = 2 })
	take(t, j, 0, 5)
	// The database goes down after the first batch of the move: the
	// first two are recorded, the file stays, and the next move goes
	// through it all again.
	st.fail = func(call int) error {
		if call >= 2 {
			return errors.New("database is locked")
		}
		return nil
	}
	if _, err := j.Move(context.Background()); err == nil {
		t.Fatal("a failed move reported no error")
	}
	st.fail = nil
	if j.Waiting() != 5 {
		t.Fatalf("waiting %d after a failed move, want 5", j.Waiting())
	}
	take(t, j, 5, 6)
	if _, err := j.Move(context.Background()); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), want(0, 6))
	if j.Waiting() != 0 {
		t.Fatalf("waiting %d", j.Waiting())
	}
}

func TestRun_ALoneArrivalIsRecordedAtOnceAStreamOnceItPauses(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	moved := make(chan int, 100)
	j := open(t, dir, st, func(o *Options) {
		o.Hold = time.Hour
		o.Moved = func(n int) { moved <- n }
	})
	stop := running(t, j)
	take(t, j, 0, 1)
	select {
	case <-moved:
	case <-time.After(10 * time.Second):
		t.Fatal("a lone arrival was not recorded")
	}
	// A stream: each arrival within busyWithin of the last. Nothing is
	// moved while it flows (Hold is an hour); all of it once it stops.
	for i := 1; i < 20; i++ {
		take(t, j, i, i+1)
		time.Sleep(busyWithin / 4)
	}
	select {
	case <-moved:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream was not recorded once it stopped")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), want(0, 20))
}

func TestRun_AStreamThatNeverPausesIsRecordedEveryHold(t *testing.T) {
	st := newMemStore()
	j := open(t, t.TempDir(), st, func(o *Options) { o.Hold = 50 * time.Millisecond })
	defer running(t, j)()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; len(st.payloads()) == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("arrivals coming without a pause were never recorded")
		}
		take(t, j, i, i+1)
		time.Sleep(time.Millisecond)
	}
}

func TestRun_ADatabaseDownIsTriedOnceASecondNotAtEachArrivalAndMakesNoFiles(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	var calls atomic.Int64
	st.fail = func(int) error { calls.Add(1); return errors.New("database is locked") }
	j := open(t, dir, st, func(o *Options) { o.Hold = 50 * time.Millisecond })
	stop := running(t, j)
	for i := range 60 {
		take(t, j, i, i+1)
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	// 1.2 s of arrivals, one every 20 ms: a try at the first, then one a
	// second, and the move at Run's end.
	if n := calls.Load(); n > 4 {
		t.Errorf("%d tries to record while the database was down, want a few (one a second)", n)
	}
	if fs := files(t, dir); len(fs) > 2 {
		t.Errorf("%d files while the database was down, want the one being moved and the current one: %v", len(fs), fs)
	}
	if j.Waiting() != 60 {
		t.Errorf("waiting %d, want all 60 kept", j.Waiting())
	}
	st.fail = nil
	if _, err := j.Move(context.Background()); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), want(0, 60))
}

func TestMove_AnArrivalTheDatabaseRefusesHoldsTheMovesUpAndIsNeverDropped(t *testing.T) {
	st := newMemStore()
	j := open(t, t.TempDir(), st)
	take(t, j, 0, 2)
	bad := event(2)
	bad.Job.Kind = ""
	if err := j.Take(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	// The store refuses a job without a kind, whatever it is batched
	// with: the journal cannot tell that from a database that is down,
	// so it keeps everything and tries again; Oldest grows, and the
	// stuck alert pages.
	st.refuse = func(a workflows.Arrival) bool { return a.Job != nil && a.Job.Kind == "" }
	for range 3 {
		if _, err := j.Move(context.Background()); err == nil {
			t.Fatal("a move the database refused reported no error")
		}
	}
	take(t, j, 3, 4)
	time.Sleep(10 * time.Millisecond)
	if j.Waiting() != 4 || j.Oldest() < 10*time.Millisecond {
		t.Fatalf("waiting %d, oldest %v: want all four kept, and the oldest's age to show", j.Waiting(), j.Oldest())
	}
	st.refuse = nil // fixed
	if _, err := j.Move(context.Background()); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), want(0, 4))
	if j.Waiting() != 0 || j.Oldest() != 0 {
		t.Fatalf("waiting %d, oldest %v once recorded", j.Waiting(), j.Oldest())
	}
}
