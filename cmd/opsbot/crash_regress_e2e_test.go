package main

import (
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// Regression tests for what TestCrashAtEveryStep_IncidentLifecycle found.

// An action item added while the post-mortem is kept in step was written
// by two jobs at once (the to-do appended, and the body rewritten by the
// sync, which read the page before the append): the page got the to-do
// twice. Now the sync job alone writes it.
func TestActionItem_OnAPageKeptInStep_OneJobWritesThePage(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Orders slow sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	if h.incident("inc-1").PostmortemPageID == "" {
		t.Fatal("no post-mortem page")
	}
	h.incidentCmd(dev, ch.ID, "action Add an index on orders.created_at <@"+dev+"> due 2026-11-24")
	jobs, err := h.app.DB.Claim(t.Context(), h.clock.Now(), "test", time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var writers []string
	for _, j := range jobs {
		switch j.Kind {
		case workflows.JobActionWrite, workflows.JobPostmortemSync, workflows.JobPostmortem:
			writers = append(writers, j.Kind)
		}
	}
	if len(writers) != 1 {
		t.Fatalf("jobs writing the post-mortem page at once: %v, want one", writers)
	}
	h.clock.Advance(2 * time.Minute) // the claims run out; the App runs them
	h.drain()
	n := 0
	for _, b := range h.notion.Blocks(h.incident("inc-1").PostmortemPageID) {
		if b.Type == "to_do" && strings.HasPrefix(b.Text, "act-1 · ") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("act-1 is %d times on the page, want once", n)
	}
}

// timelineCount counts the entries of an incident's timeline whose text
// contains text.
func (h *harness) timelineCount(id, text string) int {
	n := 0
	for _, e := range h.timeline(id) {
		if strings.Contains(e.Text, text) {
			n++
		}
	}
	return n
}

// A crash between paging PagerDuty for an incident declared in Slack and
// recording it, with PagerDuty's webhook about the new incident handled
// first after the restart: the webhook attached the incident but the
// page's record (its timeline entry, the service's name) was lost, and
// PagerDuty's log entry of the trigger then came into the post-mortem as
// a second event. The webhook now records what the page job would.
func TestDeclare_WebhookAttachesBeforeThePageIsRecorded_PagedOnce(t *testing.T) {
	h := newHarness(t)
	h.pd.SetWebhookURL("") // delivered by hand, before the page job runs
	inc, err := h.app.Incidents.Declare(t.Context(), workflows.Person{SlackID: dev, Email: "dev@example.com"}, workflows.DeclareInput{Title: "Search slow", Severity: workflows.Sev2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.pd.TriggerWithKey(pdService, "Search slow", "opsbot-"+inc.ID); err != nil {
		t.Fatal(err)
	}
	resp, err := h.srv.Client().Do(h.redirect(h.pd.WebhookRequest(h.pd.Events()[0])))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h.drain()
	if n := h.timelineCount(inc.ID, "Paged on-call in PagerDuty"); n != 1 {
		t.Errorf("%d \"Paged on-call\" entries, want 1", n)
	}
	ch := h.incidentChannels()[0]
	mustContain(t, "summary", messageText(h.summary(ch.ID)), "Platform API")
	h.pd.SetWebhookURL(h.srv.URL + "/webhooks/pagerduty")
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	if n := h.timelineCount(inc.ID, "Triggered through the API"); n != 0 {
		t.Errorf("PagerDuty's trigger is on the timeline twice (%d more)", n)
	}
}

// A crash right after PagerDuty opened the incident: the restarted page
// job finds it by its key minutes later. Its "Paged" entry is at
// PagerDuty's time, so PagerDuty's log entry of the trigger is the same
// event in the post-mortem, not a second one.
func TestDeclare_CrashAfterPaging_PagedEntryAtPagerDutysTime(t *testing.T) {
	h := newUnbootedHarness(t)
	k := &killer{match: "POST " + strings.TrimPrefix(h.pd.URL(), "http://") + "/incidents"}
	h.crash = k
	h.boot()
	c := &crashRun{t: t, h: h, k: k}
	c.intake(h.slack.SlashCommand(testSecret, dev, "general", "/incident", "declare Search index stale sev3"))
	c.jobs()
	if c.restarts != 1 {
		t.Fatalf("%d restarts, want the one after paging", c.restarts)
	}
	if n := len(h.pd.Incidents()); n != 1 {
		t.Fatalf("%d PagerDuty incidents", n)
	}
	ch := h.incidentChannels()[0]
	c.intake(h.slack.SlashCommand(testSecret, dev, ch.ID, "/incident", "status resolved"))
	c.jobs()
	if n := h.timelineCount("inc-1", "Paged on-call in PagerDuty"); n != 1 {
		t.Errorf("%d \"Paged on-call\" entries, want 1", n)
	}
	if n := h.timelineCount("inc-1", "Triggered through the API"); n != 0 {
		t.Errorf("PagerDuty's trigger is on the timeline twice (%d more)", n)
	}
}

// An acknowledgement from Slack reaches PagerDuty minutes later when a
// crash comes between (the job runs again after the restart): PagerDuty's
// log entry of it is the same event, not a second acknowledgement in the
// post-mortem.
func TestAcknowledgeFromSlack_PushedAfterARestart_OneEntry(t *testing.T) {
	h := newUnbootedHarness(t)
	k := &killer{}
	h.crash = k
	h.boot()
	c := &crashRun{t: t, h: h, k: k}
	c.pager("trigger", func() error {
		_, err := h.pd.Trigger(pdService, "Queue backlog")
		return err
	})
	c.jobs()
	// Killed once the click is answered, before the job that tells
	// PagerDuty runs.
	k.mu.Lock()
	k.match = "/response/"
	k.mu.Unlock()
	ch := h.incidentChannels()[0]
	sum := h.summary(ch.ID)
	c.intake(h.slack.BlockAction(testSecret, slackfake.Click{User: oncall, Channel: ch.ID, MessageTS: sum.TS, ActionID: workflows.ActIncidentAck, Value: "inc-1"}))
	c.jobs()
	if c.restarts != 1 {
		t.Fatalf("%d restarts, want the one after the click", c.restarts)
	}
	c.intake(h.slack.BlockAction(testSecret, slackfake.Click{User: oncall, Channel: ch.ID, MessageTS: h.summary(ch.ID).TS, ActionID: workflows.ActIncidentResolve, Value: "inc-1"}))
	c.jobs()
	if h.incident("inc-1").PostmortemPageID == "" {
		t.Fatal("no post-mortem")
	}
	if n := h.timelineCount("inc-1", "Acknowledged by On Call"); n != 0 {
		t.Errorf("the acknowledgement is on the timeline twice (%d more from PagerDuty's log)", n)
	}
}

// A modal submission's answer (a DM: Slack closes the form and gives no
// response URL) was queued in a second transaction after the effect's:
// a crash between the two lost it, and Slack's retry of the submission
// was a replay that said nothing. The answer is now queued with the
// effect.
func TestDeclareForm_CrashAfterTheIncidentIsRecorded_AnswerSentOnce(t *testing.T) {
	h := newUnbootedHarness(t)
	k := &killer{}
	h.crash = k
	h.boot()
	c := &crashRun{t: t, h: h, k: k}
	c.intake(h.slack.SlashCommand(testSecret, dev, "general", "/incident", "declare"))
	var view string
	for _, v := range h.slack.Views(dev) {
		if v.Type == "modal" && v.Open {
			view = v.ID
		}
	}
	if view == "" {
		t.Fatal("/incident declare opened no form")
	}
	// Killed right after the transaction that records the incident.
	k.dieWhen(func(what string) bool {
		if what != "store update" {
			return false
		}
		found := false
		_ = h.app.DB.View(t.Context(), func(tx workflows.Tx) error {
			_, err := tx.Incident("inc-1")
			found = err == nil
			return nil
		})
		return found
	})
	c.intake(h.slack.ViewSubmission(testSecret, dev, view, map[string]map[string]slackfake.InputValue{
		"title":    {"title": {Value: "Checkout errors above 5%"}},
		"severity": {"severity": {Type: "static_select", Value: "sev2"}},
	}))
	c.jobs()
	if c.restarts != 1 {
		t.Fatalf("%d restarts, want the one after the incident was recorded", c.restarts)
	}
	n := 0
	for _, m := range h.dms(dev) {
		if strings.Contains(messageText(m), "inc-1 declared (sev2)") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d answers to the form, want 1", n)
	}
	if got := len(h.incidentChannels()); got != 1 {
		t.Fatalf("%d incident channels", got)
	}
}
