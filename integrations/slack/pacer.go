package slack

import (
	"context"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
)

// pacer keeps the client inside Slack's rate limits on the injected
// clock: a token bucket per method (per channel for chat.postMessage),
// the Retry-After of the last 429 per method (and channel), and one
// ordered lane per channel so messages to a channel leave in the order
// their calls arrived.
type pacer struct {
	mu      sync.Mutex
	tat     map[string]time.Time // key -> theoretical arrival time (GCRA)
	blocked map[string]time.Time // key -> no call before this (Retry-After)
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
	return &pacer{tat: map[string]time.Time{}, blocked: map[string]time.Time{}, lanes: map[string]*lane{}}
}

// reserve takes the next slot of key's bucket and returns when it is
// due: now when a token is left, later otherwise. It is the GCRA form of
// a token bucket: each call pushes the bucket's theoretical arrival time
// by one interval, and a call may go Burst-1 intervals ahead of it.
func (p *pacer) reserve(key string, l Limit, now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	tat := p.tat[key]
	if tat.Before(now) {
		tat = now
	}
	at := tat.Add(-time.Duration(l.Burst-1) * l.Every)
	if at.Before(now) {
		at = now
	}
	p.tat[key] = tat.Add(l.Every)
	return at
}

// block records a 429: nothing goes out under key before until, and the
// bucket is drained so calls resume one interval apart, not in a burst.
func (p *pacer) block(key string, until time.Time, l Limit) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.After(p.blocked[key]) {
		p.blocked[key] = until
	}
	if drained := until.Add(time.Duration(max(l.Burst-1, 0)) * l.Every); drained.After(p.tat[key]) {
		p.tat[key] = drained
	}
}

// blockedUntil returns the end of key's current Retry-After, if any.
func (p *pacer) blockedUntil(key string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blocked[key]
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

// pace waits until a call of name (on channel) may go out: its bucket
// has a token and no Retry-After holds it back. A Retry-After longer
// than MaxRetryAfter is returned as an error at once, so the outbox
// reschedules the job instead of holding a worker.
func (c *Client) pace(ctx context.Context, name, key string) error {
	l, limited := c.limitFor(name)
	at := c.opts.Clock()
	if limited {
		at = c.pacer.reserve(key, l, at)
	}
	for {
		now := c.opts.Clock()
		if b := c.pacer.blockedUntil(key); b.After(at) {
			if wait := b.Sub(now); wait > c.opts.MaxRetryAfter {
				return &slackapi.RateLimitedError{RetryAfter: wait}
			}
			at = b
		}
		wait := at.Sub(now)
		if wait <= 0 {
			return nil
		}
		if err := c.opts.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
