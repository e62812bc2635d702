package store

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Tests of several opsbot processes sharing one database: each replica
// is a *DB of its own, opened on the same DSN. They run on SQLite too
// (two handles on one file), where the file lock plays the part of
// PostgreSQL's advisory lock.

// twoReplicas opens two handles on one fresh database of engine e.
func twoReplicas(t *testing.T, e engine) (*DB, *DB) {
	dsn := e.fresh(t)
	return openDSN(t, dsn), openDSN(t, dsn)
}

func TestReplicas_ClaimEachJobOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		a, b := twoReplicas(t, e)
		const jobs = 300
		var js []workflows.Job
		for i := 0; i < jobs; i++ {
			// Some share keys: those must also never run two at a time.
			key := ""
			if i%3 == 0 {
				key = fmt.Sprintf("k%d", i%30)
			}
			js = append(js, workflows.Job{Kind: "post", Key: key, Payload: fmt.Sprint(i), RunAt: t0.Add(time.Duration(i))})
		}
		enqueue(t, a, js...)
		want := count(t, a, "jobs") // keyed jobs replaced each other while waiting

		var mu sync.Mutex
		seen := map[int64]string{}
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			db, owner := a, fmt.Sprintf("a%d", w)
			if w%2 == 1 {
				db, owner = b, fmt.Sprintf("b%d", w)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					got, err := db.Claim(context.Background(), t0.Add(time.Second), owner, lease, 4)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, j := range got {
						if prev, ok := seen[j.ID]; ok {
							t.Errorf("job %d claimed by %s and by %s", j.ID, prev, owner)
						}
						seen[j.ID] = owner
					}
					mu.Unlock()
					for _, j := range got {
						if err := db.Done(context.Background(), j, t0.Add(time.Second)); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != want || count(t, a, "jobs") != 0 {
			t.Fatalf("%d of %d jobs claimed, %d left; want each claimed once and none left", len(seen), want, count(t, a, "jobs"))
		}
		byA, byB := 0, 0
		for _, o := range seen {
			if o[0] == 'a' {
				byA++
			} else {
				byB++
			}
		}
		t.Logf("replica a claimed %d jobs, replica b %d", byA, byB)
		// PostgreSQL queues lock waiters in order, so both replicas get
		// work. (SQLite's busy handler is not fair: one process may
		// starve, which is one reason it serves one process only.)
		if e.name == "postgres" && (byA == 0 || byB == 0) {
			t.Errorf("one replica claimed nothing (a %d, b %d): the test did not race them", byA, byB)
		}
	})
}

func TestReplicas_DecideApprovalOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		a, b := twoReplicas(t, e)
		voteConcurrently(t, a, b)
	})
}

func TestReplicas_OneIncidentPerPagerDutyIncident(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		a, b := twoReplicas(t, e)
		openIncidentConcurrently(t, a, b)
	})
}

// NextID and MarkSent, raced across replicas: every ID once (and, on
// SQLite, no gap; PostgreSQL's sequences skip the numbers of retried
// transactions); a message marked sent by exactly one of them.
func TestReplicas_NextIDAndMarkSentOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		a, b := twoReplicas(t, e)
		const workers = 20
		var mu sync.Mutex
		ids := map[string]bool{}
		sent := 0
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			db := []*DB{a, b}[w%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				var id string
				var first bool
				err := db.Update(context.Background(), func(tx workflows.Tx) (err error) {
					if id, err = tx.NextID("srv"); err != nil {
						return err
					}
					first, err = tx.MarkSent("remind:srv-1:24h", t0)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if ids[id] {
					t.Errorf("%s handed out twice", id)
				}
				ids[id] = true
				if first {
					sent++
				}
			}()
		}
		wg.Wait()
		for i := 1; i <= workers && e.name == "sqlite"; i++ {
			if !ids[fmt.Sprintf("srv-%d", i)] {
				t.Errorf("srv-%d never handed out (got %v)", i, ids)
			}
		}
		if sent != 1 {
			t.Errorf("MarkSent was true for %d replicas, want 1", sent)
		}
	})
}

// Replicas starting together against an empty database: every one opens,
// and the migrations are applied once.
func TestReplicas_StartTogetherMigrateOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		dsn := e.fresh(t)
		const replicas = 6
		dbs := make([]*DB, replicas)
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		for i := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dbs[i], errs[i] = Open(context.Background(), dsn, WithClock(workflows.NewManualClock(t0)))
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: open: %v", i, err)
				continue
			}
			defer dbs[i].Close()
			if err := dbs[i].Ready(context.Background()); err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		}
		if t.Failed() {
			return
		}
		if n := count(t, dbs[0], "schema_migrations"); n != len(migrations) {
			t.Fatalf("schema_migrations has %d rows, want %d", n, len(migrations))
		}
	})
}

// No lock of opsbot's serializes writers on PostgreSQL: while one
// replica holds a write transaction open (stalled mid-Update), another
// replica's writes that touch other rows commit at once; a write to the
// very row the stalled one holds waits at most lock_timeout and fails
// with a clear error, and after the stalled one commits, it is run again
// and sees that commit. (Before: every write of every replica waited for
// the stalled one, up to the 60 s idle timeout.)
func TestReplicas_WritesProceedWhileAnotherHoldsATransaction(t *testing.T) {
	dsn := freshPostgres(t) // skips without PostgreSQL
	a := openDSN(t, dsn)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("lock_timeout", "300ms")
	u.RawQuery = q.Encode()
	b := openDSN(t, u.String())
	ctx := context.Background()
	enqueue(t, a, workflows.Job{Kind: "post", Payload: "queued before", RunAt: t0})

	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.Update(ctx, func(tx workflows.Tx) error {
			if _, err := tx.NextID("srv"); err != nil {
				return err
			}
			if _, err := tx.MarkSent("pd-event:E1", t0); err != nil {
				return err
			}
			if err := tx.Enqueue(workflows.Job{Kind: "post", Key: "msg:C1", Payload: "a", RunAt: t0}); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	// Intake of other events, a new request, a job of another key, the
	// job queue: all commit while a still holds its transaction.
	var id string
	err = b.Update(ctx, func(tx workflows.Tx) (err error) {
		if id, err = tx.NextID("srv"); err != nil {
			return err
		}
		fresh, err := tx.MarkSent("pd-event:E2", t0)
		if err == nil && !fresh {
			t.Error("pd-event:E2 was not fresh")
		}
		if err != nil {
			return err
		}
		return tx.Enqueue(workflows.Job{Kind: "post", Key: "msg:C2", Payload: "b", RunAt: t0})
	})
	if err != nil {
		t.Fatalf("replica b's Update while a holds a transaction: %v", err)
	}
	if id == "srv-1" {
		t.Errorf("b got %s, the number a holds", id)
	}
	js, err := b.Claim(ctx, t0, "b", lease, 10)
	if err != nil || len(js) != 2 {
		t.Fatalf("b's claim while a holds a transaction = %d jobs (%v), want the 2 committed", len(js), err)
	}

	// The same event as a's: waits for a's row, at most lock_timeout.
	err = b.Update(ctx, func(tx workflows.Tx) error { _, err := tx.MarkSent("pd-event:E1", t0); return err })
	if err == nil || !strings.Contains(err.Error(), "lock timeout") {
		t.Errorf("b's Update of the row a holds = %v, want a lock timeout", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Now it sees a's commit: the event is not fresh.
	update(t, b, func(tx workflows.Tx) error {
		fresh, err := tx.MarkSent("pd-event:E1", t0)
		if err == nil && fresh {
			t.Error("pd-event:E1 fresh again after a committed it")
		}
		return err
	})
}

func TestOpen_PostgresNeedsAnExistingSchema(t *testing.T) {
	u, err := url.Parse(freshPostgres(t)) // skips without PostgreSQL
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "no_such_schema")
	u.RawQuery = q.Encode()
	_, err = Open(context.Background(), u.String())
	if err == nil || !strings.Contains(err.Error(), "no schema of the search_path exists") {
		t.Fatalf("Open with a missing schema = %v, want an error naming the problem", err)
	}
}

// One job per key at a time, with claims racing across replicas: for
// every key a job whose lease ran out and a newer job of the same key
// are both due. SKIP LOCKED alone would let one claim take the first and
// another the second; the key's lock and the look under it keep one.
func TestReplicas_RacingClaimsKeepOneJobPerKey(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		a, b := twoReplicas(t, e)
		const keys = 20
		for k := 0; k < keys; k++ {
			enqueue(t, a, workflows.Job{Kind: "post", Key: fmt.Sprintf("k%d", k), Payload: "old", RunAt: t0})
		}
		if got := claim(t, a, t0, "dead", keys); len(got) != keys {
			t.Fatalf("claimed %d, want %d", len(got), keys)
		}
		for k := 0; k < keys; k++ {
			enqueue(t, a, workflows.Job{Kind: "post", Key: fmt.Sprintf("k%d", k), Payload: "new", RunAt: t0})
		}
		late := t0.Add(lease + time.Second) // "dead"'s leases ran out: both jobs of each key are due
		var mu sync.Mutex
		held := map[string][]string{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := 0; w < 8; w++ {
			db := []*DB{a, b}[w%2]
			owner := fmt.Sprintf("w%d", w)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				js, err := db.Claim(context.Background(), late, owner, lease, 3)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, j := range js {
					held[j.Key] = append(held[j.Key], fmt.Sprintf("%s by %s", j.Payload, owner))
				}
			}()
		}
		close(start)
		wg.Wait()
		n := 0
		for k, by := range held {
			n += len(by)
			if len(by) > 1 {
				t.Errorf("key %s handed out %d times at once: %v", k, len(by), by)
			}
		}
		t.Logf("%d keys claimed by 8 racing claims", n)
	})
}
