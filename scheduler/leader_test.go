package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/scheduler"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/store/storetest"
	"github.com/opsbot/opsbot/workflows"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// engines gives a fresh database DSN per engine: SQLite always,
// PostgreSQL when OPSBOT_TEST_POSTGRES is set.
func forEachEngine(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, "sqlite:"+filepath.Join(t.TempDir(), "opsbot.db")) })
	t.Run("postgres", func(t *testing.T) { f(t, storetest.FreshPostgres(t)) })
}

func open(t *testing.T, dsn string, clock workflows.Clock) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, store.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// replica is one opsbot process's scheduler, elector and store.
type replica struct {
	name  string
	db    *store.DB
	lead  *scheduler.Elector
	sched *scheduler.Scheduler
}

// Two replicas tick every 10 s of an injected clock; the leader dies
// (stops campaigning and ticking, as a SIGKILL would). The tick is a
// function of (now, stored state): it handles every item due by now that
// it has not recorded. Across the hand-over: at no instant do both
// replicas tick; every item is handled exactly once; the other replica
// leads within a minute of the last renewal, and nothing waits longer.
func TestElector_DeadLeaderHandsOverWithinAMinuteNoTickSkippedOrDoubled(t *testing.T) {
	forEachEngine(t, func(t *testing.T, dsn string) {
		clock := workflows.NewManualClock(t0)
		const items, step = 40, 10 * time.Second
		due := func(k int) time.Time { return t0.Add(time.Duration(k) * step) }
		var mu sync.Mutex
		handled := map[int][]string{}
		late := map[int]time.Duration{}
		ranAt := map[time.Time][]string{}
		newReplica := func(name string) *replica {
			r := &replica{name: name, db: open(t, dsn, clock)}
			r.lead = &scheduler.Elector{Leases: r.db, Clock: clock, Log: quiet(), Holder: name}
			tick := func(ctx context.Context) error {
				now := clock.Now()
				mu.Lock()
				ranAt[now] = append(ranAt[now], name)
				mu.Unlock()
				for k := 0; k < items && !due(k).After(now); k++ {
					var fresh bool
					err := r.db.Update(ctx, func(tx workflows.Tx) (err error) {
						fresh, err = tx.MarkSent(fmt.Sprintf("item:%d", k), now)
						return err
					})
					if err != nil {
						return err
					}
					if fresh {
						mu.Lock()
						handled[k] = append(handled[k], name)
						late[k] = now.Sub(due(k))
						mu.Unlock()
					}
				}
				return nil
			}
			var err error
			r.sched, err = scheduler.New(quiet(), scheduler.Task{Name: "tick", Every: step, Run: tick})
			if err != nil {
				t.Fatal(err)
			}
			r.sched.Lead(r.lead)
			return r
		}
		a, b := newReplica("a"), newReplica("b")
		alive := map[*replica]bool{a: true, b: true}
		for i := 0; i < items; i++ {
			clock.Set(due(i))
			if i == 12 {
				alive[a] = false // a dies after its renewal at step 11
			}
			// What each replica's loops do at this instant: campaign (every
			// TTL/3 = 10 s), then tick.
			for _, r := range []*replica{a, b} {
				if alive[r] {
					r.lead.Campaign(context.Background())
				}
			}
			for _, r := range []*replica{a, b} {
				if alive[r] {
					r.sched.RunAll()
				}
			}
		}
		for at, who := range ranAt {
			if len(who) > 1 {
				t.Errorf("at %s both replicas ticked: %v", at.Format(time.TimeOnly), who)
			}
		}
		worst := time.Duration(0)
		for k := 0; k < items; k++ {
			if len(handled[k]) != 1 {
				t.Errorf("item %d (due %s) handled %d times (%v), want once", k, due(k).Format(time.TimeOnly), len(handled[k]), handled[k])
			}
			worst = max(worst, late[k])
		}
		if worst > time.Minute {
			t.Errorf("an item waited %s for a leader, want at most a minute", worst)
		}
		if len(ranAt) == 0 || ranAt[due(items-1)][0] != "b" {
			t.Errorf("b is not leading at the end: %v", ranAt[due(items-1)])
		}
		t.Logf("hand-over: items waited at most %s", worst)
	})
}

// A leader that stops cleanly resigns: the other replica leads at its
// next campaign, without waiting for the lease to run out.
func TestElector_ResignHandsOverAtTheNextCampaign(t *testing.T) {
	forEachEngine(t, func(t *testing.T, dsn string) {
		clock := workflows.NewManualClock(t0)
		a := &scheduler.Elector{Leases: open(t, dsn, clock), Clock: clock, Log: quiet(), Holder: "a"}
		b := &scheduler.Elector{Leases: open(t, dsn, clock), Clock: clock, Log: quiet(), Holder: "b"}
		if !a.Campaign(context.Background()) || b.Campaign(context.Background()) {
			t.Fatal("want a leading, b not")
		}
		a.Resign(context.Background())
		if a.Leading() {
			t.Fatal("a still leads after resigning")
		}
		clock.Advance(time.Second)
		if !b.Campaign(context.Background()) {
			t.Fatal("b did not lead after a resigned")
		}
	})
}

// A leader paused past its lease (its clock moved on, no renewal) stops
// counting itself the leader before it campaigns again.
func TestElector_PausedLeaderStopsLeadingAtItsLeaseEnd(t *testing.T) {
	forEachEngine(t, func(t *testing.T, dsn string) {
		clock := workflows.NewManualClock(t0)
		a := &scheduler.Elector{Leases: open(t, dsn, clock), Clock: clock, Log: quiet(), Holder: "a"}
		if !a.Campaign(context.Background()) {
			t.Fatal("a did not lead")
		}
		clock.Advance(30 * time.Second)
		if a.Leading() {
			t.Fatal("a counts itself the leader at its lease end")
		}
	})
}
