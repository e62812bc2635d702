package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/config"
	"github.com/opsbot/opsbot/sandbox"
	"github.com/opsbot/opsbot/workflows"
)

// runningSandbox is `opsbot sandbox` started by a test on a random
// loopback port, with the real App built by bootSandbox.
type runningSandbox struct {
	t   *testing.T
	sb  *sandbox.Sandbox
	url string
}

func startSandbox(t *testing.T) *runningSandbox {
	t.Helper()
	began := workflows.SystemClock{}.Now()
	ln, err := listenLoopback("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if os.Getenv("OPSBOT_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.New(ctx, sandbox.Options{BaseURL: url, DB: filepath.Join(t.TempDir(), "sandbox.db"), Boot: bootSandbox, Log: log, Clock: sandboxWallClock(t)})
	if err != nil {
		cancel()
		t.Fatalf("start sandbox: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- sb.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sandbox stopped with: %v", err)
		}
	})
	rs := &runningSandbox{t: t, sb: sb, url: url}
	rs.eventually("the page is served", 5*time.Second, func() (bool, string) {
		resp, err := http.Get(url + "/")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	t.Logf("sandbox started in %s at %s", workflows.SystemClock{}.Now().Sub(began).Round(time.Millisecond), url)
	return rs
}

// sandboxWallClock is the wall clock the sandbox under test runs on: the
// system's, or, with OPSBOT_TEST_SANDBOX_AT=2026-12-31T23:50:00Z, one that
// starts at that instant and runs on from it. The sandbox starts at the
// time of day the tests happen to run; this runs them at the hours and
// dates that matter (a month's end, midnight UTC, a DST change) on demand.
func sandboxWallClock(t *testing.T) workflows.Clock {
	at := os.Getenv("OPSBOT_TEST_SANDBOX_AT")
	if at == "" {
		return workflows.SystemClock{}
	}
	start, err := time.Parse(time.RFC3339, at)
	if err != nil {
		t.Fatalf("OPSBOT_TEST_SANDBOX_AT: %v", err)
	}
	return wallFrom{off: start.Sub(time.Now())}
}

// wallFrom is the system clock moved by off.
type wallFrom struct{ off time.Duration }

func (w wallFrom) Now() time.Time { return time.Now().Add(w.off).UTC() }

// pageState is the part of /api/state the tests read.
type pageState struct {
	Channels []struct {
		ID, Name string
		IsIM     bool `json:"is_im"`
		Messages []struct {
			TS, Text, User string
			ThreadTS       string `json:"thread_ts"`
			Blocks         json.RawMessage
			Pinned         bool
			Reactions      []struct {
				Name  string
				Users []string
			}
			Files []struct{ ID, Name, Title, URL string }
		}
	}
	Ephemerals []struct {
		Channel, Text string
		Blocks        json.RawMessage
	}
	Instances []struct{ ID, State string }
	Incidents []struct{ ID, Status, Title string }
	Pages     []struct {
		Title  string
		Blocks []struct{ Type, Text string }
	}
}

func (rs *runningSandbox) state(user string) pageState {
	rs.t.Helper()
	resp, err := http.Get(rs.url + "/api/state?user=" + user)
	if err != nil {
		rs.t.Fatalf("get state: %v", err)
	}
	defer resp.Body.Close()
	var out struct{ State pageState }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		rs.t.Fatalf("decode state: %v", err)
	}
	return out.State
}

// act posts one page action and fails the test if the sandbox refuses.
func (rs *runningSandbox) act(path string, body map[string]any) map[string]any {
	rs.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(rs.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		rs.t.Fatalf("%s: %v", path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		rs.t.Fatalf("%s: decode answer: %v", path, err)
	}
	if out["ok"] != true {
		rs.t.Fatalf("%s %v: %v", path, body, out["error"])
	}
	return out
}

func (rs *runningSandbox) eventually(what string, timeout time.Duration, check func() (bool, string)) {
	rs.t.Helper()
	deadline := workflows.SystemClock{}.Now().Add(timeout)
	last := ""
	for (workflows.SystemClock{}).Now().Before(deadline) {
		ok, why := check()
		if ok {
			return
		}
		last = why
		time.Sleep(100 * time.Millisecond)
	}
	rs.t.Fatalf("%s: not within %s (last: %s)", what, timeout, last)
}

func channelNamed(st pageState, name string) (id string, text string) {
	for _, c := range st.Channels {
		if c.Name == name || (name == "dm" && c.IsIM) || (strings.HasSuffix(name, "*") && strings.HasPrefix(c.Name, strings.TrimSuffix(name, "*"))) {
			var b strings.Builder
			for _, m := range c.Messages {
				fmt.Fprintf(&b, "%s\n%s\n", m.Text, blockText(m.Blocks))
			}
			return c.ID, b.String()
		}
	}
	return "", ""
}

func TestSandboxConfig_IsValidAndMatchesExample(t *testing.T) {
	if _, err := config.Parse(sandbox.Config, "sandbox.yaml"); err != nil {
		t.Fatalf("the sandbox's sample config is invalid: %v", err)
	}
	ex, err := os.ReadFile("../../examples/sandbox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ex, sandbox.Config) {
		t.Error("examples/sandbox.yaml and sandbox/sandbox.yaml differ: copy one over the other")
	}
}

func TestListenLoopback_RefusesOtherAddresses(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0"} {
		if ln, err := listenLoopback(addr); err == nil {
			ln.Close()
			t.Errorf("listenLoopback(%q) listened; want a refusal", addr)
		}
	}
	ln, err := listenLoopback("[::1]:0")
	if err == nil {
		ln.Close()
	} else if _, ok := err.(*net.OpError); !ok && !strings.Contains(err.Error(), "listen on") {
		t.Errorf("listenLoopback([::1]:0) refused: %v", err)
	}
}

// TestSandbox_FullFlowThroughTheAPI drives the page's JSON API the way
// the page does: a developer's request, an approver's click, the lease
// running out on the fast-forwarded clock, then a PagerDuty incident
// through to its post-mortem in Notion.
func TestSandbox_FullFlowThroughTheAPI(t *testing.T) {
	rs := startSandbox(t)
	general, _ := channelNamed(rs.state(sandbox.Dana), "general")
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Dana, "channel": general, "text": "/ops server request build-box for 1d load tests"})

	var approvals, ts string
	rs.eventually("the approval request in #platform-approvals", 10*time.Second, func() (bool, string) {
		st := rs.state(sandbox.Avery)
		for _, c := range st.Channels {
			if c.Name != "platform-approvals" {
				continue
			}
			approvals = c.ID
			for _, m := range c.Messages {
				if strings.Contains(string(m.Blocks), `"approval.approve"`) {
					ts = m.TS
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("ephemerals to Dana: %v", rs.state(sandbox.Dana).Ephemerals)
	})
	rs.act("/api/slack/click", map[string]any{"user": sandbox.Avery, "channel": approvals, "ts": ts, "action_id": "approval.approve"})

	instance := func(want string) func() (bool, string) {
		return func() (bool, string) {
			st := rs.state(sandbox.Dana)
			if len(st.Instances) == 1 && st.Instances[0].State == want {
				return true, ""
			}
			return false, fmt.Sprintf("instances %+v", st.Instances)
		}
	}
	rs.eventually("the instance launched", 15*time.Second, func() (bool, string) {
		return len(rs.state(sandbox.Dana).Instances) == 1, "no instance"
	})
	rs.act("/api/clock/advance", map[string]any{"duration": "10s"})
	rs.eventually("the instance running", 10*time.Second, instance("running"))

	rs.act("/api/clock/advance", map[string]any{"duration": "1d"})
	rs.eventually("the lease warning in Dana's DMs", 10*time.Second, func() (bool, string) {
		_, dm := channelNamed(rs.state(sandbox.Dana), "dm")
		return strings.Contains(dm, "srv-") && strings.Contains(strings.ToLower(dm), "lease"), dm
	})
	_, dm := channelNamed(rs.state(sandbox.Dana), "dm")
	t.Logf("Dana's DMs after +1 day:\n%s", dm)
	rs.act("/api/clock/advance", map[string]any{"duration": "1h"})
	rs.act("/api/clock/advance", map[string]any{"duration": "1m"})
	rs.eventually("the instance stopped", 10*time.Second, instance("stopped"))

	out := rs.act("/api/pagerduty/trigger", map[string]any{"user": sandbox.Omar, "service": "PCHKOUT1", "text": "Checkout latency above 2s"})
	incident, _ := out["incident"].(string)
	rs.eventually("the incident channel with its pinned summary", 15*time.Second, func() (bool, string) {
		for _, c := range rs.state(sandbox.Omar).Channels {
			for _, m := range c.Messages {
				if strings.HasPrefix(c.Name, "inc-") && m.Pinned {
					return true, ""
				}
			}
		}
		return false, "no inc-* channel with a pinned message"
	})
	incChannel, summary := channelNamed(rs.state(sandbox.Omar), "inc-*")
	t.Logf("incident channel:\n%s", summary)

	// A person's message, marked 📌 by someone else, goes on the timeline;
	// a reply in its thread stays in the thread.
	const rollback = "Rolled back deploy 42; latency is dropping"
	posted := rs.act("/api/slack/message", map[string]any{"user": sandbox.Omar, "channel": incChannel, "text": rollback})
	rs.act("/api/slack/react", map[string]any{"user": sandbox.Avery, "channel": incChannel, "ts": posted["ts"], "reaction": "pushpin"})
	rs.act("/api/slack/message", map[string]any{"user": sandbox.Dana, "channel": incChannel, "thread_ts": posted["ts"], "text": "Confirmed on the dashboards"})
	marked, reply := false, false
	for _, c := range rs.state(sandbox.Avery).Channels {
		for _, m := range c.Messages {
			marked = marked || c.ID == incChannel && m.TS == posted["ts"] && len(m.Reactions) == 1 &&
				m.Reactions[0].Name == "pushpin" && m.Reactions[0].Users[0] == sandbox.Avery
			reply = reply || c.ID == incChannel && m.ThreadTS == posted["ts"] && m.TS != posted["ts"] && m.User == sandbox.Dana
		}
	}
	if !marked || !reply {
		t.Fatalf("after reacting and replying: 📌 on the message %v, reply in its thread %v", marked, reply)
	}

	rs.act("/api/pagerduty/resolve", map[string]any{"user": sandbox.Omar, "incident": incident})
	rs.eventually("the post-mortem page in Notion, with the 📌 message on its timeline", 20*time.Second, func() (bool, string) {
		st := rs.state(sandbox.Omar)
		for _, p := range st.Pages {
			if !strings.Contains(p.Title, "Checkout latency") || len(p.Blocks) == 0 {
				continue
			}
			var text strings.Builder
			for _, b := range p.Blocks {
				text.WriteString(b.Text + "\n")
			}
			if strings.Contains(text.String(), rollback) && !strings.Contains(text.String(), "Confirmed on the dashboards") {
				return true, ""
			}
			return false, "post-mortem blocks:\n" + text.String()
		}
		return false, fmt.Sprintf("pages %+v, incidents %+v", st.Pages, st.Incidents)
	})
}

// lockedBuffer collects what runSandbox prints while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var readyLine = regexp.MustCompile(`open (http://[0-9.:]+)/ \(state in .*, started in (.*)\)`)

// startCommand runs `opsbot sandbox ARGS...` until the returned stop is
// called; it returns the URL the command printed.
func startCommand(t *testing.T, args ...string) (url, printed string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runSandbox(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), &out, testWriter{t})
	}()
	deadline := (workflows.SystemClock{}).Now().Add(10 * time.Second)
	for (workflows.SystemClock{}).Now().Before(deadline) {
		if m := readyLine.FindStringSubmatch(out.String()); m != nil {
			return m[1], out.String(), func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("opsbot sandbox stopped with: %v", err)
				}
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("opsbot sandbox %v ended early: %v\n%s", args, err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("opsbot sandbox %v printed no URL:\n%s", args, out.String())
	return "", "", nil
}

func sandboxAhead(t *testing.T, url string) (time.Duration, []string) {
	t.Helper()
	resp, err := http.Get(url + "/api/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Now, Wall time.Time
		State     struct{ Notes []string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Now.Sub(st.Wall), st.State.Notes
}

// TestRunSandbox_StartsFastAndKeepsItsClockAcrossRestarts runs the
// command itself: it prints its URL within two seconds; a restart on the
// same file keeps the fast-forwarded clock and says which fakes started
// over; --reset starts from scratch.
func TestRunSandbox_StartsFastAndKeepsItsClockAcrossRestarts(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sandbox.db")
	url, printed, stop := startCommand(t, "--db", db)
	m := readyLine.FindStringSubmatch(printed)
	took, err := time.ParseDuration(m[2])
	if err != nil || took > 2*time.Second {
		t.Errorf("start-up took %s (%v); want under 2s", m[2], err)
	}
	t.Logf("opsbot sandbox started in %s", took)
	rs := &runningSandbox{t: t, url: url}
	rs.act("/api/clock/advance", map[string]any{"duration": "1d"})
	general, _ := channelNamed(rs.state(sandbox.Dana), "general")
	said := rs.act("/api/slack/message", map[string]any{"user": sandbox.Dana, "channel": general, "text": "said before the restart"})
	rs.act("/api/slack/react", map[string]any{"user": sandbox.Sam, "channel": general, "ts": said["ts"], "reaction": "+1"})
	stop()

	url, _, stop = startCommand(t, "--db", db)
	ahead, notes := sandboxAhead(t, url)
	if ahead < 24*time.Hour-time.Second || ahead > 25*time.Hour {
		t.Errorf("after a restart the clock is %s ahead; want the day it was moved", ahead)
	}
	rs.url = url
	if id, text := channelNamed(rs.state(sandbox.Dana), "general"); id != general || !strings.Contains(text, "said before the restart") {
		t.Errorf("after a restart #general (%s, was %s) reads %q; want the message said before", id, general, text)
	}
	for _, c := range rs.state(sandbox.Dana).Channels {
		for _, m := range c.Messages {
			if m.TS == said["ts"] && (len(m.Reactions) != 1 || m.Reactions[0].Users[0] != sandbox.Sam) {
				t.Errorf("after a restart the message's reactions are %+v; want Sam's 👍", m.Reactions)
			}
		}
	}
	if len(notes) == 0 {
		t.Log("every fake restored its state (no notes)")
	} else {
		mustContain(t, "restart note", strings.Join(notes, " "), "--reset")
	}
	stop()

	url, _, stop = startCommand(t, "--db", db, "--reset")
	defer stop()
	if ahead, notes := sandboxAhead(t, url); ahead > time.Minute || len(notes) != 0 {
		t.Errorf("after --reset: clock %s ahead, notes %q; want a fresh start", ahead, notes)
	}
}
