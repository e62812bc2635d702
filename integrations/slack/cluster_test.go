package slack

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/store/storetest"
	"github.com/opsbot/opsbot/workflows"
)

// clusterDSNs are the databases the replica tests share: a SQLite file
// always, PostgreSQL when OPSBOT_TEST_POSTGRES is set.
func clusterDSNs(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "opsbot.db") },
		"postgres": func(t *testing.T) string { return storetest.FreshPostgres(t) },
	}
}

// replicas returns n clients of one workspace, each its own process's,
// pacing through their own handle on the database at dsn (or alone, when
// dsn is empty), all on one clock.
func replicas(t *testing.T, fake *slackfake.Server, clock *workflows.ManualClock, dsn string, n int, o Options) []*Client {
	t.Helper()
	var out []*Client
	for range n {
		o := o
		o.APIURL, o.Clock = fake.APIURL(), clock.Now
		if dsn != "" {
			db, err := store.Open(context.Background(), dsn, store.WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			o.Shared = db
		}
		out = append(out, New(fake.Token(), o))
	}
	return out
}

// clusterRun is what three replicas making channels and posting to them
// at once cost.
type clusterRun struct {
	limited map[string]int // 429s the fake answered, by method
	drain   time.Duration
	failed  atomic.Int64 // calls that gave up
}

// runCluster has three replicas, four workers each, create 45 channels
// and post 60 messages to one channel, against the fake with Slack's
// tiers on, in simulated time (simClock: the clock moves only when every
// worker waits).
func runCluster(t *testing.T, dsn string) *clusterRun {
	clock := workflows.NewManualClock(t0)
	fake := slackfake.Start(slackfake.Options{Clock: clock.Now, RateLimits: true})
	t.Cleanup(fake.Close)
	ch := fake.AddChannel(slackfake.Channel{Name: "incidents", Members: []string{fake.BotUserID()}})
	const workers, creations, messages = 4, 45, 60
	cs := replicas(t, fake, clock, dsn, 3, Options{MaxRetryAfter: time.Hour})
	sim := &simClock{clock: clock, alive: len(cs) * workers}
	for _, c := range cs {
		c.opts.Sleep = sim.Sleep
		sim.pacers = append(sim.pacers, c.pacer)
	}
	defer sim.run()()
	ctx := context.Background()
	run := &clusterRun{limited: map[string]int{}}
	fail := func(err error) {
		run.failed.Add(1)
		if dsn != "" {
			t.Error(err)
		}
	}
	var made, posted atomic.Int64
	var wg sync.WaitGroup
	for i, c := range cs {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer sim.exit()
				for {
					if w%2 == 0 {
						n := made.Add(1)
						if n > creations {
							return
						}
						if _, err := c.CreateChannel(ctx, fmt.Sprintf("inc-%02d", n), false); err != nil {
							fail(fmt.Errorf("replica %d: create %d: %w", i, n, err))
						}
						continue
					}
					n := posted.Add(1)
					if n > messages {
						return
					}
					if _, err := c.Post(ctx, workflows.Message{Channel: ch.ID, Text: fmt.Sprintf("update %d", n)}, workflows.MessageRef{}); err != nil {
						fail(fmt.Errorf("replica %d: post %d: %w", i, n, err))
					}
				}
			}()
		}
	}
	wg.Wait()
	run.drain = clock.Now().Sub(t0)
	for _, c := range fake.Calls() {
		if c.Status == http.StatusTooManyRequests {
			run.limited[c.Method]++
		}
	}
	made2 := 0
	for _, c := range fake.Channels() {
		if strings.HasPrefix(c.Name, "inc-") {
			made2++
		}
	}
	if dsn != "" && (made2 != creations || len(fake.Messages(ch.ID)) != messages) {
		t.Fatalf("%d channels, %d messages; want %d and %d", made2, len(fake.Messages(ch.ID)), creations, messages)
	}
	return run
}

// TestCluster_ThreeReplicasKeepToOneTier: three replicas sharing the
// store's buckets together stay within Slack's tiers (the fake answers
// 429 past them and never has to), at the pace one process would keep:
// 45 creations at Tier 2 (20 a minute) take just over two minutes. Paced
// each alone, the same three meet 429s: three times the rate.
func TestCluster_ThreeReplicasKeepToOneTier(t *testing.T) {
	for name, fresh := range clusterDSNs(t) {
		t.Run(name, func(t *testing.T) {
			shared := runCluster(t, fresh(t))
			t.Logf("shared pacing: drained in %v of simulated time, 429s: %v", shared.drain, shared.limited)
			if len(shared.limited) != 0 {
				t.Fatalf("the cluster met 429s: %v", shared.limited)
			}
			// 3 at once, then 42 more 3.33s apart: 140s.
			if shared.drain < 140*time.Second || shared.drain > 150*time.Second {
				t.Fatalf("drain %v, want the pace of one process (~140s)", shared.drain)
			}
		})
	}
	alone := runCluster(t, "")
	t.Logf("each replica pacing alone: drained in %v, 429s: %v, calls given up: %d", alone.drain, alone.limited, alone.failed.Load())
	if alone.limited["conversations.create"] == 0 || alone.limited["chat.postMessage"] == 0 {
		t.Fatalf("replicas pacing alone met no 429 (%v): the test no longer shows what sharing fixes", alone.limited)
	}
}

// TestCluster_RetryAfterSeenByOnePausesTheOthers: replica A meets a 429
// (Slack is stricter than the documented tier: users.info at Tier 1),
// gives the job back (Retry-After longer than it waits), and replica B's
// call of that method waits out the same Retry-After instead of meeting
// its own 429.
func TestCluster_RetryAfterSeenByOnePausesTheOthers(t *testing.T) {
	for name, fresh := range clusterDSNs(t) {
		t.Run(name, func(t *testing.T) {
			clock := workflows.NewManualClock(t0)
			fake := slackfake.Start(slackfake.Options{Clock: clock.Now, RateLimits: true})
			t.Cleanup(fake.Close)
			fake.SetTier("users.info", slackfake.Tier1)
			alice := fake.AddUser(slackfake.User{Name: "alice", Email: "alice@example.com"})
			bob := fake.AddUser(slackfake.User{Name: "bob", Email: "bob@example.com"})
			var slept time.Duration
			cs := replicas(t, fake, clock, fresh(t), 2, Options{MaxRetryAfter: 10 * time.Second, Sleep: func(ctx context.Context, d time.Duration) error {
				slept += d
				clock.Advance(d)
				return ctx.Err()
			}})
			a, b := cs[0], cs[1]
			ctx := context.Background()
			if _, err := a.UserEmail(ctx, alice.ID); err != nil {
				t.Fatal(err)
			}
			_, err := a.UserEmail(ctx, bob.ID)
			until, deferred := workflows.DeferredUntil(err)
			if !deferred || !until.Equal(t0.Add(time.Minute)) {
				t.Fatalf("replica A after a 60s Retry-After: %v (deferred %v until %v)", err, deferred, until)
			}
			// B's first call of users.info: held back by A's Retry-After.
			if next := b.NextCall(ctx, "users.info", ""); !next.Equal(until) {
				t.Fatalf("B's next users.info at %v, want %v", next, until)
			}
			b.opts.MaxRetryAfter = time.Hour // B waits in-process instead
			if email, err := b.UserEmail(ctx, bob.ID); err != nil || email != "bob@example.com" {
				t.Fatalf("replica B: %q %v", email, err)
			}
			calls := fake.CallsTo("users.info")
			if len(calls) != 3 || calls[1].Status != http.StatusTooManyRequests || calls[2].Status != http.StatusOK {
				t.Fatalf("calls: %+v", calls)
			}
			if calls[2].At.Before(until) {
				t.Fatalf("B called at %v, inside A's Retry-After (until %v)", calls[2].At, until)
			}
			if slept != time.Minute {
				t.Fatalf("B slept %v, want the minute left of the Retry-After", slept)
			}
		})
	}
}
