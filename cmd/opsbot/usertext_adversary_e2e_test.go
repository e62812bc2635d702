package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Adversarial tests of user text: what a person typed (a title, a
// reason, an action item) is shown as typed wherever opsbot echoes it,
// never as markup that acts.

// hostileText pastes opsbot's own mention mark around a user ID (private
// use characters anyone can paste), Slack formatting and a broadcast.
const hostileText = "\uE002" + analyst + "\uE003 *pwned* <!here>"

// mrkdwnTexts returns the texts Slack reads as mrkdwn in a Block Kit
// payload.
func mrkdwnTexts(raw json.RawMessage) []string {
	return textsIn(raw, func(obj map[string]any) bool { return obj["type"] == "mrkdwn" })
}

// checkInert fails when what shows hostileText acting: a live mention of
// the analyst (nobody named them), a broadcast, or *pwned* set in bold
// (outside the code span Slack formats nothing in).
func checkInert(t *testing.T, where, fallback string, blocks json.RawMessage) {
	t.Helper()
	all := fallback + "\n" + blockText(blocks)
	if strings.Contains(all, "<@"+analyst+">") || strings.Contains(all, "<!here>") || strings.ContainsAny(all, "\uE002\uE003") {
		t.Errorf("%s: typed text acts (a forged mention or a broadcast):\n%s", where, all)
	}
	for _, s := range mrkdwnTexts(blocks) {
		for _, line := range strings.Split(s, "\n") {
			if i := strings.Index(line, "*pwned*"); i >= 0 && !strings.Contains(line[:i], "`") {
				t.Errorf("%s: typed *pwned* is set in bold: %q", where, line)
			}
		}
	}
}

// TestUserText_TypedTextNeverActs types the same hostile text as an
// incident title, an action item, a cancel reason and a server request's
// reason, and reads every message, DM, answer and Home tab opsbot made
// from them (the replies to declare and action, the cancel line in the
// channel, the action item's and the post-mortem's reminders, the
// approver's Home). The reminders, the cancel line and the replies put
// the text in unmarked, so the pasted mark became a live mention of a
// person nobody named and *pwned* went bold; the Home tab escaped &, <
// and > but let the formatting act.
func TestUserText_TypedTextNeverActs(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Orders "+hostileText+" sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	mustContain(t, "act-1", h.incidentCmd(dev, ch.ID, "action Fix "+hostileText+" <@"+dev2+"> due 2026-11-23"), "act-1 recorded")
	h.ops(dev, "server request build-box for 1d "+hostileText)
	h.drain()
	for _, u := range []string{lead, dev} { // the approval's reason, the open incident's title
		h.home(u)
		for _, v := range h.slack.Views(u) {
			if v.Type == "home" {
				checkInert(t, "Home of "+u, "", v.JSON)
			}
		}
	}
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.incidentCmd(dev, "general", "declare Other thing sev3")
	h.drain()
	ch2 := h.incidentChannels()[1]
	mustContain(t, "cancel", h.incidentCmd(dev, ch2.ID, "cancel "+hostileText), "cancelled")
	h.drain()
	for range 7 {
		h.advance(24 * time.Hour)
	}

	reminded := map[string]bool{}
	for _, c := range h.slack.Channels() {
		for _, m := range h.slack.Messages(c.ID) {
			checkInert(t, "message in "+c.Name+c.User, m.Text, m.Blocks)
			if s := messageText(m); strings.Contains(s, "Action item act-1") {
				reminded["action"] = true
			} else if strings.Contains(s, "post-mortem of inc-1") {
				reminded["postmortem"] = true
			} else if strings.Contains(s, "inc-2 is cancelled") {
				reminded["cancel"] = true
			}
		}
	}
	for _, r := range h.slack.Responses() {
		checkInert(t, "answer to "+r.User, r.Text, r.Blocks)
	}
	for _, want := range []string{"action", "postmortem", "cancel"} {
		if !reminded[want] {
			t.Errorf("no %s message to check", want)
		}
	}
}

// TestActionItem_DueDateInThePastIsRefused: an action item's owner is
// reminded from its due date on, so a due date already past (a typo of
// the year, a date copied from another item) made an item whose owner
// was reminded at once and every day after. Now it is refused with the
// reason and nothing is recorded; today is still a due date.
func TestActionItem_DueDateInThePastIsRefused(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Orders slow sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	for _, due := range []string{"2025-11-21", "2026-11-20", "0001-01-01"} {
		reply := h.incidentCmd(dev, ch.ID, "action Add an index <@"+dev2+"> due "+due)
		mustContain(t, due, reply, due, "in the past")
		if strings.Contains(reply, "recorded") {
			t.Errorf("due %s: recorded: %s", due, reply)
		}
	}
	// Today (the team's day: 21 Nov) is a due date.
	mustContain(t, "today", h.incidentCmd(dev, ch.ID, "action Check the plan <@"+dev2+"> due 2026-11-21"), "act-1 recorded")
	h.drain()
	if n := h.countActions(); n != 1 {
		t.Fatalf("%d action items recorded, want only act-1", n)
	}
	h.advance(24 * time.Hour)
	for _, m := range h.dms(dev2) {
		if strings.Contains(messageText(m), "Add an index") {
			t.Errorf("reminded of a refused item: %s", messageText(m))
		}
	}
}

// countActions counts the action items of inc-1.
func (h *harness) countActions() int {
	h.t.Helper()
	n := 0
	if err := h.app.DB.View(h.t.Context(), func(tx workflows.Tx) error {
		as, err := tx.Actions("inc-1")
		n = len(as)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// TestFarDates_KeptFarAhead: the store keeps times as Unix nanoseconds,
// which hold 1678 to 2262; a later date wrapped around. An action item
// due 9999-12-31 was stored as due in 1816, so its owner was reminded at
// once ("was due ... 76938 days ago") and every day after, and a
// post-mortem meeting recorded for 9999 read back as one in 1815. Now a
// time beyond the store's range is kept at its far end: still far ahead.
func TestFarDates_KeptFarAhead(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Orders slow sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	mustContain(t, "act-1", h.incidentCmd(dev, ch.ID, "action Someday <@"+dev2+"> due 9999-12-31"), "act-1 recorded")
	mustContain(t, "meeting", h.incidentCmd(dev, ch.ID, "postmortem scheduled 9999-01-01 10:00"), "recorded")
	h.drain()
	if due := h.action("act-1").Due; due.Year() < 2262 {
		t.Errorf("due 9999-12-31 read back as %s", due)
	}
	if at := h.incident("inc-1").MeetingAt; at.Year() < 2262 {
		t.Errorf("meeting 9999-01-01 read back as %s", at)
	}
	h.advance(24 * time.Hour)
	for _, m := range h.dms(dev2) {
		if strings.Contains(messageText(m), "act-1") {
			t.Errorf("reminded of an item due in 9999: %s", messageText(m))
		}
	}
}

// TestMeeting_BeforeTheIncidentIsRefused: `/incident postmortem
// scheduled 2020-01-01 10:00` (a year mistyped) was recorded, shown back
// without its year ("Wed 1 Jan 10:00") and ended the meeting reminder
// for good. A post-mortem meeting cannot come before the incident it
// reviews: refused with the reason, nothing recorded; a meeting already
// held since the incident began is still recorded.
func TestMeeting_BeforeTheIncidentIsRefused(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Orders slow sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	reply := h.incidentCmd(dev, ch.ID, "postmortem scheduled 2020-01-01 10:00")
	mustContain(t, "2020", reply, "before inc-1")
	if !h.incident("inc-1").MeetingAt.IsZero() {
		t.Fatalf("a meeting in 2020 was recorded: %s", h.incident("inc-1").MeetingAt)
	}
	h.clock.Advance(48 * time.Hour)
	mustContain(t, "held yesterday", h.incidentCmd(dev, ch.ID, "postmortem scheduled 2026-11-22 15:00"), "Post-mortem meeting for inc-1 recorded")
}

// TestUserText_OpsbotMarksNeverLeaveIt: opsbot marks text people typed
// and mentions with private-use characters inside its own messages. The
// same characters pasted into a slash command (or a PagerDuty title)
// were stored as typed, so they reached PagerDuty's incident and the
// post-mortem in Notion as stray characters, and the post-mortem's
// timeline even read the pasted mention mark and put a person's name in
// the title there. Text from Slack and PagerDuty now enters without them.
func TestUserText_OpsbotMarksNeverLeaveIt(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Orders "+hostileText+" sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	h.incidentCmd(dev, ch.ID, "action Fix "+hostileText+" <@"+dev2+"> due 2026-11-24")
	h.incidentCmd(dev, ch.ID, "update "+hostileText)
	h.incidentCmd(dev, ch.ID, "status resolved")
	if _, err := h.pd.Trigger(pdService, "Disk \uE000full\uE001 on \uE002"+analyst+"\uE003"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	marks := "\uE000\uE001\uE002\uE003"
	for _, inc := range []string{"inc-1", "inc-2"} {
		if s := h.incident(inc).Title; strings.ContainsAny(s, marks) {
			t.Errorf("%s's title keeps opsbot's marks: %q", inc, s)
		}
	}
	if s := h.action("act-1").Text; strings.ContainsAny(s, marks) {
		t.Errorf("act-1 keeps opsbot's marks: %q", s)
	}
	for _, page := range h.notion.Pages(h.dbID) {
		for name, p := range page.Properties {
			if strings.ContainsAny(p.Text, marks) {
				t.Errorf("post-mortem property %s: %q", name, p.Text)
			}
		}
		for _, b := range h.notion.Blocks(page.ID) {
			if strings.ContainsAny(b.Text, marks) {
				t.Errorf("post-mortem block: %q", b.Text)
			}
		}
	}
	pdInc := h.incident("inc-1").PDIncidentID
	if in, ok := h.pd.Incident(pdInc); !ok || strings.ContainsAny(in.Title, marks) {
		t.Errorf("PagerDuty incident %s: %q", pdInc, in.Title)
	}
}

// TestRole_ByEmailOfNobodyInSlackIsRefused: a role, an added member or an
// action item's owner may be named by email. An email no Slack user has
// (a typo, another company's address) was taken as is: "role commander
// mallory@evil.example" answered "done", took the role from the person
// holding it and gave it to someone opsbot can never reach (no DM, no
// reminder), who could even change the incident should such an account
// appear. Now the email is looked up in Slack; one nobody has is
// refused with the reason and nothing changes. A known email in any
// case is the Slack user it belongs to.
func TestRole_ByEmailOfNobodyInSlackIsRefused(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Orders slow sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	for _, c := range []string{"role commander mallory@evil.example", "add mallory@evil.example", "action Fix it mallory@evil.example due 2026-11-30"} {
		reply := h.incidentCmd(dev, ch.ID, c)
		mustContain(t, c, reply, "mallory@evil.example", "no one in this Slack")
	}
	inc := h.incident("inc-1")
	if inc.Commander.SlackID != dev || len(inc.Added) != 0 || h.countActions() != 0 {
		t.Fatalf("changed for an email nobody has: commander %+v, added %v, %d action items", inc.Commander, inc.Added, h.countActions())
	}
	mustContain(t, "scribe", h.incidentCmd(dev, ch.ID, "role scribe DEV2@EXAMPLE.COM"), "done")
	if s := h.incident("inc-1").Scribe; s.SlackID != dev2 {
		t.Errorf("scribe by email in capitals: %+v, want %s", s, dev2)
	}
}

// TestIncidentTitle_OneLine: a PagerDuty title may hold line breaks (an
// alert's summary pasted with its body). The title heads the summary
// and the announcement as one bold line, so its lines came apart there:
// the bold broke, and a line of the title could pass for a line of
// opsbot's own (a status, a field). An incident's title is now one line,
// its line breaks and runs of spaces read as one space.
func TestIncidentTitle_OneLine(t *testing.T) {
	h := newHarness(t)
	if _, err := h.pd.Trigger(pdService, "Disk full on db-3\n\nStatus: resolved\n  by ops  "); err != nil {
		t.Fatal(err)
	}
	h.drain()
	if got := h.incident("inc-1").Title; got != "Disk full on db-3 Status: resolved by ops" {
		t.Errorf("title %q", got)
	}
}

// TestOffboard_MistypedEmailIsNoSuccess: an email copied with a
// zero-width space (from a document, a ticket) named nobody, yet
// `/ops offboard dev2@example.com<ZWSP>` answered "is offboarded" while
// dev2 kept every right; an email of nobody opsbot or Slack knows (a
// typo) was offboarded the same way, with nothing to tell the admin it
// was the wrong one. Now an invisible character is refused with the
// reason, nothing recorded, and an email nobody has is answered with a
// warning to check it.
func TestOffboard_MistypedEmailIsNoSuccess(t *testing.T) {
	h := newHarness(t)
	reply := h.ops(admin, "offboard dev2@example.com\u200b")
	mustContain(t, "zero-width", reply, "invisible", "U+200B")
	if strings.Contains(reply, "is offboarded") {
		t.Errorf("offboarded an email with a zero-width space: %s", reply)
	}
	for _, p := range []workflows.Person{{Email: "dev2@example.com\u200b"}, {SlackID: dev2, Email: "dev2@example.com"}} {
		if err := h.app.DB.View(h.t.Context(), func(tx workflows.Tx) error {
			gone, err := workflows.Departed(tx, p)
			if gone {
				t.Errorf("%+v recorded as departed", p)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	mustContain(t, "typo", h.ops(admin, "offboard mallory@evil.example"), "No one in this Slack or in opsbot's config has the email mallory@evil.example")
}

// TestActionDone_EchoesTheItemAsTyped: the answer to /incident action
// done shows the item's text as typed, like every other echo: *Rotate*
// was bold in it and @channel bare.
func TestActionDone_EchoesTheItemAsTyped(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Orders down sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	mustContain(t, "action", h.incidentCmd(dev, ch.ID, "action *Rotate* keys @channel now"), "act-1 recorded")
	mustContain(t, "done", h.incidentCmd(dev, ch.ID, "action done act-1"), "act-1 is done: `*Rotate* keys @\u2060channel now`.")
}
