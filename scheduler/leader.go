package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Leases is where replicas campaign for the scheduler: a lease held by
// one holder at a time until it expires (store.DB serves it).
type Leases interface {
	HoldLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Clock is where the elector reads now: the one clock of opsbot.
type Clock interface{ Now() time.Time }

// Elector makes one replica at a time the one that runs the scheduled
// tasks. It holds a lease in the store, renews it every TTL/3 and counts
// itself the leader only while the lease it last got runs, by its own
// clock: a leader paused past its lease stops leading before it can
// renew. A leader that dies is replaced once its lease runs out and
// another replica campaigns: within TTL + TTL/3 (40 s by default). One
// that stops cleanly releases the lease, and another takes over at its
// next campaign.
//
// The tasks are functions of (now, stored state) that record what they
// did, so the first tick of a new leader does everything that fell due
// while none led, once, and a tick run twice (a leader that stalled in a
// task past its lease) does nothing twice.
type Elector struct {
	Leases Leases
	Clock  Clock
	Log    *slog.Logger
	Name   string        // the lease's name; default "scheduler"
	Holder string        // this replica, unique among replicas
	TTL    time.Duration // default 30s

	mu    sync.Mutex
	until time.Time // the end of the lease held; zero when not leading
}

func (e *Elector) ttl() time.Duration {
	if e.TTL <= 0 {
		return 30 * time.Second
	}
	return e.TTL
}

func (e *Elector) name() string {
	if e.Name == "" {
		return "scheduler"
	}
	return e.Name
}

// Campaign takes or renews the lease, and reports whether this replica
// leads now. A store error counts as not leading.
func (e *Elector) Campaign(ctx context.Context) bool {
	now := e.Clock.Now()
	until := now.Add(e.ttl())
	ok, err := e.Leases.HoldLease(ctx, e.name(), e.Holder, now, until)
	if err != nil {
		e.Log.WarnContext(ctx, "campaign for the scheduler lease", "err", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	was := !e.until.IsZero()
	switch {
	case ok:
		e.until = until
		if !was {
			e.Log.InfoContext(ctx, "this replica runs the scheduler now", "holder", e.Holder, "until", until)
		}
	case was:
		e.until = time.Time{}
		e.Log.InfoContext(ctx, "this replica no longer runs the scheduler", "holder", e.Holder)
	}
	return ok
}

// Leading reports whether the lease this replica last got still runs.
func (e *Elector) Leading() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.until.IsZero() && e.Clock.Now().Before(e.until)
}

// Resign gives the lease up, if held.
func (e *Elector) Resign(ctx context.Context) {
	e.mu.Lock()
	held := !e.until.IsZero()
	e.until = time.Time{}
	e.mu.Unlock()
	if !held {
		return
	}
	if err := e.Leases.ReleaseLease(ctx, e.name(), e.Holder); err != nil {
		e.Log.WarnContext(ctx, "release the scheduler lease", "err", err)
	}
}

// campaignLoop campaigns now and every TTL/3 until ctx ends.
func (e *Elector) campaignLoop(ctx context.Context) {
	t := time.NewTicker(e.ttl() / 3)
	defer t.Stop()
	for {
		e.Campaign(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
