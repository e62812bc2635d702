package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// Slack sends a slash command, a click or a modal submission once: it
// does not retry one that was acknowledged, or one that got no answer
// (the person sees an error and may try again, as a new request). These
// tests kill opsbot at every store commit and outside call while such
// requests are handled, restart it on the same database, and never
// re-send the request: what was taken in must still take effect, once.

// slackOnce delivers a Slack request as Slack does for commands and
// interactions: once. If opsbot died handling it, it is restarted and
// left to resume; a request it acknowledged (200) is not sent again. One
// it did not acknowledge showed the person an error, and they try again:
// a new request, built afresh.
func (c *crashRun) slackOnce(build func() (*http.Request, error)) {
	c.t.Helper()
	for try := 0; try < 3; try++ {
		req, err := build()
		if err != nil {
			c.t.Fatalf("build Slack request: %v", err)
		}
		req.URL, _ = req.URL.Parse(c.h.srv.URL + req.URL.Path)
		req.Host = ""
		status, _ := c.h.slack.Deliver(context.Background(), c.h.srv.Client(), req)
		c.h.app.Bot.Wait()
		c.recover()
		if status == http.StatusOK {
			return
		}
	}
	c.t.Fatalf("a Slack request was refused three times (restarts %d)", c.restarts)
}

// openModal returns the modal open for user, clicking the button again
// (as the person would, a new request) while none is: a click whose
// handling died cannot open its modal later, its trigger having expired.
func (c *crashRun) openModal(user string, click func()) slackfake.View {
	c.t.Helper()
	for try := 0; try < 3; try++ {
		for _, v := range c.h.slack.Views(user) {
			if v.Type == "modal" && v.Open {
				return v
			}
		}
		click()
	}
	c.t.Fatalf("no modal open for %s (restarts %d)", user, c.restarts)
	return slackfake.View{}
}

// intakeWorkflow: a slash command that needs an approval, its approval
// by a click, a second request denied through the Deny modal (a click
// that opens it, then a submission), and a read (/ops servers).
func intakeWorkflow(c *crashRun) {
	approval := func(id string) slackfake.Message {
		for _, m := range c.h.channelMessages("platform-approvals") {
			if strings.Contains(string(m.Blocks), `"`+id+`"`) {
				return m
			}
		}
		c.t.Fatalf("no approval message for %s (restarts %d)", id, c.restarts)
		return slackfake.Message{}
	}
	c.slackOnce(func() (*http.Request, error) {
		return c.h.slack.SlashCommand(testSecret, dev, "general", "/ops", "server request build-box for 1d intake test")
	})
	c.jobs()
	m := approval("apr-1")
	c.slackOnce(func() (*http.Request, error) {
		return c.h.slack.BlockAction(testSecret, slackfake.Click{User: lead, Channel: m.Channel, MessageTS: m.TS, ActionID: workflows.ActApprove, Value: "apr-1"})
	})
	c.jobs()
	c.slackOnce(func() (*http.Request, error) {
		return c.h.slack.SlashCommand(testSecret, dev2, "general", "/ops", "server request huge for 2d second box")
	})
	c.jobs()
	m = approval("apr-2")
	v := c.openModal(lead, func() {
		c.slackOnce(func() (*http.Request, error) {
			return c.h.slack.BlockAction(testSecret, slackfake.Click{User: lead, Channel: m.Channel, MessageTS: m.TS, ActionID: workflows.ActDeny, Value: "apr-2"})
		})
	})
	c.slackOnce(func() (*http.Request, error) {
		return c.h.slack.ViewSubmission(testSecret, lead, v.ID, map[string]map[string]slackfake.InputValue{
			"reason": {"reason": {Value: "use the shared build farm"}},
		})
	})
	c.jobs()
	for i := 0; i < 3; i++ {
		c.advance(11 * time.Second) // the fake EC2 needs 20s to run it
	}
	// A read: handled first, then taken in by one write, then answered
	// (no backstop); a death at that write's commit must change nothing
	// and leave one answer.
	c.slackOnce(func() (*http.Request, error) {
		return c.h.slack.SlashCommand(testSecret, dev, "general", "/ops", "servers")
	})
	c.jobs()
}

// serversAnswers counts the answers to /ops servers listing srv-1.
func serversAnswers(h *harness) int {
	n := 0
	for _, r := range h.slack.Responses() {
		if t := responseText(r); strings.Contains(t, "Your servers") && strings.Contains(t, "srv-1") {
			n++
		}
	}
	return n
}

// TestCrashAfterAck_SlackRequestsTakeEffectOnce kills opsbot after each
// store commit and outside call of intakeWorkflow, in turn, restarts it
// on the same database and never re-sends the request in flight. Every
// run must end as the uncrashed one: both requests, the approval, the
// denial with its reason, the instance, every message and ledger entry,
// exactly once. Before requests were taken in durably, a death after
// the acknowledgement lost the request (no request, no approval, no
// denial). CI runs every eighth point (crashStep).
func TestCrashAfterAck_SlackRequestsTakeEffectOnce(t *testing.T) {
	run := func(at int) (*crashRun, map[string]int) {
		k := &killer{at: at}
		h := newCrashHarness(t, k)
		c := &crashRun{t: t, h: h, k: k}
		intakeWorkflow(c)
		out := worldOutcome(t, h)
		for _, r := range h.requests() {
			out["request "+r.ID+" "+string(r.State)+" "+r.StateReason]++
		}
		out["answers to /ops servers"] = serversAnswers(h)
		return c, out
	}
	base, want := run(0)
	if want["request running"] != 1 || want["instances running"] != 1 {
		t.Fatalf("the uncrashed run did not launch srv-1: %v", want)
	}
	if want["answers to /ops servers"] != 1 {
		t.Fatalf("the uncrashed run answered /ops servers %d times, want once", want["answers to /ops servers"])
	}
	var denied bool
	for k := range want {
		denied = denied || strings.HasPrefix(k, "request srv-2 denied") && strings.Contains(k, "use the shared build farm")
	}
	if !denied {
		t.Fatalf("the uncrashed run did not deny srv-2 with its reason: %v", want)
	}
	points := base.k.n
	covered, bad := 0, 0
	for _, at := range crashPoints(points, crashStep(8)) {
		c, got := run(at)
		covered++
		if d := outcomeDiff(want, got); len(d) > 0 {
			bad++
			t.Errorf("killed after point %d (%s), %d restart(s): %v", at, base.k.events[at-1], c.restarts, d)
		}
	}
	t.Logf("Slack intake: %d of %d crash points run, %d ended differently", covered, points, bad)
}
