package main

import (
	"strings"
	"testing"
	"time"
)

// lastWith returns the text of the channel's last message containing s.
func (h *harness) lastWith(channelID, s string) string {
	h.t.Helper()
	ms := h.slack.Messages(channelID)
	for i := len(ms) - 1; i >= 0; i-- {
		if t := messageText(ms[i]); strings.Contains(t, s) {
			return t
		}
	}
	h.t.Fatalf("no message with %q in %s", s, channelID)
	return ""
}

// TestDeclared_ChecklistAgreesWithSummary: the checklist and the summary
// are rendered from the same state, so once PagerDuty is paged neither
// says there is no PagerDuty incident. (The checklist used to be rendered
// once, when the channel opened, often before the page.)
func TestDeclared_ChecklistAgreesWithSummary(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Login is broken sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	url := h.incident("inc-1").PDURL
	if url == "" {
		t.Fatal("not paged")
	}
	summary := messageText(h.summary(ch.ID))
	checklist := h.lastWith(ch.ID, "Response checklist")
	mustContain(t, "summary", summary, url, "Platform API")
	mustContain(t, "checklist", checklist, url, "Acknowledge the page", "Incident commander: <@U0DEV>")
	if strings.Contains(checklist, "no PagerDuty incident") {
		t.Errorf("checklist contradicts the summary:\n%s", checklist)
	}
}

// TestUpdate_PostedToTheChannel_AndKeepsItsTime: an update is a message
// of its own (people are notified), the summary shows it with the time it
// was posted even after a later resolve, each change gets a short line,
// the new role holder is told, and the announcement follows the incident.
func TestUpdate_PostedToTheChannel_AndKeepsItsTime(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Login is broken sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	h.advance(10 * time.Minute)
	posted := h.clock.Now().In(mustZone(t, "Europe/Berlin")).Format("15:04")
	h.incidentCmd(dev, ch.ID, "update Rolled back 4.2; errors falling")
	h.drain()
	mustContain(t, "update message", h.lastWith(ch.ID, "Update on inc-1"), "Rolled back 4.2; errors falling", "Posted by <@U0DEV>")

	h.advance(40 * time.Minute)
	h.incidentCmd(dev, ch.ID, "role comms <@"+dev2+">")
	h.incidentCmd(dev, ch.ID, "severity sev1")
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	mustContain(t, "role line", h.lastWith(ch.ID, "is now Comms liaison"), "<@U0DEV2> is now Comms liaison, named by <@U0DEV>")
	mustContain(t, "severity line", h.lastWith(ch.ID, "Severity:"), "sev2 → *sev1*, by <@U0DEV>")
	mustContain(t, "status line", h.lastWith(ch.ID, "Status:"), "investigating → *resolved*, by <@U0DEV>")
	mustContain(t, "role DM", messageText(h.dms(dev2)[len(h.dms(dev2))-1]), "<@U0DEV> made you Comms liaison of inc-1")

	summary := messageText(h.summary(ch.ID))
	mustContain(t, "summary", summary, "Rolled back 4.2; errors falling ("+"Sat 21 Nov "+posted)
	announce := h.channelMessages("incidents")
	if len(announce) != 1 || announce[0].Edited == nil {
		t.Fatalf("announcement not edited in place: %d messages", len(announce))
	}
	mustContain(t, "announcement", messageText(announce[0]), "inc-1 (sev1) resolved after 50m")
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestPostmortem_RealNamesAndInertUserText: the post-mortem, read outside
// Slack, names people by their real names (users.info) with no Slack ID
// anywhere, and text people typed stays text: an update with "# heading"
// and "- [ ] todo" lines makes no heading or to-do.
func TestPostmortem_RealNamesAndInertUserText(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Login is broken sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	h.incidentCmd(dev, ch.ID, "role scribe <@"+lead+">")
	h.incidentCmd(dev, ch.ID, "update Rolled back\n# Root cause\n- [ ] fix the cache")
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	pages := h.notion.Pages(h.dbID)
	if len(pages) != 1 {
		t.Fatalf("%d post-mortems", len(pages))
	}
	if got := pages[0].Properties["Commander"].Text; got != "Dana Devlin" {
		t.Errorf("Commander property %q, want the real name", got)
	}
	var text []string
	headings, todos := 0, 0
	for _, b := range h.notion.Blocks(pages[0].ID) {
		text = append(text, b.Text)
		switch {
		case b.Type == "heading_1" && strings.Contains(b.Text, "Root cause"):
			headings++
		case b.Type == "to_do" && strings.Contains(b.Text, "fix the cache"):
			todos++
		}
	}
	body := strings.Join(text, "\n")
	mustContain(t, "post-mortem", body, "Dana Devlin · Rolled back", "# Root cause", "- [ ] fix the cache", "Dana Devlin · Scribe: Lee Lead",
		"Scribe: Lee Lead", "Incident commander: Dana Devlin")
	for _, id := range []string{dev, lead, "dev@example.com"} {
		if strings.Contains(body, id) {
			t.Errorf("post-mortem shows %q:\n%s", id, body)
		}
	}
	if headings+todos != 0 {
		t.Errorf("user text became structure: %d headings, %d to-dos", headings, todos)
	}
}
