package store

import (
	"slices"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// A run's progress and acceptance round-trip, and its due time is set
// only while it is accepted: the runbooks tick reads the accepted runs
// and nothing else.
func TestRunbookRuns_ProgressAndDueTime(t *testing.T) {
	forEachDB(t, testRunbookRuns_ProgressAndDueTime)
}

func testRunbookRuns_ProgressAndDueTime(t *testing.T, db *DB) {
	due := func(at time.Time) []string {
		t.Helper()
		var ids []string
		view(t, db, func(tx workflows.Tx) (err error) {
			ids, err = tx.DueSubjects(workflows.DueKindRunbook, at)
			return err
		})
		return ids
	}
	save := func(r *runbooks.Run) {
		t.Helper()
		update(t, db, func(tx workflows.Tx) error { return tx.(runbooks.Tx).SaveRun(r) })
	}
	read := func(id string) *runbooks.Run {
		t.Helper()
		var r *runbooks.Run
		view(t, db, func(tx workflows.Tx) (err error) {
			r, err = tx.(runbooks.Tx).RunbookRun(id)
			return err
		})
		return r
	}
	r := &runbooks.Run{ID: "run-1", Runbook: "promote", Params: "{}", State: runbooks.StateQueued, Key: "k1", Trigger: "v1", CreatedAt: t0, UpdatedAt: t0}
	update(t, db, func(tx workflows.Tx) error { return tx.(runbooks.Tx).CreateRun(r) })
	if got := read("run-1"); got.Progress != nil || !got.AcceptedAt.IsZero() {
		t.Fatalf("new run %+v", got)
	}
	if d := due(t0.Add(time.Hour)); len(d) != 0 {
		t.Fatalf("a queued run is due: %v", d)
	}
	r.State, r.AcceptedAt, r.UpdatedAt = runbooks.StateAccepted, t0.Add(time.Second), t0.Add(time.Second)
	r.Progress = []runbooks.Step{{Seq: 1, Status: "running", Text: "copying", At: t0}, {Seq: 3, Status: "running", Text: "canary", At: t0}}
	r.Seq = 3
	save(r)
	got := read("run-1")
	if !got.AcceptedAt.Equal(t0.Add(time.Second)) || len(got.Progress) != 2 || got.Progress[1] != r.Progress[1] {
		t.Fatalf("accepted run %+v", got)
	}
	if d := due(t0); !slices.Equal(d, []string{"run-1"}) {
		t.Fatalf("an accepted run just saved is not due at once: %v", d)
	}
	update(t, db, func(tx workflows.Tx) error { return tx.SetDue(workflows.DueKindRunbook, "run-1", t0.Add(time.Hour)) })
	if d := due(t0.Add(time.Hour - time.Nanosecond)); len(d) != 0 {
		t.Fatalf("due before its deadline: %v", d)
	}
	if d := due(t0.Add(time.Hour)); !slices.Equal(d, []string{"run-1"}) {
		t.Fatalf("not due at its deadline: %v", d)
	}
	var n int64
	update(t, db, func(tx workflows.Tx) (err error) { n, err = tx.ResetDue(workflows.DueKindRunbook); return err })
	if n != 1 || len(due(t0)) != 1 {
		t.Fatalf("reset %d", n)
	}
	r.State = runbooks.StateTimedOut
	save(r)
	if d := due(t0.Add(24 * time.Hour)); len(d) != 0 {
		t.Fatalf("a timed-out run is due: %v", d)
	}
}
