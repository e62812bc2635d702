package main

import (
	"context"
	"testing"
	"time"

	"github.com/opsbot/opsbot/internal/telemetry"
)

// BenchmarkSlashCommandTracing is BenchmarkSlashCommand with tracing off
// (no OTEL_EXPORTER_OTLP_* variable: a noop provider, no wrapper) and on
// (every span recorded and exported over OTLP/HTTP to a fake collector
// that decodes them, in this process), alternating three times in one
// run: the ratio is the cost of tracing on the intake path.
func BenchmarkSlashCommandTracing(b *testing.B) {
	for _, on := range []bool{false, true, false, true, false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			h := newUnbootedHarness(b)
			if on {
				c := startCollector(b)
				tr, err := telemetry.Setup(context.Background(), mapEnv(map[string]string{telemetry.EnvEndpoint: c.srv.URL}), "bench")
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { tr.Shutdown(context.Background()) })
				h.tracing = tr
			}
			h.boot()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.clock.Advance(time.Millisecond) // a new signature each time
				if status := h.send(h.slack.SlashCommand(testSecret, dev, "general", "/ops", "server request test-small for 1h")); status != 200 {
					b.Fatalf("status %d", status)
				}
			}
		})
	}
}
