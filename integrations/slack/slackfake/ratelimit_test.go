package slackfake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
)

func rateLimited(t *testing.T, err error) time.Duration {
	t.Helper()
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("want *slack.RateLimitedError, got %v", err)
	}
	return rl.RetryAfter
}

func TestTier2WindowOnInjectedClock(t *testing.T) {
	e := setup(t, slackfake.Options{RateLimits: true})
	ctx := context.Background()
	for i := range 20 {
		if _, err := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: fmt.Sprintf("c%d", i)}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		e.clock.Advance(time.Second)
	}
	// 20 calls at t0..t0+19s: the window frees its first slot at t0+60s.
	_, err := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "c20"})
	if got := rateLimited(t, err); got != 40*time.Second {
		t.Fatalf("Retry-After = %v, want 40s", got)
	}
	if _, ok := e.srv.Channel("c20"); ok {
		t.Fatal("rate-limited call created the channel")
	}
	e.clock.Advance(39 * time.Second)
	_, err = e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "c20"})
	if got := rateLimited(t, err); got != time.Second {
		t.Fatalf("Retry-After one second early = %v, want 1s", got)
	}
	e.clock.Advance(time.Second)
	if _, err := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "c20"}); err != nil {
		t.Fatalf("after Retry-After: %v", err)
	}
	// Other methods have their own window.
	if _, err := e.api.GetUserInfoContext(ctx, e.alice.ID); err != nil {
		t.Fatal(err)
	}
	last := e.srv.CallsTo("conversations.create")
	if n := len(last); last[n-2].Status != http.StatusTooManyRequests || last[n-1].Status != http.StatusOK {
		t.Fatalf("recorded statuses: %+v", last[n-2:])
	}
}

func TestPostMessagePerChannelBurst(t *testing.T) {
	e := setup(t, slackfake.Options{})
	e.srv.SetRateLimits(true)
	ctx := context.Background()
	a, _ := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "a"})
	b, _ := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "b"})
	post := func(ch string) error {
		_, _, err := e.api.PostMessageContext(ctx, ch, slack.MsgOptionText("x", false))
		return err
	}
	for i := range 3 {
		if err := post(a.ID); err != nil {
			t.Fatalf("burst %d: %v", i, err)
		}
	}
	if got := rateLimited(t, post(a.ID)); got != time.Second {
		t.Fatalf("Retry-After = %v", got)
	}
	if err := post(b.ID); err != nil {
		t.Fatalf("other channel is limited separately: %v", err)
	}
	e.clock.Advance(time.Second)
	if err := post(a.ID); err != nil {
		t.Fatalf("after a second: %v", err)
	}
	if got := rateLimited(t, post("#a")); got != time.Second {
		t.Fatalf("by name shares the channel's bucket: %v", got)
	}
	if n := len(e.srv.Messages("a")); n != 4 {
		t.Fatalf("channel a has %d messages, want 4", n)
	}
}

func TestTier1AndOff(t *testing.T) {
	e := setup(t, slackfake.Options{RateLimits: true})
	e.srv.SetTier("users.list", slackfake.Tier1)
	ctx := context.Background()
	if _, err := e.api.GetUsersContext(ctx, slack.GetUsersOptionLimit(1000)); err != nil {
		t.Fatal(err)
	}
	_, err := e.api.GetUsersPaginated().Next(ctx)
	if got := rateLimited(t, err); got != time.Minute {
		t.Fatalf("Tier 1 Retry-After = %v", got)
	}
	e.srv.SetRateLimits(false)
	for range 30 {
		if _, err := e.api.GetUserInfoContext(ctx, e.bob.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFailNext(t *testing.T) {
	e := setup(t, slackfake.Options{})
	e.srv.FailNext("auth.test", http.StatusServiceUnavailable)
	_, err := e.api.AuthTestContext(context.Background())
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
		t.Fatalf("err = %v", err)
	}
	if _, err := e.api.AuthTestContext(context.Background()); err != nil {
		t.Fatalf("second call: %v", err)
	}
}
