package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

// killer sees every store commit and every outside call (Slack, EC2,
// PagerDuty, Notion) an App makes, counts them, and at the chosen one
// kills the App: the commit or call happens, then everything after it
// fails (writes are refused, calls are not made, and the call that was
// made is answered with an error, as when the process dies before it
// hears back). Reads still work: a dead process changes nothing.
type killer struct {
	mu sync.Mutex
	at int // the event after which the App dies; 0: never
	// match, when set, kills the App after the first event whose name
	// contains it (for a test about one crash point).
	match string
	// when, when set, kills the App after the first event at which it
	// reports true (see dieWhen).
	when   func(what string) bool
	n      int // events so far
	dead   bool
	events []string
}

var errKilled = errors.New("process killed (crash test)")

func (k *killer) event(what string) {
	k.mu.Lock()
	when := k.when
	k.mu.Unlock()
	hit := when != nil && when(what) // outside mu: it may read the store
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return
	}
	k.n++
	k.events = append(k.events, what)
	if k.n == k.at || (k.match != "" && strings.Contains(what, k.match)) || hit {
		k.dead = true
	}
}

// dieWhen arms the killer to kill the App after the first event at which
// when (given the event's name) is true.
func (k *killer) dieWhen(when func(what string) bool) {
	k.mu.Lock()
	k.when = when
	k.mu.Unlock()
}

func (k *killer) isDead() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.dead
}

// revive disarms the killer for the App that replaces the dead one.
func (k *killer) revive() {
	k.mu.Lock()
	k.dead, k.at, k.match, k.when = false, 0, "", nil
	k.mu.Unlock()
}

func (k *killer) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return rtFunc(func(r *http.Request) (*http.Response, error) {
		if k.isDead() {
			return nil, errKilled
		}
		resp, err := next.RoundTrip(r)
		if err != nil {
			return resp, err
		}
		k.event(r.Method + " " + r.URL.Host + r.URL.Path)
		if k.isDead() {
			resp.Body.Close()
			return nil, errKilled
		}
		return resp, nil
	})
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// wire puts the killer between the App and its store and outside calls.
func (k *killer) wire(d *Deps) {
	d.StoreOptions = append(d.StoreOptions, store.WithWriteHook(func(what string, committed bool) error {
		if !committed {
			if k.isDead() {
				return errKilled
			}
			return nil
		}
		if what != "claim" { // a claim alone changes nothing anyone sees
			k.event("store " + what)
		}
		return nil
	}))
	base := http.DefaultTransport
	if d.SlackHTTP != nil && d.SlackHTTP.Transport != nil {
		base = d.SlackHTTP.Transport
	}
	d.SlackHTTP = &http.Client{Transport: k.RoundTrip(base), Timeout: 30 * time.Second}
	d.HTTP = &http.Client{Transport: k.RoundTrip(http.DefaultTransport), Timeout: 30 * time.Second}
	cfg := d.AWSConfig.Copy()
	cfg.HTTPClient = &http.Client{Transport: k.RoundTrip(http.DefaultTransport), Timeout: 30 * time.Second}
	d.AWSConfig = &cfg
}

// crashRun drives one workflow on a harness whose App may be killed, and
// restarts and resumes it when it is.
type crashRun struct {
	t        testing.TB
	h        *harness
	k        *killer
	restarts int
	// answered holds the PagerDuty events redelivered after a restart.
	answered map[string]bool
}

// resumeAfter is how long a restarted opsbot waits before its work
// resumes here: past the job lease, so the dead App's claims run out.
const resumeAfter = 150 * time.Second

// recover restarts a dead App on the same database and lets it resume.
func (c *crashRun) recover() {
	if !c.k.isDead() {
		return
	}
	c.restarts++
	c.h.srv.Close()
	c.h.app.Bot.Wait()
	c.h.app.Close()
	c.k.revive()
	c.h.boot()
	c.h.clock.Advance(resumeAfter)
	c.redeliver()
	c.ticks()
	c.jobs()
}

// intake sends a Slack request; if the App died handling it, the same
// request comes again after the restart, as Slack's retry would.
func (c *crashRun) intake(req *http.Request, err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatalf("build Slack request: %v", err)
	}
	body, _ := io.ReadAll(req.Body)
	for try := 0; try < 2; try++ {
		r := req.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.URL, _ = r.URL.Parse(c.h.srv.URL + req.URL.Path)
		r.Host = ""
		_, _ = c.h.slack.Deliver(context.Background(), c.h.srv.Client(), r)
		c.h.app.Bot.Wait()
		if !c.k.isDead() {
			return
		}
		c.recover()
	}
}

// jobs runs due jobs until none is left, restarting the App if it dies.
func (c *crashRun) jobs() {
	for i := 0; i < 200; i++ {
		n, _ := c.h.app.Runner.RunDue(context.Background())
		if c.k.isDead() {
			c.recover()
			continue
		}
		if n > 0 {
			continue
		}
		// A job a rate limit put back for its slot is waited for, as the
		// harness's drain does.
		at, ok, err := c.h.app.DB.NextDeferred(context.Background(), c.h.clock.Now())
		if err != nil || !ok || at.Sub(c.h.clock.Now()) > 90*time.Second {
			return
		}
		c.h.clock.Set(at)
	}
	c.t.Fatal("jobs keep coming")
}

// advance moves the clock and runs the scheduler's ticks and the jobs.
func (c *crashRun) advance(d time.Duration) {
	c.h.clock.Advance(d)
	_, _ = c.h.app.Servers.Tick(context.Background())
	c.recover()
	if c.h.app.Incidents != nil {
		_, _ = c.h.app.Incidents.Tick(context.Background())
		c.recover()
	}
	c.jobs()
}

// serverWorkflow: request → approval → launch → warning → end.
func serverWorkflow(c *crashRun) {
	c.intake(c.h.slack.SlashCommand(testSecret, dev, "general", "/ops", "server request build-box for 1d crash test"))
	c.jobs()
	var approve slackfake.Message
	for _, m := range c.h.channelMessages("platform-approvals") {
		if strings.Contains(string(m.Blocks), workflows.ActApprove) {
			approve = m
		}
	}
	if approve.TS == "" {
		c.t.Fatalf("no approval message to click (restarts %d)", c.restarts)
	}
	apr := approvalID(c.t, approve)
	c.intake(c.h.slack.BlockAction(testSecret, slackfake.Click{User: lead, Channel: approve.Channel, MessageTS: approve.TS, ActionID: workflows.ActApprove, Value: apr}))
	c.jobs()
	for i := 0; i < 4; i++ {
		c.advance(11 * time.Second) // the fake EC2 needs 20s to run it
	}
	c.advance(23 * time.Hour) // the 1h warning
	c.advance(2 * time.Hour)  // past the end and its grace: stopped
}

func approvalID(t testing.TB, m slackfake.Message) string {
	i := strings.Index(string(m.Blocks), "apr-")
	if i < 0 {
		t.Fatalf("no approval ID in %s", m.Blocks)
	}
	j := i + 4
	for j < len(m.Blocks) && m.Blocks[j] >= '0' && m.Blocks[j] <= '9' {
		j++
	}
	return string(m.Blocks[i:j])
}

// worldOutcome is what a workflow leaves in the world, counted: what must be
// there exactly once whatever crashed on the way.
func worldOutcome(t testing.TB, h *harness) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, ch := range h.slack.Channels() {
		msgs := h.slack.Messages(ch.ID)
		for _, m := range msgs {
			out["messages in "+ch.Name+" "+firstLine(m)]++
			if m.Pinned {
				out["pins in "+ch.Name]++
			}
		}
	}
	for _, u := range []string{dev, lead, lead2, dev2} {
		for _, m := range h.slack.DMs(u) {
			out["DMs to "+u+" "+firstLine(m)]++
		}
	}
	res, err := h.adminEC2().DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Reservations {
		for _, i := range r.Instances {
			// Settled: a stop in flight when the run ended is a stop.
			state := map[string]string{"pending": "running", "stopping": "stopped", "shutting-down": "terminated"}[string(i.State.Name)]
			if state == "" {
				state = string(i.State.Name)
			}
			out["instances "+state]++
		}
	}
	for _, r := range h.requests() {
		out["request "+string(r.State)]++
	}
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) error {
		es, err := tx.Ledger(workflows.LedgerFilter{})
		for _, e := range es {
			out[fmt.Sprintf("ledger %s %s", e.Kind, e.RequestID)]++
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// firstLine names a message by its title, with digits dropped: times in
// it move with the restarts.
func firstLine(m slackfake.Message) string {
	s := m.Text
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	s = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, s)
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

func outcomeDiff(want, got map[string]int) []string {
	var out []string
	for k, w := range want {
		if g := got[k]; g != w {
			out = append(out, fmt.Sprintf("%s: %d, want %d", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%s: %d, want 0", k, g))
		}
	}
	sort.Strings(out)
	return out
}

// TestCrashAtEveryStep_ServerLifecycle runs the server workflow once to
// count its crash points (store commits and outside calls), then once
// per point with opsbot killed right after it, restarted on the same
// database and resumed. Every run must end as the uncrashed one did:
// every message, pin, instance, request state and ledger entry exactly
// once. To keep CI short it runs every eighth point (every one
// with OPSBOT_CRASH_STEP=1).
func TestCrashAtEveryStep_ServerLifecycle(t *testing.T) {
	runWorkflow := func(at int) (*crashRun, map[string]int) {
		k := &killer{at: at}
		h := newCrashHarness(t, k)
		c := &crashRun{t: t, h: h, k: k}
		serverWorkflow(c)
		return c, worldOutcome(t, h)
	}
	base, want := runWorkflow(0)
	points := base.k.n
	t.Logf("server lifecycle: %d crash points; outcome %v", points, want)
	step := crashStep(8)
	covered, bad := 0, 0
	for at := 1; at <= points; at += step {
		c, got := runWorkflow(at)
		covered++
		if d := outcomeDiff(want, got); len(d) > 0 {
			bad++
			t.Errorf("killed after point %d (%s), %d restart(s): %v", at, base.k.events[at-1], c.restarts, d)
		}
	}
	t.Logf("server lifecycle: %d of %d crash points run, %d ended differently", covered, points, bad)
}

// crashStep is OPSBOT_CRASH_STEP, or def: CI runs every def-th crash
// point (each run boots a world and takes seconds under -race on a
// loaded machine); set it to 1 to run them all.
func crashStep(def int) int {
	if n, err := strconv.Atoi(os.Getenv("OPSBOT_CRASH_STEP")); err == nil && n > 0 {
		return n
	}
	return def
}

// crashPoints are the crash points a run kills at: every step-th of
// points, or only those OPSBOT_CRASH_AT lists ("12,40"), to look into
// one.
func crashPoints(points, step int) []int {
	var out []int
	if at := os.Getenv("OPSBOT_CRASH_AT"); at != "" {
		for _, f := range strings.Split(at, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n >= 1 && n <= points {
				out = append(out, n)
			}
		}
		return out
	}
	for at := 1; at <= points; at += step {
		out = append(out, at)
	}
	return out
}

// newCrashHarness is newHarness with the killer wired into every App it
// boots.
func newCrashHarness(t testing.TB, k *killer) *harness {
	t.Helper()
	h := newUnbootedHarness(t)
	h.crash = k
	h.boot()
	return h
}
