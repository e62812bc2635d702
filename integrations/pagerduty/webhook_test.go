package pagerduty_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/PagerDuty/go-pagerduty/webhookv3"

	opspd "github.com/opsbot/opsbot/integrations/pagerduty"
	"github.com/opsbot/opsbot/workflows"
)

const (
	oldSecret = "old-subscription-secret"
	newSecret = "new-subscription-secret"
)

func sig(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// intake is a WebhookHandler whose Receive records what it is given.
type intake struct {
	mu   sync.Mutex
	got  []workflows.PagerEvent
	fail error
	h    *opspd.WebhookHandler
}

func newIntake() *intake {
	in := &intake{}
	in.h = &opspd.WebhookHandler{Secrets: []string{oldSecret, newSecret}, Receive: func(_ context.Context, ev workflows.PagerEvent) error {
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.fail != nil {
			return in.fail
		}
		in.got = append(in.got, ev)
		return nil
	}}
	return in
}

func (in *intake) events() []workflows.PagerEvent {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]workflows.PagerEvent(nil), in.got...)
}

func (in *intake) post(body []byte, signature string) int {
	req := httptest.NewRequest(http.MethodPost, opspd.WebhookPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(opspd.SignatureHeader, signature)
	}
	rec := httptest.NewRecorder()
	in.h.ServeHTTP(rec, req)
	return rec.Code
}

func TestWebhook_RotatedSecretWithSpaceAfterCommaIsAccepted(t *testing.T) {
	in := newIntake()
	body := fixture(t, "incident.acknowledged")
	// PagerDuty signs with the subscription's secrets; a proxy put a space
	// after the comma. Only the second signature matches one of ours.
	header := sig("some-other-secret", body) + ", " + sig(newSecret, body)

	if code := in.post(body, header); code != http.StatusAccepted {
		t.Fatalf("status = %d, want 202", code)
	}
	got := in.events()
	if len(got) != 1 {
		t.Fatalf("Receive called %d times, want 1", len(got))
	}
	if ev := got[0]; ev.ID != "01HQ0ACKNOWLEDGED000000002" || ev.Type != "incident.acknowledged" ||
		ev.Incident.ID != "Q2W3E4R5T6Y7U8" || ev.Incident.Status != "acknowledged" || ev.Agent != "Bob Hopper" {
		t.Fatalf("event = %+v", ev)
	}
	// The old secret alone is still good during the rotation.
	if code := in.post(body, sig(oldSecret, body)); code != http.StatusAccepted {
		t.Fatalf("old secret: status = %d", code)
	}
}

func TestWebhook_BadOrMissingSignatureIs401(t *testing.T) {
	in := newIntake()
	body := fixture(t, "incident.triggered")
	tampered := bytes.Replace(body, []byte("Checkout is down"), []byte("Checkout is fine"), 1)
	for name, tc := range map[string]struct {
		body   []byte
		header string
	}{
		"missing":        {body, ""},
		"wrong secret":   {body, sig("guess", body)},
		"tampered body":  {tampered, sig(newSecret, body)},
		"not hex":        {body, "v1=zz"},
		"other version":  {body, strings.Replace(sig(newSecret, body), "v1=", "v0=", 1)},
		"truncated hmac": {body, sig(newSecret, body)[:40]},
	} {
		if code := in.post(tc.body, tc.header); code != http.StatusUnauthorized {
			t.Errorf("%s: status = %d, want 401", name, code)
		}
	}
	if n := len(in.events()); n != 0 {
		t.Fatalf("Receive called %d times, want 0", n)
	}
	noSecrets := &opspd.WebhookHandler{Receive: in.h.Receive}
	req := httptest.NewRequest(http.MethodPost, opspd.WebhookPath, bytes.NewReader(body))
	req.Header.Set(opspd.SignatureHeader, sig("", body))
	rec := httptest.NewRecorder()
	noSecrets.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("no secrets configured: status = %d, want 401", rec.Code)
	}
}

func TestWebhook_MalformedIs400(t *testing.T) {
	in := newIntake()
	body := []byte(`{"event":{"id":"E1","event_type":"incident.triggered","data":`)
	if code := in.post(body, sig(newSecret, body)); code != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400", code)
	}
	if n := len(in.events()); n != 0 {
		t.Fatalf("Receive called %d times", n)
	}
}

func TestWebhook_UnknownTypeIsAcceptedNeutrally(t *testing.T) {
	in := newIntake()
	body := fixture(t, "service.updated")
	if code := in.post(body, sig(oldSecret, body)); code != http.StatusAccepted {
		t.Fatalf("status = %d, want 202", code)
	}
	got := in.events()
	if len(got) != 1 || got[0].Type != "service.updated" || got[0].Incident.ID != "" {
		t.Fatalf("events = %+v", got)
	}
}

func TestWebhook_OversizedIs413(t *testing.T) {
	in := newIntake()
	body := append([]byte(`{"event":{"id":"E1","event_type":"service.updated","pad":"`), bytes.Repeat([]byte("x"), opspd.MaxWebhookBody)...)
	body = append(body, `"}}`...)
	if code := in.post(body, sig(newSecret, body)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", code)
	}
	if n := len(in.events()); n != 0 {
		t.Fatalf("Receive called %d times", n)
	}
}

func TestWebhook_ReceiveFailureIs500SoPagerDutyRetries(t *testing.T) {
	in := newIntake()
	in.fail = errors.New("database is locked")
	body := fixture(t, "incident.resolved")
	if code := in.post(body, sig(newSecret, body)); code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", code)
	}
}

func TestWebhook_OnlyPost(t *testing.T) {
	in := newIntake()
	rec := httptest.NewRecorder()
	in.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, opspd.WebhookPath, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("status = %d", rec.Code)
	}
}

// go-pagerduty's own test vector: our verification agrees with theirs,
// and the payload (conference_number as a number) parses.
func TestVerifySignature_AgreesWithGoPagerDutyTestVector(t *testing.T) {
	const (
		secret = "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK"
		good   = "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd"
		bad    = "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5"
		body   = `{"event":{"id":"01BWDWL3NYY7LUFPZCC28QUCMK","event_type":"incident.priority_updated","resource_type":"incident","occurred_at":"2021-04-26T17:36:27.458Z","agent":{"html_url":"https://acme.pagerduty.com/users/PLH1HKV","id":"PLH1HKV","self":"https://api.pagerduty.com/users/PLH1HKV","summary":"Tenex Engineer","type":"user_reference"},"client":null,"data":{"id":"PGR0VU2","type":"incident","self":"https://api.pagerduty.com/incidents/PGR0VU2","html_url":"https://acme.pagerduty.com/incidents/PGR0VU2","number":2,"status":"triggered","title":"A little bump in the road","service":{"html_url":"https://acme.pagerduty.com/services/PF9KMXH","id":"PF9KMXH","self":"https://api.pagerduty.com/services/PF9KMXH","summary":"API Service","type":"service_reference"},"assignees":[{"html_url":"https://acme.pagerduty.com/users/PTUXL6G","id":"PTUXL6G","self":"https://api.pagerduty.com/users/PTUXL6G","summary":"User 123","type":"user_reference"}],"escalation_policy":{"html_url":"https://acme.pagerduty.com/escalation_policies/PUS0KTE","id":"PUS0KTE","self":"https://api.pagerduty.com/escalation_policies/PUS0KTE","summary":"Default","type":"escalation_policy_reference"},"teams":[{"html_url":"https://acme.pagerduty.com/teams/PFCVPS0","id":"PFCVPS0","self":"https://api.pagerduty.com/teams/PFCVPS0","summary":"Engineering","type":"team_reference"}],"priority":{"html_url":"https://acme.pagerduty.com/account/incident_priorities","id":"PSO75BM","self":"https://api.pagerduty.com/priorities/PSO75BM","summary":"P1","type":"priority_reference"},"urgency":"high","conference_bridge":{"conference_number":1000,"conference_url":"https://example.com"},"resolve_reason":null}}}`
	)
	for _, tc := range []struct {
		header string
		ok     bool
	}{{good, true}, {bad, false}, {bad + "," + good, true}} {
		ours := opspd.VerifySignature(tc.header, []byte(body), []string{secret}) == nil
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set(opspd.SignatureHeader, tc.header)
		theirs := webhookv3.VerifySignature(req, secret) == nil
		if ours != tc.ok || theirs != tc.ok {
			t.Errorf("header %q: ours %v, go-pagerduty %v, want %v", tc.header, ours, theirs, tc.ok)
		}
	}
	ev, err := opspd.ParseEvent([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Priority != "P1" || ev.Incident.Number != 2 || ev.Agent != "Tenex Engineer" {
		t.Fatalf("event = %+v", ev)
	}
}

// countingBody counts the bytes the handler takes from a body.
type countingBody struct {
	r    *bytes.Reader
	read *int
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.read += n
	return n, err
}
func (c countingBody) Close() error { return nil }

// TestWebhook_RefusedBeforeTheBodyIsRead: an unsigned post, one whose
// signature is not 64 hex digits, and one declaring more than 2 MB are
// answered from the headers; none of the body is read.
func TestWebhook_RefusedBeforeTheBodyIsRead(t *testing.T) {
	body := bytes.Repeat([]byte("a"), 3<<20)
	tests := []struct {
		name, sig string
		want      int
	}{
		{"unsigned", "", http.StatusUnauthorized},
		{"not hex", "v1=xyz", http.StatusUnauthorized},
		{"declared too large", sig(newSecret, body), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newIntake()
			read := 0
			req := httptest.NewRequest(http.MethodPost, opspd.WebhookPath, nil)
			req.Body, req.ContentLength = countingBody{bytes.NewReader(body), &read}, int64(len(body))
			if tt.sig != "" {
				req.Header.Set(opspd.SignatureHeader, tt.sig)
			}
			rec := httptest.NewRecorder()
			in.h.ServeHTTP(rec, req)
			if rec.Code != tt.want || read != 0 || len(in.events()) != 0 {
				t.Fatalf("status %d (want %d), %d bytes read, %d events", rec.Code, tt.want, read, len(in.events()))
			}
		})
	}
}
