package store

import (
	"context"
	"errors"
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

// NextID and MarkSent, raced across replicas: every ID once, no gap;
// a message marked sent by exactly one of them.
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
		for i := 1; i <= workers; i++ {
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

// The writer lock is held across handles for as long as an Update runs,
// and is named after the schema: a store in another schema of the same
// database writes meanwhile.
func TestWriterLock_HeldAcrossHandlesPerSchema(t *testing.T) {
	a, b := twoReplicas(t, engines[1]) // skips without PostgreSQL
	other := engines[1].open(t)
	ctx := context.Background()
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.Update(ctx, func(tx workflows.Tx) error {
			if _, err := tx.NextID("srv"); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err := b.Update(short, func(tx workflows.Tx) error { _, err := tx.NextID("srv"); return err })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Update on the same schema while another runs = %v, want it to wait until its deadline", err)
	}
	otherCtx, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if err := other.Update(otherCtx, func(tx workflows.Tx) error { _, err := tx.NextID("srv"); return err }); err != nil {
		t.Errorf("Update in another schema waited for this one's lock: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The lock is free again, and the timed-out Update took no number.
	update(t, b, func(tx workflows.Tx) error {
		id, err := tx.NextID("srv")
		if err == nil && id != "srv-2" {
			t.Errorf("NextID after the lock was released = %s, want srv-2", id)
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
