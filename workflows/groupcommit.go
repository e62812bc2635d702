package workflows

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Arrival is a request from outside as it is taken in: a PagerDuty event,
// a Slack command, click or submission. Its keys are recorded as seen;
// when none was seen before, the request is fresh and its job (its
// processing, or the backstop that handles it if the process dies) is
// queued with it. Cancel names a waiting job to remove: a request that
// was handled no longer needs its backstop.
type Arrival struct {
	At     time.Time
	Seen   []string
	Job    *Job
	Cancel string
}

// GroupCommit takes requests in with few transactions: the arrivals that
// come while one transaction commits go together in the next. Each is
// durable when TakeIn returns, as with a transaction of its own, but the
// cost of a commit (on SQLite, preparing the statements and writing the
// log; on PostgreSQL, round trips and a WAL flush) is shared by all the
// arrivals that waited for it: intake keeps pace with the network rather
// than with the disk.
type GroupCommit struct {
	Store Store
	// MaxBatch bounds the arrivals in one transaction (default 256).
	MaxBatch int
	// Timeout bounds one transaction (default 10s). A batch runs on its
	// own context: one caller giving up does not abort the others.
	Timeout time.Duration
	// Gather is how long the writer waits for more arrivals before it
	// writes a batch, when the last batch held more than one (intake is
	// busy): a little latency for fewer, larger transactions. Unused when
	// intake is quiet. Default none.
	Gather time.Duration
	// Committed, when set, is called after each transaction that
	// committed, with the number of arrivals in it (to wake the job
	// runner once per batch, and for metrics).
	Committed func(arrivals int)
	// Stamp, when set, is called with each arrival's own context and
	// its job before the job joins a batch: a batch is written under a
	// context of its own, so what the job takes from its request's
	// context (its trace) is put in the job here.
	Stamp func(ctx context.Context, j *Job)

	lastArrival atomic.Int64 // UnixNano of the last TakeIn, by the wall clock

	mu      sync.Mutex
	queue   []*arriving
	writing bool // a goroutine is writing batches
	last    int  // arrivals in the last batch
}

type arriving struct {
	a     Arrival
	fresh bool
	err   error
	done  chan struct{}
}

// TakeIn records a and reports whether it was fresh, once the
// transaction holding it committed. ctx bounds the wait, not the write:
// an arrival whose caller gave up may still be recorded.
func (g *GroupCommit) TakeIn(ctx context.Context, a Arrival) (fresh bool, err error) {
	g.lastArrival.Store(time.Now().UnixNano())
	if g.Stamp != nil && a.Job != nil {
		j := *a.Job
		g.Stamp(ctx, &j)
		a.Job = &j
	}
	p := &arriving{a: a, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	lead := !g.writing
	g.writing = true
	g.mu.Unlock()
	if lead {
		// The first caller writes a batch itself (no goroutine hop when
		// there is no contention) and hands what came meanwhile on.
		g.flush(true)
	}
	select {
	case <-p.done:
		return p.fresh, p.err
	case <-ctx.Done():
		return false, fmt.Errorf("take in: %w", ctx.Err())
	}
}

// Take records a, as TakeIn, for callers that need not know whether it
// was fresh (Intake).
func (g *GroupCommit) Take(ctx context.Context, a Arrival) error {
	_, err := g.TakeIn(ctx, a)
	return err
}

// Intake takes arrivals in durably: once Take returns nil, the arrival
// and its job survive the process dying. A GroupCommit is one; on
// SQLite, PagerDuty events go through an append-only journal instead
// (store/journal), whose jobs reach the store shortly after.
type Intake interface {
	Take(ctx context.Context, a Arrival) error
	// Busy reports whether arrivals are coming in now.
	Busy() bool
}

// busyWithin is how recent an arrival must be for Busy to say intake is
// busy.
const busyWithin = 20 * time.Millisecond

// Busy reports whether requests are coming in now: one arrived within
// the last 20 ms (by the wall clock: this is about CPU, not the
// workflows' time).
func (g *GroupCommit) Busy() bool {
	return time.Since(time.Unix(0, g.lastArrival.Load())) < busyWithin
}

// flush writes batches until the queue is empty. With once, it writes one
// batch and leaves the rest to a new goroutine, so the caller that led
// does not wait for other callers' batches.
func (g *GroupCommit) flush(once bool) {
	for {
		g.mu.Lock()
		if g.Gather > 0 && g.last > 1 && len(g.queue) < g.maxBatch() {
			g.mu.Unlock()
			time.Sleep(g.Gather)
			g.mu.Lock()
		}
		n := min(len(g.queue), g.maxBatch())
		if n == 0 {
			g.writing = false
			g.mu.Unlock()
			return
		}
		batch := g.queue[:n:n]
		g.queue = append([]*arriving(nil), g.queue[n:]...)
		g.last = n
		g.mu.Unlock()
		g.write(batch)
		if once {
			go g.flush(false)
			return
		}
	}
}

func (g *GroupCommit) maxBatch() int {
	if g.MaxBatch > 0 {
		return g.MaxBatch
	}
	return 256
}

// write records batch in one transaction; if that fails, each arrival
// alone, so that only the one at fault fails.
func (g *GroupCommit) write(batch []*arriving) {
	defer func() {
		for _, p := range batch {
			close(p.done)
		}
	}()
	arrivals := make([]Arrival, len(batch))
	for i, p := range batch {
		arrivals[i] = p.a
	}
	fresh, err := g.update(arrivals)
	if err == nil || len(batch) == 1 {
		for i, p := range batch {
			p.err = err
			if err == nil {
				p.fresh = fresh[i]
			}
		}
		return
	}
	for _, p := range batch {
		f, err := g.update([]Arrival{p.a})
		p.err = err
		if err == nil {
			p.fresh = f[0]
		}
	}
}

func (g *GroupCommit) update(arrivals []Arrival) ([]bool, error) {
	d := g.Timeout
	if d <= 0 {
		d = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var fresh []bool
	var err error
	if s, ok := g.Store.(IntakeStore); ok {
		fresh, err = s.TakeIn(ctx, arrivals)
	} else {
		err = g.Store.Update(ctx, func(tx Tx) (err error) {
			fresh, err = tx.TakeIn(arrivals)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	if g.Committed != nil {
		g.Committed(len(arrivals))
	}
	return fresh, nil
}

// IntakeStore is a Store that takes arrivals in by a transaction of its
// own, cheaper than Update's: taking in reads nothing it decides on but
// what its own statements report (each key inserted or found), so on
// PostgreSQL it needs no serializable isolation, whose checks cost every
// batch and abort some when replicas take in at once.
type IntakeStore interface {
	TakeIn(ctx context.Context, arrivals []Arrival) (fresh []bool, err error)
}

// TakeIn records one arrival in a transaction of its own, for callers
// without a GroupCommit.
func TakeIn(ctx context.Context, store Store, a Arrival) (fresh bool, err error) {
	err = store.Update(WithoutIntake(ctx), func(tx Tx) error {
		f, err := tx.TakeIn([]Arrival{a})
		if err == nil {
			fresh = f[0]
		}
		return err
	})
	return fresh, err
}
