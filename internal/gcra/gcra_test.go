package gcra

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// TestPerMinute_NeverMoreThanNInAnySlidingMinute: callers as greedy as
// can be (each call the instant a slot is due), or arriving at random,
// never put more than n calls in any minute, which is how Slack counts
// a tier; and a greedy caller gets all n.
func TestPerMinute_NeverMoreThanNInAnySlidingMinute(t *testing.T) {
	for _, tc := range []struct{ n, burst int }{{1, 1}, {20, 3}, {50, 5}, {100, 10}, {20, 1}, {20, 40}} {
		l := PerMinute(tc.n, tc.burst)
		for _, greedy := range []bool{true, false} {
			rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.burst)))
			var s State
			now := t0
			var calls []time.Time
			for len(calls) < 10*tc.n {
				if !greedy {
					now = now.Add(time.Duration(rng.Int64N(int64(3 * l.Every))))
				}
				var at time.Time
				var ok bool
				s, at, ok = Take(s, l, now, now.Add(time.Hour))
				if !ok || at.Before(now) {
					t.Fatalf("n=%d: take at %v: %v %v", tc.n, now, at, ok)
				}
				now = at
				calls = append(calls, at)
			}
			most := 0
			for i := range calls {
				in := 0
				for j := i; j < len(calls) && calls[j].Sub(calls[i]) < time.Minute; j++ {
					in++
				}
				most = max(most, in)
			}
			if most > tc.n {
				t.Errorf("n=%d burst=%d greedy=%v: %d calls in one minute (pace %v)", tc.n, tc.burst, greedy, most, l)
			}
			if greedy && most != tc.n {
				t.Errorf("n=%d burst=%d: a greedy caller got %d a minute, want %d", tc.n, tc.burst, most, tc.n)
			}
		}
	}
}

func TestTake_BeyondHorizonTakesNothing(t *testing.T) {
	l := Limit{Every: time.Second, Burst: 2}
	s, _, _ := Take(State{}, l, t0, t0)
	s, _, _ = Take(s, l, t0, t0)
	before := s
	s, at, ok := Take(s, l, t0, t0.Add(500*time.Millisecond))
	if ok || s != before || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("third call within 0.5s: %v %v, state changed %v", at, ok, s != before)
	}
	if got := Next(s, l, t0); !got.Equal(at) {
		t.Fatalf("Next = %v, want %v", got, at)
	}
	if _, at, ok = Take(s, l, t0, t0.Add(time.Second)); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("within 1s: %v %v", at, ok)
	}
}

func TestBlock_HoldsEveryoneThenResumesOneIntervalApart(t *testing.T) {
	l := Limit{Every: time.Second, Burst: 3}
	until := t0.Add(30 * time.Second)
	s := Block(State{}, l, until)
	if got := Next(s, l, t0); !got.Equal(until) {
		t.Fatalf("next during the block = %v, want %v", got, until)
	}
	var ats []time.Time
	for range 3 {
		var at time.Time
		s, at, _ = Take(s, l, t0, t0.Add(time.Hour))
		ats = append(ats, at)
	}
	for i, at := range ats {
		if want := until.Add(time.Duration(i) * time.Second); !at.Equal(want) {
			t.Fatalf("call %d at %v, want %v (no burst after a 429)", i, at, want)
		}
	}
	// A shorter, later Retry-After never shortens a longer one.
	s = Block(s, l, t0.Add(time.Second))
	if !s.Blocked.Equal(until) {
		t.Fatalf("block shortened to %v", s.Blocked)
	}
	if Idle(s, until) || !Idle(s, until.Add(time.Hour)) {
		t.Fatal("Idle wrong")
	}
}

// TestPerMinuteLate_CallsArrivingLateStayWithinN: Slack counts calls
// when they arrive, and each arrives some time after its slot (the
// pacing transaction, a job claimed after the slot it was put back for,
// the network). With every call up to late after its slot, at random,
// and greedy callers that keep the bucket drained after quiet spells
// (bursts), no sliding minute (Slack's window: the calls of the last 60
// s) holds more than n. PerMinute alone leaves nanoseconds: the same
// arrivals put n+1 in a minute.
func TestPerMinuteLate_CallsArrivingLateStayWithinN(t *testing.T) {
	const late = 2 * time.Second
	most := func(l Limit, n int, seed uint64) int {
		rng := rand.New(rand.NewPCG(seed, uint64(n)))
		var s State
		now := t0
		var arrivals []time.Time
		for len(arrivals) < 20*n {
			if rng.IntN(8) == 0 { // a quiet spell: the burst comes back
				now = now.Add(time.Duration(rng.Int64N(int64(3 * time.Minute))))
			}
			var at time.Time
			s, at, _ = Take(s, l, now, now.Add(time.Hour))
			now = at
			arrivals = append(arrivals, at.Add(time.Duration(rng.Int64N(int64(late)+1))))
		}
		slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
		worst := 0
		for i := range arrivals { // the minute ending at each arrival
			in := 0
			for j := i; j >= 0 && arrivals[i].Sub(arrivals[j]) < time.Minute; j-- {
				in++
			}
			worst = max(worst, in)
		}
		return worst
	}
	for _, tc := range []struct{ n, burst int }{{1, 1}, {20, 3}, {50, 5}, {100, 10}, {20, 1}} {
		for seed := range uint64(20) {
			if got := most(PerMinuteLate(tc.n, tc.burst, late), tc.n, seed); got > tc.n {
				t.Fatalf("n=%d burst=%d seed %d: %d calls in one minute (pace %v)", tc.n, tc.burst, seed, got, PerMinuteLate(tc.n, tc.burst, late))
			}
		}
	}
	over := false
	for seed := range uint64(20) {
		over = over || most(PerMinute(20, 3), 20, seed) > 20
	}
	if !over {
		t.Errorf("PerMinute(20, 3) kept late arrivals within 20 a minute: the test shows nothing")
	}
}
