package main

import (
	"strings"
	"testing"
	"time"
)

// TestActionItems_ToDosRemindedUntilCheckedOrDone: action items added
// during and after an incident land as to-dos with their owner on the
// post-mortem page; the owner is reminded by DM once per day from the due
// date, until the to-do is checked in Notion (read back) or marked done
// from Slack.
func TestActionItems_ToDosRemindedUntilCheckedOrDone(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Orders slow sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	reply := h.incidentCmd(dev, ch.ID, "action Add an index on orders.created_at <@"+dev+"> due 2026-11-24")
	mustContain(t, "action reply", reply, "act-1 recorded for inc-1", "U0DEV", "Due 2026-11-24")
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	h.incidentCmd(lead, "general", "action inc-1 Alert on p99 latency lead2@example.com due 2026-11-24")
	h.drain()
	todos := func() map[string]string {
		out := map[string]string{}
		for _, b := range h.notion.Blocks(h.incident("inc-1").PostmortemPageID) {
			if b.Type == "to_do" && strings.HasPrefix(b.Text, "act-") {
				out[b.Text[:5]] = b.ID
				mustContain(t, "to-do", b.Text, "owner ", "due Tue 24 Nov 2026")
			}
		}
		return out
	}
	ids := todos()
	if len(ids) != 2 {
		t.Fatalf("to-dos on the page: %v", ids)
	}
	reminders := func(user string) int {
		n := 0
		for _, m := range h.dms(user) {
			if strings.Contains(messageText(m), "Action item act-") {
				n++
			}
		}
		return n
	}
	// start is Sat 21 Nov 09:00 UTC; due is Tue 24 Nov 09:00 Berlin,
	// 08:00 UTC, 71 hours later.
	h.advance(70*time.Hour + 59*time.Minute)
	if reminders(dev) != 0 {
		t.Fatal("reminded before the due date")
	}
	h.advance(time.Minute)
	h.advance(time.Hour)
	h.advance(2 * time.Hour)
	if reminders(dev) != 1 || reminders(lead2) != 1 {
		t.Fatalf("at the due date: %d and %d reminders, want one each", reminders(dev), reminders(lead2))
	}
	// act-1 is checked in Notion; act-2 is marked done from Slack.
	checked := true
	if !h.notion.EditBlock(ids["act-1"], "", &checked) {
		t.Fatal("no to-do to check")
	}
	mustContain(t, "done reply", h.incidentCmd(lead2, "general", "action done act-2"), "act-2 is done")
	h.advance(24 * time.Hour)
	h.advance(24 * time.Hour)
	if reminders(dev) != 1 || reminders(lead2) != 1 {
		t.Fatalf("reminded after done: %d and %d", reminders(dev), reminders(lead2))
	}
	mustContain(t, "double done", h.incidentCmd(dev, ch.ID, "action done act-1"), "already done")
}
