package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opsbot/opsbot/bot"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// panicCounter is a slog handler that counts the records saying work
// panicked (the bot recovers background work and logs it), so a fuzz
// target sees a panic wherever it happened.
type panicCounter struct{ n *atomic.Int64 }

func (h panicCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h panicCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		h.n.Add(1)
	}
	return nil
}
func (h panicCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicCounter) WithGroup(string) slog.Handler      { return h }

// loopbackOnly refuses any request to a host off this machine: a fuzzed
// payload's response_url must never send traffic anywhere else.
type loopbackOnly struct{}

func (loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	host := r.URL.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("fuzz: no traffic to %q", host)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// payloadOf returns the payload field of a signed interaction request.
func payloadOf(tb testing.TB, req *http.Request, err error) string {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		tb.Fatal(err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		tb.Fatal(err)
	}
	return form.Get("payload")
}

// FuzzInteraction posts interaction payloads (buttons, modal submissions)
// to the real App's /slack/interactions, signed as Slack signs them. Any
// payload gets 200 or 400 and no panic, in the handler or in the
// background work it starts. Seeded with the payloads the fake Slack
// builds for real clicks and submissions, and a view_submission without
// view.state (which panicked).
func FuzzInteraction(f *testing.F) {
	h := newHarness(f)
	var panics atomic.Int64
	h.log = slog.New(panicCounter{&panics})
	h.slackHTTP = &http.Client{Transport: loopbackOnly{}}
	h.restart()

	payload := func(req *http.Request, err error) string { return payloadOf(f, req, err) }
	h.ops(dev, "server request build-box for 1d load test")
	h.drain()
	approval := h.channelMessages("platform-approvals")[0]
	var click string
	for _, act := range []string{workflows.ActApprove, workflows.ActDeny} {
		click = payload(h.slack.BlockAction(testSecret, slackfake.Click{User: lead, Channel: approval.Channel, MessageTS: approval.TS, ActionID: act, Value: "apr-1"}))
		f.Add(click)
	}
	// The same click on the other buttons opsbot draws.
	for _, c := range []struct{ act, value string }{
		{workflows.ActLeaseExtend, "srv-1 1d"}, {workflows.ActLeaseExtend, "srv-1"}, {workflows.ActLeaseRelease, "srv-1"},
		{workflows.ActIncidentAck, "inc-1"}, {workflows.ActNagSnooze + "#2", "inc-1 update 2h"}, {"nope", ""},
	} {
		var m map[string]any
		if err := json.Unmarshal([]byte(click), &m); err != nil {
			f.Fatal(err)
		}
		act := m["actions"].([]any)[0].(map[string]any)
		act["action_id"], act["value"] = c.act, c.value
		b, _ := json.Marshal(m)
		f.Add(string(b))
	}
	h.ops(dev, "server request")
	h.send(h.slack.SlashCommand(testSecret, dev, "general", "/incident", "declare"))
	for _, v := range h.slack.Views(dev) {
		values := map[string]map[string]slackfake.InputValue{
			"template": {"template": {Type: "static_select", Value: "test-small"}},
			"duration": {"duration": {Value: "4h"}},
			"reason":   {"reason": {Value: "fuzz <!channel>"}},
			"title":    {"title": {Value: "Checkout is down"}},
			"severity": {"severity": {Type: "static_select", Value: "sev2"}},
		}
		p := payload(h.slack.ViewSubmission(testSecret, dev, v.ID, values))
		f.Add(p)
		var m map[string]any
		if err := json.Unmarshal([]byte(p), &m); err != nil {
			f.Fatal(err)
		}
		delete(m["view"].(map[string]any), "state")
		stateless, _ := json.Marshal(m)
		f.Add(string(stateless))
	}
	f.Add(`{"type":"view_submission","view":{"id":"V1","callback_id":"lease.extend"}}`)
	f.Add(`{"type":"block_actions","actions":[]}`)

	f.Fuzz(func(t *testing.T, payload string) {
		before := panics.Load()
		body := url.Values{"payload": {payload}}.Encode()
		req := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(body))
		req.Header = bot.Sign(testSecret, []byte(body), h.clock.Now())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.app.Handler.ServeHTTP(rec, req)
		h.app.Bot.Wait()
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if rec.Code == http.StatusOK && rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %s", rec.Body)
		}
		if n := panics.Load() - before; n > 0 {
			t.Fatalf("%d panics handling %s", n, payload)
		}
	})
}
