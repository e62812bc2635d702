package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// pager changes the PagerDuty incident the way a person in PagerDuty
// would (the fake delivers the webhooks at once); if opsbot died
// handling one, the restarted one gets the deliveries it did not answer
// again, as PagerDuty retries them.
func (c *crashRun) pager(what string, fn func() error) {
	c.t.Helper()
	if err := fn(); err != nil {
		c.t.Fatalf("%s in PagerDuty: %v", what, err)
	}
	c.recover()
}

// redeliver sends PagerDuty's webhooks that opsbot did not answer with
// a 2xx again, once: what PagerDuty's retries do after a restart.
func (c *crashRun) redeliver() {
	if c.h.pd == nil {
		return
	}
	if c.answered == nil {
		c.answered = map[string]bool{}
	}
	for _, ev := range c.h.pd.Events() {
		if ev.Status/100 == 2 || c.answered[ev.ID] {
			continue
		}
		resp, err := c.h.srv.Client().Do(c.h.redirect(c.h.pd.WebhookRequest(ev)))
		if err != nil {
			c.t.Fatalf("redeliver PagerDuty event %s: %v", ev.ID, err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			c.t.Fatalf("redelivered PagerDuty event %s (%s): status %d", ev.ID, ev.Type, resp.StatusCode)
		}
		c.answered[ev.ID] = true
	}
}

// ticks runs the scheduler's ticks once, as the restarted scheduler
// does within its first minute.
func (c *crashRun) ticks() {
	_, _ = c.h.app.Servers.Tick(context.Background())
	if c.h.app.Incidents != nil {
		_, _ = c.h.app.Incidents.Tick(context.Background())
	}
}

// pinnedIn returns the pinned message of the channel named name.
func (c *crashRun) pinnedIn(name string) slackfake.Message {
	c.t.Helper()
	ch, ok := c.h.slack.Channel(name)
	if !ok {
		c.t.Fatalf("no channel %s (restarts %d)", name, c.restarts)
	}
	for _, m := range c.h.slack.Messages(ch.ID) {
		if m.Pinned {
			return m
		}
	}
	c.t.Fatalf("no pinned summary in %s (restarts %d)", name, c.restarts)
	return slackfake.Message{}
}

const (
	crashInc1 = "inc-1-checkout-latency-above-2s"
	crashInc2 = "inc-2-search-index-stale"
	crashInc3 = "inc-3-login-page-blank"
)

// pagerIncident is the ID of the PagerDuty incident titled title.
func (c *crashRun) pagerIncident(title string) string {
	c.t.Helper()
	for _, in := range c.h.pd.Incidents() {
		if in.Title == title {
			return in.ID
		}
	}
	c.t.Fatalf("no PagerDuty incident %q (restarts %d)", title, c.restarts)
	return ""
}

// incidentWorkflow: a PagerDuty trigger opens inc-1 (channel, invites,
// checklist, pinned summary, announcement); its update nag comes due;
// on-call acknowledges from the summary's button (opsbot changes
// PagerDuty, whose webhook echoes back), posts an update; PagerDuty
// resolves it (webhook); the post-mortem is written in Notion; an action
// item goes on it and its owner is reminded. Then inc-2 is declared in
// Slack (PagerDuty paged, its webhook attached by key), acknowledged in
// PagerDuty (webhook), resolved from the summary's Resolve button
// (PagerDuty resolved as the clicker) and gets its post-mortem; inc-3 is
// declared and cancelled (PagerDuty resolved with a note, no
// post-mortem). Margins between steps are wider than a restart's
// delay (resumeAfter), so a crash shifts no outcome past a due time.
func incidentWorkflow(c *crashRun) {
	h := c.h
	c.pager("trigger", func() error {
		_, err := h.pd.Trigger(pdService, "Checkout latency above 2s")
		return err
	})
	c.jobs()
	c.advance(70 * time.Minute) // sev2: an update nag after 1h

	sum := c.pinnedIn(crashInc1)
	c.intake(h.slack.BlockAction(testSecret, slackfake.Click{User: oncall, Channel: sum.Channel, MessageTS: sum.TS, ActionID: workflows.ActIncidentAck, Value: "inc-1"}))
	c.jobs()
	c.advance(10 * time.Minute)
	c.intake(h.slack.SlashCommand(testSecret, oncall, sum.Channel, "/incident", "update Rolled back release 4.2; error rate falling"))
	c.jobs()
	c.advance(10 * time.Minute)

	pdID := c.pagerIncident("Checkout latency above 2s")
	c.pager("resolve", func() error { return h.pd.Resolve(pdID, "PUONCALL") })
	c.jobs()
	c.advance(10 * time.Minute)
	c.intake(h.slack.SlashCommand(testSecret, oncall, sum.Channel, "/incident", "action Add a latency alert on checkout <@U0DEV|dev> due 2026-11-22"))
	c.jobs()

	c.intake(h.slack.SlashCommand(testSecret, dev, "general", "/incident", "declare Search index stale sev3"))
	c.jobs()
	c.advance(10 * time.Minute)
	pd2 := c.pagerIncident("Search index stale")
	c.pager("acknowledge", func() error { return h.pd.Acknowledge(pd2, "PUONCALL") })
	c.jobs()
	c.advance(10 * time.Minute)
	sum2 := c.pinnedIn(crashInc2)
	c.intake(h.slack.BlockAction(testSecret, slackfake.Click{User: dev, Channel: sum2.Channel, MessageTS: sum2.TS, ActionID: workflows.ActIncidentResolve, Value: "inc-2"}))
	c.jobs()

	c.intake(h.slack.SlashCommand(testSecret, dev, "general", "/incident", "declare Login page blank sev3"))
	c.jobs()
	c.advance(10 * time.Minute)
	ch3, ok := h.slack.Channel(crashInc3)
	if !ok {
		c.t.Fatalf("no channel %s (restarts %d)", crashInc3, c.restarts)
	}
	c.intake(h.slack.SlashCommand(testSecret, dev, ch3.ID, "/incident", "cancel the alert was for staging"))
	c.jobs()

	// The next day: inc-1's action item is past due (its owner is
	// reminded) and both incidents' meeting nags come.
	c.advance(26 * time.Hour)
}

// incidentOutcome is what the incident workflow leaves in the world,
// counted: channels and who is in them, every message (by its delivery
// key when it has one, else its first line; digits dropped, since times
// move with the restarts) and pin, DMs, Notion pages and their blocks,
// PagerDuty incidents with their log and notes, and opsbot's timelines.
func incidentOutcome(t testing.TB, h *harness) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, ch := range h.slack.Channels() {
		out["channel "+ch.Name]++
		if strings.HasPrefix(ch.Name, "inc-") {
			for _, u := range ch.Members {
				out["member of "+ch.Name+" "+u]++
			}
		}
		for _, m := range h.slack.Messages(ch.ID) {
			out["message in "+ch.Name+" "+messageName(m)]++
			if m.Pinned {
				out["pin in "+ch.Name+" "+messageName(m)]++
			}
		}
	}
	for _, u := range []string{dev, dev2, lead, lead2, oncall, sre, admin} {
		for _, m := range h.slack.DMs(u) {
			out["DM to "+u+" "+messageName(m)]++
		}
	}
	for _, p := range h.notion.Pages(h.dbID) {
		out["notion page "+p.Title]++
		for _, b := range h.notion.Blocks(p.ID) {
			out[fmt.Sprintf("notion block in %s %s %s", p.Title, b.Type, noDigits(b.Text, 60))]++
		}
	}
	for _, in := range h.pd.Incidents() {
		out["pagerduty incident "+in.Title+" "+in.Status]++
		for _, e := range in.Log {
			out["pagerduty log of "+in.Title+" "+e.Type]++
		}
		for _, n := range in.Notes {
			out["pagerduty note on "+in.Title+" "+noDigits(n.Content, 60)]++
		}
	}
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) error {
		incs, err := tx.Incidents(workflows.IncidentFilter{})
		if err != nil {
			return err
		}
		for _, inc := range incs {
			out[fmt.Sprintf("incident %s %s pd=%s page=%t", inc.ID, inc.Status, inc.PDStatus, inc.PostmortemPageID != "")]++
			tl, err := tx.Timeline(inc.ID)
			if err != nil {
				return err
			}
			for _, e := range tl {
				out[fmt.Sprintf("timeline of %s %s %s", inc.ID, e.Kind, noDigits(e.Text, 60))]++
			}
			acts, err := tx.Actions(inc.ID)
			if err != nil {
				return err
			}
			for _, a := range acts {
				out[fmt.Sprintf("action %s of %s done=%t", a.ID, inc.ID, a.Done())]++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// messageName names a message by its delivery key (opsbot's metadata)
// when it has one that says what it is, else by its first line.
func messageName(m slackfake.Message) string {
	var md struct {
		Payload struct {
			ID string `json:"id"`
		} `json:"event_payload"`
	}
	if json.Unmarshal(m.Metadata, &md) == nil && md.Payload.ID != "" && !strings.HasPrefix(md.Payload.ID, "m-") {
		return "key " + noDigits(md.Payload.ID, 60)
	}
	return "text " + firstLine(m)
}

// noDigits drops digits (times, Unix instants in keys) and cuts to n
// bytes.
func noDigits(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// incidentCrashStep is the CI sample of the incident workflow's crash
// points: every 32nd of about 370, 12 runs (a few seconds each under
// -race; the whole set is OPSBOT_CRASH_STEP=1).
const incidentCrashStep = 32

// TestCrashAtEveryStep_IncidentLifecycle is the incident counterpart of
// TestCrashAtEveryStep_ServerLifecycle: the incident workflow is run once
// to count its crash points, then once per point with opsbot killed
// right after it, restarted on the same database and fakes, and resumed
// (jobs, scheduler ticks, PagerDuty's retries of unanswered webhooks,
// Slack's of unanswered requests). Every run must end as the uncrashed
// one did.
func TestCrashAtEveryStep_IncidentLifecycle(t *testing.T) {
	runWorkflow := func(at int) (*crashRun, map[string]int) {
		k := &killer{at: at}
		h := newCrashHarness(t, k)
		c := &crashRun{t: t, h: h, k: k}
		incidentWorkflow(c)
		return c, incidentOutcome(t, h)
	}
	base, want := runWorkflow(0)
	points := base.k.n
	t.Logf("incident lifecycle: %d crash points", points)
	step := crashStep(incidentCrashStep)
	if testing.Verbose() && step == 1 {
		for _, k := range sortedKeys(want) {
			t.Logf("outcome: %s ×%d", k, want[k])
		}
		for i, e := range base.k.events {
			t.Logf("point %d: %s", i+1, e)
		}
	}
	covered, bad := 0, 0
	for _, at := range crashPoints(points, step) {
		c, got := runWorkflow(at)
		covered++
		if d := outcomeDiff(want, got); len(d) > 0 {
			bad++
			t.Errorf("killed after point %d (%s), %d restart(s): %v", at, base.k.events[at-1], c.restarts, d)
		}
	}
	t.Logf("incident lifecycle: %d of %d crash points run, %d ended differently", covered, points, bad)
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
