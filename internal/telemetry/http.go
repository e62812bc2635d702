package telemetry

import (
	"net/http"
	"strconv"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// noPropagation neither reads nor writes trace headers: opsbot's
// inbound requests come from Slack and PagerDuty (untrusted: their
// traceparent, if any, is not ours to continue), and its outbound calls
// go to them (our trace IDs are none of their business).
var noPropagation = propagation.NewCompositeTextMapPropagator()

// untraced are the routes probed every few seconds: no span for them.
var untraced = map[string]bool{"/metrics": true, "/healthz": true, "/readyz": true}

// Handler gives every request h serves a server span, named by the
// ServeMux pattern that served it ("POST /slack/commands"), except the
// probes (/metrics, /healthz, /readyz).
func Handler(h http.Handler, tp trace.TracerProvider) http.Handler {
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(noPropagation),
		otelhttp.WithMeterProvider(noopMeters),
		otelhttp.WithFilter(func(r *http.Request) bool { return !untraced[r.URL.Path] }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern
			}
			return r.Method + " unmatched"
		}),
	)
}

// Observe is told of each outside call: the service, its operation
// (Operation), and the status (the HTTP code, or "error" when no
// answer came).
type Observe func(service, operation, status string)

// Transport gives every call through base a client span named
// "SERVICE OPERATION" ("slack chat.postMessage", "aws RunInstances",
// "pagerduty GET /incidents/{id}"), with the peer.service attribute,
// and tells observe (when set) how it went. The span is a child of the
// span of the call's context, or a root of its own.
func Transport(base http.RoundTripper, tp trace.TracerProvider, service string, observe Observe) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if observe != nil {
		base = Counting(base, service, observe)
	}
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(noPropagation),
		otelhttp.WithMeterProvider(noopMeters),
		otelhttp.WithSpanOptions(trace.WithAttributes(attribute.String("peer.service", service))),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return service + " " + Operation(service, r)
		}),
	)
}

// Counting tells observe of every call through next, without tracing.
func Counting(next http.RoundTripper, service string, observe Observe) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return counting{next: next, service: service, observe: observe}
}

type counting struct {
	next    http.RoundTripper
	service string
	observe Observe
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := c.next.RoundTrip(r)
	status := "error"
	if err == nil {
		status = strconv.Itoa(res.StatusCode)
	}
	c.observe(c.service, Operation(c.service, r), status)
	return res, err
}

// Operation names what a call does, with few enough values to be a
// metric label: the AWS action (RunInstances), the Slack Web API method
// (chat.postMessage; "response_url" for answers to a response URL), or
// for REST APIs the HTTP method and the path with its IDs replaced
// ("POST /incidents/{id}/notes").
func Operation(service string, r *http.Request) string {
	if op := awsmiddleware.GetOperationName(r.Context()); op != "" {
		return op
	}
	path := r.URL.Path
	if service == "slack" {
		for _, sp := range secretPaths {
			if strings.HasPrefix(path, sp) {
				return "response_url"
			}
		}
		if i := strings.LastIndex(path, "/"); i >= 0 && strings.Contains(path[i:], ".") {
			return path[i+1:]
		}
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		if looksLikeID(s) {
			segs[i] = "{id}"
		}
	}
	return r.Method + " /" + strings.Join(segs, "/")
}

// looksLikeID tells an identifier (PagerDuty's P1A2B3C, a Notion UUID,
// a number) from a path word (incidents, v1, log_entries).
func looksLikeID(s string) bool {
	if len(s) < 3 {
		return false
	}
	digits, upper := 0, 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'A' && c <= 'Z':
			upper++
		}
	}
	return digits > 0 && (digits+upper >= 3 || len(s) >= 16) || upper >= 4
}
