package runbook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/runbook"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

func TestPostSignsAndReadsTheAnswer(t *testing.T) {
	secret := []byte("0123456789abcdef")
	at := time.Unix(1796205600, 0)
	var got *http.Request
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, gotBody = r, must(io.ReadAll(r.Body))
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(429)
		io.WriteString(w, strings.Repeat("x", runbooks.BodyLimit+100))
	}))
	defer srv.Close()
	c := &runbook.Client{HTTP: srv.Client()}
	body := []byte(`{"run_id":"run-1"}`)
	a, err := c.Post(context.Background(), runbooks.Call{URL: srv.URL + "/restart", Secret: secret, Key: "opsbot-run-1-1", Body: body, At: at, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != 429 || a.RetryAfter != 7*time.Second || len(a.Body) != runbooks.BodyLimit {
		t.Errorf("answer %d %s len %d", a.Status, a.RetryAfter, len(a.Body))
	}
	// The signature, computed here by hand from the documented contract.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v1:1796205600:" + string(body)))
	want := "v1=" + hex.EncodeToString(m.Sum(nil))
	if got.Method != "POST" || got.URL.Path != "/restart" || got.Header.Get("X-Opsbot-Timestamp") != "1796205600" ||
		got.Header.Get("X-Opsbot-Signature") != want || got.Header.Get("Idempotency-Key") != "opsbot-run-1-1" ||
		got.Header.Get("Content-Type") != "application/json" || string(gotBody) != string(body) {
		t.Errorf("request %s %s %v %s", got.Method, got.URL, got.Header, gotBody)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestPostNoRedirectsAndTimeouts(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(time.Second):
			}
		}
	}))
	defer srv.Close()
	c := &runbook.Client{HTTP: srv.Client()}
	a, err := c.Post(context.Background(), runbooks.Call{URL: srv.URL + "/moved", Secret: []byte("s"), Body: []byte("{}"), At: time.Now()})
	if err != nil || a.Status != http.StatusTemporaryRedirect || hits != 1 {
		t.Fatalf("redirect followed: %+v %v hits %d", a, err, hits)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Post(ctx, runbooks.Call{URL: srv.URL + "/slow", Secret: []byte("s"), Body: []byte("{}"), At: time.Now()}); err == nil {
		t.Fatal("a call past its timeout answered")
	}
	if _, err := c.Post(context.Background(), runbooks.Call{URL: "http://127.0.0.1:1/", Secret: []byte("s"), Body: []byte("{}"), At: time.Now()}); err == nil {
		t.Fatal("connection refused is no error")
	}
}

type recv struct {
	body    string
	ts, sig string
}

func (r *recv) Callback(_ context.Context, body []byte, ts, sig string) (runbooks.CallbackOutcome, error) {
	r.body, r.ts, r.sig = string(body), ts, sig
	return runbooks.CallbackOutcome{Code: 409, Message: `seq 1 "again"`}, nil
}

func TestHandlerPassesHeadersAndBoundsTheBody(t *testing.T) {
	rv := &recv{}
	h := &runbook.Handler{Receive: rv}
	req := httptest.NewRequest("POST", runbook.CallbackPath, strings.NewReader(`{"run_id":"run-1"}`))
	req.Header.Set("X-Opsbot-Timestamp", "123")
	req.Header.Set("X-Opsbot-Signature", "v1=ab")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 409 || rv.ts != "123" || rv.sig != "v1=ab" || rv.body != `{"run_id":"run-1"}` || w.Body.String() != `{"message":"seq 1 \"again\"","ok":false}`+"\n" {
		t.Fatalf("%d %q %+v", w.Code, w.Body.String(), rv)
	}
	big := httptest.NewRequest("POST", runbook.CallbackPath, strings.NewReader(strings.Repeat("x", runbook.MaxCallbackBody+1)))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, big)
	if w.Code != 413 {
		t.Fatalf("oversized: %d", w.Code)
	}
}
