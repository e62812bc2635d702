package store

import (
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func dueIDs(tb testing.TB, db *DB, kind workflows.DueKind, now time.Time) []string {
	tb.Helper()
	var ids []string
	view(tb, db, func(tx workflows.Tx) (err error) {
		ids, err = tx.DueSubjects(kind, now)
		return err
	})
	return ids
}

func TestDue_SavesAreDueAtOnceAndTicksStoreTheNextLook(t *testing.T) {
	forEachDB(t, testDue_SavesAreDueAtOnceAndTicksStoreTheNextLook)
}

func testDue_SavesAreDueAtOnceAndTicksStoreTheNextLook(t *testing.T, db *DB) {
	update(t, db, func(tx workflows.Tx) error {
		for _, id := range []string{"srv-1", "srv-2", "srv-3"} {
			if err := tx.CreateRequest(sampleRequest(id)); err != nil {
				return err
			}
		}
		if err := tx.CreateApproval(sampleApproval("apr-1", "srv-1")); err != nil {
			return err
		}
		if err := tx.CreateIncident(sampleIncident("inc-1")); err != nil {
			return err
		}
		return tx.SaveAction(&workflows.ActionItem{ID: "act-1", IncidentID: "inc-1", Text: "index", CreatedAt: t0})
	})
	for kind, want := range map[workflows.DueKind][]string{
		workflows.DueKindLease: {"srv-1", "srv-2", "srv-3"}, workflows.DueKindApproval: {"apr-1"},
		workflows.DueKindIncident: {"inc-1"}, workflows.DueKindAction: {"act-1"},
	} {
		if got := dueIDs(t, db, kind, t0); !reflect.DeepEqual(got, want) {
			t.Errorf("new %ss due = %v, want %v: a new row is due at once", kind, got, want)
		}
	}
	// A tick stores when each next needs a look: srv-3 never (ended).
	update(t, db, func(tx workflows.Tx) error {
		for id, at := range map[string]time.Time{"srv-1": t0.Add(2 * time.Hour), "srv-2": t0.Add(time.Hour), "srv-3": {}} {
			if err := tx.SetDue(workflows.DueKindLease, id, at); err != nil {
				return err
			}
		}
		return nil
	})
	for _, c := range []struct {
		at   time.Time
		want []string
	}{
		{t0, nil},
		{t0.Add(time.Hour - 1), nil},
		{t0.Add(time.Hour), []string{"srv-2"}},
		{t0.Add(24 * time.Hour), []string{"srv-2", "srv-1"}}, // earliest first
	} {
		if got := dueIDs(t, db, workflows.DueKindLease, c.at); !reflect.DeepEqual(got, c.want) {
			t.Errorf("due at %v = %v, want %v", c.at, got, c.want)
		}
	}
	// Any save (an extension, a state change) makes the lease due at once,
	// before those due by their time; an ended one comes back too.
	update(t, db, func(tx workflows.Tx) error {
		for _, id := range []string{"srv-1", "srv-3"} {
			r, err := tx.Request(id)
			if err != nil {
				return err
			}
			r.LeaseEnd = r.LeaseEnd.Add(time.Hour)
			if err := tx.SaveRequest(r); err != nil {
				return err
			}
		}
		return nil
	})
	if got, want := dueIDs(t, db, workflows.DueKindLease, t0.Add(time.Hour)), []string{"srv-1", "srv-3", "srv-2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after saving srv-1 and srv-3: due %v, want %v", got, want)
	}
	// Start-up makes everything with a due time due at once, not the ended.
	update(t, db, func(tx workflows.Tx) error { return tx.SetDue(workflows.DueKindLease, "srv-3", time.Time{}) })
	update(t, db, func(tx workflows.Tx) error { return tx.SetDue(workflows.DueKindLease, "srv-1", workflows.DueNever) })
	n, err := workflows.ResetDueTimes(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dueIDs(t, db, workflows.DueKindLease, t0), []string{"srv-1", "srv-2"}; !reflect.DeepEqual(got, want) || n != 2 {
		t.Errorf("after a reset (%d rows): due %v, want %v", n, got, want)
	}
	// Bad input changes nothing.
	err = db.Update(t.Context(), func(tx workflows.Tx) error { return tx.SetDue("nonsense", "srv-1", t0) })
	if err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("SetDue of an unknown kind = %v", err)
	}
	err = db.Update(t.Context(), func(tx workflows.Tx) error { return tx.SetDue(workflows.DueKindLease, "srv-404", t0) })
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("SetDue of an unknown lease = %v", err)
	}
}

// TestDue_MigrationBackfillsWhatMayStillFallDue takes a store back to
// before the due-times migration and opens it again: live leases, pending approvals,
// incidents not closed and open action items are due at once; ended
// leases, decided approvals and closed incidents are left out for good.
func TestDue_MigrationBackfillsWhatMayStillFallDue(t *testing.T) {
	forEachEngine(t, testDue_MigrationBackfillsWhatMayStillFallDue)
}

func testDue_MigrationBackfillsWhatMayStillFallDue(t *testing.T, e engine) {
	dsn := e.fresh(t)
	db := openDSN(t, dsn)
	update(t, db, func(tx workflows.Tx) error {
		for id, st := range map[string]workflows.State{"srv-1": workflows.StateRunning, "srv-2": workflows.StateStopped, "srv-3": workflows.StateTerminated} {
			r := sampleRequest(id)
			r.State = st
			if err := tx.CreateRequest(r); err != nil {
				return err
			}
		}
		for id, st := range map[string]workflows.ApprovalState{"apr-1": workflows.ApprovalPending, "apr-2": workflows.ApprovalApproved} {
			a := sampleApproval(id, "srv-1")
			a.State = st
			if err := tx.CreateApproval(a); err != nil {
				return err
			}
		}
		for id, f := range map[string]func(*workflows.Incident){
			"inc-1": func(i *workflows.Incident) { i.Status = workflows.StatusInvestigating },
			"inc-2": func(i *workflows.Incident) { i.Status, i.PostmortemDone = workflows.StatusResolved, false },
			"inc-3": func(i *workflows.Incident) { i.Status, i.PostmortemDone = workflows.StatusResolved, true },
			"inc-4": func(i *workflows.Incident) { i.Status, i.Cancelled = workflows.StatusResolved, true },
		} {
			i := sampleIncident(id)
			i.PDIncidentID, i.ChannelID, i.Cancelled = "", "", false
			f(i)
			if err := tx.CreateIncident(i); err != nil {
				return err
			}
		}
		if err := tx.SaveAction(&workflows.ActionItem{ID: "act-1", IncidentID: "inc-1", Text: "open", CreatedAt: t0}); err != nil {
			return err
		}
		return tx.SaveAction(&workflows.ActionItem{ID: "act-2", IncidentID: "inc-1", Text: "done", CreatedAt: t0, DoneAt: t0})
	})
	// Back to before the migration: no column, no index.
	for _, table := range []string{"requests", "approvals", "incidents", "action_items"} {
		for _, s := range []string{"DROP INDEX " + table + "_next_due", "ALTER TABLE " + table + " DROP COLUMN next_due_at"} {
			if _, err := db.write.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	if _, err := db.write.Exec(db.q("DELETE FROM schema_migrations WHERE version = ?"), dueTimesVersion(t)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openDSN(t, dsn)
	for kind, want := range map[workflows.DueKind][]string{
		workflows.DueKindLease: {"srv-1", "srv-2"}, workflows.DueKindApproval: {"apr-1"},
		workflows.DueKindIncident: {"inc-1", "inc-2"}, workflows.DueKindAction: {"act-1"},
	} {
		if got := dueIDs(t, db, kind, t0); !reflect.DeepEqual(got, want) {
			t.Errorf("%ss due after the migration = %v, want %v", kind, got, want)
		}
	}
}

// TestDue_QueriesUseTheirIndexes: a tick's reads (and reconciliation's,
// and a budget's) never scan a table, so their cost does not grow with the
// rows no longer due (SQLite's plan; the PostgreSQL figures are in
// BenchmarkTick).
func TestDue_QueriesUseTheirIndexes(t *testing.T) {
	db := mustOpen(t)
	plan := func(q string, args ...any) string {
		t.Helper()
		rows, err := db.read.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		return strings.Join(plan, "; ")
	}
	// Reconciliation compares every live lease with EC2: it reads the
	// live ones by state, never the ended.
	if got := plan(`SELECT id FROM requests WHERE state IN (?, ?)`, "running", "stopped"); !strings.Contains(got, "USING INDEX requests_state") {
		t.Errorf("live leases: plan %q, want a search of requests_state", got)
	}
	// A budget reads the team's leases that ran into the month.
	if got := plan(`SELECT id FROM requests WHERE team = ? AND state IN (?, ?, ?, ?) AND lease_end >= ? ORDER BY created_at, id`,
		"platform", "provisioning", "running", "stopped", "terminated", unixNanos(t0)); !strings.Contains(got, "requests_team_lease_end") {
		t.Errorf("a team's month: plan %q, want a search of requests_team_lease_end", got)
	}
	if got := plan(`SELECT id FROM approvals WHERE team = ? AND state IN (?) ORDER BY created_at, id`, "platform", "pending"); !strings.Contains(got, "approvals_state_team") {
		t.Errorf("a team's pending approvals: plan %q, want a search of approvals_state_team", got)
	}
	for _, table := range []string{"requests", "approvals", "incidents", "action_items"} {
		q := `EXPLAIN QUERY PLAN SELECT id FROM ` + table + ` WHERE next_due_at IS NOT NULL AND next_due_at <= ? ORDER BY next_due_at, id`
		rows, err := db.read.Query(q, unixNanos(t0))
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		got := strings.Join(plan, "; ")
		if !strings.Contains(got, table+"_next_due") || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("%s: plan %q, want a search of %s_next_due with no sort", table, got, table)
		}
	}
}

// dueTimesVersion is the version of the migration that added next_due_at.
func dueTimesVersion(t *testing.T) int64 {
	for _, m := range migrations {
		if strings.HasSuffix(m.name, "_due_times.sql") {
			return m.version
		}
	}
	t.Fatal("no due-times migration")
	return 0
}

func TestRequests_EndsAfterLeavesOutLeasesEndedBefore(t *testing.T) {
	forEachDB(t, testRequests_EndsAfterLeavesOutLeasesEndedBefore)
}

func testRequests_EndsAfterLeavesOutLeasesEndedBefore(t *testing.T, db *DB) {
	update(t, db, func(tx workflows.Tx) error {
		for id, end := range map[string]time.Time{"srv-1": t0.Add(-time.Hour), "srv-2": t0, "srv-3": t0.Add(time.Hour)} {
			r := sampleRequest(id)
			r.LeaseEnd = end
			if err := tx.CreateRequest(r); err != nil {
				return err
			}
		}
		return nil
	})
	var got []string
	view(t, db, func(tx workflows.Tx) error {
		rs, err := tx.Requests(workflows.RequestFilter{Team: "platform", EndsAfter: t0})
		for _, r := range rs {
			got = append(got, r.ID)
		}
		return err
	})
	if want := []string{"srv-2", "srv-3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("leases ending at or after t0: %v, want %v", got, want)
	}
	// LeaseCosts reads the same leases, enough to cost them.
	view(t, db, func(tx workflows.Tx) error {
		f := workflows.RequestFilter{Team: "platform", EndsAfter: t0}
		full, err := tx.Requests(f)
		if err != nil {
			return err
		}
		costs, err := tx.LeaseCosts(f)
		if err != nil {
			return err
		}
		if len(costs) != len(full) {
			t.Fatalf("LeaseCosts: %d leases, Requests: %d", len(costs), len(full))
		}
		byID := map[string]*workflows.ServerRequest{}
		for _, c := range costs {
			byID[c.ID] = c
		}
		for _, r := range full {
			for _, at := range []time.Time{t0.Add(-2 * time.Hour), t0, t0.Add(48 * time.Hour)} {
				if c := byID[r.ID]; c == nil || c.CostSoFar(at) != r.CostSoFar(at) {
					t.Errorf("%s at %v: LeaseCosts gives %+v, the full request costs %v", r.ID, at, c, r.CostSoFar(at))
				}
			}
		}
		return nil
	})
}

// SetDues writes what SetDue would for each row, in chunks of dueChunk
// (a short last chunk included), NULL and DueNever too, for each table.
func TestDue_SetDuesWritesEachRowsTimeInChunks(t *testing.T) {
	forEachDB(t, testDue_SetDuesWritesEachRowsTimeInChunks)
}

func testDue_SetDuesWritesEachRowsTimeInChunks(t *testing.T, db *DB) {
	const n = 2*dueChunk + 5
	var ids []string
	update(t, db, func(tx workflows.Tx) error {
		for i := range n {
			id := fmt.Sprintf("srv-%03d", i)
			ids = append(ids, id)
			if err := tx.CreateRequest(sampleRequest(id)); err != nil {
				return err
			}
		}
		if err := tx.CreateIncident(sampleIncident("inc-1")); err != nil {
			return err
		}
		return tx.CreateIncident(sampleIncident("inc-2"))
	})
	// Row i is due i minutes after t0; every seventh never again, every
	// eleventh not under this policy.
	at := func(i int) time.Time {
		switch {
		case i%7 == 3:
			return time.Time{}
		case i%11 == 5:
			return workflows.DueNever
		}
		return t0.Add(time.Duration(i) * time.Minute)
	}
	var dues []workflows.DueAt
	for i, id := range ids {
		dues = append(dues, workflows.DueAt{ID: id, At: at(i)})
	}
	update(t, db, func(tx workflows.Tx) error { return tx.SetDues(workflows.DueKindLease, dues) })
	got := map[string]sql.NullInt64{}
	rows, err := db.read.Query("SELECT id, next_due_at FROM requests")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var v sql.NullInt64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		got[id] = v
	}
	rows.Close()
	for i, id := range ids {
		want := sql.NullInt64{}
		if a := at(i); !a.IsZero() {
			want = sql.NullInt64{Int64: a.UnixNano(), Valid: true}
		}
		if got[id] != want {
			t.Errorf("%s: next_due_at %v, want %v", id, got[id], want)
		}
	}
	// The tick reads them back as SetDue's times.
	if due := dueIDs(t, db, workflows.DueKindLease, t0.Add(10*time.Minute)); !reflect.DeepEqual(due, []string{"srv-000", "srv-001", "srv-002", "srv-004", "srv-006", "srv-007", "srv-008", "srv-009"}) {
		t.Errorf("due 10 minutes on: %v", due)
	}
	// Another table, one row; none at all writes nothing.
	update(t, db, func(tx workflows.Tx) error {
		if err := tx.SetDues(workflows.DueKindIncident, []workflows.DueAt{{ID: "inc-2", At: t0.Add(time.Hour)}}); err != nil {
			return err
		}
		return tx.SetDues(workflows.DueKindApproval, nil)
	})
	if got := dueIDs(t, db, workflows.DueKindIncident, t0); !reflect.DeepEqual(got, []string{"inc-1"}) {
		t.Errorf("incidents due at t0 = %v, want [inc-1] (inc-2 set an hour on)", got)
	}
	// A row that is not there fails the batch, which changes nothing.
	err = db.Update(t.Context(), func(tx workflows.Tx) error {
		return tx.SetDues(workflows.DueKindLease, []workflows.DueAt{{ID: "srv-001", At: t0}, {ID: "srv-404", At: t0}})
	})
	if !errors.Is(err, workflows.ErrNotFound) {
		t.Errorf("SetDues with an unknown lease = %v, want ErrNotFound", err)
	}
	if due := dueIDs(t, db, workflows.DueKindLease, t0); !reflect.DeepEqual(due, []string{"srv-000"}) {
		t.Errorf("after the failed batch, due at t0: %v", due)
	}
	err = db.Update(t.Context(), func(tx workflows.Tx) error {
		return tx.SetDues("nonsense", []workflows.DueAt{{ID: "srv-000", At: t0}})
	})
	if err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("SetDues of an unknown kind = %v", err)
	}
}

// The idle check's due times ride on requests beside the lease's: storing
// one kind's batch must leave the other's column alone (it once wrote the
// idle check's hourly turn over each lease's next warning, and the
// sandbox's day went by without a warning).
func TestDue_SetDuesKeepsEachKindToItsColumn(t *testing.T) {
	forEachDB(t, testDue_SetDuesKeepsEachKindToItsColumn)
}

func testDue_SetDuesKeepsEachKindToItsColumn(t *testing.T, db *DB) {
	update(t, db, func(tx workflows.Tx) error { return tx.CreateRequest(sampleRequest("srv-1")) })
	lease, idle := t0.Add(5*time.Minute), t0.Add(time.Hour)
	update(t, db, func(tx workflows.Tx) error {
		return tx.SetDues(workflows.DueKindLease, []workflows.DueAt{{ID: "srv-1", At: lease}})
	})
	update(t, db, func(tx workflows.Tx) error {
		return tx.SetDues(workflows.DueKindIdle, []workflows.DueAt{{ID: "srv-1", At: idle}})
	})
	var gotLease, gotIdle sql.NullInt64
	if err := db.read.QueryRow("SELECT next_due_at, next_idle_at FROM requests WHERE id = 'srv-1'").Scan(&gotLease, &gotIdle); err != nil {
		t.Fatal(err)
	}
	if gotLease.Int64 != lease.UnixNano() || gotIdle.Int64 != idle.UnixNano() {
		t.Errorf("lease due %v, idle due %v; want %v and %v",
			time.Unix(0, gotLease.Int64).UTC(), time.Unix(0, gotIdle.Int64).UTC(), lease, idle)
	}
}
