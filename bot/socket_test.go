package bot

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

// logCounter is a slog handler that counts records by message, so a test
// can tell how many times a handler really ran.
type logCounter struct {
	mu    *sync.Mutex
	count map[string]int
}

func (h logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h logCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.count[r.Message]++
	h.mu.Unlock()
	return nil
}
func (h logCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logCounter) WithGroup(string) slog.Handler      { return h }

func (h logCounter) n(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count[msg]
}

type socketEnv struct {
	fake  *slackfake.Server
	bot   *Bot
	logs  logCounter
	alice slackfake.User
	room  slackfake.Channel
	msgTS string
	done  chan error
}

func startSocket(t *testing.T) *socketEnv {
	t.Helper()
	return startSocketWith(t, nil, nil)
}

// startSocketTraced is startSocket with the bot's spans made by tracer.
func startSocketTraced(t *testing.T, tracer trace.Tracer) *socketEnv {
	t.Helper()
	return startSocketWith(t, tracer, nil)
}

// startSocketWith is startSocket with the bot's spans made by tracer
// (when set) and the bot changed by configure (when set) before it runs.
func startSocketWith(t *testing.T, tracer trace.Tracer, configure func(b *Bot)) *socketEnv {
	t.Helper()
	clock := workflows.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	fake := slackfake.Start(slackfake.Options{Clock: clock.Now, SocketPing: 200 * time.Millisecond})
	t.Cleanup(fake.Close)
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "opsbot.db"), store.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &socketEnv{fake: fake, logs: logCounter{mu: &sync.Mutex{}, count: map[string]int{}}, done: make(chan error, 1)}
	log := slog.New(e.logs)
	e.bot = (&Bot{
		Servers: &workflows.Servers{Store: db, Clock: clock, Catalog: &workflows.Catalog{}, Log: log},
		Store:   db, Clock: clock, Render: slackout.Renderer{}, Log: log, HTTP: http.DefaultClient, Tracer: tracer,
	}).Init(Options{})
	if configure != nil {
		configure(e.bot)
	}
	// Socket Mode events are handled from the outbox: a runner works it
	// whenever the bot says something was queued.
	runner := &workflows.Runner{Queue: db, Clock: clock, Log: log, Owner: "test",
		Handlers: map[string]workflows.JobHandler{JobEvent: e.bot.EventJob}}
	var runs sync.WaitGroup
	e.bot.Wake = func() {
		runs.Add(1)
		go func() {
			defer runs.Done()
			if _, err := runner.RunDue(context.Background()); err != nil {
				t.Errorf("run jobs: %v", err)
			}
		}()
	}
	t.Cleanup(runs.Wait)
	e.alice = fake.AddUser(slackfake.User{Name: "alice", Email: "alice@example.com"})
	e.room = fake.AddChannel(slackfake.Channel{Name: "ops-room", Members: []string{fake.BotUserID(), e.alice.ID}})
	out := slackout.New(fake.Token(), slackout.Options{APIURL: fake.APIURL(), Clock: clock.Now})
	ref, err := out.Post(ctx, workflows.Message{Channel: e.room.ID, Text: "srv-404 is yours",
		Actions: []workflows.Action{{ID: workflows.ActLeaseRelease, Label: "Release", Value: "srv-404"}}}, workflows.MessageRef{})
	if err != nil {
		t.Fatal(err)
	}
	e.msgTS = ref.TS

	rctx, cancel := context.WithCancel(ctx)
	go func() {
		e.done <- e.bot.RunSocketMode(rctx, fake.AppToken(), SocketConfig{APIURL: fake.APIURL(), ReconnectMin: 10 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-e.done:
			if err != nil {
				t.Errorf("RunSocketMode: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("RunSocketMode did not stop")
		}
		e.bot.Wait()
	})
	return e
}

// waitFor polls cond for up to 10 seconds of real time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *socketEnv) acked(t *testing.T, id string, acks int) {
	t.Helper()
	waitFor(t, "ack of "+id, func() bool {
		env, ok := e.fake.SocketEnvelope(id)
		return ok && env.Acks >= acks
	})
}

func (e *socketEnv) responsesContaining(s string) int {
	n := 0
	for _, r := range e.fake.Responses() {
		if strings.Contains(r.Text+string(r.Blocks), s) {
			n++
		}
	}
	return n
}

// round sends a command, a click and an event, and checks each was
// handled exactly once more, for n rounds so far.
func (e *socketEnv) round(t *testing.T, n int) (cmd, click, event string) {
	t.Helper()
	var err error
	if cmd, err = e.fake.SocketCommand(e.alice.ID, e.room.ID, "/ops", "help"); err != nil {
		t.Fatal(err)
	}
	e.acked(t, cmd, 1)
	env, _ := e.fake.SocketEnvelope(cmd)
	if !strings.Contains(string(env.AckPayload), "lease extend") {
		t.Fatalf("the help reply is not in the ack: %s", env.AckPayload)
	}
	// The fake marks the envelope acknowledged before it records the
	// ack's payload as the command's answer: wait for the answer.
	waitFor(t, "the help answer", func() bool { return e.responsesContaining("lease extend") >= n })
	if got := e.responsesContaining("lease extend"); got != n {
		t.Fatalf("help shown %d times after round %d", got, n)
	}
	if click, err = e.fake.SocketClick(slackfake.Click{User: e.alice.ID, Channel: e.room.ID, MessageTS: e.msgTS,
		ActionID: workflows.ActLeaseRelease, Value: "srv-404"}); err != nil {
		t.Fatal(err)
	}
	e.acked(t, click, 1)
	waitFor(t, "the click's answer", func() bool { return e.responsesContaining("There is no server srv-404") == n })
	if event, err = e.fake.SocketEvent(map[string]any{"type": "app_mention", "user": e.alice.ID, "text": "hi", "channel": e.room.ID}); err != nil {
		t.Fatal(err)
	}
	e.acked(t, event, 1)
	waitFor(t, "the event handled", func() bool { return e.logs.n("event") == n })
	if c, b := e.logs.n("slash command"), e.logs.n("button"); c != n || b != n {
		t.Fatalf("after round %d: %d commands, %d clicks handled", n, c, b)
	}
	return cmd, click, event
}

func (e *socketEnv) connections(t *testing.T, opened int) {
	t.Helper()
	waitFor(t, "connection", func() bool {
		o, open := e.fake.SocketConnections()
		return o == opened && open == 1
	})
}

// Each Socket Mode envelope is a trace of its own: a server span named
// by its type, with the bot's work on it as a child.
func TestSocketMode_EachEnvelopeASpan(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(mem))
	e := startSocketTraced(t, tp.Tracer("test"))
	e.connections(t, 1)
	e.round(t, 1)
	e.bot.Wait()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range mem.GetSpans() {
		byName[s.Name] = s
	}
	for _, name := range []string{"socket slash_commands", "socket interactive", "socket events_api"} {
		s, ok := byName[name]
		if !ok {
			t.Errorf("no span %q; spans: %v", name, byName)
			continue
		}
		if s.Parent.IsValid() || s.SpanKind != trace.SpanKindServer {
			t.Errorf("%s: parent %v, kind %v; want a server root", name, s.Parent, s.SpanKind)
		}
	}
	work, ok := byName["bot /ops"]
	if !ok || work.Parent.SpanID() != byName["socket slash_commands"].SpanContext.SpanID() {
		t.Errorf("bot /ops span %v is not the envelope's child", work.Parent)
	}
	if click, ok := byName["bot click"]; !ok || click.Parent.SpanID() != byName["socket interactive"].SpanContext.SpanID() {
		t.Errorf("bot click span %v is not the envelope's child", click.Parent)
	}
}

func TestSocketMode_EachRequestOnceAcrossReconnects(t *testing.T) {
	e := startSocket(t)
	e.connections(t, 1)
	e.round(t, 1)

	if err := e.fake.SocketDisconnect("refresh_requested"); err != nil {
		t.Fatal(err)
	}
	e.connections(t, 2)
	cmd, click, event := e.round(t, 2)

	e.fake.SocketDrop() // a NAT forgot the connection: no close frame
	e.connections(t, 3)
	e.round(t, 3)

	// Slack re-sends envelopes it thinks were not acknowledged: each is
	// acknowledged again, with nothing. The click and the event are
	// handled no more; the command, a read (help), is read again and
	// finds its envelope recorded, so its answer is not given twice.
	for _, id := range []string{cmd, click, event} {
		if err := e.fake.SocketRedeliver(id); err != nil {
			t.Fatal(err)
		}
		e.acked(t, id, 2)
	}
	waitFor(t, "redeliveries logged", func() bool { return e.logs.n("ignored re-delivered Socket Mode envelope") == 3 })
	if got := e.responsesContaining("lease extend"); got != 3 {
		t.Fatalf("a re-delivered read was answered again: %d answers to 3 commands", got)
	}

	// An ack lost on the way: the command (one that is not a read) is
	// handled, Slack keeps it as unacknowledged and re-delivers it on
	// the next connection, where it is acknowledged and handled no more.
	handled := e.logs.n("slash command")
	e.fake.SetSocketLoseAcks(true)
	lost, err := e.fake.SocketCommand(e.alice.ID, e.room.ID, "/ops", "lease extend srv-404 1d")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the command handled", func() bool { return e.logs.n("slash command") == handled+1 })
	time.Sleep(50 * time.Millisecond) // let its ack be lost
	e.fake.SetSocketLoseAcks(false)
	if err := e.fake.SocketDisconnect("link_disabled"); err != nil {
		t.Fatal(err)
	}
	e.connections(t, 4)
	e.acked(t, lost, 1)
	if env, _ := e.fake.SocketEnvelope(lost); env.Deliveries != 2 {
		t.Fatalf("lost-ack envelope delivered %d times, want 2", env.Deliveries)
	}
	waitFor(t, "redelivery logged", func() bool { return e.logs.n("ignored re-delivered Socket Mode envelope") == 4 })
	if c, b, ev := e.logs.n("slash command"), e.logs.n("button"), e.logs.n("event"); c != handled+1 || b != 3 || ev != 3 {
		t.Fatalf("handled %d commands (want %d), %d clicks, %d events (want 3, 3)", c, handled+1, b, ev)
	}
	if got := e.responsesContaining("lease extend"); got != 3 {
		t.Fatalf("help answered %d times for 3 commands and a re-delivery", got)
	}
}

// A command that only reads, over Socket Mode, is answered in its ack
// with one store commit (its envelope and trigger recorded), as over
// HTTP: no backstop job and no second write to mark it handled.
func TestSocketMode_ReadsCommitOnce(t *testing.T) {
	var mu sync.Mutex
	var commits int
	e := startSocketWith(t, nil, func(b *Bot) {
		b.Intake = &workflows.GroupCommit{Store: b.Store, Committed: func(int) { mu.Lock(); commits++; mu.Unlock() }}
	})
	e.connections(t, 1)
	for i, text := range []string{"help", "servers", "nonsense"} {
		id, err := e.fake.SocketCommand(e.alice.ID, e.room.ID, "/ops", text)
		if err != nil {
			t.Fatal(err)
		}
		e.acked(t, id, 1)
		e.bot.Wait()
		mu.Lock()
		n := commits
		mu.Unlock()
		if n != i+1 {
			t.Fatalf("/ops %s: %d commits after %d commands, want one each", text, n, i+1)
		}
		if env, _ := e.fake.SocketEnvelope(id); len(env.AckPayload) == 0 {
			t.Fatalf("/ops %s: no answer in the ack", text)
		}
	}
}

func TestSocketMode_WrongAppTokenStops(t *testing.T) {
	fake := slackfake.Start(slackfake.Options{})
	defer fake.Close()
	b := (&Bot{Clock: workflows.SystemClock{}, Log: slog.New(slog.DiscardHandler)}).Init(Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := b.RunSocketMode(ctx, "xapp-not-the-one", SocketConfig{APIURL: fake.APIURL()})
	if err == nil || !strings.Contains(err.Error(), "invalid_auth") || ctx.Err() != nil {
		t.Fatalf("err = %v", err)
	}
	if err := b.RunSocketMode(ctx, fake.Token(), SocketConfig{APIURL: fake.APIURL()}); err == nil || !strings.Contains(err.Error(), "xapp-") {
		t.Fatalf("bot token accepted as app token: %v", err)
	}
}
