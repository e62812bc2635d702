package slack

import (
	"context"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/opsbot/opsbot/internal/gcra"
	"github.com/opsbot/opsbot/workflows"
)

// SharedPace keeps rate buckets every replica sees, so that together
// they stay within Slack's limits (which are per workspace, not per
// process), and a Retry-After one replica is given holds back all of
// them. The store implements it (a row per key, read and written in one
// short transaction); cmd/opsbot wires it in. The arguments are plain so
// that the store need not know this package.
type SharedPace interface {
	// TakeToken takes the next slot of key's bucket when it is due by
	// horizon and returns when the call may go and true; otherwise it
	// takes nothing and returns when a slot will be due, and false.
	TakeToken(ctx context.Context, key string, every time.Duration, burst int, now, horizon time.Time) (time.Time, bool, error)
	// HoldOff records a 429's Retry-After: nothing under key before until.
	HoldOff(ctx context.Context, key string, until time.Time, every time.Duration, burst int) error
	// NextToken is when a call under key could go, taking nothing.
	NextToken(ctx context.Context, key string, every time.Duration, burst int, now time.Time) (time.Time, error)
}

// SlotLate is how long after its slot a call may reach Slack: the
// pacing transaction, a job claimed a little after the slot it was put
// back for, the trip to Slack. Slack counts its tiers in a sliding minute
// of when calls arrive, so the paces leave room for it (DefaultLimits),
// and a job run later than this after its slot takes a new one.
const SlotLate = 2 * time.Second

// pacer keeps the client inside Slack's rate limits on the injected
// clock: a token bucket per method (per channel for chat.postMessage)
// holding the Retry-After of the last 429, and one ordered lane per
// channel so messages to a channel leave in the order their calls
// arrived. The buckets live here when the client paces itself alone, and
// in the SharedPace when one is set (and here again, as a fallback,
// while the shared one fails).
type pacer struct {
	mu      sync.Mutex
	buckets map[string]gcra.State
	lanes   map[string]*lane
	// entered, when set, is told of each call entering a lane, in lane
	// order, under the pacer's lock. Tests use it to check ordering.
	entered func(ctx context.Context, lane string)
}

// lane is a FIFO lock: waiters are served in the order they arrived,
// which sync.Mutex does not promise.
type lane struct {
	busy  bool
	queue []chan struct{}
}

func newPacer() *pacer {
	return &pacer{buckets: map[string]gcra.State{}, lanes: map[string]*lane{}}
}

// take is gcra.Take on the local bucket of key.
func (p *pacer) take(key string, l gcra.Limit, now, horizon time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, at, ok := gcra.Take(p.buckets[key], l, now, horizon)
	p.buckets[key] = s
	return at, ok
}

// block records a 429 on the local bucket of key.
func (p *pacer) block(key string, l gcra.Limit, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buckets[key] = gcra.Block(p.buckets[key], l, until)
}

// blockedAfter reports whether a Retry-After recorded here holds key
// back past at.
func (p *pacer) blockedAfter(key string, at time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buckets[key].Blocked.After(at)
}

// next is when a call under key could go by the local bucket.
func (p *pacer) next(key string, l gcra.Limit, now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return gcra.Next(p.buckets[key], l, now)
}

// enter waits for the channel's lane, first come first served, and
// returns the function that leaves it.
func (p *pacer) enter(ctx context.Context, name string) (func(), error) {
	p.mu.Lock()
	l := p.lanes[name]
	if l == nil {
		l = &lane{}
		p.lanes[name] = l
	}
	if p.entered != nil {
		p.entered(ctx, name)
	}
	if !l.busy {
		l.busy = true
		p.mu.Unlock()
		return func() { p.leave(name) }, nil
	}
	w := make(chan struct{})
	l.queue = append(l.queue, w)
	p.mu.Unlock()
	select {
	case <-w:
		return func() { p.leave(name) }, nil
	case <-ctx.Done():
		p.mu.Lock()
		for i, q := range l.queue {
			if q == w {
				l.queue = append(l.queue[:i], l.queue[i+1:]...)
				p.mu.Unlock()
				return nil, ctx.Err()
			}
		}
		p.mu.Unlock()
		p.leave(name) // the lane was handed over as ctx ended: pass it on
		return nil, ctx.Err()
	}
}

// leave hands the lane to the next waiter, or frees it.
func (p *pacer) leave(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lanes[name]
	if len(l.queue) > 0 {
		w := l.queue[0]
		l.queue = l.queue[1:]
		close(w)
		return
	}
	delete(p.lanes, name)
}

// rateKey scopes a method's bucket and Retry-After: chat.postMessage is
// limited per channel, everything else per workspace.
func rateKey(name, channel string) string {
	if name == "chat.postMessage" && channel != "" {
		return name + "/" + channel
	}
	return name
}

// pace waits until a call of name may go under key: its bucket has a
// token and no Retry-After holds it back. A wait longer than
// MaxRetryAfter is not waited: nothing is taken, and a
// *slack.RateLimitedError saying how long, wrapped by workflows.Defer, is
// returned at once, so the job runner puts the job back for then instead
// of holding a worker.
//
// The first call of a job attempt (workflows.MayDefer) does not wait at
// all: when its slot is not due now it takes it and returns DeferSlot
// with when it is, and the job runner puts the job back for then, freeing
// the worker and keeping the job's place in its lane; the job's next run
// goes in that slot (workflows.UseSlot) without taking another, unless
// it runs more than SlotLate after it: then it takes a new one.
//
// A call that slept for its slot looks again before it goes: a 429 this
// process met meanwhile holds it back too. (One met by another replica
// is seen by calls that take their slot after it.)
func (c *Client) pace(ctx context.Context, name, key string) error {
	l := c.limitFor(name)
	if workflows.MayDefer(ctx) && workflows.UseSlot(ctx, key, c.opts.Clock(), SlotLate) {
		return nil // taken for this job when it was put back for it
	}
	for {
		now := c.opts.Clock()
		at, ok := c.take(ctx, key, l, now, now.Add(c.opts.MaxRetryAfter))
		if !ok {
			return workflows.Defer(at, &slackapi.RateLimitedError{RetryAfter: at.Sub(now)})
		}
		wait := at.Sub(now)
		if wait <= 0 {
			return nil
		}
		if workflows.MayDefer(ctx) {
			return workflows.DeferSlot(at, key, &slackapi.RateLimitedError{RetryAfter: wait})
		}
		if err := c.opts.Sleep(ctx, wait); err != nil {
			return err
		}
		if !c.pacer.blockedAfter(key, at) {
			return nil
		}
	}
}

// take takes a slot of key's bucket: the shared one when set, the local
// one when not or while the shared one fails.
func (c *Client) take(ctx context.Context, key string, l gcra.Limit, now, horizon time.Time) (time.Time, bool) {
	if c.opts.Shared != nil {
		at, ok, err := c.opts.Shared.TakeToken(ctx, key, l.Every, l.Burst, now, horizon)
		if err == nil {
			return at, ok
		}
		if ctx.Err() == nil {
			c.log.WarnContext(ctx, "shared Slack pacing unavailable, pacing this replica alone", "key", key, "err", err)
		}
	}
	return c.pacer.take(key, l, now, horizon)
}

// block records a 429's Retry-After for key, here and for every replica.
func (c *Client) block(ctx context.Context, key string, l gcra.Limit, until time.Time) {
	c.pacer.block(key, l, until)
	if c.opts.Shared != nil {
		if err := c.opts.Shared.HoldOff(ctx, key, until, l.Every, l.Burst); err != nil && ctx.Err() == nil {
			c.log.WarnContext(ctx, "could not share a Slack Retry-After with the other replicas", "key", key, "err", err)
		}
	}
}

// NextCall says when a call of method (on channel, for chat.postMessage)
// could go out, without waiting and without taking its turn: the job
// runner can leave a job in the queue until then.
func (c *Client) NextCall(ctx context.Context, method, channel string) time.Time {
	key, l, now := rateKey(method, channel), c.limitFor(method), c.opts.Clock()
	if c.opts.Shared != nil {
		if at, err := c.opts.Shared.NextToken(ctx, key, l.Every, l.Burst, now); err == nil {
			return at
		}
	}
	return c.pacer.next(key, l, now)
}
