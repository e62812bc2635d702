package telemetry

import (
	"context"
	"net/url"
	"regexp"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/opsbot/opsbot/internal/redact"
)

// Redacting wraps an exporter so that no span leaves the process with a
// secret in it, whatever instrumentation put there: every string in
// attributes, events, links and the status is scrubbed of token shapes
// (Slack xox…/xapp-, Notion secret_/ntn_, AWS access key IDs, bearer
// values), URLs lose their query, user information and the secret path
// of a Slack response_url or incoming webhook, and long strings are cut.
// opsbot's own spans never carry a message body or a payload; this is
// the second line.
func Redacting(next sdktrace.SpanExporter) sdktrace.SpanExporter { return redactingExporter{next} }

type redactingExporter struct{ next sdktrace.SpanExporter }

func (r redactingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		out[i] = redactedSpan{s}
	}
	return r.next.ExportSpans(ctx, out)
}

func (r redactingExporter) Shutdown(ctx context.Context) error { return r.next.Shutdown(ctx) }

type redactedSpan struct{ sdktrace.ReadOnlySpan }

func (s redactedSpan) Name() string { return Scrub(s.ReadOnlySpan.Name()) }

func (s redactedSpan) Attributes() []attribute.KeyValue {
	return scrubAttrs(s.ReadOnlySpan.Attributes())
}

func (s redactedSpan) Events() []sdktrace.Event {
	evs := s.ReadOnlySpan.Events()
	out := make([]sdktrace.Event, len(evs))
	for i, e := range evs {
		e.Name = Scrub(e.Name)
		e.Attributes = scrubAttrs(e.Attributes)
		out[i] = e
	}
	return out
}

func (s redactedSpan) Links() []sdktrace.Link {
	ls := s.ReadOnlySpan.Links()
	out := make([]sdktrace.Link, len(ls))
	for i, l := range ls {
		l.Attributes = scrubAttrs(l.Attributes)
		out[i] = l
	}
	return out
}

func (s redactedSpan) Status() sdktrace.Status {
	st := s.ReadOnlySpan.Status()
	st.Description = Scrub(st.Description)
	return st
}

// urlKeys are the attributes that hold a URL.
var urlKeys = map[attribute.Key]bool{"url.full": true, "http.url": true, "url.query": true}

func scrubAttrs(kvs []attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		switch {
		case kv.Key == "url.query":
			continue // query strings carry arguments: never exported
		case kv.Value.Type() == attribute.STRING && urlKeys[kv.Key]:
			kv.Value = attribute.StringValue(URL(kv.Value.AsString()))
		case kv.Value.Type() == attribute.STRING:
			kv.Value = attribute.StringValue(Scrub(kv.Value.AsString()))
		case kv.Value.Type() == attribute.STRINGSLICE:
			ss := kv.Value.AsStringSlice()
			for i := range ss {
				ss[i] = Scrub(ss[i])
			}
			kv.Value = attribute.StringSliceValue(ss)
		}
		out = append(out, kv)
	}
	return out
}

// tokenShapes are the secrets opsbot handles, by their look.
var tokenShapes = regexp.MustCompile(`xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|(?:secret|ntn)_[A-Za-z0-9]{10,}|\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b|(?i:bearer|token)[ =:]+[^\s,;"]+`)

// maxValue bounds an exported string: what is longer is not an
// identifier, and is cut.
const maxValue = 256

// Scrub removes token shapes from s and cuts it to maxValue bytes.
func Scrub(s string) string {
	s = tokenShapes.ReplaceAllString(s, "[redacted]")
	if len(s) > maxValue {
		s = strings.ToValidUTF8(s[:maxValue], "") + "…"
	}
	return s
}

// secretPaths start the paths whose rest is a credential: Slack's
// response_url (/commands/…, /actions/…) and incoming webhooks
// (/services/…).
var secretPaths = []string{"/commands/", "/actions/", "/services/", "/triggers/", "/workflows/"}

// URL is u without query, fragment or password, and without the secret
// part of a Slack response or webhook URL.
func URL(u string) string {
	p, err := url.Parse(redact.URL(u))
	if err != nil {
		return "[url]"
	}
	p.RawQuery, p.Fragment, p.RawFragment = "", "", ""
	if p.User != nil {
		p.User = url.User(p.User.Username())
	}
	for _, sp := range secretPaths {
		if strings.HasPrefix(p.Path, sp) {
			p.Path, p.RawPath = sp+"xxxxx", ""
		}
	}
	return Scrub(p.String())
}

func redactEndpoint(u string) string { return URL(u) }
