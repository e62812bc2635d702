package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// incidentChannels lists the channels opsbot made for incidents.
func (h *harness) incidentChannels() []slackfake.Channel {
	var out []slackfake.Channel
	for _, c := range h.slack.Channels() {
		if strings.HasPrefix(c.Name, "inc-") {
			out = append(out, c)
		}
	}
	return out
}

func (h *harness) incident(id string) *workflows.Incident {
	h.t.Helper()
	var inc *workflows.Incident
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		inc, err = tx.Incident(id)
		return err
	}); err != nil {
		h.t.Fatalf("load %s: %v", id, err)
	}
	return inc
}

func (h *harness) timeline(id string) []workflows.TimelineEntry {
	h.t.Helper()
	var out []workflows.TimelineEntry
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		out, err = tx.Timeline(id)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// summary returns the pinned summary message of an incident channel.
func (h *harness) summary(channelID string) slackfake.Message {
	h.t.Helper()
	for _, m := range h.slack.Messages(channelID) {
		if m.Pinned {
			return m
		}
	}
	h.t.Fatalf("no pinned summary in %s", channelID)
	return slackfake.Message{}
}

// incidentCmd types /incident TEXT as user in a channel.
func (h *harness) incidentCmd(user, channel, text string) string {
	h.t.Helper()
	before := len(h.slack.Responses())
	if status := h.send(h.slack.SlashCommand(testSecret, user, channel, "/incident", text)); status != http.StatusOK {
		h.t.Fatalf("/incident %s: status %d", text, status)
	}
	rs := h.slack.Responses()
	if len(rs) == before {
		return ""
	}
	return responseText(rs[len(rs)-1])
}

func TestPagerDutyTriggered_OneChannelWithResponders(t *testing.T) {
	h := newHarness(t)
	pdInc, err := h.pd.Trigger(pdService, "DB latency above 2s")
	if err != nil {
		t.Fatal(err)
	}
	h.drain()
	chans := h.incidentChannels()
	if len(chans) != 1 {
		t.Fatalf("%d incident channels, want 1", len(chans))
	}
	ch := chans[0]
	if ch.Name != "inc-1-db-latency-above-2s" {
		t.Errorf("channel name %q", ch.Name)
	}
	members := strings.Join(ch.Members, ",")
	for _, who := range []string{oncall, dev2} {
		if !strings.Contains(members, who) {
			t.Errorf("%s not invited: %s", who, members)
		}
	}
	msgs := h.slack.Messages(ch.ID)
	var checklist, missing bool
	for _, m := range msgs {
		text := messageText(m)
		checklist = checklist || strings.Contains(text, "Response checklist for inc-1")
		missing = missing || strings.Contains(text, "ghost@example.com")
	}
	if !checklist {
		t.Error("no checklist in the channel")
	}
	if !missing {
		t.Error("no notice about the responder opsbot could not find")
	}
	sum := h.summary(ch.ID)
	mustContain(t, "summary", messageText(sum), "inc-1: DB latency above 2s", "investigating", pdInc.ID, "Acknowledge", "Resolve")
	announce := h.channelMessages("incidents")
	if len(announce) != 1 {
		t.Fatalf("%d announcements", len(announce))
	}
	mustContain(t, "announcement", messageText(announce[0]), "inc-1", "<#"+ch.ID+">")

	// PagerDuty retries: the same event again changes nothing.
	ev := h.pd.Events()[0]
	resp, err := h.srv.Client().Do(h.redirect(h.pd.WebhookRequest(ev)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h.drain()
	if n := len(h.incidentChannels()); n != 1 {
		t.Fatalf("%d channels after a retried event", n)
	}
	if n := len(h.slack.CallsTo("conversations.create")); n != 1 {
		t.Errorf("conversations.create called %d times", n)
	}
}

// redirect points a request the fake built at the opsbot test server.
func (h *harness) redirect(req *http.Request) *http.Request {
	req.URL, _ = req.URL.Parse(h.srv.URL + req.URL.Path)
	req.Host, req.RequestURI = "", ""
	return req
}

func TestTwoEventsForOneIncidentAtOnce_OneChannel(t *testing.T) {
	h := newHarness(t)
	h.pd.SetWebhookURL("") // record, deliver by hand
	pdInc, err := h.pd.Trigger(pdService, "Checkout failing")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.pd.Acknowledge(pdInc.ID, "PUONCALL"); err != nil {
		t.Fatal(err)
	}
	events := h.pd.Events()
	if len(events) != 2 {
		t.Fatalf("%d events", len(events))
	}
	var wg sync.WaitGroup
	for _, ev := range events {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h.srv.Client().Do(h.redirect(h.pd.WebhookRequest(ev)))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	h.drain()
	if n := len(h.incidentChannels()); n != 1 {
		t.Fatalf("%d channels for one incident", n)
	}
	var incs []*workflows.Incident
	h.app.DB.View(t.Context(), func(tx workflows.Tx) (err error) {
		incs, err = tx.Incidents(workflows.IncidentFilter{})
		return err
	})
	if len(incs) != 1 || incs[0].PDStatus != workflows.PDAcknowledged {
		t.Fatalf("incidents: %d, status %v", len(incs), incs)
	}
}

func TestAcknowledgeButton_ChangesPagerDutyAsTheClicker_NoEcho(t *testing.T) {
	h := newHarness(t)
	pdInc, _ := h.pd.Trigger(pdService, "Queue backlog")
	h.drain()
	ch := h.incidentChannels()[0]
	h.click(oncall, h.summary(ch.ID), workflows.ActIncidentAck, "inc-1")
	mustContain(t, "ack reply", h.lastResponse(), "You acknowledged inc-1")
	h.drain()
	puts := h.pd.CallsTo("PUT /incidents")
	if len(puts) != 1 || puts[0].From != "oncall@example.com" {
		t.Fatalf("PUT /incidents calls %+v, want one From oncall@example.com", puts)
	}
	if got, _ := h.pd.Incident(pdInc.ID); got.Status != "acknowledged" {
		t.Fatalf("PagerDuty status %s", got.Status)
	}
	// PagerDuty's acknowledged webhook came back: it is no second update.
	acks := 0
	for _, e := range h.timeline("inc-1") {
		if strings.Contains(strings.ToLower(e.Text), "acknowledged") {
			acks++
		}
	}
	if acks != 1 {
		t.Errorf("%d acknowledgement entries on the timeline, want 1", acks)
	}
	sum := messageText(h.summary(ch.ID))
	mustContain(t, "summary", sum, "acknowledged")
	if strings.Contains(blockText(h.summary(ch.ID).Blocks), "Acknowledge\n") {
		t.Error("the summary still offers Acknowledge")
	}
	if n := len(h.slack.Messages(ch.ID)); n > 4 {
		t.Errorf("%d messages in the channel: the summary should be edited, not re-posted", n)
	}
}

func TestPagerDutyResolved_SummaryEditedAndPostmortemWithTimeline(t *testing.T) {
	h := newHarness(t)
	pdInc, _ := h.pd.Trigger(pdService, "Payments 500s")
	h.drain()
	ch := h.incidentChannels()[0]
	h.clock.Advance(10 * time.Minute)
	h.incidentCmd(oncall, ch.ID, "update Rolled back release 4.2; error rate falling")
	h.clock.Advance(20 * time.Minute)
	if err := h.pd.Resolve(pdInc.ID, "PUONCALL"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	inc := h.incident("inc-1")
	if inc.Status != workflows.StatusResolved {
		t.Fatalf("status %s", inc.Status)
	}
	sum := h.summary(ch.ID)
	if sum.Edited == nil {
		t.Error("summary not edited")
	}
	mustContain(t, "summary", messageText(sum), "resolved", "Post-mortem", "notion.so")
	pages := h.notion.Pages(h.dbID)
	if len(pages) != 1 {
		t.Fatalf("%d post-mortem pages", len(pages))
	}
	var body []string
	for _, b := range h.notion.Blocks(pages[0].ID) {
		body = append(body, b.Text)
	}
	text := strings.Join(body, "\n")
	mustContain(t, "post-mortem body", text, "Timeline", "Rolled back release 4.2", "Triggered in PagerDuty", "Resolved in PagerDuty", "Action items")
	if inc.PostmortemURL == "" || inc.PostmortemURL != pages[0].URL {
		t.Errorf("incident's post-mortem link %q, page %q", inc.PostmortemURL, pages[0].URL)
	}
	// Resolving again (a retried event, a second click) makes no second page.
	if _, err := h.app.Incidents.Postmortem(t.Context(), workflows.Person{SlackID: oncall}, workflows.IncidentRef{ID: "inc-1"}); err != nil {
		t.Fatal(err)
	}
	h.drain()
	if n := len(h.notion.Pages(h.dbID)); n != 1 {
		t.Fatalf("%d pages after asking again", n)
	}
	mustContain(t, "/incident postmortem", h.incidentCmd(oncall, ch.ID, "postmortem"), pages[0].URL)
}

func TestPostmortem_LongTimelineSplitsIntoRequestsWithinLimits(t *testing.T) {
	h := newHarness(t)
	inc, err := h.app.Incidents.Declare(t.Context(), workflows.Person{SlackID: dev, Email: "dev@example.com"}, workflows.DeclareInput{Title: "Cache stampede", Severity: workflows.Sev2})
	if err != nil {
		t.Fatal(err)
	}
	h.drain()
	who := workflows.Person{SlackID: dev, Email: "dev@example.com"}
	for i := 0; i < 250; i++ {
		h.clock.Advance(time.Minute)
		if _, err := h.app.Incidents.Update(t.Context(), who, workflows.IncidentRef{ID: inc.ID}, fmt.Sprintf("update %03d: %s", i, strings.Repeat("details ", 15))); err != nil {
			t.Fatal(err)
		}
	}
	h.drain()
	if _, err := h.app.Incidents.SetStatus(t.Context(), who, workflows.IncidentRef{ID: inc.ID}, workflows.StatusResolved); err != nil {
		t.Fatal(err)
	}
	h.drain()
	writes := 0
	for _, r := range h.notion.Requests() {
		if r.Status != 200 {
			t.Errorf("a Notion request failed: %+v", r)
		}
		if r.Children > 100 || r.Bytes > 500_000 {
			t.Errorf("request over Notion's limits: %+v", r)
		}
		if r.Method == "POST" && r.Path == "/v1/pages" || r.Method == "PATCH" && strings.HasSuffix(r.Path, "/children") {
			writes++
		}
	}
	if writes < 3 {
		t.Errorf("%d write requests for 250+ blocks, want several", writes)
	}
	found := map[string]bool{}
	for _, b := range h.notion.Blocks(h.notion.Pages(h.dbID)[0].ID) {
		if i := strings.Index(b.Text, "update "); i >= 0 && b.Type == "bulleted_list_item" && len(b.Text) >= i+10 {
			found[b.Text[i:i+10]] = true
		}
	}
	if len(found) != 250 {
		t.Errorf("%d of 250 updates on the page", len(found))
	}
}

func TestDeclareFromSlack_PagesPagerDutyAndOpensChannel(t *testing.T) {
	h := newHarness(t)
	reply := h.incidentCmd(dev, "general", "declare Login is broken sev1")
	mustContain(t, "declare", reply, "inc-1 declared (sev1)", "commander")
	h.drain()
	incs := h.pd.Incidents()
	if len(incs) != 1 || incs[0].ServiceID != pdService || incs[0].Urgency != "high" {
		t.Fatalf("PagerDuty incidents %+v", incs)
	}
	if calls := h.pd.CallsTo("POST /incidents"); len(calls) != 1 || calls[0].From != "dev@example.com" {
		t.Errorf("POST /incidents %+v", calls)
	}
	inc := h.incident("inc-1")
	if inc.PDIncidentID != incs[0].ID || inc.Commander.SlackID != dev {
		t.Errorf("incident %+v", inc)
	}
	if n := len(h.incidentChannels()); n != 1 {
		t.Fatalf("%d channels (the triggered webhook must attach, not open another)", n)
	}
	ch := h.incidentChannels()[0]
	if !strings.Contains(strings.Join(ch.Members, ","), oncall) {
		t.Error("on-call not invited")
	}
	// Commands inside the channel imply the incident.
	h.incidentCmd(dev, ch.ID, "severity sev2")
	h.incidentCmd(dev, ch.ID, "role scribe <@U0DEV2|dev2>")
	h.incidentCmd(dev, ch.ID, "status identified")
	h.drain()
	mustContain(t, "summary", messageText(h.summary(ch.ID)), "sev2", "identified", "<@U0DEV2>")
	mustContain(t, "outside a channel", h.incidentCmd(dev, "general", "status monitoring"), "not an incident channel")
	mustContain(t, "named", h.incidentCmd(dev, "general", "status inc-1 monitoring"), "inc-1: done")
	mustContain(t, "bad", h.incidentCmd(dev, ch.ID, "severity sev7"), `"sev7" is not a severity`, "Usage:")
}

func TestPagerDutyWebhook_BadInputChangesNothing(t *testing.T) {
	h := newHarness(t)
	post := func(body []byte, sig string) int {
		req, _ := http.NewRequest("POST", h.srv.URL+"/webhooks/pagerduty", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set("X-PagerDuty-Signature", sig)
		}
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	h.pd.SetWebhookURL("")
	h.pd.Trigger(pdService, "Something")
	good := h.pd.Events()[0].Body
	if got := post(good, pdfake.Sign(good, "wrong-secret")); got != 401 {
		t.Errorf("bad signature: %d", got)
	}
	if got := post(good, ""); got != 401 {
		t.Errorf("no signature: %d", got)
	}
	bad := []byte(`{"event": {"id": `)
	if got := post(bad, pdfake.Sign(bad, pdSecret)); got != 400 {
		t.Errorf("malformed JSON: %d", got)
	}
	unknown := []byte(`{"event":{"id":"01UNKNOWN","event_type":"service.updated","resource_type":"service","occurred_at":"2026-11-21T09:00:00Z","data":{"id":"PPLATF1","type":"service"}}}`)
	if got := post(unknown, pdfake.Sign(unknown, pdSecretOld)); got/100 != 2 {
		t.Errorf("unknown event type: %d", got)
	}
	h.drain()
	if n := len(h.incidentChannels()); n != 0 {
		t.Fatalf("%d channels after bad webhooks", n)
	}
	// Signed with the old secret during a rotation: accepted.
	if got := post(good, pdfake.Sign(good, pdSecretOld)); got != 202 {
		t.Errorf("rotated secret: %d", got)
	}
	h.drain()
	if n := len(h.incidentChannels()); n != 1 {
		t.Fatalf("%d channels after a good webhook", n)
	}
}

func TestPinnedReaction_PutsTheMessageOnTheTimeline(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare API errors sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	h.clock.Advance(5 * time.Minute)
	msg, err := h.slack.PostAs(dev, ch.ID, "Saw the spike start right after the 10:02 deploy")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // Slack may deliver the event twice
		h.send(h.slack.Event(testSecret, map[string]any{"type": "reaction_added", "user": dev2, "reaction": "pushpin",
			"item": map[string]any{"type": "message", "channel": ch.ID, "ts": msg.TS}, "event_ts": msg.TS}))
	}
	n := 0
	for _, e := range h.timeline("inc-1") {
		if e.Kind == workflows.TLPinned && strings.Contains(e.Text, "10:02 deploy") {
			n++
			if !e.At.Equal(h.clock.Now().Truncate(time.Microsecond)) && e.At.Sub(h.clock.Now()).Abs() > time.Second {
				t.Errorf("entry at %s, message at %s", e.At, h.clock.Now())
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d timeline entries for the pinned message", n)
	}
}

func TestPagerDutyEventsOutOfOrder_ResolvedBeforeTriggered(t *testing.T) {
	h := newHarness(t)
	h.pd.SetWebhookURL("")
	pdInc, _ := h.pd.Trigger(pdService, "Late events")
	h.clock.Advance(time.Minute)
	if err := h.pd.Resolve(pdInc.ID, "PUONCALL"); err != nil {
		t.Fatal(err)
	}
	events := h.pd.Events()
	for i := len(events) - 1; i >= 0; i-- { // resolved first, then triggered
		resp, err := h.srv.Client().Do(h.redirect(h.pd.WebhookRequest(events[i])))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h.drain()
	}
	inc := h.incident("inc-1")
	if inc.Open() {
		t.Fatalf("incident reopened by its late trigger: %s", inc.Status)
	}
	if n := len(h.incidentChannels()); n != 1 {
		t.Fatalf("%d channels", n)
	}
	h.advance(2 * time.Hour)
	for _, m := range h.slack.Messages(h.incidentChannels()[0].ID) {
		if strings.Contains(messageText(m), "with no update") {
			t.Fatal("an update nag for a resolved incident")
		}
	}
}

func TestDeclaredIncident_WebhookBeforePageRecorded_AttachesByKey(t *testing.T) {
	h := newHarness(t)
	h.pd.SetWebhookURL("")
	inc, err := h.app.Incidents.Declare(t.Context(), workflows.Person{SlackID: dev, Email: "dev@example.com"}, workflows.DeclareInput{Title: "Search slow", Severity: workflows.Sev2})
	if err != nil {
		t.Fatal(err)
	}
	// PagerDuty opens the incident (as the page job would) and its webhook
	// arrives before opsbot recorded the PagerDuty ID.
	if _, err := h.pd.TriggerWithKey(pdService, "Search slow", "opsbot-"+inc.ID); err != nil {
		t.Fatal(err)
	}
	resp, err := h.srv.Client().Do(h.redirect(h.pd.WebhookRequest(h.pd.Events()[0])))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h.drain()
	var incs []*workflows.Incident
	h.app.DB.View(t.Context(), func(tx workflows.Tx) (err error) {
		incs, err = tx.Incidents(workflows.IncidentFilter{})
		return err
	})
	if len(incs) != 1 || incs[0].PDIncidentID == "" {
		t.Fatalf("%d incidents (want the declared one, attached): %+v", len(incs), incs)
	}
	if n := len(h.pd.Incidents()); n != 1 {
		t.Fatalf("%d PagerDuty incidents: the page must find the one opened with its key", n)
	}
	if n := len(h.incidentChannels()); n != 1 {
		t.Fatalf("%d channels", n)
	}
}
