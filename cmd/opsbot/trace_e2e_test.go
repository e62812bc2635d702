package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/opsbot/opsbot/internal/telemetry"
)

// collector is a fake OTLP/HTTP trace collector: it decodes the protobuf
// ExportTraceServiceRequest the real exporter posts to /v1/traces.
type collector struct {
	srv   *httptest.Server
	mu    sync.Mutex
	raw   [][]byte // the request bodies, as sent
	spans []*tracepb.Span
}

func startCollector(t testing.TB) *collector {
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
			http.Error(w, "content type "+ct, http.StatusUnsupportedMediaType)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req collectorpb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.raw = append(c.raw, raw)
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&collectorpb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// tracedHarness is a harness whose Apps export spans to a fake collector
// through the real exporter, set up from the standard variables.
func tracedHarness(t *testing.T) (*harness, *collector, *telemetry.Tracing) {
	c := startCollector(t)
	tr, err := telemetry.Setup(context.Background(), mapEnv(map[string]string{telemetry.EnvEndpoint: c.srv.URL}), "test")
	if err != nil {
		t.Fatal(err)
	}
	if !tr.On() {
		t.Fatal("tracing off with OTEL_EXPORTER_OTLP_ENDPOINT set")
	}
	t.Cleanup(func() { tr.Shutdown(context.Background()) })
	h := newUnbootedHarness(t)
	h.tracing = tr
	h.boot()
	return h, c, tr
}

// flushed exports every span ended so far and returns all the
// collector has.
func (c *collector) flushed(t *testing.T, tr *telemetry.Tracing) []*tracepb.Span {
	t.Helper()
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatalf("flush spans: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.spans...)
}

type spanTree struct {
	byID map[string]*tracepb.Span
	all  []*tracepb.Span
}

func newSpanTree(spans []*tracepb.Span) spanTree {
	t := spanTree{byID: map[string]*tracepb.Span{}, all: spans}
	for _, s := range spans {
		t.byID[hex.EncodeToString(s.SpanId)] = s
	}
	return t
}

func (t spanTree) parent(s *tracepb.Span) *tracepb.Span {
	if len(s.ParentSpanId) == 0 {
		return nil
	}
	return t.byID[hex.EncodeToString(s.ParentSpanId)]
}

// chain is the names of s and its ancestors, root first.
func (t spanTree) chain(s *tracepb.Span) []string {
	var out []string
	for p := s; p != nil; p = t.parent(p) {
		out = append([]string{p.Name}, out...)
	}
	return out
}

// named returns the spans called name.
func (t spanTree) named(name string) []*tracepb.Span {
	var out []*tracepb.Span
	for _, s := range t.all {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// under reports whether s descends from anc (or is it).
func (t spanTree) under(s, anc *tracepb.Span) bool {
	for p := s; p != nil; p = t.parent(p) {
		if bytes.Equal(p.SpanId, anc.SpanId) {
			return true
		}
	}
	return false
}

func (t spanTree) dump() string {
	var lines []string
	for _, s := range t.all {
		lines = append(lines, fmt.Sprintf("%x %s", s.TraceId[:4], strings.Join(t.chain(s), " > ")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// A slash command's trace runs from the HTTP request through the work
// done after Slack was answered and the store transactions, across a
// restart (another process claims the jobs), through the jobs it queued
// to the Slack and EC2 calls they made: one trace, every span a
// descendant of the request's, exported as OTLP protobuf.
func TestTrace_SlashCommandThroughJobToSlackCall(t *testing.T) {
	h, c, tr := tracedHarness(t)
	var logs bytes.Buffer
	var logMu sync.Mutex
	h.log = slog.New(telemetry.LogHandler(slog.NewJSONHandler(lockedWriter{&logs, &logMu}, nil)))
	h.restart() // the logger applies from the next boot
	h.ops(dev, "server request test-small for 2h needs-the-secret-reason-XYZZY")
	h.restart() // the jobs run in another process than the request's
	h.settle()  // launched, running: the owner is told in Slack

	tree := newSpanTree(c.flushed(t, tr))
	servers := tree.named("POST /slack/commands")
	if len(servers) != 1 {
		t.Fatalf("%d server spans for the command, want 1; spans:\n%s", len(servers), tree.dump())
	}
	root := servers[0]
	if root.Kind != tracepb.Span_SPAN_KIND_SERVER || len(root.ParentSpanId) != 0 {
		t.Errorf("request span: kind %v, parent %x; want a server root", root.Kind, root.ParentSpanId)
	}
	var inTrace []*tracepb.Span
	for _, s := range tree.all {
		if bytes.Equal(s.TraceId, root.TraceId) {
			inTrace = append(inTrace, s)
			if !tree.under(s, root) {
				t.Errorf("span %q in the request's trace does not descend from it", s.Name)
			}
		}
	}
	want := map[string]bool{"bot /ops": false, "store update": false, "job server.provision": false, "job server.await": false, "aws RunInstances": false, "job message": false, "slack chat.postMessage": false}
	for _, s := range inTrace {
		if _, ok := want[s.Name]; ok {
			want[s.Name] = true
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("no span %q in the command's trace; spans:\n%s", name, tree.dump())
		}
	}
	// The Slack call is a child of a job run, the job a consumer span.
	for _, s := range inTrace {
		if s.Name != "slack chat.postMessage" {
			continue
		}
		p := tree.parent(s)
		if p == nil || !strings.HasPrefix(p.Name, "job ") || p.Kind != tracepb.Span_SPAN_KIND_CONSUMER {
			t.Errorf("slack call's parent is %v, want a job span", tree.chain(s))
		}
		if s.Kind != tracepb.Span_SPAN_KIND_CLIENT {
			t.Errorf("slack call kind %v", s.Kind)
		}
	}
	t.Logf("spans:\n%s", tree.dump())

	// No secret and no message text leaves in any span.
	c.mu.Lock()
	raw := bytes.Join(c.raw, nil)
	c.mu.Unlock()
	for _, secret := range []string{h.slack.Token(), testSecret, "XYZZY", "needs-the-secret", h.pd.Token(), h.notion.Token(), "AKIDTEST"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("exported spans contain %q", secret)
		}
	}

	// Log lines written under a span carry its trace.
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), `"trace_id":"`+hex.EncodeToString(root.TraceId)+`"`) {
		t.Errorf("no log line with the command's trace_id %x:\n%s", root.TraceId, logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A PagerDuty webhook's trace runs through the event's job to the calls
// it makes: PagerDuty (on-call, the incident) and Slack (the channel).
func TestTrace_WebhookThroughJobToCalls(t *testing.T) {
	h, c, tr := tracedHarness(t)
	if _, err := h.pd.Trigger(pdService, "DB latency above 2s"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	tree := newSpanTree(c.flushed(t, tr))
	hooks := tree.named("POST /webhooks/pagerduty")
	if len(hooks) == 0 {
		t.Fatalf("no webhook span; spans:\n%s", tree.dump())
	}
	root := hooks[0]
	var slackCall, pdCall, job bool
	for _, s := range tree.all {
		if !bytes.Equal(s.TraceId, root.TraceId) || !tree.under(s, root) {
			continue
		}
		p := tree.parent(s)
		inJob := p != nil && strings.HasPrefix(p.Name, "job ")
		job = job || strings.HasPrefix(s.Name, "job ")
		slackCall = slackCall || strings.HasPrefix(s.Name, "slack ") && inJob
		pdCall = pdCall || strings.HasPrefix(s.Name, "pagerduty ") && inJob
	}
	t.Logf("spans:\n%s", tree.dump())
	if !job || !slackCall || !pdCall {
		t.Errorf("webhook trace: job %v, Slack call in a job %v, PagerDuty call in a job %v; spans:\n%s", job, slackCall, pdCall, tree.dump())
	}
}

// Tracing off: no exporter, and the App installs none of the wrappers.
func TestTrace_OffWithoutEndpoint(t *testing.T) {
	tr, err := telemetry.Setup(context.Background(), mapEnv(nil), "test")
	if err != nil || tr.On() {
		t.Fatalf("Setup with no variables: on %v, err %v", tr.On(), err)
	}
	for _, env := range []map[string]string{
		{telemetry.EnvEndpoint: "http://collector:4318", telemetry.EnvSDKDisabled: "true"},
		{telemetry.EnvEndpoint: "http://collector:4318", telemetry.EnvTracesExporter: "none"},
	} {
		if tr, err := telemetry.Setup(context.Background(), mapEnv(env), "test"); err != nil || tr.On() {
			t.Errorf("Setup(%v): on %v, err %v", env, tr.On(), err)
		}
	}
	if _, err := telemetry.Setup(context.Background(), mapEnv(map[string]string{telemetry.EnvEndpoint: "http://c:4317", telemetry.EnvProtocol: "grpc"}), "test"); err == nil {
		t.Error("grpc protocol accepted; only http/protobuf is built in")
	}
}
