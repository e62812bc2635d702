package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// Adversarial tests of the incident half: each makes an attack an outsider
// or an unlucky user could make, through the real handlers.

// action loads an action item.
func (h *harness) action(id string) *workflows.ActionItem {
	h.t.Helper()
	var a *workflows.ActionItem
	if err := h.app.DB.View(h.t.Context(), func(tx workflows.Tx) (err error) {
		a, err = tx.Action(id)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return a
}

// TestActionItems_OutsidersNeitherCloseNorReadThem attacks action items
// from outside: `/incident action done act-N` from any channel, by another
// team's member and by a person absent from the config, used to mark any
// item done (ending its owner's reminders) and answered with the item's
// text, even a private incident's. Now only the item's owner and the people
// who may change the incident mark it done, and a refusal carries no text
// of the item. It also names a private incident from outside its channel
// to post an update or add an action item into it: refused, nothing
// posted in the private channel, nothing recorded.
func TestActionItems_OutsidersNeitherCloseNorReadThem(t *testing.T) {
	h := newHarness(t)
	got := map[string]json.RawMessage{}
	h.incidentCmd(dev, "general", "declare --private Payroll export leaked sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	mustContain(t, "act-1", h.incidentCmd(dev, ch.ID, "action Rotate the payroll bucket keys <@"+dev+"> due 2026-11-24"), "act-1 recorded")
	mustContain(t, "act-2", h.incidentCmd(dev, ch.ID, "action Audit the export job ana@example.com due 2026-11-24"), "act-2 recorded")
	h.drain()

	// Neither a person in no team nor another team's member (who does
	// not own act-1) may close act-1; neither reads its text.
	for _, who := range []string{stranger, analyst} {
		reply := h.incidentCmd(who, "general", "action done act-1")
		if strings.Contains(reply, "Rotate") || strings.Contains(reply, "is done") {
			t.Errorf("%s closing act-1 of a private incident: %s", who, reply)
		}
		mustContain(t, who+" refused", reply, "inc-1", "may mark act-1 done")
		// Who may act, as mentions: not the emails the config knows them by.
		if strings.Contains(reply, "dev2@example.com") || !strings.Contains(reply, "<@"+dev2+">") {
			t.Errorf("the refusal names people by email, not as mentions: %s", reply)
		}
		if h.action("act-1").Done() {
			t.Fatalf("%s marked act-1 done", who)
		}
	}
	got["reply_action_done_refused"] = h.lastReplyBlocks()
	// The owner may, though in another team; the commander may.
	mustContain(t, "owner", h.incidentCmd(analyst, "general", "action done act-2"), "act-2 is done")
	mustContain(t, "commander", h.incidentCmd(dev, ch.ID, "action done act-1"), "act-1 is done")

	// Naming the private incident from outside its channel.
	before := len(h.slack.Messages(ch.ID))
	for _, who := range []string{stranger, analyst} {
		mustContain(t, who+" update", h.incidentCmd(who, "general", "update inc-1 All fine, nothing leaked"), "Only the people responsible for inc-1")
		mustContain(t, who+" action", h.incidentCmd(who, "general", "action inc-1 Delete the evidence"), "Only the people responsible for inc-1")
	}
	h.drain()
	if inc := h.incident("inc-1"); strings.Contains(inc.LastUpdate, "nothing leaked") {
		t.Errorf("an outsider's update was recorded: %q", inc.LastUpdate)
	}
	for _, m := range h.slack.Messages(ch.ID)[before:] {
		if txt := messageText(m); strings.Contains(txt, "nothing leaked") || strings.Contains(txt, "evidence") {
			t.Errorf("an outsider posted into the private channel: %s", txt)
		}
	}
	if h.timelineCount("inc-1", "evidence") != 0 || h.timelineCount("inc-1", "nothing leaked") != 0 {
		t.Error("an outsider's text is on the private incident's timeline")
	}
	// Someone responsible may name it from anywhere.
	mustContain(t, "team member update", h.incidentCmd(dev2, "general", "update inc-1 Keys rotated"), "inc-1: done")
	// An action item they add to it from a public channel is recorded,
	// but the answer with its text is for them only, not the channel.
	mustContain(t, "team member action", h.incidentCmd(dev2, "general", "action inc-1 Tell the payroll team"), "recorded for inc-1")
	if rs := h.slack.Responses(); rs[len(rs)-1].ResponseType == "in_channel" {
		t.Error("a private incident's action item was announced in #general")
	}
	// In its own channel the answer is public as in any incident.
	h.incidentCmd(dev2, ch.ID, "action Check the export logs")
	if rs := h.slack.Responses(); rs[len(rs)-1].ResponseType != "in_channel" {
		t.Error("an action item added in the incident channel is not shown there")
	}

	// A public incident's items are guarded the same way.
	h.incidentCmd(dev, "general", "declare Cache down")
	h.drain()
	mustContain(t, "public act", h.incidentCmd(dev, "general", "action inc-2 Warm the cache on deploy <@"+dev+">"), "act-5 recorded")
	mustContain(t, "public refused", h.incidentCmd(stranger, "general", "action done act-5"), "may mark act-5 done")
	if h.action("act-5").Done() {
		t.Fatal("a stranger marked a public incident's action item done")
	}
	compareGolden(t, got)
}

// deliver posts PagerDuty's recorded webhook events in the order given,
// as a PagerDuty that does not promise order would, and works each.
func (h *harness) deliver(events []pdfake.Event) {
	h.t.Helper()
	for _, ev := range events {
		resp, err := h.srv.Client().Do(h.redirect(h.pd.WebhookRequest(ev)))
		if err != nil {
			h.t.Fatal(err)
		}
		resp.Body.Close()
		h.drain()
	}
}

// TestPagerDutyEventsOutOfOrder_LateAckAndReopenDoNotUndoTheResolution
// delivers an acknowledgement after the resolution that followed it in
// PagerDuty (PagerDuty does not promise order; only a late trigger was
// covered): opsbot recorded PagerDuty's state as acknowledged on a
// resolved incident. Now the incident stays resolved in opsbot as it is in
// PagerDuty, the acknowledgement still counts on the timeline, a reopen
// and resolution in order still work, a replay of every event changes
// nothing and posts nothing, and no update nag follows.
func TestPagerDutyEventsOutOfOrder_LateAckAndReopenDoNotUndoTheResolution(t *testing.T) {
	h := newHarness(t)
	h.pd.SetWebhookURL("")
	pdInc, _ := h.pd.Trigger(pdService, "Flapping disk")
	for _, step := range []func() error{
		func() error { return h.pd.Acknowledge(pdInc.ID, "PUONCALL") },
		func() error { return h.pd.Resolve(pdInc.ID, "PUONCALL") },
	} {
		h.clock.Advance(time.Minute)
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	ev := h.pd.Events()
	if len(ev) != 3 {
		t.Fatalf("%d events", len(ev))
	}
	// triggered, resolved, then the acknowledgement that came before it.
	h.deliver([]pdfake.Event{ev[0], ev[2], ev[1]})
	inc := h.incident("inc-1")
	if inc.Open() || inc.PDStatus != workflows.PDResolved {
		t.Fatalf("after a late acknowledgement: status %s, PagerDuty %s; PagerDuty says resolved", inc.Status, inc.PDStatus)
	}
	if h.timelineCount("inc-1", "Acknowledged in PagerDuty") != 1 {
		t.Error("the late acknowledgement is not on the timeline")
	}

	// Reopened and resolved again, in order: reopening still works.
	for _, step := range []func() error{
		func() error { return h.pd.Reopen(pdInc.ID, "PUONCALL") },
		func() error { return h.pd.Resolve(pdInc.ID, "PUONCALL") },
	} {
		h.clock.Advance(time.Minute)
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	ev = h.pd.Events()
	h.deliver(ev[3:4])
	if inc := h.incident("inc-1"); !inc.Open() {
		t.Fatal("a reopen after the resolution did not reopen it")
	}
	h.deliver(ev[4:5])
	inc = h.incident("inc-1")
	if inc.Open() || inc.PDStatus != workflows.PDResolved {
		t.Fatalf("resolved again: status %s, PagerDuty %s", inc.Status, inc.PDStatus)
	}

	ch := h.incidentChannels()[0]
	before := len(h.slack.Messages(ch.ID))
	tl := len(h.timeline("inc-1"))
	h.deliver(ev) // every event again
	if n := len(h.slack.Messages(ch.ID)); n != before {
		t.Errorf("a replay posted %d messages", n-before)
	}
	if n := len(h.timeline("inc-1")); n != tl {
		t.Errorf("a replay added %d timeline entries", n-tl)
	}
	h.advance(2 * time.Hour)
	for _, m := range h.slack.Messages(ch.ID) {
		if strings.Contains(messageText(m), "with no update") {
			t.Fatal("an update nag for an incident resolved in PagerDuty")
		}
	}
}

// TestDeclare_BlankTitleFromTheFormRefused submits the declare form with a
// title of spaces (Slack's required field takes it; a forged submission
// can send anything): the form says what is wrong and nothing is
// declared, no channel, no page. A command typed in a channel that is no
// incident's, without naming one, gets the usage and changes nothing.
// It passed when written (the domain refuses a blank title); no test sent
// one through the form.
func TestDeclare_BlankTitleFromTheFormRefused(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare")
	var view string
	for _, v := range h.slack.Views(dev) {
		if v.Type == "modal" && v.Open {
			view = v.ID
		}
	}
	if view == "" {
		t.Fatal("/incident declare opened no form")
	}
	req, err := h.slack.ViewSubmission(testSecret, dev, view, map[string]map[string]slackfake.InputValue{
		"title":    {"title": {Value: "  \t "}},
		"severity": {"severity": {Type: "static_select", Value: "sev1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.srv.Client().Do(h.redirect(req))
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Action string            `json:"response_action"`
		Errors map[string]string `json:"errors"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	h.drain()
	if body.Action != "errors" || !strings.Contains(body.Errors["title"], "title") {
		t.Errorf("a blank title was not refused on the form: %+v", body)
	}
	var n int
	_ = h.app.DB.View(t.Context(), func(tx workflows.Tx) error {
		incs, err := tx.Incidents(workflows.IncidentFilter{})
		n = len(incs)
		return err
	})
	if n != 0 || len(h.incidentChannels()) != 0 || len(h.pd.Incidents()) != 0 {
		t.Fatalf("a blank title declared %d incidents, %d channels, %d pages", n, len(h.incidentChannels()), len(h.pd.Incidents()))
	}
	// Commands that need an incident, in a channel that is none.
	for _, cmd := range []string{"status resolved", "severity sev1", "update hello", "cancel oops", "postmortem done", "action Do it"} {
		mustContain(t, cmd, h.incidentCmd(dev, "general", cmd), "not an incident channel", "/incident")
	}
}

// TestCancel_ActionItemsOfACancelledIncidentAreNotReminded: an incident
// declared by mistake, with an action item already given an owner and a
// due date, is cancelled ("no post-mortem, no reminders"); the owner must
// not be reminded of it. It attacks the promise from the action items'
// side, which the cancel test did not.
func TestCancel_ActionItemsOfACancelledIncidentAreNotReminded(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Orders slow sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	mustContain(t, "act-1", h.incidentCmd(dev, ch.ID, "action Add an index <@"+dev2+"> due 2026-11-22"), "act-1 recorded")
	mustContain(t, "cancel", h.incidentCmd(dev, ch.ID, "cancel wrong service"), "cancelled")
	h.drain()
	for range 4 {
		h.advance(24 * time.Hour)
	}
	for _, m := range h.dms(dev2) {
		if strings.Contains(messageText(m), "act-1") {
			t.Fatalf("reminded of an action item of a cancelled incident: %s", messageText(m))
		}
	}
}

// TestAlertStorm_NeverLinksIntoAPrivateIncident: during an alert storm a
// newcomer is linked into the channel of the service's newest open
// incident. When that one is private, the newcomer (a normal incident,
// from PagerDuty) was put into the private channel, where its own team
// cannot read it, with no announcement. Now a private incident is never a
// storm's parent: the newcomer gets a channel of its own (or joins a
// public one).
func TestAlertStorm_NeverLinksIntoAPrivateIncident(t *testing.T) {
	h := newHarness(t)
	h.extra += "  storm: {count: 1, per: 1h}\n"
	h.restart()
	h.incidentCmd(dev, "general", "declare --private Payroll export leaked sev2")
	h.drain()
	private := h.incident("inc-1")
	if private.ChannelID == "" || private.PDIncidentID == "" {
		t.Fatalf("the private incident has no channel or page: %+v", private)
	}
	h.clock.Advance(time.Minute)
	if _, err := h.pd.Trigger(pdService, "Disk full on db-3"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	inc := h.incident("inc-2")
	if inc.LinkedTo == private.ID || inc.ChannelID == private.ChannelID {
		t.Fatalf("a public incident was linked into private %s's channel", private.ID)
	}
	for _, m := range h.slack.Messages(private.ChannelID) {
		if strings.Contains(messageText(m), "Disk full") {
			t.Errorf("the public incident was announced in the private channel: %s", messageText(m))
		}
	}
	if inc.ChannelID == "" {
		t.Error("the public incident got no channel")
	}
}

// TestAddMember_InvitedAndNamedByMention: `/incident add @user` promises
// the person is invited to the channel (for a private incident, the only
// way in besides a role) and that the channel names who added them as a
// person, not by email. The invite job left the added people out, so they
// were never invited.
func TestAddMember_InvitedAndNamedByMention(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare --private Payroll export leaked sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	mustContain(t, "add", h.incidentCmd(dev, ch.ID, "add <@"+analyst+"|ana>"), "Added to inc-1")
	h.drain()
	ch, _ = h.slack.Channel(ch.ID)
	if !slices.Contains(ch.Members, analyst) {
		t.Errorf("the added person was not invited: %v", ch.Members)
	}
	found := false
	for _, m := range h.slack.Messages(ch.ID) {
		if txt := messageText(m); strings.Contains(txt, "Added to inc-1 by") {
			found = true
			if strings.Contains(txt, "dev@example.com") || !strings.Contains(txt, "<@"+dev+">") {
				t.Errorf("who added them is not named as a mention: %s", txt)
			}
		}
	}
	if !found {
		t.Error("the channel was not told")
	}
}

// TestReminders_DMsTellTimeInTheReadersZone: a DM is read by one person,
// so its times are in that person's team's zone. An action item of a
// Berlin team's incident owned by a New York team's member, due 09:00
// Berlin, was announced to them as "due ... 09:00 CET"; it is now 03:00
// EST. The post-mortem overdue DM to a commander from New York likewise.
func TestReminders_DMsTellTimeInTheReadersZone(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Orders slow sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	mustContain(t, "act-1", h.incidentCmd(dev, ch.ID, "action Audit the export job ana@example.com due 2026-11-24"), "act-1 recorded")
	mustContain(t, "commander", h.incidentCmd(dev, ch.ID, "role commander <@"+analyst+"|ana>"), "inc-1")
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	for range 6 {
		h.advance(24 * time.Hour)
	}
	var action, overdue string
	for _, m := range h.dms(analyst) {
		switch txt := messageText(m); {
		case strings.Contains(txt, "Action item act-1"):
			action = txt
		case strings.Contains(txt, "post-mortem of inc-1") && strings.Contains(txt, "was due"):
			overdue = txt
		}
	}
	mustContain(t, "action reminder", action, "Tue 24 Nov 09:00 EST")
	if overdue == "" {
		t.Fatal("no post-mortem overdue DM to the commander")
	}
	if strings.Contains(overdue, "CET") || !strings.Contains(overdue, "EST") {
		t.Errorf("the overdue DM is not in the reader's zone: %s", overdue)
	}
}

// TestPagerDutyAckBeforeTrigger_AcknowledgementOnTheTimeline: the first
// event opsbot sees of a PagerDuty incident is its acknowledgement (the
// trigger's delivery comes later). One incident, one channel, and the
// acknowledgement is on the timeline as one (time to acknowledge in the
// stats reads it), the trigger once.
func TestPagerDutyAckBeforeTrigger_AcknowledgementOnTheTimeline(t *testing.T) {
	h := newHarness(t)
	h.pd.SetWebhookURL("")
	pdInc, _ := h.pd.Trigger(pdService, "Queue backlog")
	h.clock.Advance(2 * time.Minute)
	if err := h.pd.Acknowledge(pdInc.ID, "PUONCALL"); err != nil {
		t.Fatal(err)
	}
	ev := h.pd.Events()
	h.deliver([]pdfake.Event{ev[1], ev[0], ev[1], ev[0]})
	if n := len(h.incidentChannels()); n != 1 {
		t.Fatalf("%d channels", n)
	}
	inc := h.incident("inc-1")
	if inc.PDStatus != workflows.PDAcknowledged || !inc.Open() {
		t.Fatalf("status %s, PagerDuty %s", inc.Status, inc.PDStatus)
	}
	acks, triggers := 0, 0
	for _, e := range h.timeline("inc-1") {
		switch e.Action {
		case "incident.acknowledged":
			acks++
			if !e.At.Equal(ev[1].OccurredAt) {
				t.Errorf("acknowledged at %s, want %s", e.At, ev[1].OccurredAt)
			}
		case "incident.triggered":
			triggers++
		}
	}
	if acks != 1 || triggers > 1 {
		t.Errorf("timeline: %d acknowledgements and %d triggers, want 1 and at most 1", acks, triggers)
	}
}
