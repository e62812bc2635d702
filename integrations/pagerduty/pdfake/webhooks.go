package pdfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// WebhookPath is opsbot's route for V3 webhooks; WebhookRequest uses it
// when no WebhookURL is set.
const WebhookPath = "/webhooks/pagerduty"

// Event is one V3 webhook event the fake emitted, with how its delivery
// went.
type Event struct {
	ID         string
	Type       string // incident.triggered, ...
	IncidentID string
	OccurredAt time.Time
	Body       []byte // the exact JSON that is signed and posted
	// Delivery: Status is the app's HTTP status (0 when not delivered yet,
	// or not at all because no WebhookURL was set); Err a transport error.
	Status int
	Err    string
}

// Sign computes PagerDuty's X-PagerDuty-Signature for body: one
// "v1=" + hex(HMAC-SHA256(secret, body)) per secret, comma-separated.
func Sign(body []byte, secrets ...string) string {
	sigs := make([]string, len(secrets))
	for i, secret := range secrets {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		sigs[i] = "v1=" + hex.EncodeToString(mac.Sum(nil))
	}
	return strings.Join(sigs, ",")
}

// Events returns every event emitted so far, oldest first.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, len(s.events))
	for i, e := range s.events {
		e.Body = bytes.Clone(e.Body)
		out[i] = e
	}
	return out
}

// WebhookRequest builds the signed POST PagerDuty would send for ev,
// without sending it. It goes to Options.WebhookURL, or to WebhookPath
// with no host (for calling a handler directly) when none is set.
func (s *Server) WebhookRequest(ev Event) *http.Request {
	s.mu.Lock()
	target, secrets := s.opts.WebhookURL, s.opts.WebhookSecrets
	s.mu.Unlock()
	if target == "" {
		target = WebhookPath
	}
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(ev.Body))
	if err != nil {
		req, _ = http.NewRequest(http.MethodPost, WebhookPath, bytes.NewReader(ev.Body))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "PagerDuty-Webhook/V3.0")
	req.Header.Set("X-Webhook-Id", ev.ID)
	req.Header.Set("X-Webhook-Subscription", "PSUBFAKE")
	req.Header.Set("X-PagerDuty-Signature", Sign(ev.Body, secrets...))
	return req
}

// emit records a V3 event about in for delivery once the change is done.
// Caller holds mu.
func (s *Server) emit(eventType string, in *Incident, by agent, note *Note) {
	now := s.now()
	data := s.incidentData(in)
	if note != nil {
		data = s.noteData(in, note)
	}
	ev := Event{ID: s.newID("01", 26), Type: eventType, IncidentID: in.ID, OccurredAt: now}
	var client any
	if by.kind != "" {
		client = map[string]any{"name": "PagerDuty"}
	}
	body, err := json.Marshal(map[string]any{"event": map[string]any{
		"id": ev.ID, "event_type": eventType, "resource_type": "incident",
		"occurred_at": now.Format(webhookTime), "agent": s.agentRef(by), "client": client, "data": data,
	}})
	if err != nil {
		panic("pdfake: encode event: " + err.Error()) // maps of strings and numbers always encode
	}
	ev.Body = body
	s.events = append(s.events, ev)
	s.pending = append(s.pending, len(s.events)-1)
}

// takePending returns the events of the change just made. Caller holds mu.
func (s *Server) takePending() []int {
	p := s.pending
	s.pending = nil
	return p
}

// dispatch delivers events now (SyncWebhooks) or hands them to the
// background sender. Called without mu.
func (s *Server) dispatch(events []int) {
	if len(events) == 0 {
		return
	}
	if s.opts.SyncWebhooks {
		for _, i := range events {
			s.deliver(i)
		}
		return
	}
	s.out.push(events)
}

// deliver posts one event to the app and records the answer.
func (s *Server) deliver(i int) {
	s.mu.Lock()
	if i >= len(s.events) { // a Restore replaced the events meanwhile
		s.mu.Unlock()
		return
	}
	ev := s.events[i]
	target := s.opts.WebhookURL
	s.mu.Unlock()
	if target == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := s.opts.HTTPClient.Do(s.WebhookRequest(ev).WithContext(ctx))
	status, errText := 0, ""
	if err != nil {
		errText = err.Error()
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		status = resp.StatusCode
	}
	s.log.Debug("pdfake webhook", "event", ev.ID, "type", ev.Type, "status", status, "err", errText)
	s.mu.Lock()
	if i < len(s.events) && s.events[i].ID == ev.ID {
		s.events[i].Status, s.events[i].Err = status, errText
	}
	s.mu.Unlock()
}

// Flush waits until the background sender has delivered every event
// emitted so far.
func (s *Server) Flush() { s.out.flush() }

// outbox is the background sender: one goroutine, events in order.
type outbox struct {
	s       *Server
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []int
	busy    bool
	started bool
	closed  bool
}

func newOutbox(s *Server) *outbox {
	o := &outbox{s: s}
	o.cond = sync.NewCond(&o.mu)
	return o
}

func (o *outbox) push(events []int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.queue = append(o.queue, events...)
	if !o.started {
		o.started = true
		go o.run()
	}
	o.cond.Broadcast()
}

func (o *outbox) run() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for {
		for len(o.queue) == 0 && !o.closed {
			o.cond.Wait()
		}
		if o.closed {
			o.queue = nil
			o.cond.Broadcast()
			return
		}
		i := o.queue[0]
		o.queue = o.queue[1:]
		o.busy = true
		o.mu.Unlock()
		o.s.deliver(i)
		o.mu.Lock()
		o.busy = false
		o.cond.Broadcast()
	}
}

func (o *outbox) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for (len(o.queue) > 0 || o.busy) && !o.closed {
		o.cond.Wait()
	}
}

func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.cond.Broadcast()
	o.mu.Unlock()
}
