package workflows_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

// gatedStore holds its first write until release is closed, so that
// the arrivals behind it queue up into one batch.
type gatedStore struct {
	workflows.Store
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (s *gatedStore) Update(ctx context.Context, fn func(workflows.Tx) error) error {
	s.once.Do(func() {
		close(s.entered)
		<-s.release
	})
	return s.Store.Update(ctx, fn)
}

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "opsbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Arrivals that wait while a transaction commits go in the next one
// together; each caller learns whether its own arrival was fresh, a key
// taken twice is fresh once, and one arrival that cannot be written
// fails alone.
func TestGroupCommit_BatchesAndKeepsEachOutcome(t *testing.T) {
	t.Run("all good", func(t *testing.T) { testGroupCommit(t, false) })
	t.Run("one bad", func(t *testing.T) { testGroupCommit(t, true) })
}

func testGroupCommit(t *testing.T, withBad bool) {
	db := openStore(t)
	gs := &gatedStore{Store: db, entered: make(chan struct{}), release: make(chan struct{})}
	var txs, records atomic.Int64
	g := &workflows.GroupCommit{Store: gs, Committed: func(n int) {
		txs.Add(1)
		records.Add(int64(n))
	}}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	arrival := func(key string) workflows.Arrival {
		return workflows.Arrival{At: now, Seen: []string{"pd-event:" + key},
			Job: &workflows.Job{Kind: workflows.JobPagerEvent, Payload: fmt.Sprintf(`{"ID":%q}`, key), RunAt: now}}
	}
	ctx := context.Background()
	first := make(chan error, 1)
	go func() {
		_, err := g.TakeIn(ctx, arrival("lead"))
		first <- err
	}()
	<-gs.entered // the leader's transaction is held; everyone else queues
	const n = 50
	var wg sync.WaitGroup
	fresh := make([]bool, 2*n)
	errs := make([]error, 2*n)
	for i := range 2 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fresh[i], errs[i] = g.TakeIn(ctx, arrival(fmt.Sprint(i%n))) // each key twice
		}()
	}
	bad := make(chan error, 1)
	if withBad {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := g.TakeIn(ctx, workflows.Arrival{At: now, Seen: []string{"pd-event:bad"},
				Job: &workflows.Job{Kind: workflows.JobPagerEvent, Payload: "{not json", RunAt: now}})
			bad <- err
		}()
	}
	time.Sleep(100 * time.Millisecond) // let them queue
	close(gs.release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if withBad {
		if err := <-bad; err == nil {
			t.Error("an arrival with a payload its kind cannot read was taken in")
		}
	}
	taken := 0
	for i := range fresh {
		if errs[i] != nil {
			t.Fatalf("arrival %d failed with the bad one: %v", i, errs[i])
		}
		if fresh[i] {
			taken++
		}
	}
	if taken != n {
		t.Fatalf("%d arrivals fresh, want %d (each key once)", taken, n)
	}
	if records.Load() != 2*n+1 {
		t.Errorf("%d arrivals recorded, want %d", records.Load(), 2*n+1)
	}
	// A batch that fails is written again one arrival at a time.
	if !withBad && txs.Load() > 4 {
		t.Errorf("%d arrivals in %d transactions; want a few", records.Load(), txs.Load())
	}
	jobs, err := db.Claim(ctx, now, "w", time.Minute, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != n+1 {
		t.Fatalf("%d jobs queued, want %d", len(jobs), n+1)
	}
}
