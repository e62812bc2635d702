package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func sampleApproval(id, requestID string) *workflows.Approval {
	return &workflows.Approval{
		ID: id, RequestID: requestID, Kind: workflows.ApproveExtension, Team: "platform",
		Requester: workflows.Person{SlackID: "U1", Email: "ada@example.com"},
		Initiator: workflows.Person{SlackID: "U9", Email: "lead@example.com"},
		Extend:    36 * time.Hour, Reason: "demo on friday", Cost: workflows.USD(42.25), Overrun: workflows.USD(2.25),
		Required: 2, State: workflows.ApprovalApproved,
		DecidedBy: []workflows.Person{{SlackID: "U7"}, {SlackID: "U8", Email: "cy@example.com"}, {Email: "dee@example.com"}},
		Note:      "fine", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour), DecidedAt: t0.Add(time.Hour), RemindedAt: t0.Add(30 * time.Minute),
	}
}

func withRequest(tx workflows.Tx, id string) error { return tx.CreateRequest(sampleRequest(id)) }

func TestApproval_RoundTripAndSave(t *testing.T) { forEachDB(t, testApproval_RoundTripAndSave) }

func testApproval_RoundTripAndSave(t *testing.T, db *DB) {
	want := sampleApproval("apr-1", "srv-1")
	bare := &workflows.Approval{ID: "apr-2", RequestID: "srv-1", State: workflows.ApprovalPending}
	update(t, db, func(tx workflows.Tx) error {
		if err := withRequest(tx, "srv-1"); err != nil {
			return err
		}
		if err := tx.CreateApproval(want); err != nil {
			return err
		}
		if err := tx.CreateApproval(want); !errors.Is(err, workflows.ErrDuplicate) {
			t.Errorf("CreateApproval twice = %v, want ErrDuplicate", err)
		}
		return tx.CreateApproval(bare)
	})
	view(t, db, func(tx workflows.Tx) error {
		for _, w := range []*workflows.Approval{want, bare} {
			got, err := tx.Approval(w.ID)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("approval =\n%+v\nwant\n%+v", got, w)
			}
		}
		if _, err := tx.Approval("apr-9"); !errors.Is(err, workflows.ErrNotFound) {
			t.Errorf("Approval(missing) = %v, want ErrNotFound", err)
		}
		return nil
	})
	bare.State, bare.DecidedBy, bare.DecidedAt, bare.Note = workflows.ApprovalDenied, []workflows.Person{{SlackID: "U9"}}, t0, "no"
	update(t, db, func(tx workflows.Tx) error { return tx.SaveApproval(bare) })
	view(t, db, func(tx workflows.Tx) error {
		got, err := tx.Approval("apr-2")
		if err == nil && !reflect.DeepEqual(got, bare) {
			t.Errorf("saved approval =\n%+v\nwant\n%+v", got, bare)
		}
		return err
	})
	err := db.Update(context.Background(), func(tx workflows.Tx) error { return tx.SaveApproval(sampleApproval("apr-9", "srv-1")) })
	if !errors.Is(err, workflows.ErrNotFound) {
		t.Fatalf("SaveApproval(missing) = %v, want ErrNotFound", err)
	}
}

func TestApprovals_Filters(t *testing.T) { forEachDB(t, testApprovals_Filters) }

func testApprovals_Filters(t *testing.T, db *DB) {
	mk := func(id, req, team string, st workflows.ApprovalState, created time.Time) *workflows.Approval {
		return &workflows.Approval{ID: id, RequestID: req, Team: team, State: st, CreatedAt: created}
	}
	update(t, db, func(tx workflows.Tx) error {
		for _, r := range []string{"srv-1", "srv-2"} {
			if err := withRequest(tx, r); err != nil {
				return err
			}
		}
		for _, a := range []*workflows.Approval{
			mk("apr-1", "srv-1", "platform", workflows.ApprovalApproved, t0.Add(2*time.Hour)),
			mk("apr-2", "srv-2", "data", workflows.ApprovalPending, t0.Add(time.Hour)),
			mk("apr-3", "srv-1", "platform", workflows.ApprovalPending, t0.Add(3*time.Hour)),
			mk("apr-4", "srv-2", "data", workflows.ApprovalExpired, t0),
		} {
			if err := tx.CreateApproval(a); err != nil {
				return err
			}
		}
		return nil
	})
	cases := []struct {
		f    workflows.ApprovalFilter
		want []string
	}{
		{workflows.ApprovalFilter{}, []string{"apr-4", "apr-2", "apr-1", "apr-3"}},
		{workflows.ApprovalFilter{Team: "platform"}, []string{"apr-1", "apr-3"}},
		{workflows.ApprovalFilter{RequestID: "srv-2"}, []string{"apr-4", "apr-2"}},
		{workflows.ApprovalFilter{States: []workflows.ApprovalState{workflows.ApprovalPending}}, []string{"apr-2", "apr-3"}},
		{workflows.ApprovalFilter{Team: "data", States: []workflows.ApprovalState{workflows.ApprovalPending, workflows.ApprovalExpired}}, []string{"apr-4", "apr-2"}},
	}
	view(t, db, func(tx workflows.Tx) error {
		for _, c := range cases {
			got, err := tx.Approvals(c.f)
			if err != nil {
				return err
			}
			var ids []string
			for _, a := range got {
				ids = append(ids, a.ID)
			}
			if !reflect.DeepEqual(ids, c.want) {
				t.Errorf("%+v: ids = %v, want %v", c.f, ids, c.want)
			}
		}
		return nil
	})
}

func TestDecisions_OneVotePerApprover(t *testing.T) { forEachDB(t, testDecisions_OneVotePerApprover) }

func testDecisions_OneVotePerApprover(t *testing.T, db *DB) {
	d1 := workflows.Decision{ApprovalID: "apr-1", Approver: workflows.Person{SlackID: "U7", Email: "cy@example.com"}, Approve: true, Reason: "ok", At: t0}
	d2 := workflows.Decision{ApprovalID: "apr-1", Approver: workflows.Person{Email: "dee@example.com"}, Approve: false, Reason: "too big", At: t0.Add(time.Minute)}
	update(t, db, func(tx workflows.Tx) error {
		if err := withRequest(tx, "srv-1"); err != nil {
			return err
		}
		for _, id := range []string{"apr-1", "apr-2"} {
			if err := tx.CreateApproval(&workflows.Approval{ID: id, RequestID: "srv-1"}); err != nil {
				return err
			}
		}
		if err := tx.AddDecision(d2); err != nil {
			return err
		}
		return tx.AddDecision(d1)
	})
	dups := []workflows.Decision{
		{ApprovalID: "apr-1", Approver: workflows.Person{SlackID: "U7"}, Approve: false, At: t0},           // same Slack ID
		{ApprovalID: "apr-1", Approver: workflows.Person{Email: "CY@Example.com"}, Approve: true, At: t0},  // same email, other case
		{ApprovalID: "apr-1", Approver: workflows.Person{SlackID: "U9", Email: "Dee@example.com"}, At: t0}, // email of an earlier vote
	}
	for _, d := range dups {
		err := db.Update(context.Background(), func(tx workflows.Tx) error { return tx.AddDecision(d) })
		if !errors.Is(err, workflows.ErrDuplicate) {
			t.Errorf("AddDecision(%v) = %v, want ErrDuplicate", d.Approver, err)
		}
	}
	update(t, db, func(tx workflows.Tx) error {
		// The same person may vote on another approval.
		return tx.AddDecision(workflows.Decision{ApprovalID: "apr-2", Approver: d1.Approver, Approve: true, At: t0})
	})
	view(t, db, func(tx workflows.Tx) error {
		got, err := tx.Decisions("apr-1")
		if want := []workflows.Decision{d1, d2}; err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("decisions =\n%+v\nwant\n%+v", got, want)
		}
		return err
	})
}

// Twenty approvers click at once on an approval that needs three votes:
// every vote is kept, the approval is decided once, and the launch is
// queued once.
func TestConcurrentDecisions_OneOutcome(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) { voteConcurrently(t, db) })
}

// voteConcurrently has twenty approvers click approve at once on an
// approval that needs three votes, spread over the given handles on one
// database, and checks the approval was decided once, by three votes,
// with one launch queued and every fn run exactly once.
func voteConcurrently(t *testing.T, dbs ...*DB) {
	db := dbs[0]
	update(t, db, func(tx workflows.Tx) error {
		if err := withRequest(tx, "srv-1"); err != nil {
			return err
		}
		return tx.CreateApproval(&workflows.Approval{ID: "apr-1", RequestID: "srv-1", Required: 3, State: workflows.ApprovalPending, CreatedAt: t0})
	})
	const clicks = 20
	var runs atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < clicks; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := workflows.Person{SlackID: fmt.Sprintf("U%02d", i)}
			at := t0.Add(time.Duration(i) * time.Second)
			err := dbs[i%len(dbs)].Update(context.Background(), func(tx workflows.Tx) error {
				runs.Add(1)
				a, err := tx.Approval("apr-1")
				if err != nil {
					return err
				}
				if err := tx.AddDecision(workflows.Decision{ApprovalID: a.ID, Approver: who, Approve: true, At: at}); err != nil {
					return err
				}
				if a.State != workflows.ApprovalPending {
					return nil // decided already; the vote is kept for the record
				}
				votes, err := tx.Decisions(a.ID)
				if err != nil {
					return err
				}
				if st := workflows.Tally(a, votes); st != workflows.ApprovalPending {
					a.State, a.DecidedAt = st, at
					for _, v := range votes {
						a.DecidedBy = append(a.DecidedBy, v.Approver)
					}
					if err := tx.SaveApproval(a); err != nil {
						return err
					}
					if err := tx.Audit(workflows.AuditEntry{At: at, Actor: who.String(), Action: "approval.approve", Subject: a.ID}); err != nil {
						return err
					}
					return tx.Enqueue(workflows.Job{Kind: "launch", Payload: "srv-1", RunAt: at})
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	view(t, db, func(tx workflows.Tx) error {
		a, err := tx.Approval("apr-1")
		if err != nil {
			return err
		}
		votes, err := tx.Decisions("apr-1")
		if len(votes) != clicks {
			t.Errorf("%d votes kept, want %d", len(votes), clicks)
		}
		if a.State != workflows.ApprovalApproved || len(a.DecidedBy) != 3 {
			t.Errorf("approval = %s decided by %v, want approved by 3", a.State, a.DecidedBy)
		}
		return err
	})
	if n := count(t, db, "jobs"); n != 1 {
		t.Errorf("%d launch jobs queued, want 1", n)
	}
	if log, _ := db.AuditLog(context.Background(), "apr-1"); len(log) != 1 {
		t.Errorf("%d approval audit entries, want 1", len(log))
	}
	// SQLite's single writer runs each fn once; PostgreSQL runs a fn
	// again when it aborts its transaction to keep the votes serializable.
	if n := runs.Load(); n != clicks && db.dialect == dialectSQLite {
		t.Errorf("fn ran %d times for %d clicks, want once each", n, clicks)
	}
	t.Logf("fn ran %d times for %d clicks", runs.Load(), clicks)
}

func TestConcurrentSameApprover_OneVote(t *testing.T) {
	forEachDB(t, testConcurrentSameApprover_OneVote)
}

func testConcurrentSameApprover_OneVote(t *testing.T, db *DB) {
	update(t, db, func(tx workflows.Tx) error {
		if err := withRequest(tx, "srv-1"); err != nil {
			return err
		}
		return tx.CreateApproval(&workflows.Approval{ID: "apr-1", RequestID: "srv-1"})
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, dup := 0, 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.Update(context.Background(), func(tx workflows.Tx) error {
				return tx.AddDecision(workflows.Decision{ApprovalID: "apr-1", Approver: workflows.Person{SlackID: "U1"}, Approve: true, At: t0})
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, workflows.ErrDuplicate):
				dup++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || dup != 19 {
		t.Fatalf("%d votes stored and %d refused, want 1 and 19", ok, dup)
	}
}

func TestLedger_RoundTripAndFilters(t *testing.T) { forEachDB(t, testLedger_RoundTripAndFilters) }

func testLedger_RoundTripAndFilters(t *testing.T, db *DB) {
	es := []workflows.LedgerEntry{
		{Team: "platform", Month: "2025-03", RequestID: "srv-1", Kind: workflows.LedgerCommit, Amount: workflows.USD(10), At: t0.Add(time.Hour)},
		{Team: "platform", Month: "2025-03", RequestID: "srv-2", Kind: workflows.LedgerExtend, Amount: workflows.USD(2.5), At: t0},
		{Team: "platform", Month: "2025-04", RequestID: "srv-1", Kind: workflows.LedgerRelease, Amount: -workflows.USD(3), At: t0.Add(2 * time.Hour)},
		{Team: "data", Month: "2025-03", RequestID: "srv-3", Kind: workflows.LedgerCommit, Amount: workflows.USD(7), At: t0},
	}
	update(t, db, func(tx workflows.Tx) error {
		for _, e := range es {
			if err := tx.AddLedger(e); err != nil {
				return err
			}
		}
		return nil
	})
	cases := []struct {
		f    workflows.LedgerFilter
		want []workflows.LedgerEntry
	}{
		{workflows.LedgerFilter{Team: "platform", Month: "2025-03"}, []workflows.LedgerEntry{es[1], es[0]}},
		{workflows.LedgerFilter{RequestID: "srv-1"}, []workflows.LedgerEntry{es[0], es[2]}},
		{workflows.LedgerFilter{}, []workflows.LedgerEntry{es[1], es[3], es[0], es[2]}},
		{workflows.LedgerFilter{Team: "nobody"}, nil},
	}
	view(t, db, func(tx workflows.Tx) error {
		for _, c := range cases {
			got, err := tx.Ledger(c.f)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Ledger(%+v) =\n%+v\nwant\n%+v", c.f, got, c.want)
			}
		}
		return nil
	})
}
