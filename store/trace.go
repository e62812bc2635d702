package store

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// WithTracerProvider makes the store trace its transactions with tp:
// each transaction made under a span (a request's, a job's) gets a
// child span "store WHAT" (update, view, claim, done, retry, bury...).
// Transactions made outside any trace (the runner's idle claims every
// second, a batch of intake) start none: no root span per poll, and no
// cost when tracing is off.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(db *DB) { db.tracer = tp.Tracer("github.com/opsbot/opsbot/store") }
}

// span starts the span of one transaction when ctx is in a trace; end
// is nil otherwise. end records the outcome and, for writes, the number
// of attempts (PostgreSQL runs a conflicting transaction again).
func (db *DB) span(ctx context.Context, what string) (context.Context, func(err error, attempts int)) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, nil
	}
	ctx, span := db.tracer.Start(ctx, "store "+what, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", db.system()), attribute.String("db.operation.name", what)))
	return ctx, func(err error, attempts int) {
		if attempts > 1 {
			span.SetAttributes(attribute.Int("opsbot.tx.attempts", attempts))
		}
		if err != nil {
			span.SetStatus(codes.Error, "transaction failed")
		}
		span.End()
	}
}

func (db *DB) system() string {
	if db.dialect == dialectPostgres {
		return "postgresql"
	}
	return "sqlite"
}
