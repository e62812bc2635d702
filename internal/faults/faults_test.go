package faults

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestPick_SameSeedSameFaultsPerMethod(t *testing.T) {
	run := func(seed uint64) []Injected {
		in := New(Plan{Seed: seed, Rate: 0.3})
		for range 200 {
			in.Pick("chat.postMessage")
			in.Pick("RunInstances")
		}
		return in.Injected()
	}
	a, b, c := run(7), run(7), run(8)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("seed 7 twice: %d and %d faults", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("fault %d differs: %+v vs %+v", i, a[i], b[i])
		}
	}
	if len(a) < 90 || len(a) > 150 { // 30 % of 400
		t.Fatalf("%d faults in 400 calls at 30 %%", len(a))
	}
	same := len(a) == len(c)
	for i := 0; same && i < len(a); i++ {
		same = a[i] == c[i]
	}
	if same {
		t.Fatal("seeds 7 and 8 injected the same faults")
	}
	kinds := map[Kind]int{}
	for _, f := range a {
		kinds[f.Kind]++
	}
	if len(kinds) != len(AllKinds) {
		t.Fatalf("kinds drawn: %v", kinds)
	}
	// Limited to some methods, the others never fail.
	in := New(Plan{Seed: 1, Rate: 1, Methods: []string{"pins.add"}})
	if in.Pick("chat.postMessage") != "" || in.Pick("pins.add") == "" {
		t.Fatal("Methods not honoured")
	}
}

// Each kind does (or does not do) the call and answers as it says.
func TestServe_EachKind(t *testing.T) {
	for _, k := range AllKinds {
		t.Run(string(k), func(t *testing.T) {
			var done atomic.Int32
			in := New(Plan{Rate: 1, Kinds: []Kind{k}, RetryAfter: 3 * time.Second, Hang: 5 * time.Second})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				in.Serve(w, r, "m", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					done.Add(1)
					w.Write([]byte("ok"))
				}), func(w http.ResponseWriter, status int, retryAfter time.Duration) {
					if retryAfter > 0 {
						w.Header().Set("Retry-After", "3")
					}
					w.WriteHeader(status)
				})
			}))
			defer srv.Close()
			client := &http.Client{Timeout: 200 * time.Millisecond}
			start := time.Now()
			resp, err := client.Get(srv.URL)
			status := 0
			if err == nil {
				status = resp.StatusCode
				resp.Body.Close()
			}
			want := map[Kind]struct {
				status int
				done   int32
			}{RateLimited: {429, 0}, Unavailable: {503, 0}, DoneButFailed: {500, 1}, Timeout: {0, 1}}[k]
			if status != want.status || done.Load() != want.done {
				t.Fatalf("status %d (err %v), done %d; want %d, %d", status, err, done.Load(), want.status, want.done)
			}
			if k == Timeout {
				var ne interface{ Timeout() bool }
				if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) > 2*time.Second {
					t.Fatalf("timeout: %v after %v", err, time.Since(start))
				}
			}
		})
	}
}
