package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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

func TestOpen_StartsWhenTheDatabaseRefusesWhatTheLastRunLeft(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	j := open(t, dir, st)
	take(t, j, 0, 3)
	j.abandon()
	st.fail = func(int) error { return errors.New("database is locked") }
	// opsbot starts, keeps the file, and shows its age for the alert.
	j2 := open(t, dir, st)
	if len(st.payloads()) != 0 || j2.Oldest() == 0 {
		t.Fatalf("recorded %v, oldest %v", st.payloads(), j2.Oldest())
	}
	st.fail = nil
	if _, err := j2.Move(context.Background()); err != nil {
		t.Fatal(err)
	}
	same(t, st.payloads(), want(0, 3))
}
