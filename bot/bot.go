package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/actions"
	"github.com/opsbot/opsbot/workflows/audit"
	"github.com/opsbot/opsbot/workflows/costs"
	"github.com/opsbot/opsbot/workflows/offboard"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// AckWithin is how long a handler waits for its work before it answers
// Slack with an acknowledgement and finishes in the background. Slack
// wants an answer within 3 seconds.
const AckWithin = 2 * time.Second

// Directory finds people's emails, so config can name them by email.
type Directory interface {
	UserEmail(ctx context.Context, userID string) (string, error)
}

// Renderer turns neutral replies into Slack's response format;
// integrations/slack.Renderer is the one used.
type Renderer interface {
	Reply(r workflows.Reply) slack.Msg
}

// Views opens and updates modals; *slack.Client satisfies it.
type Views interface {
	OpenViewContext(ctx context.Context, triggerID string, view slack.ModalViewRequest) (*slack.ViewResponse, error)
}

// Bot answers Slack. Build one with New.
type Bot struct {
	Servers   *workflows.Servers
	Costs     *costs.Service       // nil when the config has no costs section
	Incidents *workflows.Incidents // nil when incidents are not configured
	Actions   *actions.Service     // server actions; nil: not offered
	Audit     *audit.Service       // /ops audit; nil: not offered
	Offboard  *offboard.Service    // /ops offboard and user_change; nil: not offered
	Runbooks  *runbooks.Service    // /ops run and runbook buttons; nil: none configured
	History   History
	Store     workflows.Store // de-duplicates replayed requests
	Clock     workflows.Clock
	Secret    string
	Directory Directory
	Views     Views
	Render    Renderer
	Log       *slog.Logger
	// HTTP posts to response_url; Slack's own client by default.
	HTTP *http.Client
	// Wake, when set, tells the job runner that work was queued (a
	// Socket Mode event, handled from the outbox).
	Wake func()
	// Intake, when set, batches the writes that take requests in and
	// mark them done with other requests' (see intake.go); without it
	// each is a transaction of its own.
	Intake *workflows.GroupCommit
	// Tracer, when set, traces the work done after Slack was answered
	// and each Socket Mode envelope (spans "bot /ops", "socket
	// slash_commands"...); requests over HTTP are traced by the server.
	Tracer trace.Tracer

	slots  chan struct{} // bounds background work
	intake chan struct{} // bounds requests being read and answered
	wg     sync.WaitGroup
}

// Options configure a Bot.
type Options struct {
	// MaxBackground bounds work still running after Slack was answered.
	MaxBackground int
	// MaxIntake bounds the Slack requests being read and answered at
	// once (default 32); with each body at most MaxBody, it bounds the
	// memory requests can take. A request over the bound waits up to
	// IntakeWait for a place, then gets 503.
	MaxIntake int
}

// IntakeWait is how long a request waits for a place when MaxIntake
// requests are already being handled.
const IntakeWait = time.Second

// Init prepares the bot's bounded background pool; call once before use.
func (b *Bot) Init(opts Options) *Bot {
	n := opts.MaxBackground
	if n <= 0 {
		n = 64
	}
	b.slots = make(chan struct{}, n)
	in := opts.MaxIntake
	if in <= 0 {
		in = 32
	}
	b.intake = make(chan struct{}, in)
	if b.HTTP == nil {
		b.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	return b
}

// Wait blocks until background work has finished, for a clean shutdown.
func (b *Bot) Wait() { b.wg.Wait() }

// Routes registers the Slack endpoints of CONTRACT.md on mux.
func (b *Bot) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /slack/commands", b.limited(b.serveCommand))
	mux.HandleFunc("POST /slack/interactions", b.limited(b.serveInteraction))
	mux.HandleFunc("POST /slack/events", b.limited(b.serveEvent))
}

// limited lets at most MaxIntake requests through h at once; the next
// waits IntakeWait for a place and then gets 503, which Slack retries
// (events) or shows (commands). A Bot without Init has no bound.
func (b *Bot) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if b.intake == nil {
			h(w, r)
			return
		}
		t := time.NewTimer(IntakeWait)
		defer t.Stop()
		select {
		case b.intake <- struct{}{}:
			defer func() { <-b.intake }()
			h(w, r)
		case <-t.C:
			b.Log.Warn("refused Slack request: too many in flight", "path", r.URL.Path, "limit", cap(b.intake))
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy, try again", http.StatusServiceUnavailable)
		case <-r.Context().Done():
		}
	}
}

// readVerified reads and checks a Slack request, answering 401/413
// itself when it fails. It returns the body and the request's signature,
// which names it.
func (b *Bot) readVerified(w http.ResponseWriter, r *http.Request) (body []byte, sig string, ok bool) {
	body, err := readSigned(r, b.Secret, b.Clock.Now())
	switch err {
	case nil:
	case errTooLarge:
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return nil, "", false
	default:
		b.Log.Warn("refused Slack request", "path", r.URL.Path, "err", err, "remote", r.RemoteAddr)
		http.Error(w, "invalid Slack signature", http.StatusUnauthorized)
		return nil, "", false
	}
	return body, r.Header.Get("X-Slack-Signature"), true
}

// verified is readVerified for an event: it also answers a replay of a
// request already handled with 200 and nothing done (ok=false). The key
// is recorded with the event's effect, not here: a crash between would
// lose it (Slack retries an event that got no 200).
func (b *Bot) verified(w http.ResponseWriter, r *http.Request) (body []byte, key string, ok bool) {
	body, sig, ok := b.readVerified(w, r)
	if !ok {
		return nil, "", false
	}
	key = "slack-request:" + sig
	seen, err := workflows.Seen(r.Context(), b.Store, key)
	if err != nil {
		b.Log.Error("look up Slack request", "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return nil, "", false
	}
	if seen {
		b.Log.Info("ignored replayed Slack request", "path", r.URL.Path)
		w.WriteHeader(http.StatusOK)
		return nil, "", false
	}
	return body, key, true
}

// person resolves a Slack user to a workflows.Person with their email,
// when Slack gives it.
func (b *Bot) person(ctx context.Context, userID string) workflows.Person {
	p := workflows.Person{SlackID: userID}
	if b.Directory == nil || userID == "" {
		return p
	}
	email, err := b.Directory.UserEmail(ctx, userID)
	if err != nil {
		b.Log.WarnContext(ctx, "look up Slack user's email", "user", userID, "err", err)
		return p
	}
	p.Email = email
	return p
}

// tracer is Tracer, or a noop one.
func (b *Bot) tracer() trace.Tracer {
	if b.Tracer == nil {
		return noop.Tracer{}
	}
	return b.Tracer
}

// background runs fn after Slack was answered, bounded and recovered,
// in a span "bot WHAT" that continues the trace of parent (the request
// that called for it) and outlives it.
func (b *Bot) background(parent context.Context, what string, fn func(ctx context.Context)) {
	parentSpan := trace.SpanFromContext(parent)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		select {
		case b.slots <- struct{}{}:
		case <-time.After(30 * time.Second):
			b.Log.ErrorContext(parent, "background work dropped: too much in flight", "what", what)
			return
		}
		defer func() { <-b.slots }()
		defer func() {
			if p := recover(); p != nil {
				b.Log.ErrorContext(parent, "background work panicked", "what", what, "panic", fmt.Sprint(p))
			}
		}()
		ctx, cancel := context.WithTimeout(trace.ContextWithSpan(context.Background(), parentSpan), time.Minute)
		defer cancel()
		if parentSpan.SpanContext().IsValid() {
			var span trace.Span
			ctx, span = b.tracer().Start(ctx, "bot "+what)
			defer span.End()
		}
		fn(ctx)
	}()
}

// respond runs work and answers with its reply: in the HTTP response when
// it is quick, otherwise with an acknowledgement now and the reply through
// response_url once it is done.
func (b *Bot) respond(ctx context.Context, w http.ResponseWriter, responseURL, what string, work func(ctx context.Context) workflows.Reply) {
	reply, ok := b.within(ctx, what, responseURL, work)
	if !ok {
		b.writeWorking(w)
		return
	}
	b.writeReply(w, reply)
}

// writeReply answers an HTTP request from Slack with reply (200 and
// nothing when the reply is empty).
func (b *Bot) writeReply(w http.ResponseWriter, reply workflows.Reply) {
	if empty(reply) {
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, b.webhook(reply))
}

// writeWorking acknowledges a request whose reply will come through
// response_url.
func (b *Bot) writeWorking(w http.ResponseWriter) {
	writeJSON(w, b.webhook(workflows.Reply{Message: workflows.Message{Text: "Working on it…"}}))
}

// within runs work in the background and waits up to AckWithin for it.
// It returns the reply when it came in time; otherwise ok is false, and
// the work posts its reply to responseURL when it is done.
func (b *Bot) within(ctx context.Context, what, responseURL string, work func(ctx context.Context) workflows.Reply) (reply workflows.Reply, ok bool) {
	return b.withinOr(ctx, what, work, func(ctx context.Context, reply workflows.Reply) {
		b.postResponse(ctx, responseURL, reply)
	})
}

// withinOr is within with what to do with a reply that came too late.
func (b *Bot) withinOr(ctx context.Context, what string, work func(ctx context.Context) workflows.Reply, late func(ctx context.Context, reply workflows.Reply)) (reply workflows.Reply, ok bool) {
	h := &handoff{ready: make(chan struct{})}
	b.background(ctx, what, func(ctx context.Context) {
		reply := work(ctx)
		if h.deliver(reply) {
			return
		}
		late(ctx, reply)
	})
	t := time.NewTimer(AckWithin)
	defer t.Stop()
	select {
	case <-h.ready:
	case <-t.C:
	}
	return h.take()
}

// handoff passes a reply from background work to the HTTP handler, or
// tells the work that the handler has answered already.
type handoff struct {
	mu    sync.Mutex
	reply *workflows.Reply
	acked bool
	ready chan struct{}
}

// deliver hands the reply over; false means the handler answered without
// it and the work must post it itself.
func (h *handoff) deliver(r workflows.Reply) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.acked {
		return false
	}
	h.reply = &r
	close(h.ready)
	return true
}

// take returns the reply if it arrived; otherwise it marks the request as
// acknowledged so the work posts its reply later.
func (h *handoff) take() (workflows.Reply, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reply != nil {
		return *h.reply, true
	}
	h.acked = true
	return workflows.Reply{}, false
}

func (b *Bot) webhook(reply workflows.Reply) *slack.WebhookMessage {
	msg := b.Render.Reply(reply)
	out := &slack.WebhookMessage{ResponseType: msg.ResponseType, Text: msg.Text}
	if len(msg.Blocks.BlockSet) > 0 {
		out.Blocks = &msg.Blocks
	}
	return out
}

// postResponse answers through a response_url.
func (b *Bot) postResponse(ctx context.Context, url string, reply workflows.Reply) {
	if url == "" || empty(reply) {
		return
	}
	if err := slack.PostWebhookCustomHTTPContext(ctx, url, b.HTTP, b.webhook(reply)); err != nil {
		b.Log.ErrorContext(ctx, "answer through response_url", "err", err)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// empty reports a reply with nothing to say, such as after opening a modal.
func empty(r workflows.Reply) bool {
	return r.Title == "" && r.Text == "" && len(r.Fields) == 0 && len(r.Actions) == 0
}
