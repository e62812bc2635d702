package runbooks_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// accepted starts restart-service, whose endpoint answers 202, and
// returns when opsbot has recorded the 202 (at the world's now).
func accepted(t *testing.T, w *world) *runbooks.Run {
	t.Helper()
	w.caller.answers = []runbooks.Answer{{Status: 202, Body: `{"accepted":true}`}}
	start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "")
	w.drain()
	r := w.run("run-1")
	if r.State != runbooks.StateAccepted || !r.AcceptedAt.Equal(w.clock.Now()) {
		t.Fatalf("run %+v", r)
	}
	return r
}

func (w *world) tick() int {
	w.t.Helper()
	n, err := w.svc.Tick(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	w.drain()
	return n
}

func (w *world) due() []string {
	w.t.Helper()
	var ids []string
	err := w.db.View(context.Background(), func(tx workflows.Tx) (err error) {
		ids, err = tx.DueSubjects(workflows.DueKindRunbook, workflows.DueNever.Add(-time.Second))
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return ids
}

func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func TestTimeout_AtFixedInstants(t *testing.T) {
	w := newWorld(t)
	accepted(t, w)
	golden(t, "run_accepted", byKey(t, w.messages(), "run:"))
	w.callback(1, "running", "draining api")
	for _, at := range []time.Duration{time.Minute, 30 * time.Minute, time.Hour - time.Second} {
		w.clock.Set(t0.Add(at))
		if n := w.tick(); n != 0 || w.run("run-1").State != runbooks.StateAccepted {
			t.Fatalf("at +%s: %d timed out, run %s", at, n, w.run("run-1").State)
		}
	}
	w.messages()
	w.clock.Set(t0.Add(time.Hour))
	if n := w.tick(); n != 1 {
		t.Fatalf("at the deadline: %d timed out", n)
	}
	r := w.run("run-1")
	if r.State != runbooks.StateTimedOut || !strings.Contains(r.Result, "No final report") {
		t.Fatalf("run %+v", r)
	}
	ms := w.messages()
	golden(t, "run_timed_out", byKey(t, ms, "run:"))
	golden(t, "timeout_notice", byKey(t, ms, "run-timeout:"))
	if len(ms) != 2 {
		t.Fatalf("messages:\n%s", titles(ms))
	}
	if n := countPrefix(w.audit(), "opsbot runbook.timed_out run-1 restart-service HTTP 202"); n != 1 {
		t.Fatalf("audit:\n%s", strings.Join(w.audit(), "\n"))
	}
	// Told once: later ticks do nothing, and the run is no longer due.
	for range 2 {
		w.clock.Advance(time.Hour)
		if n := w.tick(); n != 0 || len(w.messages()) != 0 {
			t.Fatal("a later tick did something")
		}
	}
	if d := w.due(); len(d) != 0 {
		t.Fatalf("still due: %v", d)
	}
	// The endpoint's late report is refused and changes nothing.
	for _, c := range []struct {
		seq    int
		status string
	}{{2, "succeeded"}, {2, "running"}, {1, "running"}, {3, "failed"}} {
		if out := w.callback(c.seq, c.status, "late"); out.Code != 409 {
			t.Errorf("late seq %d %s: %+v", c.seq, c.status, out)
		}
	}
	w.drain()
	if ms := w.messages(); len(ms) != 0 {
		t.Fatalf("a late callback said something:\n%s", titles(ms))
	}
	if got := w.run("run-1"); got.State != runbooks.StateTimedOut || got.Result != r.Result || !slices.Equal(seqs(got), []int{1}) {
		t.Fatalf("a late callback changed the run: %+v", got)
	}
}

// A clock that jumps a day past the deadline times the run out once; one
// that goes back before it does nothing until the deadline comes again.
func TestTimeout_AcrossClockJumps(t *testing.T) {
	w := newWorld(t)
	accepted(t, w)
	w.clock.Set(t0.Add(-3 * time.Hour))
	if n := w.tick(); n != 0 {
		t.Fatal("timed out with the clock before its acceptance")
	}
	w.clock.Set(t0.Add(59 * time.Minute))
	if n := w.tick(); n != 0 {
		t.Fatal("timed out before the deadline")
	}
	w.clock.Set(t0.Add(25 * time.Hour))
	if n := w.tick(); n != 1 {
		t.Fatalf("a day later: %d timed out", n)
	}
	w.clock.Set(t0.Add(30 * time.Minute)) // back again
	w.messages()
	if n := w.tick(); n != 0 || w.run("run-1").State != runbooks.StateTimedOut || len(w.messages()) != 0 {
		t.Fatal("the clock going back changed something")
	}
	if n := countPrefix(w.audit(), "opsbot runbook.timed_out"); n != 1 {
		t.Fatalf("%d timeouts audited", n)
	}
}

// The final report before the deadline wins; the tick then never looks at
// the run again.
func TestTimeout_FinalReportInTime(t *testing.T) {
	w := newWorld(t)
	accepted(t, w)
	w.tick()
	w.clock.Set(t0.Add(time.Hour - time.Second))
	if out := w.callback(1, "succeeded", "restarted"); out.Code != 200 {
		t.Fatalf("final: %+v", out)
	}
	if d := w.due(); len(d) != 0 {
		t.Fatalf("a finished run is due: %v", d)
	}
	w.clock.Set(t0.Add(2 * time.Hour))
	if n := w.tick(); n != 0 || w.run("run-1").State != runbooks.StateDone {
		t.Fatal("a finished run was timed out")
	}
}

// A report that comes after the deadline, before any tick has looked, is
// refused as the tick would have: the outcome depends on the clock and
// the record, not on when the tick runs. The run is timed out then and
// there, once.
func TestTimeout_ReportAfterTheDeadlineBeforeTheTick(t *testing.T) {
	w := newWorld(t)
	accepted(t, w)
	w.messages()
	w.clock.Set(t0.Add(time.Hour + time.Second))
	if out := w.callback(1, "succeeded", "restarted, late"); out.Code != 409 {
		t.Fatalf("late final: %+v", out)
	}
	w.drain()
	r := w.run("run-1")
	if r.State != runbooks.StateTimedOut || len(r.Progress) != 0 {
		t.Fatalf("run %+v", r)
	}
	if ms := w.messages(); len(ms) != 2 {
		t.Fatalf("messages:\n%s", titles(ms))
	}
	if n := w.tick(); n != 0 || len(w.messages()) != 0 {
		t.Fatal("the tick timed it out again")
	}
}

// callback_timeout is config: a start of opsbot makes every accepted run
// due again (ResetDueTimes), so a shorter timeout applies at the next
// tick, not at the deadline stored under the old one.
func TestTimeout_NewConfigAppliesAfterARestart(t *testing.T) {
	w := newWorld(t)
	accepted(t, w)
	w.clock.Set(t0.Add(10 * time.Minute))
	w.tick() // stores t0+1h
	rb, _ := w.svc.Runbook("restart-service")
	rb.CallbackTimeout = 15 * time.Minute
	w.clock.Set(t0.Add(20 * time.Minute))
	if n := w.tick(); n != 0 {
		t.Fatal("looked before it was due")
	}
	if _, err := workflows.ResetDueTimes(context.Background(), w.db); err != nil {
		t.Fatal(err)
	}
	if n := w.tick(); n != 1 {
		t.Fatalf("after the restart: %d timed out", n)
	}
	if r := w.run("run-1"); !strings.Contains(r.Result, "within 15m") {
		t.Fatalf("result %q", r.Result)
	}
}
