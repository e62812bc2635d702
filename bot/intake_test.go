package bot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

// dyingStore is a store whose process "dies" at the first transaction
// that queues a job (the effect of the request under test): that
// transaction and every write after it fail, as after a crash, until
// the test revives it (a restart on the same database).
type dyingStore struct {
	workflows.Store
	mu    sync.Mutex
	armed bool
	dead  bool
}

var errDied = errors.New("process died (simulated)")

func (s *dyingStore) Update(ctx context.Context, fn func(workflows.Tx) error) error {
	s.mu.Lock()
	dead := s.dead
	s.mu.Unlock()
	if dead {
		return errDied
	}
	return s.Store.Update(ctx, func(tx workflows.Tx) error {
		return fn(dyingTx{tx, s})
	})
}

type dyingTx struct {
	workflows.Tx
	s *dyingStore
}

func (t dyingTx) Enqueue(j workflows.Job) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.s.armed {
		t.s.armed, t.s.dead = false, true
		return errDied
	}
	return t.Tx.Enqueue(j)
}

func (s *dyingStore) revive() {
	s.mu.Lock()
	s.dead = false
	s.mu.Unlock()
}

// signedEvent is an Events API request as Slack sends it, and re-sends
// it when it got no 200: the same event_id, a new timestamp and
// signature.
func signedEvent(t *testing.T, secret string, now time.Time, eventID, user string) *http.Request {
	t.Helper()
	body := fmt.Sprintf(`{"type":"event_callback","event_id":%q,"event_time":%d,"event":{"type":"app_home_opened","user":%q,"tab":"home"}}`,
		eventID, now.Unix(), user)
	ts := fmt.Sprint(now.Unix())
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	r := httptest.NewRequest(http.MethodPost, "/slack/events", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Slack-Request-Timestamp", ts)
	r.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return r
}

func homeJobs(t *testing.T, db *store.DB, now time.Time) int {
	t.Helper()
	jobs, err := db.Claim(context.Background(), now, "count", time.Millisecond, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, j := range jobs {
		if j.Kind == workflows.JobHome {
			n++
		}
		if err := db.Done(context.Background(), j, now); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// An event recorded as seen before it was handled was lost when the
// process died in between: Slack's retry was answered 200 and dropped.
// Now the event_id is recorded in its effect's transaction: the retry
// after the crash is handled, once, and a replay after that is not.
func TestEvent_CrashBetweenIntakeAndEffect_RetryHandledOnce(t *testing.T) {
	clock := workflows.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "opsbot.db"), store.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ds := &dyingStore{Store: db, armed: true}
	const secret = "s3cret"
	b := (&Bot{
		Servers: &workflows.Servers{Store: ds, Clock: clock, Catalog: &workflows.Catalog{}, Log: slog.New(slog.DiscardHandler)},
		Store:   ds, Clock: clock, Secret: secret, Render: slackout.Renderer{}, Log: slog.New(slog.DiscardHandler),
	}).Init(Options{})
	mux := http.NewServeMux()
	b.Routes(mux)
	send := func() int {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, signedEvent(t, secret, clock.Now(), "Ev0CRASH", "U1"))
		return w.Code
	}
	if code := send(); code == http.StatusOK {
		t.Fatalf("the request that died was answered %d; Slack would not retry it", code)
	}
	ds.revive() // the restart
	clock.Advance(time.Minute)
	if code := send(); code != http.StatusOK {
		t.Fatalf("Slack's retry after the restart: %d", code)
	}
	if n := homeJobs(t, db, clock.Now()); n != 1 {
		t.Fatalf("the retried event queued %d Home refreshes, want 1 (it was lost)", n)
	}
	clock.Advance(time.Minute)
	if code := send(); code != http.StatusOK {
		t.Fatalf("replay: %d", code)
	}
	if n := homeJobs(t, db, clock.Now()); n != 0 {
		t.Fatalf("a replay after the event was handled queued %d more", n)
	}
}

// Two deliveries of one event handled at once: the effect is kept once;
// the second's transaction is refused as a replay.
func TestIntake_ConcurrentDeliveriesKeepOneEffect(t *testing.T) {
	clock := workflows.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "opsbot.db"), store.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	effect := func(ctx context.Context) error {
		return db.Update(ctx, func(tx workflows.Tx) error {
			return tx.Enqueue(workflows.Job{Kind: workflows.JobHome, Payload: "U1", RunAt: clock.Now()})
		})
	}
	first := workflows.WithIntake(context.Background(), clock.Now(), "slack-request:a")
	second := workflows.WithIntake(context.Background(), clock.Now(), "slack-request:b")
	workflows.AlsoMark(first, "slack-trigger:T1")
	workflows.AlsoMark(second, "slack-trigger:T1")
	if err := effect(first); err != nil {
		t.Fatal(err)
	}
	// The first handling's later writes go through as they are.
	if err := effect(first); err != nil {
		t.Fatal(err)
	}
	if err := effect(second); !errors.Is(err, workflows.ErrReplayed) {
		t.Fatalf("second delivery: %v, want ErrReplayed", err)
	}
	if n := homeJobs(t, db, clock.Now()); n != 2 {
		t.Fatalf("%d jobs, want the first delivery's 2", n)
	}
	if seen, err := workflows.Seen(context.Background(), db, "slack-request:b"); err != nil || seen {
		t.Fatalf("the refused delivery's key was kept: %v %v", seen, err)
	}
}
