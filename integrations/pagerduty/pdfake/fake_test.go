package pdfake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/PagerDuty/go-pagerduty/webhookv3"

	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/workflows"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

type world struct {
	clock    *workflows.ManualClock
	fake     *pdfake.Server
	ada, bob pdfake.User
	pol      pdfake.EscalationPolicy
	svc      pdfake.Service
}

func newWorld(t *testing.T, opts pdfake.Options) *world {
	t.Helper()
	w := &world{clock: workflows.NewManualClock(t0)}
	opts.Clock = w.clock.Now
	w.fake = pdfake.Start(opts)
	t.Cleanup(w.fake.Close)
	w.ada = w.fake.AddUser(pdfake.User{Name: "Ada Lovelace", Email: "ada@example.com"})
	w.bob = w.fake.AddUser(pdfake.User{Name: "Bob Hopper", Email: "bob@example.com"})
	w.pol = w.fake.AddEscalationPolicy(pdfake.EscalationPolicy{Name: "Primary", Levels: [][]string{{w.bob.ID}, {w.ada.ID}}})
	w.svc = w.fake.AddService(pdfake.Service{Name: "Checkout API", EscalationPolicyID: w.pol.ID})
	return w
}

// do sends a raw request and decodes the JSON answer.
func (w *world) do(t *testing.T, method, path, from, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, w.fake.URL()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Token token="+w.fake.Token())
	req.Header.Set("Accept", "application/vnd.pagerduty+json;version=2")
	req.Header.Set("Content-Type", "application/json")
	if from != "" {
		req.Header.Set("From", from)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, v
}

func errorsOf(v map[string]any) (string, []any) {
	e, _ := v["error"].(map[string]any)
	msg, _ := e["message"].(string)
	errs, _ := e["errors"].([]any)
	return msg, errs
}

const create = `{"incident":{"type":"incident","title":"Checkout is down","service":{"id":"%s","type":"service_reference"},"incident_key":"k-1"}}`

func TestFake_AuthenticationAndUnknownRoutes(t *testing.T) {
	w := newWorld(t, pdfake.Options{})
	req, _ := http.NewRequest(http.MethodGet, w.fake.URL()+"/users/"+w.ada.ID, nil)
	req.Header.Set("Authorization", "Token token=nope")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(body), `"code":2006`) ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("bad token: %d %s", resp.StatusCode, body)
	}
	if code, _, _ := w.do(t, http.MethodGet, "/schedules", "", ""); code != 404 {
		t.Fatalf("unknown route: %d", code)
	}
}

func TestFake_CreateNeedsAKnownFromAndRefusesADuplicateOpenKey(t *testing.T) {
	w := newWorld(t, pdfake.Options{})
	body := strings.Replace(create, "%s", w.svc.ID, 1)
	if code, _, v := w.do(t, http.MethodPost, "/incidents", "", body); code != 400 {
		t.Fatalf("no From: %d %v", code, v)
	}
	if code, _, v := w.do(t, http.MethodPost, "/incidents", "eve@example.com", body); code != 400 {
		t.Fatalf("unknown From: %d %v", code, v)
	}
	code, _, v := w.do(t, http.MethodPost, "/incidents", "ADA@example.com", body)
	if code != 201 {
		t.Fatalf("create: %d %v", code, v)
	}
	inc := v["incident"].(map[string]any)
	if inc["status"] != "triggered" || inc["incident_number"] != 1.0 || inc["incident_key"] != "k-1" {
		t.Fatalf("incident = %v", inc)
	}
	code, _, v = w.do(t, http.MethodPost, "/incidents", "ada@example.com", body)
	msg, errs := errorsOf(v)
	if code != 400 || msg != "Invalid Input Provided" || len(errs) != 1 ||
		errs[0] != "Open incident with matching dedup key already exists on this service" {
		t.Fatalf("duplicate: %d %v", code, v)
	}
	id := inc["id"].(string)
	if err := w.fake.Resolve(id, w.ada.ID); err != nil {
		t.Fatal(err)
	}
	if code, _, v := w.do(t, http.MethodPost, "/incidents", "ada@example.com", body); code != 201 {
		t.Fatalf("same key after resolve: %d %v", code, v)
	}
	code, _, v = w.do(t, http.MethodGet, "/incidents?incident_key=k-1&statuses%5B%5D=triggered", "", "")
	if list := v["incidents"].([]any); code != 200 || len(list) != 1 || list[0].(map[string]any)["id"] == id {
		t.Fatalf("filtered list: %d %v", code, v)
	}
}

func TestFake_ManageChecksEveryUpdateFirst(t *testing.T) {
	w := newWorld(t, pdfake.Options{})
	a, _ := w.fake.Trigger(w.svc.ID, "one")
	body := `{"incidents":[{"id":"` + a.ID + `","type":"incident","status":"acknowledged"},{"id":"QNOPE","type":"incident","status":"resolved"}]}`
	if code, _, _ := w.do(t, http.MethodPut, "/incidents", "bob@example.com", body); code != 404 {
		t.Fatalf("unknown incident: %d", code)
	}
	if got, _ := w.fake.Incident(a.ID); got.Status != "triggered" {
		t.Fatalf("first update applied although the second was refused: %s", got.Status)
	}
	body = `{"incidents":[{"id":"` + a.ID + `","type":"incident","status":"acknowledged"}]}`
	if code, _, _ := w.do(t, http.MethodPut, "/incidents", "", body); code != 400 {
		t.Fatalf("no From: %d", code)
	}
	code, _, v := w.do(t, http.MethodPut, "/incidents", "bob@example.com", body)
	if code != 200 || v["incidents"].([]any)[0].(map[string]any)["status"] != "acknowledged" {
		t.Fatalf("ack: %d %v", code, v)
	}
}

func TestFake_LogEntriesPaginateNewestFirstThroughGoPagerDuty(t *testing.T) {
	w := newWorld(t, pdfake.Options{})
	in, _ := w.fake.Trigger(w.svc.ID, "one")
	w.clock.Advance(time.Minute)
	_ = w.fake.Acknowledge(in.ID, w.bob.ID)
	w.clock.Advance(time.Minute)
	_ = w.fake.AddNote(in.ID, w.bob.ID, "a note")
	w.clock.Advance(time.Minute)
	_ = w.fake.Resolve(in.ID, w.ada.ID)

	c := pagerduty.NewClient(w.fake.Token(), pagerduty.WithAPIEndpoint(w.fake.URL()))
	var types []string
	for off := uint(0); ; {
		page, err := c.ListIncidentLogEntriesWithContext(t.Context(), in.ID, pagerduty.ListIncidentLogEntriesOptions{Limit: 2, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.LogEntries {
			types = append(types, e.Type)
		}
		if !page.More {
			break
		}
		off += uint(len(page.LogEntries))
	}
	want := []string{"resolve_log_entry", "annotate_log_entry", "acknowledge_log_entry", "assign_log_entry", "trigger_log_entry"}
	if !slices.Equal(types, want) {
		t.Fatalf("log = %v, want %v", types, want)
	}
}

func TestFake_OnCallsFilterByPolicyAndIncludeUsers(t *testing.T) {
	w := newWorld(t, pdfake.Options{})
	other := w.fake.AddEscalationPolicy(pdfake.EscalationPolicy{Name: "Other", Levels: [][]string{{w.ada.ID}}})
	c := pagerduty.NewClient(w.fake.Token(), pagerduty.WithAPIEndpoint(w.fake.URL()))
	res, err := c.ListOnCallsWithContext(t.Context(), pagerduty.ListOnCallOptions{EscalationPolicyIDs: []string{w.pol.ID}, Includes: []string{"users"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.OnCalls) != 2 || res.OnCalls[0].User.Email != "bob@example.com" || res.OnCalls[0].EscalationLevel != 1 ||
		res.OnCalls[1].User.Email != "ada@example.com" || res.OnCalls[1].EscalationPolicy.ID != w.pol.ID {
		t.Fatalf("oncalls = %+v", res.OnCalls)
	}
	res, _ = c.ListOnCallsWithContext(t.Context(), pagerduty.ListOnCallOptions{EscalationPolicyIDs: []string{other.ID}})
	if len(res.OnCalls) != 1 || res.OnCalls[0].User.Email != "" || res.OnCalls[0].User.ID != w.ada.ID {
		t.Fatalf("without include: %+v", res.OnCalls)
	}
}

func TestFake_ThrottleAnswers429WithRetryAfter(t *testing.T) {
	w := newWorld(t, pdfake.Options{})
	w.fake.Throttle("GET /users/{id}", 1, 3*time.Second)
	code, h, v := w.do(t, http.MethodGet, "/users/"+w.ada.ID, "", "")
	if code != 429 || h.Get("Retry-After") != "3" {
		t.Fatalf("throttled: %d %v %v", code, h, v)
	}
	if code, _, v := w.do(t, http.MethodGet, "/users/"+w.ada.ID, "", ""); code != 200 || v["user"].(map[string]any)["email"] != "ada@example.com" {
		t.Fatalf("after: %d %v", code, v)
	}
}

// receiver is the app side: it checks every signature with go-pagerduty.
type receiver struct {
	mu     sync.Mutex
	secret string
	types  []string
	bad    int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := webhookv3.VerifySignature(r, rc.secret); err != nil {
		rc.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var env struct {
		Event struct {
			EventType string `json:"event_type"`
		} `json:"event"`
	}
	_ = json.NewDecoder(r.Body).Decode(&env)
	rc.types = append(rc.types, env.Event.EventType)
	w.WriteHeader(http.StatusAccepted)
}

func (rc *receiver) got() ([]string, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.types), rc.bad
}

func TestFake_EveryChangeSendsASignedWebhook(t *testing.T) {
	for _, syncMode := range []bool{true, false} {
		rc := &receiver{secret: "second"}
		app := httptest.NewServer(rc)
		w := newWorld(t, pdfake.Options{WebhookURL: app.URL + "/webhooks/pagerduty", WebhookSecrets: []string{"first", "second"}, SyncWebhooks: syncMode})
		in, err := w.fake.Trigger(w.svc.ID, "one")
		if err != nil {
			t.Fatal(err)
		}
		steps := []func() error{
			func() error { return w.fake.Acknowledge(in.ID, w.bob.ID) },
			func() error { return w.fake.Unacknowledge(in.ID) },
			func() error { return w.fake.Reassign(in.ID, w.bob.ID, w.ada.ID) },
			func() error { return w.fake.Escalate(in.ID, w.ada.ID) },
			func() error { return w.fake.SetPriority(in.ID, w.ada.ID, "P1") },
			func() error { return w.fake.AddNote(in.ID, w.ada.ID, "note") },
			func() error { return w.fake.Resolve(in.ID, w.ada.ID) },
			func() error { return w.fake.Reopen(in.ID, w.ada.ID) },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		w.fake.Flush()
		types, bad := rc.got()
		want := []string{"incident.triggered", "incident.acknowledged", "incident.unacknowledged", "incident.reassigned",
			"incident.escalated", "incident.priority_updated", "incident.annotated", "incident.resolved", "incident.reopened"}
		if !slices.Equal(types, want) || bad != 0 {
			t.Fatalf("sync=%v: received %v (%d badly signed), want %v", syncMode, types, bad, want)
		}
		got, _ := w.fake.Incident(in.ID)
		if len(got.Log) != 10 { // trigger + assign + one per step
			t.Errorf("sync=%v: %d log entries, want 10", syncMode, len(got.Log))
		}
		for _, ev := range w.fake.Events() {
			if ev.Status != http.StatusAccepted || ev.IncidentID != in.ID {
				t.Errorf("event %+v", ev)
			}
		}
		app.Close()
	}
}

func TestFake_WebhookRequestIsSignedWithoutSending(t *testing.T) {
	w := newWorld(t, pdfake.Options{WebhookSecrets: []string{"s3cret"}})
	if _, err := w.fake.Trigger(w.svc.ID, "one"); err != nil {
		t.Fatal(err)
	}
	evs := w.fake.Events()
	if len(evs) != 1 || evs[0].Status != 0 {
		t.Fatalf("events = %+v, want one, not delivered (no URL)", evs)
	}
	req := w.fake.WebhookRequest(evs[0])
	if req.URL.Path != pdfake.WebhookPath || req.Method != http.MethodPost {
		t.Fatalf("request %s %s", req.Method, req.URL)
	}
	if err := webhookv3.VerifySignature(req, "s3cret"); err != nil {
		t.Fatalf("signature: %v", err)
	}
	body, _ := io.ReadAll(req.Body)
	if !bytes.Equal(body, evs[0].Body) || !strings.Contains(string(body), `"occurred_at":"2025-03-14T09:26:53.000Z"`) {
		t.Fatalf("body = %s", body)
	}
}
