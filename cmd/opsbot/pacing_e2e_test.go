package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/opsbot/opsbot/internal/faults"
	"github.com/opsbot/opsbot/store/storetest"
	"github.com/opsbot/opsbot/workflows"
)

// TestReplicas_RetryAfterSeenByOnePausesAll: three opsbot processes on
// one database. Slack answers the first one's conversations.create with a
// 429 and a Retry-After of two minutes; the other two do not call
// conversations.create before it ends (their channel jobs would be put
// back for then), and the first call after it goes through. On SQLite,
// and on PostgreSQL when OPSBOT_TEST_POSTGRES is set.
func TestReplicas_RetryAfterSeenByOnePausesAll(t *testing.T) {
	for name, dsn := range map[string]func(*testing.T) []string{
		"sqlite":   func(*testing.T) []string { return nil },
		"postgres": func(t *testing.T) []string { return []string{storetest.FreshPostgres(t)} },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, dsn(t)...)
			a2, _ := h.bootApp()
			a3, _ := h.bootApp()
			ctx := context.Background()
			h.slack.SetFaults(faults.New(faults.Plan{Rate: 1, Kinds: []faults.Kind{faults.RateLimited},
				Methods: []string{"conversations.create"}, RetryAfter: 2 * time.Minute}))
			_, err := h.app.Slack.CreateChannel(ctx, "inc-1-first", false)
			until, deferred := workflows.DeferredUntil(err)
			if !deferred || !until.Equal(h.clock.Now().Add(2*time.Minute)) {
				t.Fatalf("replica 1 after a 2-minute Retry-After: %v (deferred %v until %v)", err, deferred, until)
			}
			h.slack.SetFaults(nil)
			for i, a := range []*App{a2, a3} {
				if next := a.Slack.NextCall(ctx, "conversations.create", ""); !next.Equal(until) {
					t.Fatalf("replica %d: next conversations.create at %v, want %v", i+2, next, until)
				}
				_, err := a.Slack.CreateChannel(ctx, "inc-2-second", false)
				if at, ok := workflows.DeferredUntil(err); !ok || !at.Equal(until) {
					t.Fatalf("replica %d during replica 1's Retry-After: %v", i+2, err)
				}
			}
			if n := len(h.slack.CallsTo("conversations.create")); n != 1 {
				t.Fatalf("Slack got %d conversations.create calls, want only replica 1's", n)
			}
			h.clock.Advance(2 * time.Minute)
			if _, err := a3.Slack.CreateChannel(ctx, "inc-2-second", false); err != nil {
				t.Fatalf("replica 3 after the Retry-After: %v", err)
			}
			calls := h.slack.CallsTo("conversations.create")
			if len(calls) != 2 || calls[1].Status != http.StatusOK || calls[1].At.Before(until) {
				t.Fatalf("calls: %+v", calls)
			}
		})
	}
}
