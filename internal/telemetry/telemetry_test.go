package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestTraceparent_RoundTrip(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "x")
	defer span.End()
	s := Traceparent(ctx)
	if !strings.HasPrefix(s, "00-"+span.SpanContext().TraceID().String()+"-"+span.SpanContext().SpanID().String()) {
		t.Fatalf("traceparent %q", s)
	}
	sc := FromTraceparent(s)
	if sc.TraceID() != span.SpanContext().TraceID() || sc.SpanID() != span.SpanContext().SpanID() || !sc.IsRemote() {
		t.Errorf("read back %v", sc)
	}
	if Traceparent(context.Background()) != "" {
		t.Error("a traceparent without a span")
	}
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-0000000000000000-01"} {
		if FromTraceparent(bad).IsValid() {
			t.Errorf("%q read as valid", bad)
		}
	}
}

func TestLogHandler_AddsTraceIDUnderASpan(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "x")
	log.InfoContext(context.Background(), "no span")
	if strings.Contains(buf.String(), "trace_id") {
		t.Errorf("trace_id without a span: %s", buf.String())
	}
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "x")
	defer span.End()
	buf.Reset()
	log.InfoContext(ctx, "under a span")
	want := `"trace_id":"` + span.SpanContext().TraceID().String() + `","span_id":"` + span.SpanContext().SpanID().String() + `"`
	if !strings.Contains(buf.String(), want) || !strings.Contains(buf.String(), `"component":"x"`) {
		t.Errorf("log line %s lacks %s", buf.String(), want)
	}
}

// Whatever instrumentation records, the exporter sends no token, no
// response_url secret and no long text.
func TestRedacting_NoSecretLeaves(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(Redacting(mem)))
	_, span := tp.Tracer("t").Start(context.Background(), "call xoxb-123-456-abcdef")
	span.SetAttributes(
		attribute.String("url.full", "https://hooks.slack.com/commands/T0001/123/SeCrEtPaTh?token=xoxp-1-2"),
		attribute.String("url.query", "text=hello"),
		attribute.String("note", "Authorization: Bearer abc.def and xapp-1-A0-zzz and secret_ABCDEFGHIJKLMNOP and AKIAABCDEFGHIJKLMNOP"),
		attribute.StringSlice("list", []string{"ntn_ABCDEFGHIJKLMN1234"}),
		attribute.String("long", strings.Repeat("message body ", 100)),
	)
	span.RecordError(errString("post failed: token=xoxb-9-9-nine"))
	span.SetStatus(codes.Error, "xoxb-1-2-3 rejected")
	span.End()
	got := mem.GetSpans()
	if len(got) != 1 {
		t.Fatalf("%d spans", len(got))
	}
	var all strings.Builder
	s := got[0]
	all.WriteString(s.Name + "\n" + s.Status.Description + "\n")
	for _, kv := range s.Attributes {
		all.WriteString(string(kv.Key) + "=" + kv.Value.Emit() + "\n")
	}
	for _, e := range s.Events {
		for _, kv := range e.Attributes {
			all.WriteString(string(kv.Key) + "=" + kv.Value.Emit() + "\n")
		}
	}
	out := all.String()
	for _, secret := range []string{"xoxb-", "xoxp-", "xapp-", "secret_ABC", "ntn_ABC", "AKIAABC", "abc.def", "SeCrEtPaTh", "T0001", "hello", "nine"} {
		if strings.Contains(out, secret) {
			t.Errorf("exported %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "url.full=https://hooks.slack.com/commands/xxxxx") {
		t.Errorf("url.full not kept in its redacted form:\n%s", out)
	}
	for _, kv := range s.Attributes {
		if kv.Key == "long" && len(kv.Value.AsString()) > maxValue+len("…") {
			t.Errorf("long value not cut: %d bytes", len(kv.Value.AsString()))
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestOperation_LowCardinalityNames(t *testing.T) {
	for _, c := range []struct{ service, method, url, want string }{
		{"slack", "POST", "https://slack.com/api/chat.postMessage", "chat.postMessage"},
		{"slack", "POST", "http://127.0.0.1:9/api/conversations.create", "conversations.create"},
		{"slack", "POST", "https://hooks.slack.com/commands/T1/2/abc", "response_url"},
		{"pagerduty", "GET", "https://api.pagerduty.com/incidents/Q1ABCDEF2GHIJ/log_entries", "GET /incidents/{id}/log_entries"},
		{"pagerduty", "GET", "https://api.pagerduty.com/services/PPLATF1", "GET /services/{id}"},
		{"pagerduty", "GET", "https://api.pagerduty.com/oncalls?x=1", "GET /oncalls"},
		{"notion", "PATCH", "https://api.notion.com/v1/pages/59833787-2cf9-4fdf-8782-e53db20768a5", "PATCH /v1/pages/{id}"},
		{"notion", "POST", "https://api.notion.com/v1/databases/598337872cf94fdf8782e53db20768a5/query", "POST /v1/databases/{id}/query"},
	} {
		r, _ := http.NewRequest(c.method, c.url, nil)
		if got := Operation(c.service, r); got != c.want {
			t.Errorf("Operation(%s %s) = %q, want %q", c.method, c.url, got, c.want)
		}
	}
}
