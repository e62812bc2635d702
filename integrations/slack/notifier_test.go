package slack

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type env struct {
	fake   *slackfake.Server
	clock  *workflows.ManualClock
	c      *Client
	alice  slackfake.User
	bob    slackfake.User
	mu     sync.Mutex
	sleeps []time.Duration
}

// setup starts a fake workspace and a client whose retries "sleep" by
// moving the shared manual clock.
func setup(t testing.TB, fo slackfake.Options, o Options) *env {
	t.Helper()
	e := &env{clock: workflows.NewManualClock(t0)}
	fo.Clock = e.clock.Now
	e.fake = slackfake.Start(fo)
	t.Cleanup(e.fake.Close)
	e.alice = e.fake.AddUser(slackfake.User{Name: "alice", Email: "alice@example.com"})
	e.bob = e.fake.AddUser(slackfake.User{Name: "bob", Email: "bob@example.com"})
	o.APIURL = strings.TrimSuffix(e.fake.APIURL(), "/") // New adds the slash
	o.Clock = e.clock.Now
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		e.mu.Lock()
		e.sleeps = append(e.sleeps, d)
		e.mu.Unlock()
		e.clock.Advance(d)
		return ctx.Err()
	}
	e.c = New(e.fake.Token(), o)
	return e
}

func TestPost_ChannelByNameThreadPinUpdate(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ctx := context.Background()
	e.fake.AddChannel(slackfake.Channel{Name: "ops-approvals", Members: []string{e.fake.BotUserID()}})
	m := workflows.Message{
		Channel: "#ops-approvals", Title: "srv-1 needs approval", Text: "reason: <!channel>",
		Fields:  []workflows.Field{{Label: "Cost", Value: "$3.00"}},
		Actions: []workflows.Action{{ID: workflows.ActApprove, Label: "Approve", Value: "apr-1", Style: workflows.StylePrimary}},
		Mention: []string{"bob@example.com"}, Pin: true,
	}
	ref, err := e.c.Post(ctx, m, workflows.MessageRef{})
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := e.fake.Channel("ops-approvals")
	if ref.Channel != ch.ID || ref.TS == "" {
		t.Fatalf("ref = %+v", ref)
	}
	msgs := e.fake.Messages(ch.ID)
	if len(msgs) != 1 || !msgs[0].Pinned || len(e.fake.Pins(ch.ID)) != 1 {
		t.Fatalf("messages = %+v", msgs)
	}
	blocks := plain(msgs[0].Blocks)
	if !strings.Contains(blocks, `<@`+e.bob.ID+`>`) || !strings.Contains(blocks, "&lt;!channel&gt;") || !strings.Contains(blocks, "approval.approve") {
		t.Fatalf("blocks = %s", blocks)
	}
	reply, err := e.c.Post(ctx, workflows.Message{Text: "approved by alice"}, ref)
	if err != nil {
		t.Fatal(err)
	}
	if th := e.fake.Thread(ch.ID, ref.TS); len(th) != 2 || th[1].TS != reply.TS {
		t.Fatalf("thread = %+v", th)
	}
	m.Title, m.Actions = "srv-1 approved", nil
	if err := e.c.Update(ctx, ref, m); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Messages(ch.ID)[0]; got.Edited == nil || !strings.Contains(string(got.Blocks), "srv-1 approved") || strings.Contains(string(got.Blocks), "approval.approve") {
		t.Fatalf("after update: %+v", got)
	}
	// The channel name was resolved once and cached.
	if _, err := e.c.Post(ctx, workflows.Message{Channel: "ops-approvals", Text: "again"}, workflows.MessageRef{}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.fake.CallsTo("conversations.list")); n != 1 {
		t.Fatalf("conversations.list called %d times", n)
	}
}

func TestPost_DMByEmailAndByID(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ctx := context.Background()
	if _, err := e.c.Post(ctx, workflows.Message{User: "Alice@Example.com", Text: "your server is ready"}, workflows.MessageRef{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Post(ctx, workflows.Message{User: e.alice.ID, Text: "lease ends in 1h"}, workflows.MessageRef{}); err != nil {
		t.Fatal(err)
	}
	dms := e.fake.DMs(e.alice.ID)
	if len(dms) != 2 || dms[0].Text != "your server is ready" {
		t.Fatalf("DMs = %+v", dms)
	}
	if n := len(e.fake.CallsTo("conversations.open")); n != 1 {
		t.Fatalf("conversations.open called %d times, want 1 (cached)", n)
	}
	_, err := e.c.Post(ctx, workflows.Message{User: "carol@example.com", Text: "x"}, workflows.MessageRef{})
	if SlackError(err) != "users_not_found" {
		t.Fatalf("unknown email: %v", err)
	}
	if !isPermanent(t, err) || !strings.Contains(err.Error(), "carol@example.com") {
		t.Fatalf("error does not say what failed: %v", err)
	}
}

func TestPost_PacedPerChannelMeetsNo429(t *testing.T) {
	e := setup(t, slackfake.Options{RateLimits: true}, Options{})
	ctx := context.Background()
	e.fake.AddChannel(slackfake.Channel{Name: "inc-7", Members: []string{e.fake.BotUserID()}})
	for i := range 5 {
		if _, err := e.c.Post(ctx, workflows.Message{Channel: "#inc-7", Text: "update"}, workflows.MessageRef{}); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	if n := len(e.fake.Messages("inc-7")); n != 5 {
		t.Fatalf("%d messages, want 5", n)
	}
	// A burst of three, then one a second: Slack never had to say 429.
	for _, c := range e.fake.CallsTo("chat.postMessage") {
		if c.Status != http.StatusOK {
			t.Fatalf("call answered %d", c.Status)
		}
	}
	if len(e.sleeps) != 2 || e.sleeps[0] != time.Second || e.sleeps[1] != time.Second {
		t.Fatalf("sleeps = %v", e.sleeps)
	}
}

func TestRetryAfterHoldsBackEveryLaterCall(t *testing.T) {
	e := setup(t, slackfake.Options{RateLimits: true}, Options{})
	ctx := context.Background()
	// Slack is stricter than the client's pace for users.info.
	e.fake.SetTier("users.info", slackfake.Tier1)
	if _, err := e.c.UserEmail(ctx, e.alice.ID); err != nil {
		t.Fatal(err)
	}
	// While the second call waits out its 429, another goroutine asks
	// too: it must wait for the same Retry-After, not try its luck.
	sleep := e.c.opts.Sleep
	var first atomic.Bool
	e.c.opts.Sleep = func(ctx context.Context, d time.Duration) error {
		if first.CompareAndSwap(false, true) {
			done := make(chan error)
			go func() {
				_, err := e.c.UserEmail(ctx, e.fake.BotUserID())
				done <- err
			}()
			if err := <-done; err == nil || !strings.Contains(err.Error(), "returned none") {
				t.Errorf("concurrent call: %v", err)
			}
		}
		return sleep(ctx, d)
	}
	if _, err := e.c.UserEmail(ctx, e.bob.ID); err != nil {
		t.Fatal(err)
	}
	calls := e.fake.CallsTo("users.info")
	var until time.Time
	limited := 0
	for _, c := range calls {
		if c.At.Before(until) {
			t.Fatalf("call at %v, before the Retry-After ended at %v", c.At, until)
		}
		if c.Status == http.StatusTooManyRequests {
			limited++
			until = c.At.Add(c.RetryAfter)
		}
	}
	// ok; 429 (Retry-After 60s); the other goroutine's call, held back
	// until then; the retry.
	if limited != 1 || len(calls) != 4 || calls[2].Params.Get("user") != e.fake.BotUserID() {
		t.Fatalf("%d calls, %d answered 429: %+v", len(calls), limited, calls)
	}
}

func TestPost_LongRetryAfterIsReturned(t *testing.T) {
	e := setup(t, slackfake.Options{RateLimits: true}, Options{MaxRetryAfter: 10 * time.Second})
	ctx := context.Background()
	e.fake.SetTier("users.lookupByEmail", slackfake.Tier1)
	if _, err := e.c.UserID(ctx, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.UserID(ctx, "bob@example.com")
	var rl *slackapi.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Minute || len(e.sleeps) != 0 {
		t.Fatalf("err = %v, sleeps = %v", err, e.sleeps)
	}
	if isPermanent(t, err) {
		t.Fatal("rate limit marked permanent")
	}
}

func TestRetries5xxWithBackoffThenGivesUp(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{MaxAttempts: 3, BackoffBase: time.Second})
	ctx := context.Background()
	e.fake.FailNext("users.info", 503, 502)
	email, err := e.c.UserEmail(ctx, e.bob.ID)
	if err != nil || email != "bob@example.com" {
		t.Fatalf("after two 5xx: %q %v", email, err)
	}
	if len(e.sleeps) != 2 || e.sleeps[0] != time.Second || e.sleeps[1] != 2*time.Second {
		t.Fatalf("sleeps = %v", e.sleeps)
	}
	e.fake.FailNext("users.info", 500, 500, 500)
	_, err = e.c.UserEmail(ctx, e.alice.ID)
	var sc slackapi.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != 500 {
		t.Fatalf("err = %v", err)
	}
	if n := len(e.fake.CallsTo("users.info")); n != 6 {
		t.Fatalf("users.info called %d times, want 6", n)
	}
}

func TestInvalidAuthIsPermanent(t *testing.T) {
	e := setup(t, slackfake.Options{Token: "xoxb-right"}, Options{})
	bad := New("xoxb-wrong", Options{APIURL: e.fake.APIURL(), Sleep: func(context.Context, time.Duration) error {
		t.Fatal("retried an auth error")
		return nil
	}})
	_, err := bad.Post(context.Background(), workflows.Message{User: e.alice.ID, Text: "x"}, workflows.MessageRef{})
	if SlackError(err) != "invalid_auth" {
		t.Fatalf("err = %v", err)
	}
	if !isPermanent(t, err) {
		t.Fatalf("invalid_auth not permanent: %v", err)
	}
	if n := len(e.fake.CallsTo("conversations.open")); n != 1 {
		t.Fatalf("conversations.open called %d times", n)
	}
}

func TestDirectoryCachesUntilExpiry(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{CacheTTL: time.Hour})
	ctx := context.Background()
	for range 3 {
		if id, err := e.c.UserID(ctx, "BOB@example.com"); err != nil || id != e.bob.ID {
			t.Fatalf("UserID = %q %v", id, err)
		}
	}
	if email, err := e.c.UserEmail(ctx, e.bob.ID); err != nil || email != "bob@example.com" {
		t.Fatalf("UserEmail = %q %v", email, err)
	}
	if n := len(e.fake.Calls()); n != 1 {
		t.Fatalf("%d calls, want 1 lookupByEmail filling both caches", n)
	}
	e.clock.Advance(time.Hour)
	if _, err := e.c.UserEmail(ctx, e.bob.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(e.fake.CallsTo("users.info")); n != 1 {
		t.Fatalf("users.info called %d times after expiry, want 1", n)
	}
}

func TestConcurrentPostsShareCaches(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := []string{"alice@example.com", e.bob.ID}[i%2]
			_, err := e.c.Post(ctx, workflows.Message{User: to, Text: "hello", Mention: []string{"alice@example.com"}}, workflows.MessageRef{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if a, b := len(e.fake.DMs(e.alice.ID)), len(e.fake.DMs(e.bob.ID)); a != 8 || b != 8 {
		t.Fatalf("DMs: alice %d, bob %d", a, b)
	}
}

func TestContextCancelStopsRetry(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	e.c.opts.Sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	e.fake.FailNext("users.info", 503, 503)
	_, err := e.c.UserEmail(ctx, e.bob.ID)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if n := len(e.fake.CallsTo("users.info")); n != 1 {
		t.Fatalf("users.info called %d times after cancel", n)
	}
}

// isPermanent runs err through the outbox's real Runner and reports
// whether it buried the job at once instead of scheduling a retry.
func isPermanent(t *testing.T, err error) bool {
	t.Helper()
	q := &oneJobQueue{}
	r := &workflows.Runner{
		Queue: q, Clock: workflows.NewManualClock(t0), Log: slog.New(slog.DiscardHandler), Owner: "test",
		Handlers: map[string]workflows.JobHandler{"notify": func(context.Context, workflows.Job) error { return err }},
	}
	if _, rerr := r.RunDue(context.Background()); rerr != nil {
		t.Fatal(rerr)
	}
	return q.buried
}

// oneJobQueue hands out one job and records what became of it.
type oneJobQueue struct {
	claimed, buried bool
}

func (q *oneJobQueue) Claim(context.Context, time.Time, string, time.Duration, int) ([]workflows.Job, error) {
	if q.claimed {
		return nil, nil
	}
	q.claimed = true
	return []workflows.Job{{ID: 1, Kind: "notify"}}, nil
}
func (q *oneJobQueue) Renew(context.Context, workflows.Job, time.Time) error         { return nil }
func (q *oneJobQueue) Done(context.Context, workflows.Job, time.Time) error          { return nil }
func (q *oneJobQueue) Retry(context.Context, workflows.Job, time.Time, string) error { return nil }
func (q *oneJobQueue) Bury(context.Context, workflows.Job, time.Time, string) error {
	q.buried = true
	return nil
}

// plain undoes JSON's HTML-safe escapes so stored blocks can be searched.
func plain(raw []byte) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(raw))
}
