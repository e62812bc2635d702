package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/opsbot/opsbot/workflows"
)

// SocketConfig says how RunSocketMode reaches Slack.
type SocketConfig struct {
	// APIURL overrides the Web API root (SLACK_API_URL); "" is Slack's.
	APIURL string
	// HTTP is used for apps.connections.open; default slack-go's.
	HTTP *http.Client
	// ReconnectMin and ReconnectMax bound the wait before reconnecting
	// after a connection that lived less than StableAfter (defaults 1s,
	// 2m, 1m): a link that keeps dropping is not hammered. A connection
	// that lived longer is replaced at once.
	ReconnectMin, ReconnectMax, StableAfter time.Duration
}

// fatalSocketErrors are answers to apps.connections.open that no retry
// fixes: the app token is wrong.
var fatalSocketErrors = map[string]bool{
	"invalid_auth": true, "not_authed": true, "account_inactive": true,
	"token_revoked": true, "not_allowed_token_type": true, "missing_scope": true,
}

// RunSocketMode receives Slack's requests over a Socket Mode WebSocket
// (SLACK_APP_TOKEN) instead of HTTP, until ctx ends. slack-go's client
// reconnects after `disconnect` requests, dropped links and missed pings
// on its own; this adds a backoff for links that keep dropping, stops on
// a token Slack refuses, acknowledges every envelope within Slack's
// 3 seconds, and handles each request once even when Slack re-delivers
// it after a reconnect.
func (b *Bot) RunSocketMode(ctx context.Context, appToken string, cfg SocketConfig) error {
	if !strings.HasPrefix(appToken, "xapp-") {
		return errors.New("socket mode: the app token must be an app-level token (xapp-...)")
	}
	if cfg.ReconnectMin <= 0 {
		cfg.ReconnectMin = time.Second
	}
	if cfg.ReconnectMax <= 0 {
		cfg.ReconnectMax = 2 * time.Minute
	}
	if cfg.StableAfter <= 0 {
		cfg.StableAfter = time.Minute
	}
	opts := []slack.Option{slack.OptionAppLevelToken(appToken)}
	if cfg.APIURL != "" {
		u := cfg.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slack.OptionAPIURL(u))
	}
	if cfg.HTTP != nil {
		opts = append(opts, slack.OptionHTTPClient(cfg.HTTP))
	}
	sm := socketmode.New(slack.New("", opts...),
		socketmode.OptionLog(slog.NewLogLogger(b.Log.Handler(), slog.LevelDebug)))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(ctx) }()
	ack := func(ctx context.Context, envelopeID string, payload any) error {
		// Bounded: once the client has stopped nobody drains its queue.
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return sm.AckCtx(ctx, envelopeID, payload)
	}
	l := &socketLoop{b: b, cfg: cfg, ack: ack}
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("socket mode: %w", err)
		case evt := <-sm.Events:
			if err := l.event(ctx, evt); err != nil {
				cancel()
				<-done
				return fmt.Errorf("socket mode: %w", err)
			}
		}
	}
}

// acker sends an envelope's acknowledgement, with the answer as payload
// where Slack takes one; socketmode.Client.AckCtx is the real one.
type acker func(ctx context.Context, envelopeID string, payload any) error

// socketLoop is RunSocketMode's state between events.
type socketLoop struct {
	b     *Bot
	cfg   SocketConfig
	ack   acker
	up    time.Time     // when the current connection came up
	delay time.Duration // next reconnect backoff
}

// event handles one thing slack-go's client reports. It returns an error
// only for what must stop Socket Mode.
func (l *socketLoop) event(ctx context.Context, evt socketmode.Event) error {
	log := l.b.Log
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		// slack-go dials right after this event is taken, so waiting here
		// is the backoff between reconnects.
		l.backoff(ctx)
	case socketmode.EventTypeConnected:
		l.up = l.b.Clock.Now()
		log.InfoContext(ctx, "socket mode connected")
	case socketmode.EventTypeConnectionError:
		if ce, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
			if code := slackCode(ce.ErrorObj); fatalSocketErrors[code] {
				return fmt.Errorf("Slack refused the app token (%s): check SLACK_APP_TOKEN and its connections:write scope", code)
			}
			log.WarnContext(ctx, "socket mode connection failed", "attempt", ce.Attempt, "backoff", ce.Backoff, "err", ce.ErrorObj)
		}
	case socketmode.EventTypeInvalidAuth:
		return errors.New("Slack refused the app token: check SLACK_APP_TOKEN")
	case socketmode.EventTypeHello:
		log.DebugContext(ctx, "socket mode hello")
	case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
		if evt.Request != nil {
			l.dispatch(ctx, *evt.Request)
		}
	case socketmode.EventTypeErrorBadMessage:
		// slack-go could not decode it (an events_api payload of a type
		// it does not know, say). Handle it from the raw envelope, so it
		// is still acknowledged and Slack does not re-send it.
		if bad, ok := evt.Data.(*socketmode.ErrorBadMessage); ok {
			var req socketmode.Request
			if json.Unmarshal(bad.Message, &req) == nil && req.EnvelopeID != "" {
				l.dispatch(ctx, req)
				return nil
			}
			log.WarnContext(ctx, "socket mode: unreadable message", "err", bad.Cause)
		}
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		log.WarnContext(ctx, "socket mode", "event", string(evt.Type), "data", fmt.Sprint(evt.Data))
	}
	return nil
}

// backoff waits before a reconnection when the last connection did not
// last: exponentially longer while the link keeps dropping.
func (l *socketLoop) backoff(ctx context.Context) {
	if l.up.IsZero() {
		return // first connection, or slack-go retrying a failed dial (it backs off itself)
	}
	lived := l.b.Clock.Now().Sub(l.up)
	l.up = time.Time{}
	if lived >= l.cfg.StableAfter {
		l.delay = 0
		return
	}
	l.delay = min(max(2*l.delay, l.cfg.ReconnectMin), l.cfg.ReconnectMax)
	l.b.Log.WarnContext(ctx, "socket mode connection was short-lived; waiting before reconnecting", "lived", lived, "wait", l.delay)
	t := time.NewTimer(l.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// dispatch handles one envelope in the background: the event loop must
// keep reading so acks and pings flow.
func (l *socketLoop) dispatch(ctx context.Context, req socketmode.Request) {
	l.b.wg.Add(1)
	go func() {
		defer l.b.wg.Done()
		defer func() {
			if p := recover(); p != nil {
				l.b.Log.ErrorContext(ctx, "socket mode envelope panicked", "envelope", req.EnvelopeID, "type", req.Type, "panic", fmt.Sprint(p))
			}
		}()
		ctx, span := l.b.tracer().Start(context.WithoutCancel(ctx), "socket "+req.Type, trace.WithNewRoot(),
			trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attribute.Int("slack.retry_attempt", req.RetryAttempt)))
		defer span.End()
		l.b.envelope(ctx, l.ack, req)
	}()
}

// envelope handles one Socket Mode request exactly once. A request seen
// before (Slack re-delivers what it thinks was not acknowledged, with the
// same envelope_id, or the same trigger_id or event_id) is acknowledged
// again and not handled. When the store cannot record it, it is not
// acknowledged, so Slack sends it again. Commands and interactions are
// taken in durably before they are handled, as over HTTP (intake.go):
// Slack does not re-send an acknowledged envelope.
func (b *Bot) envelope(ctx context.Context, ack acker, req socketmode.Request) {
	log := b.Log.With("envelope", req.EnvelopeID, "type", req.Type, "retry", req.RetryAttempt)
	keys := append([]string{"slack-envelope:" + req.EnvelopeID}, requestKeys(req)...)
	if req.Type == socketmode.RequestTypeSlashCommands || req.Type == socketmode.RequestTypeInteractive {
		b.envelopeRequest(ctx, ack, req, keys, log)
		return
	}
	seen, err := workflows.Seen(ctx, b.Store, keys...)
	if err != nil {
		log.ErrorContext(ctx, "look up Socket Mode envelope; leaving it unacknowledged for Slack to re-send", "err", err)
		return
	}
	if seen {
		log.InfoContext(ctx, "ignored re-delivered Socket Mode envelope")
		b.sendAck(ctx, ack, req.EnvelopeID, nil)
		return
	}
	switch req.Type {
	case socketmode.RequestTypeEventsAPI:
		// Slack does not re-send an acknowledged envelope, so the event
		// is put in the outbox, with the envelope recorded, before the
		// ack: a crash after it loses nothing. Bot.Event de-duplicates
		// on event_id when the job runs.
		var env EventEnvelope
		if err := json.Unmarshal(req.Payload, &env); err != nil {
			log.WarnContext(ctx, "malformed event", "err", err)
			b.sendAck(ctx, ack, req.EnvelopeID, nil)
			return
		}
		err := b.Store.Update(workflows.WithIntake(ctx, b.Clock.Now(), keys[0]), func(tx workflows.Tx) error {
			return tx.Enqueue(workflows.Job{Kind: JobEvent, Key: JobEvent + ":" + env.EventID, Payload: string(req.Payload), RunAt: b.Clock.Now()})
		})
		switch {
		case errors.Is(err, workflows.ErrReplayed):
		case err != nil:
			log.ErrorContext(ctx, "queue Socket Mode event; leaving it unacknowledged for Slack to re-send", "err", err)
			return
		}
		b.sendAck(ctx, ack, req.EnvelopeID, nil)
		if b.Wake != nil {
			b.Wake()
		}
	default:
		b.sendAck(ctx, ack, req.EnvelopeID, nil)
	}
}

// envelopeRequest takes in and handles a slash command or interaction
// that came over Socket Mode.
func (b *Bot) envelopeRequest(ctx context.Context, ack acker, req socketmode.Request, keys []string, log *slog.Logger) {
	var cmd slack.SlashCommand
	var ic slack.InteractionCallback
	kind := kindCommand
	var err error
	if req.Type == socketmode.RequestTypeSlashCommands {
		err = json.Unmarshal(req.Payload, &cmd)
	} else {
		kind = kindInteraction
		err = json.Unmarshal(req.Payload, &ic)
	}
	if err != nil {
		log.WarnContext(ctx, "malformed "+kind, "err", err)
		b.sendAck(ctx, ack, req.EnvelopeID, nil)
		return
	}
	if kind == kindInteraction && ic.Type != slack.InteractionTypeViewSubmission && ic.Type != slack.InteractionTypeBlockActions {
		b.sendAck(ctx, ack, req.EnvelopeID, nil) // nothing opsbot acts on
		return
	}
	rec := intakeRecord{Transport: viaSocket, Kind: kind, Body: string(req.Payload), Handled: "slack-handled:" + req.EnvelopeID, At: b.Clock.Now()}
	if kind == kindCommand && readOnly(cmd) {
		b.envelopeRead(ctx, ack, req.EnvelopeID, cmd, keys, rec, log)
		return
	}
	fresh, err := b.takeIn(ctx, keys, rec)
	if err != nil {
		log.ErrorContext(ctx, "take in Socket Mode envelope; leaving it unacknowledged for Slack to re-send", "err", err)
		return
	}
	if !fresh {
		log.InfoContext(ctx, "ignored re-delivered Socket Mode envelope")
		b.sendAck(ctx, ack, req.EnvelopeID, nil)
		return
	}
	if kind == kindCommand {
		b.respondSocket(ctx, ack, req.EnvelopeID, cmd.ResponseURL, cmd.Command, b.handledReply(rec, func(ctx context.Context) workflows.Reply {
			return b.Command(ctx, cmd)
		}))
		return
	}
	b.interactSocket(ctx, ack, req.EnvelopeID, rec, ic)
}

// JobEvent handles a Socket Mode event from the outbox; payload: the
// event envelope's JSON.
const JobEvent = "slack.event"

// EventJob is the job handler for JobEvent.
func (b *Bot) EventJob(ctx context.Context, j workflows.Job) error {
	var env EventEnvelope
	if err := json.Unmarshal([]byte(j.Payload), &env); err != nil {
		return workflows.Permanent(fmt.Errorf("decode queued Slack event: %w", err))
	}
	return b.Event(ctx, env)
}

// requestKeys names a request beyond its envelope, for a re-delivery
// that came with a new envelope_id: the trigger_id of a command or
// interaction (unique per user action). Events are named by event_id in
// Bot.Event.
func requestKeys(req socketmode.Request) []string {
	if req.Type != socketmode.RequestTypeSlashCommands && req.Type != socketmode.RequestTypeInteractive {
		return nil
	}
	var keys struct {
		TriggerID string `json:"trigger_id"`
	}
	if json.Unmarshal(req.Payload, &keys) != nil || keys.TriggerID == "" {
		return nil
	}
	return []string{"slack-trigger:" + keys.TriggerID}
}

// respondSocket is respond for Socket Mode: the reply goes in the ack
// when the work is done within AckWithin, otherwise the ack says it is
// being worked on and the reply follows through response_url. A reply
// too large for an ack (Socket Mode drops 20 KB and more) goes through
// response_url too.
func (b *Bot) respondSocket(ctx context.Context, ack acker, envelopeID, responseURL, what string, work func(ctx context.Context) workflows.Reply) {
	reply, ok := b.within(ctx, what, responseURL, work)
	if !ok {
		b.ackWorking(ctx, ack, envelopeID)
		return
	}
	b.ackReply(ctx, ack, envelopeID, responseURL, what, reply)
}

// ackWorking acknowledges an envelope whose reply will follow through
// response_url.
func (b *Bot) ackWorking(ctx context.Context, ack acker, envelopeID string) {
	b.sendAck(ctx, ack, envelopeID, b.webhook(workflows.Reply{Message: workflows.Message{Text: "Working on it…"}}))
}

// ackReply acknowledges an envelope with reply in the ack, or through
// response_url when it does not fit.
func (b *Bot) ackReply(ctx context.Context, ack acker, envelopeID, responseURL, what string, reply workflows.Reply) {
	if empty(reply) {
		b.sendAck(ctx, ack, envelopeID, nil)
		return
	}
	if err := ack(ctx, envelopeID, b.webhook(reply)); err != nil {
		b.Log.WarnContext(ctx, "reply does not fit in the ack; sending it through response_url", "envelope", envelopeID, "err", err)
		b.sendAck(ctx, ack, envelopeID, nil)
		b.background(ctx, what, func(ctx context.Context) { b.postResponse(ctx, responseURL, reply) })
	}
}

// interactSocket handles a button or a modal submission. A submission's
// answer (errors to show, or nothing to close the modal) is the ack's
// payload, so it must be ready within AckWithin; a click is acknowledged
// at once and answered through response_url.
func (b *Bot) interactSocket(ctx context.Context, ack acker, envelopeID string, rec intakeRecord, ic slack.InteractionCallback) {
	switch ic.Type {
	case slack.InteractionTypeViewSubmission:
		out := make(chan *slack.ViewSubmissionResponse, 1)
		b.background(ctx, "submission", func(ctx context.Context) {
			b.handled(ctx, rec, func(ctx context.Context) { out <- b.Submission(ctx, ic) })
		})
		t := time.NewTimer(AckWithin)
		defer t.Stop()
		select {
		case resp := <-out:
			var payload any
			if resp != nil {
				payload = resp
			}
			if err := ack(ctx, envelopeID, payload); err != nil {
				b.Log.ErrorContext(ctx, "answer view submission", "envelope", envelopeID, "err", err)
				b.sendAck(ctx, ack, envelopeID, nil)
			}
		case <-t.C:
			b.Log.WarnContext(ctx, "view submission took too long; closing the modal without an answer", "envelope", envelopeID)
			b.sendAck(ctx, ack, envelopeID, nil)
		}
	case slack.InteractionTypeBlockActions:
		b.sendAck(ctx, ack, envelopeID, nil)
		b.background(ctx, "click", func(ctx context.Context) {
			b.handled(ctx, rec, func(ctx context.Context) {
				if reply := b.Click(ctx, ic); reply != nil {
					b.postResponse(ctx, ic.ResponseURL, *reply)
				}
			})
		})
	default:
		b.sendAck(ctx, ack, envelopeID, nil)
	}
}

// sendAck acknowledges an envelope, logging a failure: Slack then
// re-delivers it, and the de-duplication keeps it from being handled
// twice.
func (b *Bot) sendAck(ctx context.Context, ack acker, envelopeID string, payload any) {
	if err := ack(ctx, envelopeID, payload); err != nil {
		b.Log.ErrorContext(ctx, "acknowledge Socket Mode envelope", "envelope", envelopeID, "err", err)
	}
}

// slackCode returns the Slack error code in err, or "".
func slackCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}
