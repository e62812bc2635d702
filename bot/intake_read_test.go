package bot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"

	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

// countingStore counts write transactions, and can die (every write
// fails, as after a process death) before or just after its next commit.
type countingStore struct {
	workflows.Store
	mu          sync.Mutex
	updates     int
	dead        bool
	dieAtCommit bool // the next write commits, then the process dies
}

func (s *countingStore) Update(ctx context.Context, fn func(workflows.Tx) error) error {
	s.mu.Lock()
	s.updates++
	dead, die := s.dead, s.dieAtCommit
	s.dieAtCommit = false
	s.mu.Unlock()
	if dead {
		return errDied
	}
	err := s.Store.Update(ctx, fn)
	if die {
		s.setDead(true)
		return errDied
	}
	return err
}

func (s *countingStore) setDead(d bool) {
	s.mu.Lock()
	s.dead = d
	s.mu.Unlock()
}

func (s *countingStore) writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updates
}

// blockingDirectory holds every email look-up until released: a slow
// Slack.
type blockingDirectory struct{ release chan struct{} }

func (d blockingDirectory) UserEmail(ctx context.Context, userID string) (string, error) {
	select {
	case <-d.release:
		return strings.ToLower(userID) + "@example.com", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// responses records what opsbot posts to a response_url.
type responses struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts []string
}

func startResponses(t *testing.T) *responses {
	t.Helper()
	r := &responses{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.posts = append(r.posts, string(body))
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *responses) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.posts...)
}

type readEnv struct {
	db    *store.DB
	cs    *countingStore
	bot   *Bot
	mux   *http.ServeMux
	clock *workflows.ManualClock
	resp  *responses
}

const readSecret = "s3cret"

func newReadEnv(t *testing.T, group bool) *readEnv {
	t.Helper()
	clock := workflows.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "opsbot.db"), store.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cs := &countingStore{Store: db}
	log := slog.New(slog.DiscardHandler)
	b := (&Bot{
		Servers: &workflows.Servers{Store: cs, Clock: clock, Catalog: &workflows.Catalog{}, Log: log},
		Store:   cs, Clock: clock, Secret: readSecret, Render: slackout.Renderer{}, Log: log, HTTP: http.DefaultClient,
	}).Init(Options{})
	if group {
		b.Intake = &workflows.GroupCommit{Store: cs}
	}
	mux := http.NewServeMux()
	b.Routes(mux)
	t.Cleanup(b.Wait)
	return &readEnv{db: db, cs: cs, bot: b, mux: mux, clock: clock, resp: startResponses(t)}
}

// command is a slash command as Slack posts it, signed at now; the same
// arguments give the same signature (a replay).
func (e *readEnv) command(command, text, user, trigger string) *http.Request {
	form := url.Values{
		"token": {"x"}, "team_id": {"T1"}, "channel_id": {"C1"}, "user_id": {user},
		"command": {command}, "text": {text}, "trigger_id": {trigger},
		"response_url": {e.resp.srv.URL + "/respond/" + trigger},
	}
	body := form.Encode()
	ts := fmt.Sprint(e.clock.Now().Unix())
	mac := hmac.New(sha256.New, []byte(readSecret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Slack-Request-Timestamp", ts)
	r.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return r
}

func (e *readEnv) send(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

// pendingJobs counts the jobs waiting, whenever due.
func (e *readEnv) pendingJobs(t *testing.T) []workflows.Job {
	t.Helper()
	jobs, err := e.db.Claim(context.Background(), e.clock.Now().Add(24*time.Hour), "count", time.Millisecond, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if err := e.db.Release(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	return jobs
}

func sigOf(r *http.Request) string { return r.Header.Get("X-Slack-Signature") }

// The read commands, from a person absent from opsbot's config (the
// catalog is empty): each is answered in the HTTP response, with one
// write (its signature recorded) and no backstop job; before, each took
// two (the take-in with its backstop, then the handled key and the
// cancel).
func TestReadCommand_OneWriteNoBackstop(t *testing.T) {
	reads := []struct{ command, text, want string }{
		{"/ops", "servers", "You have no servers"},
		{"/ops", "", "servers, leases and budgets"},
		{"/ops", "help", "servers, leases and budgets"},
		{"/ops", "costs", "Costs are not set up"},
		{"/ops", "audit", "audit log is not set up"},
		{"/ops", "server srv-1", "Server actions are not set up"},
		{"/ops", "run", "No runbooks are set up"},
		{"/ops", "approvals", "Nothing waits for your decision"},
		{"/ops", "servers please", "takes no arguments"},
		{"/ops", "lease extend 4h", "Name the server first"},
		{"/ops", "lease", "Say `extend` or `release`"},
		{"/ops", "frobnicate", "not an /ops command"},
		{"/incident", "help", "incidents"},
		{"/incident", "", "incidents"},
		{"/nope", "x", "does not know the command"},
	}
	e := newReadEnv(t, false)
	for i, c := range reads {
		req := e.command(c.command, c.text, "UNOBODY", fmt.Sprintf("t%d", i))
		if !readOnly(parsedCommand(t, req)) {
			t.Errorf("%s %q is not taken for a read", c.command, c.text)
			continue
		}
		before := e.cs.writes()
		w := e.send(req)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("%s %q: %d %s, want 200 with %q", c.command, c.text, w.Code, w.Body, c.want)
		}
		if n := e.cs.writes() - before; n != 1 {
			t.Errorf("%s %q: %d writes, want 1 (the take-in)", c.command, c.text, n)
		}
		if seen, err := workflows.Seen(context.Background(), e.db, "slack-request:"+sigOf(req)); err != nil || !seen {
			t.Errorf("%s %q: signature not recorded (%v)", c.command, c.text, err)
		}
	}
	if jobs := e.pendingJobs(t); len(jobs) != 0 {
		t.Errorf("%d jobs queued by read commands, want none: %v", len(jobs), jobs)
	}
	if p := e.resp.got(); len(p) != 0 {
		t.Errorf("posted to response_url: %v", p)
	}
}

// Commands that change state keep the path with a backstop.
func TestReadOnly_EffectfulCommandsAreNot(t *testing.T) {
	for _, c := range []struct{ command, text string }{
		{"/ops", "server request build-box"},
		{"/ops", "server request"}, // opens a form
		{"/ops", "lease extend srv-1 4h"},
		{"/ops", "lease extend"}, // opens a form
		{"/ops", "lease release srv-1"},
		{"/ops", "offboard <@U1>"},
		{"/ops", "run restart-web"}, // opens a form
		{"/incident", "declare db down sev2"},
		{"/incident", "declare"}, // opens a form
		{"/incident", "status resolved"},
		{"/incident", "update all good"},
		{"/incident", "postmortem"},
	} {
		if readOnly(slack.SlashCommand{Command: c.command, Text: c.text}) {
			t.Errorf("%s %q changes state but is taken for a read", c.command, c.text)
		}
	}
}

// A replayed read is refused: 200 with nothing, nothing queued, nothing
// posted.
func TestReadCommand_ReplayRefused(t *testing.T) {
	e := newReadEnv(t, true)
	req := e.command("/ops", "servers", "U1", "t1")
	body, _ := io.ReadAll(req.Body)
	replay := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(string(body)))
		r.Header = req.Header.Clone()
		return r
	}
	if w := e.send(replay()); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "You have no servers") {
		t.Fatalf("first delivery: %d %s", w.Code, w.Body)
	}
	e.clock.Advance(time.Minute)
	if w := e.send(replay()); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("replay: %d %q, want 200 and nothing", w.Code, w.Body)
	}
	if jobs := e.pendingJobs(t); len(jobs) != 0 {
		t.Errorf("jobs queued: %v", jobs)
	}
	if p := e.resp.got(); len(p) != 0 {
		t.Errorf("posted to response_url: %v", p)
	}
}

// Many deliveries of one signed read at once, batched together or not:
// exactly one is answered with the reply, the others get 200 and
// nothing.
func TestReadCommand_ConcurrentDeliveriesAnswerOnce(t *testing.T) {
	for _, group := range []bool{true, false} {
		e := newReadEnv(t, group)
		for round := range 5 {
			req := e.command("/ops", "servers", "U1", fmt.Sprintf("t%d", round))
			body, _ := io.ReadAll(req.Body)
			var answered, empty atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(string(body)))
					r.Header = req.Header.Clone()
					<-start
					w := e.send(r)
					switch {
					case w.Code == http.StatusOK && strings.Contains(w.Body.String(), "You have no servers"):
						answered.Add(1)
					case w.Code == http.StatusOK && w.Body.Len() == 0:
						empty.Add(1)
					default:
						t.Errorf("a delivery got %d %q", w.Code, w.Body)
					}
				}()
			}
			close(start)
			wg.Wait()
			if answered.Load() != 1 || empty.Load() != 11 {
				t.Errorf("group commit %v, round %d: %d answered, %d refused; want 1 and 11", group, round, answered.Load(), empty.Load())
			}
		}
		if jobs := e.pendingJobs(t); len(jobs) != 0 {
			t.Errorf("jobs queued: %v", jobs)
		}
	}
}

// A death before the take-in commits: no answer (503), nothing kept; the
// same request again after the restart is handled.
func TestReadCommand_DeathBeforeCommit(t *testing.T) {
	e := newReadEnv(t, true)
	req := e.command("/ops", "servers", "U1", "t1")
	body, _ := io.ReadAll(req.Body)
	again := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(string(body)))
		r.Header = req.Header.Clone()
		return r
	}
	e.cs.setDead(true)
	if w := e.send(again()); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("taken in by a dead store: %d %s", w.Code, w.Body)
	}
	e.cs.setDead(false)
	if seen, _ := workflows.Seen(context.Background(), e.db, "slack-request:"+sigOf(req)); seen {
		t.Fatal("the signature was kept though its write failed")
	}
	if w := e.send(again()); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "You have no servers") {
		t.Fatalf("after the restart: %d %s", w.Code, w.Body)
	}
	if jobs := e.pendingJobs(t); len(jobs) != 0 {
		t.Errorf("jobs queued: %v", jobs)
	}
}

// A death just after the take-in committed, before the answer: nothing
// was answered and nothing changed; no backstop answers later (there is
// no effect to finish), and a replay is refused.
func TestReadCommand_DeathAfterCommit(t *testing.T) {
	e := newReadEnv(t, true)
	req := e.command("/ops", "servers", "U1", "t1")
	body, _ := io.ReadAll(req.Body)
	again := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(string(body)))
		r.Header = req.Header.Clone()
		return r
	}
	e.cs.mu.Lock()
	e.cs.dieAtCommit = true
	e.cs.mu.Unlock()
	if w := e.send(again()); w.Code == http.StatusOK {
		t.Fatalf("answered 200 though the process died: %s", w.Body)
	}
	e.cs.setDead(false) // the restart
	if seen, _ := workflows.Seen(context.Background(), e.db, "slack-request:"+sigOf(req)); !seen {
		t.Fatal("the committed take-in is not there")
	}
	if jobs := e.pendingJobs(t); len(jobs) != 0 {
		t.Errorf("jobs queued: %v", jobs)
	}
	if w := e.send(again()); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("replay after the restart: %d %q", w.Code, w.Body)
	}
	if p := e.resp.got(); len(p) != 0 {
		t.Errorf("posted to response_url: %v", p)
	}
}

// A read slower than AckWithin (Slack slow to give the person's email):
// acknowledged in time, taken in with its backstop, and its reply
// posted once; the backstop is cancelled and does nothing.
func TestReadCommand_SlowReadAckedThenPostedOnce(t *testing.T) {
	e := newReadEnv(t, true)
	dir := blockingDirectory{release: make(chan struct{})}
	e.bot.Directory = dir
	req := e.command("/ops", "servers", "U1", "t1")
	w := e.send(req)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Working on it") {
		t.Fatalf("slow read: %d %s, want an acknowledgement", w.Code, w.Body)
	}
	if jobs := e.pendingJobs(t); len(jobs) != 1 || jobs[0].Kind != JobIntake {
		t.Fatalf("a slow read's backstop: %v", jobs)
	}
	close(dir.release)
	e.bot.Wait()
	if p := e.resp.got(); len(p) != 1 || !strings.Contains(p[0], "You have no servers") {
		t.Fatalf("posts to response_url: %v, want the reply once", p)
	}
	if jobs := e.pendingJobs(t); len(jobs) != 0 {
		t.Errorf("the backstop was not cancelled: %v", jobs)
	}
	if seen, _ := workflows.Seen(context.Background(), e.db, "slack-handled:"+sigOf(req)); !seen {
		t.Error("the slow read was not recorded as handled")
	}
}

// A slow read whose process dies after the acknowledgement, before its
// reply: nothing is posted then; after the restart, the backstop posts
// the reply, once.
func TestReadCommand_SlowReadDiesAfterAck_BackstopAnswersOnce(t *testing.T) {
	e := newReadEnv(t, true)
	dir := blockingDirectory{release: make(chan struct{})}
	e.bot.Directory = dir
	req := e.command("/ops", "servers", "U1", "t1")
	if w := e.send(req); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Working on it") {
		t.Fatalf("slow read: %d %s", w.Code, w.Body)
	}
	e.cs.setDead(true)
	close(dir.release)
	e.bot.Wait()
	if p := e.resp.got(); len(p) != 0 {
		t.Fatalf("posted though the process died before recording it: %v", p)
	}
	e.cs.setDead(false) // the restart
	e.clock.Advance(Backstop)
	jobs, err := e.db.Claim(context.Background(), e.clock.Now(), "restarted", time.Minute, 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("backstop after the restart: %v %v", jobs, err)
	}
	if err := e.bot.IntakeJob(context.Background(), jobs[0]); err != nil {
		t.Fatal(err)
	}
	if err := e.bot.IntakeJob(context.Background(), jobs[0]); err != nil { // run twice: a retried job
		t.Fatal(err)
	}
	if p := e.resp.got(); len(p) != 1 || !strings.Contains(p[0], "You have no servers") {
		t.Fatalf("posts to response_url: %v, want the reply once", p)
	}
}

func parsedCommand(t *testing.T, r *http.Request) slack.SlashCommand {
	t.Helper()
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	cmd, err := slack.SlashCommandParse(formRequest(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}
