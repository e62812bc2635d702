package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestNags_AtFixedInstants(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Search down sev1")
	h.drain()
	ch := h.incidentChannels()[0]
	nags := func() int {
		n := 0
		for _, m := range h.slack.Messages(ch.ID) {
			if strings.Contains(messageText(m), "with no update") {
				n++
			}
		}
		return n
	}
	h.advance(29 * time.Minute)
	if n := nags(); n != 0 {
		t.Fatalf("nagged before 30 minutes")
	}
	h.advance(time.Minute)
	if n := nags(); n != 1 {
		t.Fatalf("%d nags at 30 minutes", n)
	}
	last := h.slack.Messages(ch.ID)[len(h.slack.Messages(ch.ID))-1]
	mustContain(t, "nag", messageText(last), "30 minutes with no update", "<@U0DEV>", "Snooze")
	h.advance(time.Minute)
	h.restart()
	h.advance(time.Minute)
	if n := nags(); n != 1 {
		t.Fatalf("nag repeated (after a restart): %d", n)
	}
	h.advance(28 * time.Minute)
	if n := nags(); n != 2 {
		t.Fatalf("%d nags at 60 minutes, want the second", n)
	}
	h.incidentCmd(dev, ch.ID, "update Found the bad index")
	h.advance(29 * time.Minute)
	if n := nags(); n != 2 {
		t.Fatalf("nagged although an update came: %d", n)
	}
	// Snooze holds it.
	h.advance(time.Minute)
	if n := nags(); n != 3 {
		t.Fatalf("%d nags 30 minutes after the update", n)
	}
	msgs := h.slack.Messages(ch.ID)
	// The second button of a kind gets a suffix on its action_id (Slack
	// wants them unique); opsbot routes on the base ID.
	h.click(dev, msgs[len(msgs)-1], workflows.ActNagSnooze+"#2", "inc-1 update 2h")
	h.advance(90 * time.Minute)
	if n := nags(); n != 3 {
		t.Fatalf("nagged while snoozed")
	}
	// Resolved: no update nags; a day later, the meeting nag, daily.
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	meeting := func() int {
		n := 0
		for _, m := range h.slack.Messages(ch.ID) {
			if strings.Contains(messageText(m), "schedule the post-mortem meeting") {
				n++
			}
		}
		return n
	}
	h.advance(23 * time.Hour)
	if meeting() != 0 || nags() != 3 {
		t.Fatalf("meeting nag early or update nag after resolution")
	}
	h.advance(time.Hour)
	if meeting() != 1 {
		t.Fatalf("%d meeting nags a day after", meeting())
	}
	h.advance(time.Hour)
	if meeting() != 1 {
		t.Fatalf("meeting nag repeated within the day")
	}
	reply := h.incidentCmd(dev, ch.ID, "postmortem scheduled 2026-11-27 15:00")
	mustContain(t, "scheduled", reply, "recorded", "Fri 27 Nov 15:00 CET")
	h.drain()
	page := h.notion.Pages(h.dbID)[0]
	if v := page.Properties["Meeting"]; !strings.Contains(fmt.Sprint(v), "2026-11-27") {
		t.Errorf("Notion Meeting property %+v", v)
	}
	h.advance(48 * time.Hour)
	if meeting() != 1 {
		t.Fatalf("meeting nag after the meeting was recorded")
	}
}

func TestMeetingDateSetInNotion_Counts(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Disk full sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	inc := h.incident("inc-1")
	// Someone sets the date directly in Notion.
	if err := h.app.Notion.SetMeeting(t.Context(), workflows.DocRef{PageID: inc.PostmortemPageID}, start.Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	h.advance(25 * time.Hour)
	for _, m := range h.slack.Messages(ch.ID) {
		if strings.Contains(messageText(m), "schedule the post-mortem meeting") {
			t.Fatal("nagged although the date is in Notion")
		}
	}
	if got := h.incident("inc-1"); got.MeetingAt.IsZero() {
		t.Error("the date from Notion was not recorded")
	}
}

func TestPostmortemOverdue_RemindsTheOwner(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Slow builds sev3")
	h.drain()
	ch := h.incidentChannels()[0]
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.incidentCmd(dev, ch.ID, "postmortem scheduled 2026-11-22 10:00")
	h.drain()
	dmCount := func() int {
		n := 0
		for _, m := range h.dms(dev) {
			if strings.Contains(messageText(m), "post-mortem of inc-1") {
				n++
			}
		}
		return n
	}
	h.advance(5*24*time.Hour - time.Minute)
	if dmCount() != 0 {
		t.Fatal("reminded before the due date")
	}
	h.advance(time.Minute)
	if dmCount() != 1 {
		t.Fatalf("%d reminders at the due date", dmCount())
	}
	h.incidentCmd(dev, ch.ID, "postmortem done")
	h.advance(48 * time.Hour)
	if dmCount() != 1 {
		t.Fatal("reminded after it was marked done")
	}
}

func TestNags_WaitForBusinessHours(t *testing.T) {
	h := newHarness(t)
	h.extra = "  business_hours: {days: [mon, tue, wed, thu, fri], start: \"09:00\", end: \"18:00\"}\n"
	h.restart()
	// start is Saturday 09:00 UTC.
	h.incidentCmd(dev, "general", "declare Flaky tests sev3")
	h.drain()
	ch := h.incidentChannels()[0]
	count := func() int {
		n := 0
		for _, m := range h.slack.Messages(ch.ID) {
			if strings.Contains(messageText(m), "with no update") {
				n++
			}
		}
		return n
	}
	h.advance(10 * time.Hour)
	if count() != 0 {
		t.Fatal("a sev3 nagged on a Saturday")
	}
	// Monday 08:59 Berlin is 07:59 UTC: still outside.
	monday := time.Date(2026, 11, 23, 7, 59, 0, 0, time.UTC)
	h.advance(monday.Sub(h.clock.Now()))
	if count() != 0 {
		t.Fatal("nagged before business hours")
	}
	h.advance(time.Minute)
	if count() != 1 {
		t.Fatalf("%d nags when business hours began", count())
	}
}
