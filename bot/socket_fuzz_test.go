package bot

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

// noViews refuses to open modals, as Slack does for a stale trigger.
type noViews struct{}

func (noViews) OpenViewContext(context.Context, string, slack.ModalViewRequest) (*slack.ViewResponse, error) {
	return nil, errors.New("expired_trigger_id")
}

// refuseAll is an HTTP client transport that sends nothing anywhere: a
// fuzzed response_url must not reach the network.
type refuseAll struct{}

func (refuseAll) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("fuzz: no network")
}

// panicLog counts log records that report a recovered panic.
type panicLog struct{ n *atomic.Int64 }

func (h panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (h panicLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		h.n.Add(1)
	}
	return nil
}
func (h panicLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicLog) WithGroup(string) slog.Handler      { return h }

// FuzzSocketEnvelope feeds Socket Mode messages, decoded as slack-go's
// client decodes them, to the bot's envelope handler. Every envelope is
// acknowledged, every ack payload encodes, and nothing panics, in the
// handler or in the background work it starts. Seeded with the envelope
// shapes Slack sends.
func FuzzSocketEnvelope(f *testing.F) {
	clock := workflows.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(f.TempDir(), "opsbot.db"), store.WithClock(clock))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	var panics atomic.Int64
	log := slog.New(panicLog{&panics})
	b := (&Bot{
		Servers: &workflows.Servers{Store: db, Clock: clock, Catalog: &workflows.Catalog{}, Log: log},
		Store:   db, Clock: clock, Render: slackout.Renderer{}, Log: log, Views: noViews{},
		HTTP: &http.Client{Transport: refuseAll{}},
	}).Init(Options{})

	for _, s := range []string{
		`{"envelope_id":"e1","type":"slash_commands","accepts_response_payload":true,"payload":{"command":"/ops","text":"help","user_id":"U1","channel_id":"C1","trigger_id":"t1","response_url":"https://hooks.slack.com/commands/1"}}`,
		`{"envelope_id":"e2","type":"slash_commands","payload":{"command":"/incident","text":"status inc-1 resolved","user_id":"U1","trigger_id":"t2"}}`,
		`{"envelope_id":"e3","type":"interactive","payload":{"type":"block_actions","user":{"id":"U1"},"trigger_id":"t3","actions":[{"action_id":"approval.approve","value":"apr-1"}]}}`,
		`{"envelope_id":"e4","type":"interactive","payload":{"type":"view_submission","user":{"id":"U1"},"view":{"id":"V1","callback_id":"ops.request"}}}`,
		`{"envelope_id":"e5","type":"events_api","payload":{"type":"event_callback","event_id":"Ev1","event":{"type":"app_home_opened","user":"U1","tab":"home"}}}`,
		`{"envelope_id":"e6","type":"events_api","payload":{"type":"event_callback","event_id":"Ev2","event":{"type":"reaction_added","user":"U1","reaction":"pushpin","item":{"type":"message","channel":"C1","ts":"1.2"}}}}`,
		`{"envelope_id":"e7","type":"events_api","payload":{"type":"event_callback","event_id":"Ev3","event":{"type":"message","channel":"C1","user":"U1","text":"hi"}}}`,
		`{"type":"hello","num_connections":1}`,
		`{"type":"disconnect","reason":"refresh_requested"}`,
		`{"envelope_id":"e8","type":"slash_commands","payload":"not an object"}`,
	} {
		f.Add([]byte(s))
	}
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, msg []byte) {
		var req socketmode.Request
		if json.Unmarshal(msg, &req) != nil {
			return
		}
		// Each input is a new envelope: the de-duplication of earlier
		// inputs is not what is fuzzed here.
		req.EnvelopeID = req.EnvelopeID + "#" + time.Duration(n.Add(1)).String()
		before := panics.Load()
		var mu sync.Mutex
		acks := 0
		ack := func(_ context.Context, id string, payload any) error {
			if _, err := json.Marshal(payload); err != nil {
				t.Errorf("ack payload does not encode: %v", err)
			}
			mu.Lock()
			acks++
			mu.Unlock()
			return nil
		}
		b.envelope(context.Background(), ack, req)
		b.Wait()
		if p := panics.Load() - before; p > 0 {
			t.Fatalf("%d panics handling %s", p, msg)
		}
		mu.Lock()
		defer mu.Unlock()
		if acks == 0 {
			t.Fatalf("envelope %s was never acknowledged", msg)
		}
	})
}
