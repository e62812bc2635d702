package store

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// forEachEngineB runs f as one sub-benchmark per engine, each on a fresh
// store.
func forEachEngineB(b *testing.B, f func(b *testing.B, db *DB)) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) { f(b, e.open(b)) })
	}
}

// BenchmarkUpdate measures one small write transaction: a new ID, an
// audit row and a job, committed.
func BenchmarkUpdate(b *testing.B) { forEachEngineB(b, benchUpdate) }

func benchUpdate(b *testing.B, db *DB) {
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		err := db.Update(ctx, func(tx workflows.Tx) error {
			id, err := tx.NextID("srv")
			if err != nil {
				return err
			}
			if err := tx.Audit(workflows.AuditEntry{At: t0, Actor: "opsbot", Action: "bench", Subject: id}); err != nil {
				return err
			}
			return tx.Enqueue(workflows.Job{Kind: "post", Key: "msg:" + id, Payload: id, RunAt: t0.Add(time.Hour)})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClaim measures claiming one due job from a queue that also
// holds many jobs not yet due.
func BenchmarkClaim(b *testing.B) { forEachEngineB(b, benchClaim) }

func benchClaim(b *testing.B, db *DB) {
	ctx := context.Background()
	fill := func(n int, at time.Time) {
		update(b, db, func(tx workflows.Tx) error {
			for i := 0; i < n; i++ {
				if err := tx.Enqueue(workflows.Job{Kind: "post", Payload: "p", RunAt: at.Add(time.Duration(i))}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	fill(10_000, t0.Add(24*time.Hour)) // not due
	fill(b.N, t0)
	now := t0.Add(time.Hour)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		js, err := db.Claim(ctx, now, "bench", lease, 1)
		if err != nil || len(js) != 1 {
			b.Fatalf("claim = %v, %v", js, err)
		}
	}
}
