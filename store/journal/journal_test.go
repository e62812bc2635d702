package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

func TestOpen_RecordsWhatTheLastRunLeftThenRemovesIt(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	j := open(t, dir, st)
	take(t, j, 0, 3)
	j.abandon() // the process dies: files stay, their locks go
	if fs := files(t, dir); len(fs) != 1 {
		t.Fatalf("files after the crash: %v, want the one segment", fs)
	}
	open(t, dir, st)
	same(t, st.payloads(), want(0, 3))
	if fs := files(t, dir); len(fs) != 1 || !strings.HasSuffix(fs[0], segmentExt) {
		t.Fatalf("files after the restart: %v, want only the new, empty segment", fs)
	}
}

func TestOpen_AMoveThatCommittedButDiedBeforeRemovingTheFileChangesNothingTheSecondTime(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	j := open(t, dir, st)
	take(t, j, 0, 3)
	// Recorded in the store, then the process died before the file was
	// removed: the same file again at the next start.
	data, err := os.ReadFile(j.cur.path)
	if err != nil {
		t.Fatal(err)
	}
	arrivals, _, _ := readRecords(data)
	if _, err := st.TakeIn(context.Background(), arrivals); err != nil {
		t.Fatal(err)
	}
	j.abandon()
	open(t, dir, st)
	same(t, st.payloads(), want(0, 3))
}

func TestOpen_ATornLastRecordLosesItAloneAndTheRestIsRecorded(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	j := open(t, dir, st)
	take(t, j, 0, 3)
	path := j.cur.path
	j.abandon()
	// The machine lost power while the third record was written.
	info, _ := os.Stat(path)
	if err := os.Truncate(path, info.Size()-5); err != nil {
		t.Fatal(err)
	}
	open(t, dir, st)
	same(t, st.payloads(), want(0, 2))
}

func TestOpen_ARecordThisBinaryCannotReadIsSetAsideNotDropped(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	// A record whose CRC holds but whose body is not an arrival (a
	// newer binary's format, say).
	body := []byte{9, 9, 9}
	rec := make([]byte, headerLen, headerLen+len(body))
	rec = append(rec, body...)
	putHeader(rec, body)
	var good []byte
	for i := range 2 {
		good = appendRecord(good, event(i))
	}
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000001-1-00000000"+segmentExt), append(good, rec...), 0o600); err != nil {
		t.Fatal(err)
	}
	j := open(t, dir, st)
	take(t, j, 2, 3)
	if _, err := j.Move(context.Background()); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), want(0, 3))
	var aside int
	for _, f := range files(t, dir) {
		if strings.HasSuffix(f, ".unread") {
			aside++
		}
	}
	if aside != 1 {
		t.Fatalf("files: %v, want the unreadable one set aside as .unread", files(t, dir))
	}
}

func TestOpen_ALiveProcessesFileIsNotTaken(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	a := open(t, dir, st)
	take(t, a, 0, 3)
	// A second process on the same SQLite file starts: a's file is
	// locked, so b leaves it to a.
	b := open(t, dir, st)
	if got := st.payloads(); len(got) != 0 {
		t.Fatalf("b recorded a live process's arrivals: %v", got)
	}
	b.fmu.Lock()
	err := b.adopt()
	held := len(b.full)
	b.fmu.Unlock()
	if err != nil || held != 0 {
		t.Fatalf("b's periodic look took %d files (%v), want none", held, err)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), want(0, 3))
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

// TestOpen_AProcessKilledAfterAnsweringLosesNothing kills a real process
// (this test binary, see TestMain) with SIGKILL after its Takes returned,
// as the webhook was answered, and before anything was moved: the
// process's lock on its file dies with it, and the next Open records
// every arrival it took.
func TestOpen_AProcessKilledAfterAnsweringLosesNothing(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf) // "taken" once its Takes returned
	if !strings.HasPrefix(string(buf[:n]), "taken") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q", buf[:n])
	}
	// Alive and holding its file: not ours to take.
	st := newMemStore()
	b := open(t, dir, st)
	if len(st.payloads()) != 0 {
		t.Fatal("a live process's file was taken")
	}
	cmd.Process.Kill()
	cmd.Wait()
	b.fmu.Lock()
	err = b.adopt()
	b.fmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Move(context.Background()); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), want(0, 10))
}

// abandon closes the journal's files without moving or removing
// anything, as a process that dies does (their locks go with them):
// for tests.
func (j *Journal) abandon() {
	j.fmu.Lock()
	defer j.fmu.Unlock()
	j.closed = true
	if j.cur != nil {
		j.cur.f.Close()
		j.cur = nil
	}
	for _, s := range j.full {
		s.f.Close()
	}
	j.full = nil
}

const childEnv = "JOURNAL_TEST_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		j, err := Open(context.Background(), dir, Options{Store: newMemStore(), Hold: time.Hour})
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(1)
		}
		for i := range 10 {
			if err := j.Take(context.Background(), event(i)); err != nil {
				fmt.Println("take:", err)
				os.Exit(1)
			}
		}
		fmt.Println("taken")
		time.Sleep(time.Minute) // killed before this ends
		os.Exit(1)
	}
	os.Exit(m.Run())
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
	// second, and the move at Run's end; a try is a batch, then up to 8
	// of its arrivals alone.
	if n := calls.Load(); n > 4*9 {
		t.Errorf("%d calls to record while the database was down, want a few tries (one a second)", n)
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
	// A try is a batch, then its arrivals alone: 4 calls here.
	if n := calls.Load(); n > 8 {
		t.Errorf("%d calls to record in half a second of a full journal, want a try or two (4 calls each)", n)
	}
	st.fail = nil
	stop()
	same(t, st.payloads(), want(0, 3))
}

func TestMove_AnArrivalTheStoreRefusesAloneWaitsAndTheOthersAreRecorded(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	j := open(t, dir, st)
	take(t, j, 0, 2)
	bad := event(2)
	bad.Job.Kind = ""
	if err := j.Take(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	take(t, j, 3, 5)
	// The store refuses a job without a kind, whatever it is batched with.
	st.refuse = func(a workflows.Arrival) bool { return a.Job != nil && a.Job.Kind == "" }
	if _, err := j.Move(context.Background()); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), []string{`{"id":"E0000"}`, `{"id":"E0001"}`, `{"id":"E0003"}`, `{"id":"E0004"}`})
	if j.Waiting() != 1 {
		t.Fatalf("waiting %d, want the refused arrival kept", j.Waiting())
	}
	// Refused again at the next move, without holding up what came since.
	take(t, j, 5, 6)
	if _, err := j.Move(context.Background()); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), []string{`{"id":"E0000"}`, `{"id":"E0001"}`, `{"id":"E0003"}`, `{"id":"E0004"}`, `{"id":"E0005"}`})
	// Taken once the store takes it (a database that failed just then).
	st.refuse = nil
	if _, err := j.Move(context.Background()); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), []string{`{"id":"E0000"}`, `{"id":"E0001"}`, `{"id":"E0003"}`, `{"id":"E0004"}`, `{"id":"E0005"}`, `{"id":"E0002"}`})
	if j.Waiting() != 0 {
		t.Fatalf("waiting %d once all are recorded", j.Waiting())
	}
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

func TestOpen_LeavesAloneWhatItDidNotMake(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.tmp"), []byte("an operator's"), 0o600)
	os.Mkdir(filepath.Join(dir, "x.journal"), 0o700)
	os.WriteFile(filepath.Join(dir, "00000000000000000001-1-00000000.journal"), nil, 0o000) // unreadable
	j := open(t, dir, newMemStore())
	take(t, j, 0, 1)
	if _, err := j.Move(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"notes.tmp", "x.journal"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
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
		// What neither recorded is recorded at the next start, once.
		open(t, dir, st)
		got := st.payloads()
		slices.Sort(got) // one refused alone is recorded after the others
		if strings.Join(got, " ") != strings.Join(want(0, 3), " ") {
			t.Fatalf("run %d: recorded %s (calls %d), want each once", i, got, st.calls)
		}
	}
}
