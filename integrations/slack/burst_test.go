package slack

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// burstStats is what a burst cost in simulated time and 429s.
type burstStats struct {
	drain    time.Duration
	limited  map[string]int // method -> 429s seen
	calls    int
	messages int
	channels int
}

type msgKey struct{}

// simClock is virtual time for several goroutines: Sleep blocks, and the
// clock jumps to the earliest wake-up only when every worker is asleep or
// queued for a channel's lane (so nobody is between reading the clock and
// acting on it). Simulated time is then exact and the run deterministic.
type simClock struct {
	clock    *workflows.ManualClock
	pacers   []*pacer
	mu       sync.Mutex
	alive    int
	sleepers []simSleeper
}

type simSleeper struct {
	at   time.Time
	wake chan struct{}
}

func (s *simClock) Sleep(ctx context.Context, d time.Duration) error {
	w := simSleeper{wake: make(chan struct{})}
	s.mu.Lock()
	w.at = s.clock.Now().Add(d)
	s.sleepers = append(s.sleepers, w)
	s.mu.Unlock()
	select {
	case <-w.wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// step advances the clock when all workers are blocked.
func (s *simClock) step() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sleepers) == 0 {
		return
	}
	queued := 0
	for _, p := range s.pacers {
		p.mu.Lock()
		for _, l := range p.lanes {
			queued += len(l.queue)
		}
		p.mu.Unlock()
	}
	if len(s.sleepers)+queued < s.alive {
		return
	}
	next := s.sleepers[0].at
	for _, w := range s.sleepers {
		if w.at.Before(next) {
			next = w.at
		}
	}
	if next.After(s.clock.Now()) {
		s.clock.Set(next)
	}
	keep := s.sleepers[:0]
	for _, w := range s.sleepers {
		if w.at.After(next) {
			keep = append(keep, w)
			continue
		}
		close(w.wake)
	}
	s.sleepers = keep
}

// run steps the clock in the background until the returned stop is
// called.
func (s *simClock) run() (stop func()) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			s.step()
			time.Sleep(20 * time.Microsecond)
		}
	}()
	return func() { close(done) }
}

func (s *simClock) exit() {
	s.mu.Lock()
	s.alive--
	s.mu.Unlock()
}

// runBurst sends 200 messages to one channel from 8 goroutines and
// creates 30 channels from 3 more, through one client, against the fake
// with Slack's rate limits on, in simulated time (simClock): the run
// takes well under a second. It checks that everything arrived, that
// messages kept the order their calls entered the channel's lane, and
// that no call went out before a Retry-After allowed it.
func runBurst(tb testing.TB) burstStats {
	e := setup(tb, slackfake.Options{RateLimits: true}, Options{})
	ctx := context.Background()
	sim := &simClock{clock: e.clock, pacers: []*pacer{e.c.pacer}, alive: 11}
	e.c.opts.Sleep = sim.Sleep
	defer sim.run()()
	ch := e.fake.AddChannel(slackfake.Channel{Name: "incident-burst", Members: []string{e.fake.BotUserID()}})
	var entered []int // message numbers in the order they entered the lane
	e.c.pacer.entered = func(ctx context.Context, lane string) {
		if n, ok := ctx.Value(msgKey{}).(int); ok && lane == ch.ID {
			entered = append(entered, n) // under the pacer's lock
		}
	}
	start := e.clock.Now()

	const messages, creations = 200, 30
	var next, made atomic.Int64
	errs := make(chan error, messages+creations)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sim.exit()
			for {
				n := int(next.Add(1))
				if n > messages {
					return
				}
				ctx := context.WithValue(ctx, msgKey{}, n)
				if _, err := e.c.Post(ctx, workflows.Message{Channel: ch.ID, Text: fmt.Sprintf("update %03d", n)}, workflows.MessageRef{}); err != nil {
					errs <- fmt.Errorf("message %d: %w", n, err)
				}
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sim.exit()
			for {
				n := made.Add(1)
				if n > creations {
					return
				}
				if _, err := e.c.CreateChannel(ctx, fmt.Sprintf("inc-%02d", n), false); err != nil {
					errs <- fmt.Errorf("channel %d: %w", n, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}

	st := burstStats{drain: e.clock.Now().Sub(start), limited: map[string]int{}}
	var got []int
	for _, m := range e.fake.Messages(ch.ID) {
		var n int
		if _, err := fmt.Sscanf(m.Text, "update %d", &n); err != nil {
			tb.Fatalf("unexpected message %q", m.Text)
		}
		got = append(got, n)
	}
	st.messages = len(got)
	if len(got) != messages || !slices.Equal(got, entered) {
		tb.Fatalf("%d messages; order kept: %v", len(got), slices.Equal(got, entered))
	}
	for _, c := range e.fake.Channels() {
		if c.Name != ch.Name && c.Creator == e.fake.BotUserID() {
			st.channels++
		}
	}
	if st.channels != creations {
		tb.Fatalf("%d channels created, want %d", st.channels, creations)
	}
	// No call of a method (per channel for chat.postMessage) went out
	// before the Retry-After of an earlier 429 on it had passed.
	notBefore := map[string]time.Time{}
	calls := e.fake.Calls()
	st.calls = len(calls)
	for _, c := range calls {
		key := rateKey(c.Method, c.Params.Get("channel"))
		if c.At.Before(notBefore[key]) {
			tb.Fatalf("%s at %v, before its Retry-After ended at %v", key, c.At, notBefore[key])
		}
		if c.Status == http.StatusTooManyRequests {
			st.limited[c.Method]++
			notBefore[key] = c.At.Add(c.RetryAfter)
		}
	}
	return st
}

func TestBurst_OrderedPacedAndHonoursRetryAfter(t *testing.T) {
	st := runBurst(t)
	t.Logf("drained %d messages and %d channel creations (%d API calls) in %v of simulated time; 429s seen: %v",
		st.messages, st.channels, st.calls, st.drain, st.limited)
	// 200 messages at one a second after a burst of three need 197s; the
	// creations run alongside and finish sooner.
	if st.drain < 197*time.Second || st.drain > 200*time.Second {
		t.Fatalf("drain took %v of simulated time", st.drain)
	}
	if st.limited["chat.postMessage"] != 0 {
		t.Fatalf("chat.postMessage met %d 429s: its pace should match Slack's", st.limited["chat.postMessage"])
	}
}

// BenchmarkBurst prints the burst's figures: simulated seconds to drain
// and 429s seen (go test -run '^$' -bench Burst ./integrations/slack).
func BenchmarkBurst(b *testing.B) {
	var st burstStats
	for b.Loop() {
		st = runBurst(b)
	}
	total := 0
	for _, n := range st.limited {
		total += n
	}
	b.ReportMetric(st.drain.Seconds(), "sim-s/drain")
	b.ReportMetric(float64(total), "429s")
	b.ReportMetric(float64(st.calls), "calls")
}
