package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// BenchmarkSlashCommand measures one `/ops server request` through the
// real HTTP handler: signature check, replay record, policy, estimate
// (cached price), the request's transaction and the reply. Slack wants an
// answer within 3 seconds.
func BenchmarkSlashCommand(b *testing.B) {
	h := newHarness(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.clock.Advance(time.Millisecond) // a new signature each time
		if status := h.send(h.slack.SlashCommand(testSecret, dev, "general", "/ops", "server request test-small for 1h")); status != 200 {
			b.Fatalf("status %d", status)
		}
	}
}

// BenchmarkLeaseTick measures one scheduler tick over 1,000 running leases,
// none due: the cost the scheduler pays every minute.
func BenchmarkLeaseTick(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	now := h.clock.Now()
	err := h.app.DB.Update(ctx, func(tx workflows.Tx) error {
		for i := 0; i < 1000; i++ {
			r := &workflows.ServerRequest{ID: fmt.Sprintf("srv-b%d", i), Owner: workflows.Person{SlackID: dev}, Team: "platform",
				Template: "test-small", State: workflows.StateRunning, Duration: 72 * time.Hour, LeaseStart: now, LeaseEnd: now.Add(72 * time.Hour),
				Instance: workflows.Instance{ID: fmt.Sprintf("i-%08d", i), Region: "us-east-1", LaunchTime: now}, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateRequest(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.app.Servers.Tick(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
