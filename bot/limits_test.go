package bot

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// countingBody is a request body that counts the bytes taken from it.
type countingBody struct {
	r    io.Reader
	read *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}
func (c countingBody) Close() error { return nil }

func limitsBot() *Bot {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	return (&Bot{Clock: workflows.NewManualClock(at), Secret: "s3cret", Log: slog.New(slog.DiscardHandler)}).Init(Options{})
}

// TestIntake_RefusedBeforeTheBodyIsRead: a post without a valid-looking
// signature, with a stale timestamp, or declaring a body over MaxBody is
// answered from its headers alone; not one byte of its 2 MB body is read.
func TestIntake_RefusedBeforeTheBodyIsRead(t *testing.T) {
	b := limitsBot()
	now := b.Clock.Now()
	body := bytes.Repeat([]byte("a"), 2<<20)
	signed := Sign(b.Secret, body, now)
	tests := []struct {
		name   string
		header http.Header
		length int64
		want   int
	}{
		{"unsigned", http.Header{}, int64(len(body)), http.StatusUnauthorized},
		{"signature not hex", http.Header{"X-Slack-Request-Timestamp": {strconv.FormatInt(now.Unix(), 10)}, "X-Slack-Signature": {"v0=zz"}}, int64(len(body)), http.StatusUnauthorized},
		{"stale", Sign(b.Secret, body, now.Add(-6*time.Minute)), int64(len(body)), http.StatusUnauthorized},
		{"declared too large", signed, int64(len(body)), http.StatusRequestEntityTooLarge},
	}
	mux := http.NewServeMux()
	b.Routes(mux)
	for _, tt := range tests {
		for _, path := range []string{"/slack/commands", "/slack/interactions", "/slack/events"} {
			t.Run(tt.name+path, func(t *testing.T) {
				var read atomic.Int64
				req := httptest.NewRequest(http.MethodPost, path, nil)
				req.Body, req.ContentLength, req.Header = countingBody{bytes.NewReader(body), &read}, tt.length, tt.header.Clone()
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				if rec.Code != tt.want {
					t.Fatalf("status %d, want %d", rec.Code, tt.want)
				}
				if n := read.Load(); n != 0 {
					t.Fatalf("%d bytes of the body were read", n)
				}
			})
		}
	}
}

// TestIntake_ChunkedBodyStopsAtTheLimit: a body without a length is read
// only to MaxBody+1 bytes, then refused.
func TestIntake_ChunkedBodyStopsAtTheLimit(t *testing.T) {
	b := limitsBot()
	body := bytes.Repeat([]byte("a"), 2<<20)
	var read atomic.Int64
	req := httptest.NewRequest(http.MethodPost, "/slack/commands", nil)
	req.Body, req.ContentLength, req.Header = countingBody{bytes.NewReader(body), &read}, -1, Sign(b.Secret, body, b.Clock.Now())
	rec := httptest.NewRecorder()
	mux := http.NewServeMux()
	b.Routes(mux)
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", rec.Code)
	}
	if n := read.Load(); n > MaxBody+1+32<<10 {
		t.Fatalf("read %d bytes of a body over the %d limit", n, MaxBody)
	}
}

// TestIntake_BoundedInFlight: when MaxIntake requests are being handled,
// the next one waits IntakeWait and gets 503 with Retry-After.
func TestIntake_BoundedInFlight(t *testing.T) {
	b := limitsBot()
	for range cap(b.intake) {
		b.intake <- struct{}{}
	}
	mux := http.NewServeMux()
	b.Routes(mux)
	rec := httptest.NewRecorder()
	began := time.Now()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/slack/events", bytes.NewReader([]byte("{}"))))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if waited := time.Since(began); waited < IntakeWait {
		t.Fatalf("refused after %v, before IntakeWait", waited)
	}
	<-b.intake
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/slack/events", bytes.NewReader([]byte("{}"))))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("with a place free: status %d, want 401 (unsigned)", rec.Code)
	}
}

// TestIntake_LoadFigures posts 400 unsigned 2 MB bodies, 16 at a time,
// over loopback to the Slack routes and reports the heap before and its
// peak during the run. It measures; run it with OPSBOT_LOAD=1:
//
//	OPSBOT_LOAD=1 go test ./bot -run TestIntake_LoadFigures -v -count=1
func TestIntake_LoadFigures(t *testing.T) {
	if os.Getenv("OPSBOT_LOAD") == "" {
		t.Skip("a measurement: set OPSBOT_LOAD=1")
	}
	b := limitsBot()
	mux := http.NewServeMux()
	b.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	body := bytes.Repeat([]byte("a"), 2<<20)
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	runtime.GC()
	before := heap()
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				if h := heap(); h > peak.Load() {
					peak.Store(h)
				}
			}
		}
	}()
	jobs := make(chan int)
	var wg sync.WaitGroup
	codes := map[int]int{}
	var mu sync.Mutex
	began := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				resp, err := srv.Client().Post(srv.URL+"/slack/commands", "application/x-www-form-urlencoded", bytes.NewReader(body))
				mu.Lock()
				if err != nil {
					codes[-1]++
				} else {
					codes[resp.StatusCode]++
					resp.Body.Close()
				}
				mu.Unlock()
			}
		}()
	}
	for i := range 400 {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(stop)
	fmt.Printf("400 unsigned 2 MB posts, 16 at a time, in %v: statuses %v; heap in use %.1f MB before, peak %.1f MB\n",
		time.Since(began).Round(time.Millisecond), codes, float64(before)/(1<<20), float64(peak.Load())/(1<<20))
}
