// Package faults makes the fakes of outside services (Slack, PagerDuty,
// EC2, Notion) fail the way the real ones do on a bad day, seeded and per
// method: refuse a call with 429 and Retry-After, refuse it with a 5xx,
// do it and then never answer (the client times out), or do it and
// answer an error. The last two are the ones that find duplicates: the
// change happened, the caller cannot know.
//
// Whether the nth call of a method fails, and how, is a function of the
// seed, the method and n alone, so a run is reproduced by its seed as
// long as each method's calls come in the same order.
package faults

import (
	"context"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is a way a call fails.
type Kind string

// The faults a Plan can inject.
const (
	// RateLimited refuses the call with 429 and a Retry-After; nothing
	// is done.
	RateLimited Kind = "429"
	// Unavailable refuses the call with a 5xx; nothing is done.
	Unavailable Kind = "5xx"
	// Timeout does the call, then sends no answer until the client gives
	// up (and then drops the connection).
	Timeout Kind = "timeout"
	// DoneButFailed does the call and answers 500 as if it had not.
	DoneButFailed Kind = "done+500"
)

// AllKinds is every fault, the default of a Plan.
var AllKinds = []Kind{RateLimited, Unavailable, Timeout, DoneButFailed}

// Plan says which calls fail and how.
type Plan struct {
	Seed uint64
	// Rate is the share of calls that fail, 0 to 1.
	Rate float64
	// Kinds are drawn from evenly for a failing call (default AllKinds).
	Kinds []Kind
	// Methods, when set, limits faults to these methods (as the fake
	// names them: "chat.postMessage", "RunInstances", "PUT /incidents").
	Methods []string
	// RetryAfter is what a 429 asks for (default 1s).
	RetryAfter time.Duration
	// Hang bounds how long a Timeout waits for the client to give up, in
	// real time (default 5s); the client's own timeout should be shorter.
	Hang time.Duration
}

// Injected is one fault that was injected.
type Injected struct {
	Method string
	N      int // the method's nth call, from 1
	Kind   Kind
}

// Injector applies a Plan. It is safe for concurrent use; a nil
// *Injector injects nothing.
type Injector struct {
	plan Plan
	mu   sync.Mutex
	n    map[string]int
	done []Injected
}

// New returns an Injector for p.
func New(p Plan) *Injector {
	if len(p.Kinds) == 0 {
		p.Kinds = AllKinds
	}
	if p.RetryAfter <= 0 {
		p.RetryAfter = time.Second
	}
	if p.Hang <= 0 {
		p.Hang = 5 * time.Second
	}
	return &Injector{plan: p, n: map[string]int{}}
}

// RetryAfter is what an injected 429 asks the client to wait.
func (in *Injector) RetryAfter() time.Duration { return in.plan.RetryAfter }

// Pick counts a call of method and says how it fails ("" when it does
// not).
func (in *Injector) Pick(method string) Kind {
	if in == nil {
		return ""
	}
	if len(in.plan.Methods) > 0 && !slices.Contains(in.plan.Methods, method) {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.n[method]++
	n := in.n[method]
	h := fnv.New64a()
	h.Write([]byte(method))
	rng := rand.New(rand.NewPCG(in.plan.Seed, h.Sum64()^uint64(n)*0x9e3779b97f4a7c15))
	if rng.Float64() >= in.plan.Rate {
		return ""
	}
	k := in.plan.Kinds[rng.IntN(len(in.plan.Kinds))]
	in.done = append(in.done, Injected{Method: method, N: n, Kind: k})
	return k
}

// Injected returns the faults injected so far, in order.
func (in *Injector) Injected() []Injected {
	if in == nil {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Injected(nil), in.done...)
}

// Summary counts the injected faults by kind, for logs: "429=3 5xx=1".
func (in *Injector) Summary() string {
	counts := map[Kind]int{}
	for _, f := range in.Injected() {
		counts[f.Kind]++
	}
	var parts []string
	for k, n := range counts {
		parts = append(parts, string(k)+"="+strconv.Itoa(n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// Refuse writes a refusal in the service's own format: status is 429
// (with retryAfter) or a 5xx.
type Refuse func(w http.ResponseWriter, status int, retryAfter time.Duration)

// Serve runs one call of method through the plan: next serves it when no
// fault is picked; refuse writes the service's error answers.
func (in *Injector) Serve(w http.ResponseWriter, r *http.Request, method string, next http.Handler, refuse Refuse) {
	switch in.Pick(method) {
	case "":
		next.ServeHTTP(w, r)
	case RateLimited:
		refuse(w, http.StatusTooManyRequests, in.plan.RetryAfter)
	case Unavailable:
		refuse(w, http.StatusServiceUnavailable, 0)
	case DoneButFailed:
		next.ServeHTTP(httptest.NewRecorder(), r)
		refuse(w, http.StatusInternalServerError, 0)
	case Timeout:
		next.ServeHTTP(httptest.NewRecorder(), r)
		ctx, cancel := context.WithTimeout(r.Context(), in.plan.Hang)
		defer cancel()
		<-ctx.Done()
		// No answer at all: the connection is dropped.
		panic(http.ErrAbortHandler)
	}
}
