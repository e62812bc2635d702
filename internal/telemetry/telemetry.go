// Package telemetry sets up opsbot's traces: an OpenTelemetry tracer
// provider that exports over OTLP/HTTP when the standard
// OTEL_EXPORTER_OTLP_* variables ask for it and does nothing (a noop
// provider, near zero cost) otherwise; the W3C traceparent a job carries
// through the durable queue; a slog handler that puts trace_id and
// span_id in every log line written under a span; and an exporter
// wrapper that keeps secrets out of what leaves the process.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope of opsbot's own spans.
const Scope = "github.com/opsbot/opsbot"

// The standard variables Setup reads (the exporter reads the others it
// knows itself: OTEL_EXPORTER_OTLP_TIMEOUT, _CERTIFICATE, _COMPRESSION...).
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvHeaders        = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvTracesHeaders  = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	EnvServiceName    = "OTEL_SERVICE_NAME"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
)

// Tracing is the tracer provider opsbot runs with.
type Tracing struct {
	Provider trace.TracerProvider
	// Endpoint is where spans go; empty when tracing is off.
	Endpoint string
	sdk      *sdktrace.TracerProvider
}

// On reports whether spans are recorded and exported.
func (t *Tracing) On() bool { return t != nil && t.sdk != nil }

// Shutdown flushes the spans not exported yet and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.On() {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces to %s: %w", t.Endpoint, err)
	}
	return nil
}

// ForceFlush exports the spans ended so far (tests).
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if !t.On() {
		return nil
	}
	return t.sdk.ForceFlush(ctx)
}

// Off is tracing turned off: a noop provider.
func Off() *Tracing { return &Tracing{Provider: noop.NewTracerProvider()} }

// Setup builds the tracer provider the environment asks for: OTLP over
// HTTP (protobuf) to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or
// OTEL_EXPORTER_OTLP_ENDPOINT (plus /v1/traces), or off when neither is
// set, when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. Only the
// http/protobuf protocol is built in; asking for grpc is an error rather
// than silence. version names opsbot's build in the resource.
func Setup(ctx context.Context, getenv func(string) string, version string) (*Tracing, error) {
	if strings.EqualFold(getenv(EnvSDKDisabled), "true") || strings.EqualFold(getenv(EnvTracesExporter), "none") {
		return Off(), nil
	}
	endpoint := getenv(EnvTracesEndpoint)
	if endpoint == "" {
		if base := getenv(EnvEndpoint); base != "" {
			endpoint = strings.TrimRight(base, "/") + "/v1/traces"
		}
	}
	if endpoint == "" {
		return Off(), nil
	}
	proto := getenv(EnvTracesProtocol)
	if proto == "" {
		proto = getenv(EnvProtocol)
	}
	if proto != "" && proto != "http/protobuf" {
		return nil, fmt.Errorf("%s=%s: opsbot exports traces over http/protobuf only (unset it, or set http/protobuf)", EnvProtocol, proto)
	}
	if !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://") {
		return nil, fmt.Errorf("%s: %q is not an http:// or https:// URL", EnvTracesEndpoint, endpoint)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint)}
	headers, err := parseHeaders(getenv(EnvHeaders), getenv(EnvTracesHeaders))
	if err != nil {
		return nil, err
	}
	if len(headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(headers))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("set up the OTLP trace exporter for %s: %w", redactEndpoint(endpoint), err)
	}
	name := getenv(EnvServiceName)
	if name == "" {
		name = "opsbot"
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", name), attribute.String("service.version", version)))
	if err != nil {
		res = resource.Default()
	}
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(Redacting(exp), sdktrace.WithBatchTimeout(2*time.Second)),
		sdktrace.WithResource(res),
	)
	return &Tracing{Provider: sdk, Endpoint: redactEndpoint(endpoint), sdk: sdk}, nil
}

// parseHeaders reads the key=value,key=value lists of the headers
// variables; the traces one wins on a key both name.
func parseHeaders(lists ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, l := range lists {
		for _, kv := range strings.Split(l, ",") {
			if strings.TrimSpace(kv) == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, errors.New(EnvHeaders + ": expected key=value pairs separated by commas")
			}
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out, nil
}

// noopMeters keeps otelhttp from recording metrics of its own: opsbot's
// metrics are Prometheus's, on /metrics.
var noopMeters = metricnoop.NewMeterProvider()
