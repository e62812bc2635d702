package store

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

// BenchmarkTakeIn measures intake's write: a group-committed transaction
// of n PagerDuty events (a seen key and a queued job each), per event.
func BenchmarkTakeIn(b *testing.B) {
	payload := `{"id":"` + strings.Repeat("x", 900) + `"}`
	for _, n := range []int{1, 4, 16, 32} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			forEachEngineB(b, func(b *testing.B, db *DB) {
				ctx := context.Background()
				seq := 0
				for b.Loop() {
					arrivals := make([]workflows.Arrival, n)
					for i := range arrivals {
						seq++
						arrivals[i] = workflows.Arrival{At: t0, Seen: []string{fmt.Sprintf("pd-event:01LOAD%09d", seq)},
							Job: &workflows.Job{Kind: "incident.pd-event", Payload: payload, RunAt: t0}}
					}
					if err := db.Update(ctx, func(tx workflows.Tx) error {
						_, err := tx.TakeIn(arrivals)
						return err
					}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/event")
			})
		})
	}
}
