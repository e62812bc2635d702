package main

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/opsbot/opsbot/internal/telemetry"
	"github.com/opsbot/opsbot/workflows"
)

// Tracing (docs/operations.md, "Traces"): with OTEL_EXPORTER_OTLP_*
// set, every inbound request, Socket Mode envelope, job run, scheduled
// task, outside call and store transaction made in a trace has a span,
// and a job continues the trace that enqueued it through the traceparent
// stored with it. Off, none of these wrappers is installed: the hot
// paths pay nothing but the store's and runner's check for a span.

// outsideClient is c (or a new client with timeout def) whose calls are
// counted for /metrics as calls to service and, with tracing on, traced.
func (a *App) outsideClient(c *http.Client, service string, def time.Duration) *http.Client {
	if c == nil {
		c = &http.Client{Timeout: def}
	}
	cc := *c
	cc.Transport = a.outsideTransport(c.Transport, service)
	return &cc
}

// outsideTransport wraps rt for service (see outsideClient).
func (a *App) outsideTransport(rt http.RoundTripper, service string) http.RoundTripper {
	if !a.Tracing.On() {
		if rt == nil {
			rt = http.DefaultTransport
		}
		return telemetry.Counting(rt, service, a.Metrics.observeCall)
	}
	return telemetry.Transport(rt, a.Tracing.Provider, service, a.Metrics.observeCall)
}

// traceJob starts the span of one run of a job, as a child of the span
// that enqueued it (from the traceparent stored with the job), whichever
// process enqueued it and however long ago: the trace of a slash command
// runs on through its job to the Slack call the job makes.
func (a *App) traceJob(ctx context.Context, j workflows.Job) (context.Context, func(error)) {
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		attribute.String("opsbot.job.kind", j.Kind), attribute.Int64("opsbot.job.id", j.ID), attribute.Int("opsbot.job.attempt", j.Attempts+1))}
	if parent := telemetry.FromTraceparent(j.Trace); parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	} else {
		opts = append(opts, trace.WithNewRoot())
	}
	ctx, span := a.tracer.Start(ctx, "job "+j.Kind, opts...)
	return ctx, func(err error) {
		if err != nil {
			// The error's text may quote what a service answered: the
			// span says that it failed, the log line (with trace_id) why.
			span.SetStatus(codes.Error, "job failed")
		}
		span.End()
	}
}

// stampJob puts the trace of an arrival's request in its job before the
// job joins a batch written under a context of its own.
func stampJob(ctx context.Context, j *workflows.Job) {
	if j.Trace == "" {
		j.Trace = telemetry.Traceparent(ctx)
	}
}

// tracedTask runs a scheduled task in a span of its own ("scheduler
// leases"), so what it changes and the jobs it queues are traced.
func (a *App) tracedTask(name string, run func(ctx context.Context) error) func(ctx context.Context) error {
	if !a.Tracing.On() {
		return run
	}
	return func(ctx context.Context) error {
		ctx, span := a.tracer.Start(ctx, "scheduler "+name, trace.WithNewRoot())
		defer span.End()
		err := run(ctx)
		if err != nil {
			span.SetStatus(codes.Error, "task failed")
		}
		return err
	}
}
