package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
)

// lastReply is the blocks of the last ephemeral answer.
func (h *harness) lastReplyBlocks() json.RawMessage {
	rs := h.slack.Responses()
	return json.RawMessage(rs[len(rs)-1].Blocks)
}

// TestIncidentStats_FiguresAndRefusals runs incidents through PagerDuty
// and Slack, then asks /incident stats as a member, an outsider and with
// bad input.
func TestIncidentStats_FiguresAndRefusals(t *testing.T) {
	h := newHarness(t)
	// inc-1: paged, acknowledged in PagerDuty after 6 minutes, resolved from Slack after an hour.
	in1, err := h.pd.Trigger(pdService, "Checkout 5xx above 2%")
	if err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.advance(6 * time.Minute)
	if err := h.pd.Acknowledge(in1.ID, "PUONCALL"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.advance(54 * time.Minute)
	h.incidentCmd(dev, "general", "status inc-1 resolved")
	h.drain()
	// inc-2: declared from Slack (sev1), acknowledged after 2 minutes, resolved after 3 hours.
	h.advance(2 * time.Hour)
	h.incidentCmd(dev, "general", "declare Payments queue stuck sev1")
	h.drain()
	inc2 := h.incident("inc-2")
	h.advance(2 * time.Minute)
	if err := h.pd.Acknowledge(inc2.PDIncidentID, "PUONCALL"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.advance(3*time.Hour - 2*time.Minute)
	h.incidentCmd(dev, "general", "status inc-2 resolved")
	h.drain()
	h.incidentCmd(dev, "general", "action inc-2 Alert on queue age <@U0DEV> due 2026-11-23")
	// inc-3: still open.
	h.incidentCmd(dev2, "general", "declare Search is slow sev3")
	h.drain()
	h.advance(7 * 24 * time.Hour) // post-mortems past due, the action item overdue

	got := map[string]json.RawMessage{}
	text := h.incidentCmd(dev, "general", "stats")
	for _, want := range []string{"Incidents of platform, last 30 days", "3 incidents", "time to acknowledge median 2m, p90 6m",
		"time to resolve median 1h, p90 3h", "sev1: 1", "Platform API: 3", "0 done · 2 overdue", "1 open (1 overdue)"} {
		if !strings.Contains(text, want) {
			t.Errorf("stats lack %q:\n%s", want, text)
		}
	}
	got["reply_incident_stats"] = h.lastReplyBlocks()

	if text := h.incidentCmd(analyst, "general", "stats platform 7d"); !strings.Contains(text, "Only members of platform and opsbot's admins") {
		t.Errorf("another team's member saw platform's figures: %s", text)
	}
	if text := h.incidentCmd(stranger, "general", "stats"); !strings.Contains(text, "You are in no team") || !strings.Contains(text, "/incident stats [TEAM] [30d]") {
		t.Errorf("someone in no team: %s", text)
	}
	text = h.incidentCmd(dev, "general", "stats nosuchteam")
	if !strings.Contains(text, `There is no team "nosuchteam"`) || !strings.Contains(text, "Usage: /incident stats [TEAM] [30d]") {
		t.Errorf("unknown team: %s", text)
	}
	got["reply_stats_unknown_team"] = h.lastReplyBlocks()
	if text := h.incidentCmd(dev, "general", "stats platform 400d"); !strings.Contains(text, "is not a window") || !strings.Contains(text, "Usage: /incident stats") {
		t.Errorf("bad window: %s", text)
	}
	if text := h.incidentCmd(dev, "general", "stats data 7d"); !strings.Contains(text, "Only members of data") {
		t.Errorf("platform member asking for data: %s", text)
	}
	if text := h.incidentCmd(dev, "general", "stats PLATFORM 1d"); !strings.Contains(text, "No incidents in this window") {
		t.Errorf("a quiet day: %s", text)
	}
	checkGolden(t, got)
}

// clickValue clicks the button of msg whose value is value, whatever
// its action_id (the renderer numbers repeated ones: review.decide#2).
func (h *harness) clickValue(user string, msg slackfake.Message, value string) int {
	h.t.Helper()
	var blocks []struct {
		Elements []map[string]any `json:"elements"`
	}
	if err := json.Unmarshal(msg.Blocks, &blocks); err != nil {
		h.t.Fatal(err)
	}
	for _, b := range blocks {
		for _, el := range b.Elements {
			if el["value"] == value {
				return h.click(user, msg, el["action_id"].(string), value)
			}
		}
	}
	h.t.Fatalf("no button with value %q in %s", value, messageText(msg))
	return 0
}

// clickStale clicks a button that was on msg when it was read, as a
// double click or a client that has not refreshed sends it.
func (h *harness) clickStale(user string, msg slackfake.Message, value string) int {
	h.t.Helper()
	var blocks []struct {
		Elements []map[string]any `json:"elements"`
	}
	_ = json.Unmarshal(msg.Blocks, &blocks)
	for _, b := range blocks {
		for _, el := range b.Elements {
			if el["value"] == value {
				return h.send(h.slack.BlockAction(testSecret, slackfake.Click{User: user, Channel: msg.Channel, MessageTS: msg.TS,
					ActionID: el["action_id"].(string), Value: value, Forge: true}))
			}
		}
	}
	// No such button: a forged click.
	return h.send(h.slack.BlockAction(testSecret, slackfake.Click{User: user, Channel: msg.Channel, MessageTS: msg.TS,
		ActionID: "review.decide", Value: value, Forge: true}))
}

// seedAlertHistory puts four weeks of PagerDuty history on the platform
// service before the harness's start (Saturday 21 November 2026, 10:00
// in Berlin): a disk alert that flaps, a night-time page, an alert that
// resolves on its own, and noisy low-urgency ones.
func (h *harness) seedAlertHistory() int {
	h.t.Helper()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	day := func(d, hour, minute int) time.Time { return time.Date(2026, 11, d, hour, minute, 0, 0, berlin) }
	n := 0
	add := func(p pdfake.Past) {
		h.t.Helper()
		p.ServiceID = pdService
		if _, err := h.pd.AddPast(p); err != nil {
			h.t.Fatal(err)
		}
		n++
	}
	disk := func(pct int) []pdfake.Alert {
		return []pdfake.Alert{{Key: "disk-full-db", Summary: fmt.Sprintf("Disk %d%% full on db-1", pct)}}
	}
	// Flapping: resolved by its integration, fires again 20 minutes later, twice.
	for i, start := range []time.Time{day(17, 14, 0), day(17, 14, 35), day(17, 15, 10)} {
		add(pdfake.Past{Title: "Disk full on db-1", CreatedAt: start, ResolvedAt: start.Add(15 * time.Minute), Alerts: disk(91 + i)})
	}
	// A night-time page: 03:12 on Thursday, acknowledged after 7 minutes, fixed after 52.
	add(pdfake.Past{Title: "Checkout 5xx above 2%", CreatedAt: day(19, 3, 12), AckedAt: day(19, 3, 19), AckedBy: "PUONCALL",
		ResolvedAt: day(19, 4, 4), ResolvedBy: "PUONCALL", Alerts: []pdfake.Alert{{Key: "checkout-5xx", Summary: "Checkout 5xx above 2% for 5m"}}})
	// Auto-resolving, low urgency, many times: certificate expiry checks.
	for i := range 6 {
		at := day(10+i, 11, 0)
		add(pdfake.Past{Title: "TLS cert expires soon", Urgency: "low", CreatedAt: at, ResolvedAt: at.Add(3 * time.Minute),
			Alerts: []pdfake.Alert{{Summary: fmt.Sprintf("Certificate for api-%d.example.com expires in %d days", i, 20-i)}}})
	}
	// Low urgency, acknowledged: queue depth.
	for i := range 3 {
		at := day(12+2*i, 16, 0)
		add(pdfake.Past{Title: "Queue depth high", Urgency: "low", CreatedAt: at, AckedAt: at.Add(30 * time.Minute), AckedBy: "PULEAD",
			ResolvedAt: at.Add(2 * time.Hour), ResolvedBy: "PULEAD", Alerts: []pdfake.Alert{{Key: "queue-depth", Summary: "Queue depth 12000"}}})
	}
	// The window before: the disk alert twice.
	add(pdfake.Past{Title: "Disk full on db-1", CreatedAt: day(3, 10, 0), AckedAt: day(3, 10, 5), AckedBy: "PUONCALL",
		ResolvedAt: day(3, 11, 0), ResolvedBy: "PUONCALL", Alerts: disk(90)})
	add(pdfake.Past{Title: "Disk full on db-1", CreatedAt: day(5, 10, 0), ResolvedAt: day(5, 10, 30), Alerts: disk(90)})
	return n
}

// reviewThread returns the review's messages in #incidents: the header
// first, then its thread (the items; the chart's file share left out,
// see reviewFiles).
func (h *harness) reviewThread(id string) []slackfake.Message {
	h.t.Helper()
	var out []slackfake.Message
	for _, m := range h.reviewMessages(id) {
		if len(m.Files) == 0 {
			out = append(out, m)
		}
	}
	return out
}

// reviewFiles returns the files shared in the review's thread.
func (h *harness) reviewFiles(id string) []slackfake.File {
	h.t.Helper()
	var out []slackfake.File
	for _, m := range h.reviewMessages(id) {
		out = append(out, m.Files...)
	}
	return out
}

func (h *harness) reviewMessages(id string) []slackfake.Message {
	h.t.Helper()
	for _, m := range h.channelMessages("incidents") {
		if strings.Contains(messageText(m), "Alert review "+id+":") {
			c, _ := h.slack.Channel("incidents")
			return h.slack.Thread(c.ID, m.TS)
		}
	}
	h.t.Fatalf("no alert review %s in #incidents", id)
	return nil
}

func TestAlertReview_OnDemandDecisionsAndFollowUps(t *testing.T) {
	h := newHarness(t)
	seeded := h.seedAlertHistory()
	h.clock.Set(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	got := map[string]json.RawMessage{}

	if text := h.incidentCmd(stranger, "general", "review platform"); !strings.Contains(text, "Only members of platform") {
		t.Errorf("an outsider started platform's review: %s", text)
	}
	if text := h.incidentCmd(dev, "general", "review nosuchteam"); !strings.Contains(text, "Usage: /incident review [TEAM]") {
		t.Errorf("unknown team: %s", text)
	}
	if text := h.incidentCmd(analyst, "general", "review"); !strings.Contains(text, "data has no PagerDuty service") {
		t.Errorf("a team with no service: %s", text)
	}
	text := h.incidentCmd(dev, "general", "review")
	if !strings.Contains(text, "Preparing the alert review rev-1 of platform") {
		t.Fatalf("review request: %s", text)
	}
	got["reply_review_preparing"] = h.lastReplyBlocks()
	if text := h.incidentCmd(dev2, "general", "review platform"); !strings.Contains(text, "being prepared already") {
		t.Errorf("a second request while preparing: %s", text)
	}
	before := len(h.pd.Calls())
	h.drain()
	calls := h.pd.Calls()[before:]
	// The window (14 days) and the one before: every seeded incident is
	// in one of them. One list page, then per incident its alerts and its
	// log overview.
	if want := 1 + 2*seeded; len(calls) != want {
		t.Errorf("%d PagerDuty calls for %d incidents, want %d", len(calls), seeded, want)
	}
	thread := h.reviewThread("rev-1")
	header := messageText(thread[0])
	for _, want := range []string{"13 alerts", "against 2 in the window before", "4 high urgency (paged), 9 low", "1 paged outside business hours",
		"2 flapping", "Platform API: 13 alerts (+11)", "2 critical alerts", "2 non-critical"} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %q:\n%s", want, header)
		}
	}
	got["review_header"] = thread[0].Blocks
	// The chart: one picture in the thread, right under the header, the
	// window's incidents per day; the same bytes as its golden picture.
	all := h.reviewMessages("rev-1")
	files := h.reviewFiles("rev-1")
	if len(files) != 1 || len(all[1].Files) != 1 {
		t.Fatalf("%d files in the review's thread (first reply has %d), want the chart under the header", len(files), len(all[1].Files))
	}
	checkPicture(t, "review_chart", files[0].Data)
	if !strings.Contains(files[0].Title, "PagerDuty incidents per day, platform") {
		t.Errorf("chart title %q", files[0].Title)
	}
	if len(thread) != 5 {
		for _, m := range thread {
			t.Log(messageText(m))
		}
		t.Fatalf("%d messages in the review's thread, want the header and 4 items", len(thread))
	}
	disk, cert := thread[1], thread[3]
	if !strings.Contains(messageText(disk), "disk-full-db") || !strings.Contains(messageText(disk), "2 flapping") {
		t.Errorf("first item: %s", messageText(disk))
	}
	if !strings.Contains(messageText(cert), "Certificate for api-#.example.com expires in # days") {
		t.Errorf("normalized summary: %s", messageText(cert))
	}
	got["review_item_critical"] = disk.Blocks

	// Who may decide: not another team's member, not someone in no team.
	h.clickValue(analyst, disk, "rev-1 1 keep")
	if r := h.lastResponse(); !strings.Contains(r, "Only members of platform and opsbot's admins decide") {
		t.Errorf("another team's member decided: %s", r)
	}
	h.clickValue(dev2, disk, "rev-1 1 noncritical")
	if r := h.lastResponse(); !strings.Contains(r, "You own the follow-up") {
		t.Errorf("decision: %s", r)
	}
	h.drain()
	// The double click, and a second opinion from a client that still
	// shows the buttons.
	h.clickStale(dev2, disk, "rev-1 1 noncritical")
	if r := h.lastResponse(); !strings.Contains(r, "was decided already: Make non-critical") {
		t.Errorf("double click: %s", r)
	}
	h.clickStale(lead, disk, "rev-1 1 keep")
	if r := h.lastResponse(); !strings.Contains(r, "was decided already") {
		t.Errorf("a later click changed the decision: %s", r)
	}
	h.clickStale(dev, cert, "rev-1 3 keep")
	if r := h.lastResponse(); !strings.Contains(r, "is not a decision for this alert") {
		t.Errorf("keep critical on a non-critical alert: %s", r)
	}
	h.clickValue(dev, cert, "rev-1 3 discuss")
	h.drain()
	h.clickValue(dev, cert, "rev-1 3 tune")
	h.drain()
	thread = h.reviewThread("rev-1")
	got["review_item_decided"] = thread[1].Blocks
	if text := messageText(thread[1]); !strings.Contains(text, "Decided: *Make non-critical*") || !strings.Contains(text, "owns it, due") {
		t.Errorf("decided item: %s", text)
	}

	// The follow-up is reminded daily from its due date (14 days) until done.
	for range 15 {
		h.advance(24 * time.Hour)
		if _, err := h.app.Incidents.ReviewTick(context.Background()); err != nil {
			t.Fatal(err)
		}
		h.drain()
	}
	reminders := 0
	var reminder slackfake.Message
	for _, m := range h.dms(dev2) {
		if strings.Contains(messageText(m), "From the alert review rev-1") {
			reminders++
			reminder = m
		}
	}
	if reminders != 2 {
		t.Fatalf("%d reminders to dev2 after 15 days, want 2 (due after 14, then daily)", reminders)
	}
	got["dm_review_followup"] = reminder.Blocks
	h.clickValue(stranger, reminder, "rev-1 1")
	if r := h.lastResponse(); !strings.Contains(r, "Only members of platform") {
		t.Errorf("an outsider closed the follow-up: %s", r)
	}
	h.clickValue(dev2, reminder, "rev-1 1")
	if r := h.lastResponse(); !strings.Contains(r, "Marked done") {
		t.Errorf("done: %s", r)
	}
	h.clickStale(dev2, reminder, "rev-1 1")
	if r := h.lastResponse(); !strings.Contains(r, "marked done already") {
		t.Errorf("done twice: %s", r)
	}
	for range 3 {
		h.advance(24 * time.Hour)
		if _, err := h.app.Incidents.ReviewTick(context.Background()); err != nil {
			t.Fatal(err)
		}
		h.drain()
	}
	n := 0
	for _, m := range h.dms(dev2) {
		if strings.Contains(messageText(m), "From the alert review rev-1") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d reminders after done, want still 2", n)
	}
	checkGolden(t, got)
}

func TestAlertReview_ScheduledOncePerSlotAcrossRestartsAndClockJumps(t *testing.T) {
	h := newHarness(t)
	h.seedAlertHistory()
	tick := func() int {
		t.Helper()
		n, err := h.app.Incidents.ReviewTick(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		h.drain()
		return n
	}
	reviews := func() int {
		n := 0
		for _, m := range h.channelMessages("incidents") {
			if strings.Contains(messageText(m), "Alert review rev-") && !m.IsReply() {
				n++
			}
		}
		return n
	}
	// Saturday 21 November: the last slot (Monday 16 November 10:00) is past its grace.
	if tick(); reviews() != 0 {
		t.Fatalf("a stale slot was held: %d reviews", reviews())
	}
	// Monday 30 November 10:00 in Berlin is 09:00 UTC, a review Monday.
	h.clock.Set(time.Date(2026, 11, 30, 8, 59, 0, 0, time.UTC))
	if tick(); reviews() != 0 {
		t.Fatalf("held a minute early")
	}
	h.clock.Set(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	tick()
	tick()
	if reviews() != 1 {
		t.Fatalf("%d reviews after two ticks at the slot, want 1", reviews())
	}
	h.restart()
	h.clock.Set(time.Date(2026, 11, 30, 9, 30, 0, 0, time.UTC))
	tick()
	// The clock jumps back an hour, then on again.
	h.clock.Set(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	tick()
	h.clock.Set(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
	tick()
	if reviews() != 1 {
		t.Fatalf("%d reviews after a restart and a clock jump, want 1", reviews())
	}
	// The Monday between is no review day; a jump of a month holds only the latest slot.
	h.clock.Set(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	tick()
	h.clock.Set(time.Date(2027, 1, 12, 9, 0, 0, 0, time.UTC)) // Tuesday after the 11 January review
	tick()
	if reviews() != 2 {
		t.Fatalf("%d reviews after jumping a month, want 2 (the latest slot only)", reviews())
	}
}

func TestAlertReview_PagerDutyFailingPausesAndResumes(t *testing.T) {
	h := newHarness(t)
	h.seedAlertHistory()
	h.incidentCmd(dev, "general", "review")
	// Every try of the first incident's alerts fails for a while.
	h.pd.FailNext("GET /incidents/{id}/alerts", 503, 5)
	h.drain()
	for _, m := range h.channelMessages("incidents") {
		if strings.Contains(messageText(m), "Alert review rev-1") {
			t.Fatal("posted while PagerDuty was failing")
		}
	}
	h.advance(time.Minute)
	h.drain()
	if thread := h.reviewThread("rev-1"); len(thread) < 2 {
		t.Fatalf("resumed review has %d messages", len(thread))
	}
}

// checkPicture compares a PNG with its golden picture
// (testdata/golden/NAME.png; -update rewrites it: look at it first).
func checkPicture(t *testing.T, name string, data []byte) {
	t.Helper()
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("%s is not a PNG: %v", name, err)
	}
	path := filepath.Join("testdata", "golden", name+".png")
	if *update {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run with -update and look at the picture)", name, err)
	}
	if !bytes.Equal(want, data) {
		t.Errorf("%s differs from %s (run with -update and look at the picture)", name, path)
	}
}

// TestAlertReview_OffboardedMemberDecidesNothing attacks the offboarding
// promise ("opsbot takes no decision or action from them, even while the
// config still names them") through the alert review: a member who was
// offboarded and still presses a decision, or Done on a follow-up they
// own, or asks for a review, is refused with the reason and the item
// does not change.
func TestAlertReview_OffboardedMemberDecidesNothing(t *testing.T) {
	h := newHarness(t)
	h.seedAlertHistory()
	h.clock.Set(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	h.incidentCmd(dev, "general", "review")
	h.drain()
	thread := h.reviewThread("rev-1")
	disk, cert := thread[1], thread[3]
	h.clickValue(dev2, disk, "rev-1 1 noncritical")
	if r := h.lastResponse(); !strings.Contains(r, "You own the follow-up") {
		t.Fatalf("decision: %s", r)
	}
	h.drain()
	mustContain(t, "offboard", h.ops(admin, "offboard dev2@example.com"), "is offboarded")
	h.drain()
	h.clickValue(dev2, cert, "rev-1 3 tune")
	if r := h.lastResponse(); !strings.Contains(r, "was offboarded") {
		t.Errorf("an offboarded member decided: %s", r)
	}
	if text := h.incidentCmd(dev2, "general", "review platform"); !strings.Contains(text, "was offboarded") {
		t.Errorf("an offboarded member started a review: %s", text)
	}
	h.clickValue(dev2, h.reviewThread("rev-1")[1], "rev-1 1")
	if r := h.lastResponse(); !strings.Contains(r, "was offboarded") {
		t.Errorf("an offboarded owner marked the follow-up done: %s", r)
	}
	h.drain()
	thread = h.reviewThread("rev-1")
	if text := messageText(thread[3]); strings.Contains(text, "Decided") {
		t.Errorf("the item was decided:\n%s", text)
	}
	if text := messageText(thread[1]); strings.Contains(text, "Done on") {
		t.Errorf("the follow-up was marked done:\n%s", text)
	}
	// Someone still in the team decides it.
	h.clickValue(dev, cert, "rev-1 3 tune")
	if r := h.lastResponse(); strings.Contains(r, "offboarded") || strings.Contains(r, "Only members") {
		t.Errorf("a member was refused: %s", r)
	}
}
