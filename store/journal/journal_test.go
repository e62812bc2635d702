package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// memStore is an intake store as the real ones behave (store.TakeIn): a
// key recorded once, a job queued only for an arrival whose keys are all
// new. It can be made to fail, to stand for a database that is down or a
// process that dies in the middle of a move.
type memStore struct {
	mu    sync.Mutex
	seen  map[string]bool
	jobs  []workflows.Job
	calls int
	fail  func(call int) error
	// refuse, when set, fails any transaction holding an arrival it
	// names (a row the database will never take).
	refuse func(workflows.Arrival) bool
}

func newMemStore() *memStore { return &memStore{seen: map[string]bool{}} }

func (m *memStore) TakeIn(_ context.Context, arrivals []workflows.Arrival) ([]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.fail != nil {
		if err := m.fail(m.calls); err != nil {
			return nil, err
		}
	}
	for _, a := range arrivals {
		if m.refuse != nil && m.refuse(a) {
			return nil, errors.New("NOT NULL constraint failed: jobs.kind")
		}
	}
	fresh := make([]bool, len(arrivals))
	for i, a := range arrivals {
		fresh[i] = true
		for _, k := range a.Seen {
			fresh[i] = fresh[i] && !m.seen[k]
			m.seen[k] = true
		}
		if fresh[i] && a.Job != nil {
			m.jobs = append(m.jobs, *a.Job)
		}
	}
	return fresh, nil
}

// payloads are the recorded jobs' payloads, in the order recorded.
func (m *memStore) payloads() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, j := range m.jobs {
		out = append(out, j.Payload)
	}
	return out
}

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func event(i int) workflows.Arrival {
	return workflows.Arrival{At: t0, Seen: []string{fmt.Sprintf("pd-event:E%04d", i)},
		Job: &workflows.Job{Kind: workflows.JobPagerEvent, Payload: fmt.Sprintf(`{"id":"E%04d"}`, i), RunAt: t0}}
}

func open(t *testing.T, dir string, st workflows.IntakeStore, opts ...func(*Options)) *Journal {
	t.Helper()
	o := Options{Store: st, Hold: time.Hour}
	for _, f := range opts {
		f(&o)
	}
	j, err := Open(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close(context.Background()) })
	return j
}

func take(t *testing.T, j *Journal, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := j.Take(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func want(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf(`{"id":"E%04d"}`, i))
	}
	return out
}

func same(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("recorded jobs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// running runs j's mover until stop, which returns Run's error (its
// last move's).
func running(t *testing.T, j *Journal) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestRecord_EveryFieldIntakeSetsComesBack(t *testing.T) {
	in := []workflows.Arrival{
		{At: t0, Seen: []string{"a", "b"}, Job: &workflows.Job{Kind: "k", Key: "key", Payload: "p\x00ü", RunAt: t0.Add(time.Nanosecond), Trace: "00-abc-01"}, Cancel: "c"},
		{At: t0, Seen: []string{"only"}},
		{Seen: []string{""}, Job: &workflows.Job{}},
	}
	var buf []byte
	for _, a := range in {
		buf = appendRecord(buf, a)
	}
	out, torn, err := readRecords(buf)
	if err != nil || torn != 0 {
		t.Fatalf("read: torn %d, %v", torn, err)
	}
	if fmt.Sprint(deref(out)) != fmt.Sprint(deref(in)) {
		t.Fatalf("read back\n%v\nwant\n%v", deref(out), deref(in))
	}
}

// deref prints jobs by value, not by pointer.
func deref(as []workflows.Arrival) []any {
	var out []any
	for _, a := range as {
		var j any
		if a.Job != nil {
			j = *a.Job
		}
		out = append(out, []any{a.At.UnixNano(), a.At.IsZero(), a.Seen, j, a.Cancel})
	}
	return out
}

func TestTakeThenMove_RecordsEachArrivalOnceAndLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	j := open(t, dir, st)
	take(t, j, 0, 5)
	take(t, j, 3, 5) // PagerDuty delivering two events again
	if got := j.Waiting(); got != 7 {
		t.Fatalf("waiting %d, want 7", got)
	}
	n, err := j.Move(context.Background())
	if err != nil || n != 7 {
		t.Fatalf("moved %d, %v; want 7", n, err)
	}
	same(t, st.payloads(), want(0, 5))
	if j.Waiting() != 0 {
		t.Fatalf("waiting %d after the move", j.Waiting())
	}
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fs := files(t, dir); len(fs) != 0 {
		t.Fatalf("files left after a clean close: %v", fs)
	}
}

func TestTake_RefusesAnArrivalWithoutAKey(t *testing.T) {
	j := open(t, t.TempDir(), newMemStore())
	err := j.Take(context.Background(), workflows.Arrival{At: t0, Job: &workflows.Job{Kind: "k"}})
	if err == nil || !strings.Contains(err.Error(), "needs a key") {
		t.Fatalf("got %v, want a refusal: a move done twice would queue its job twice", err)
	}
	if j.Waiting() != 0 {
		t.Fatal("a refused arrival was appended")
	}
}

func TestClose_RecordsWhatIsLeftAndTakeFailsAfter(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	j := open(t, dir, st)
	take(t, j, 0, 2)
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), want(0, 2))
	if err := j.Take(context.Background(), event(9)); err == nil {
		t.Fatal("Take after Close succeeded")
	}
	if fs := files(t, dir); len(fs) != 0 {
		t.Fatalf("files left: %v", fs)
	}
}

func TestTake_ManyAtOnceWhileMovingEachRecordedOnce(t *testing.T) {
	st := newMemStore()
	j := open(t, t.TempDir(), st, func(o *Options) { o.Hold = 5 * time.Millisecond; o.MaxBatch = 7 })
	stop := running(t, j)
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Go(func() {
			for i := range 50 {
				if err := j.Take(context.Background(), event(c*50+i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := st.payloads()
	if len(got) != 800 {
		t.Fatalf("%d jobs recorded, want 800", len(got))
	}
	seen := map[string]bool{}
	for _, p := range got {
		if seen[p] {
			t.Fatalf("%s recorded twice", p)
		}
		seen[p] = true
	}
}

func TestTake_AFullJournalWaitsForAMoveRatherThanGrow(t *testing.T) {
	st := newMemStore()
	j := open(t, t.TempDir(), st, func(o *Options) { o.MaxWaiting = 3 })
	take(t, j, 0, 3)
	// Nothing moves it: the fourth waits, and gives up with its caller.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := j.Take(ctx, event(3)); err == nil || !strings.Contains(err.Error(), "holds 3 arrivals") {
		t.Fatalf("Take on a full journal: %v, want it to wait and then fail", err)
	}
	if j.Waiting() != 3 {
		t.Fatalf("waiting %d, want 3: the refused arrival must not be appended", j.Waiting())
	}
	// With the mover running, the same Take goes through once it moved.
	stop := running(t, j)
	if err := j.Take(context.Background(), event(3)); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), want(0, 4))
}

func TestTake_AFullJournalOnADatabaseDownDoesNotSpinTheMover(t *testing.T) {
	st := newMemStore()
	var calls atomic.Int64
	j := open(t, t.TempDir(), st, func(o *Options) { o.MaxWaiting = 3 })
	take(t, j, 0, 3)
	st.fail = func(int) error { calls.Add(1); return errors.New("database is locked") }
	stop := running(t, j)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			j.Take(ctx, event(10+i))
		})
	}
	wg.Wait()
	if n := calls.Load(); n > 2 {
		t.Errorf("%d tries to record in half a second of a full journal, want one or two", n)
	}
	st.fail = nil
	stop()
	same(t, st.payloads(), want(0, 3))
}

func TestTake_RefusesWhatItCouldNotRecordOnce(t *testing.T) {
	j := open(t, t.TempDir(), newMemStore())
	cancels := event(1)
	cancels.Cancel = "backstop:1"
	if err := j.Take(context.Background(), cancels); err == nil {
		t.Error("an arrival that cancels a job was taken: a move recorded twice would cancel twice")
	}
	huge := event(2)
	huge.Job.Payload = strings.Repeat("x", maxRecord+1)
	if err := j.Take(context.Background(), huge); err == nil {
		t.Error("an arrival over the record limit was taken: it would be read back as a torn tail and lost")
	}
	if j.Waiting() != 0 {
		t.Errorf("waiting %d after two refusals", j.Waiting())
	}
}

func TestTake_AfterCloseFailsAtOnceEvenWhenFull(t *testing.T) {
	st := newMemStore()
	j := open(t, t.TempDir(), st, func(o *Options) { o.MaxWaiting = 2 })
	take(t, j, 0, 2)
	st.fail = func(int) error { return errors.New("database is locked") }
	j.Close(context.Background()) // its last move fails: 2 stay waiting
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := j.Take(ctx, event(3)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Take after Close: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Take after Close waited %v for room that will never come", d)
	}
}

func TestClose_BesideAMoveNeverPanicsNorRecordsTwice(t *testing.T) {
	for i := range 100 {
		st := newMemStore()
		// The database is down for the first tries, then back.
		st.fail = func(call int) error {
			if call <= i%3 {
				return errors.New("database is locked")
			}
			return nil
		}
		dir := t.TempDir()
		j := open(t, dir, st)
		take(t, j, 0, 3)
		var wg sync.WaitGroup
		wg.Go(func() { j.Move(context.Background()) })
		j.Close(context.Background())
		wg.Wait()
		// What neither recorded is recorded at the next start (or the
		// try after it, as Run makes a second later), once.
		if _, err := open(t, dir, st).Move(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := st.payloads()
		slices.Sort(got)
		if strings.Join(got, " ") != strings.Join(want(0, 3), " ") {
			t.Fatalf("run %d: recorded %s (calls %d), want each once", i, got, st.calls)
		}
	}
}
