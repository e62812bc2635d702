package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// TestLeaseWarning_OpsbotBackInTheGraceStillWarnsOnce: opsbot (or the
// replica that leads) is paused from before the 1h warning until after
// the lease end, and comes back within the grace. The owner must still be
// told, once, before the server is stopped: the grace is exactly the time
// in which an extension still saves it.
func TestLeaseWarning_OpsbotBackInTheGraceStillWarnsOnce(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.advance(r.LeaseEnd.Sub(h.clock.Now()) - 2*time.Hour) // the 24h warning went out
	before := len(h.dms(dev))

	// Paused through the 1h warning and the end; back 10 minutes into the
	// 30 minutes of grace.
	h.advance(2*time.Hour + 10*time.Minute)
	if n := len(h.ec2.CallsOf("StopInstances")); n != 0 {
		t.Fatalf("stopped inside the grace: %d stops", n)
	}
	got := h.dms(dev)[before:]
	if len(got) != 1 {
		t.Fatalf("%d DMs on coming back inside the grace, want one warning", len(got))
	}
	w := messageText(got[0])
	mustContain(t, "warning in the grace", w, r.ID+"'s lease ended", "stopped in 20m", "Mon 23 Nov 10:30 CET", "Extend 1 day", "Release now")

	// Never twice: the next ticks and a restart say nothing more.
	h.advance(time.Minute)
	h.restart()
	h.advance(time.Minute)
	if n := len(h.dms(dev)) - before; n != 1 {
		t.Fatalf("%d DMs after more ticks in the grace, want still one", n)
	}
	// The end comes as usual.
	h.advance(20 * time.Minute)
	if n := len(h.ec2.CallsOf("StopInstances")); n != 1 {
		t.Fatalf("%d stops when the grace ran out, want 1", n)
	}
	for _, m := range h.dms(dev)[before:] {
		if s := messageText(m); strings.Contains(s, "lease ended") && strings.Contains(s, "stopped in") && m.TS != got[0].TS {
			t.Errorf("a second grace warning: %s", s)
		}
	}
}

// TestLeaseWarning_SentBeforeTheEndIsNotRepeatedInTheGrace: opsbot ran
// all along; the 1h warning went out before the end, so the grace brings
// nothing new.
func TestLeaseWarning_SentBeforeTheEndIsNotRepeatedInTheGrace(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.advance(r.LeaseEnd.Sub(h.clock.Now()) - time.Hour)
	before := len(h.dms(dev))
	for range 4 {
		h.advance(7 * time.Minute)
		h.advance(8 * time.Minute)
	}
	for _, m := range h.dms(dev)[before:] {
		if s := messageText(m); strings.Contains(s, "lease ended") || strings.Contains(s, "lease ends in") {
			t.Errorf("warned again in the grace: %s", s)
		}
	}
}

// TestExtensionWaitingAtTheLeaseEnd_IsNotApprovedOntoAStoppedServer: the
// owner asks for an extension that needs an approver an hour before the
// end; the approvers take longer than the lease and its grace. The server
// is stopped at the end. An approval clicked afterwards must not extend
// the lease of a server that no longer runs, nor commit its cost: the
// extension was overtaken by the end, and everyone is told so.
func TestExtensionWaitingAtTheLeaseEnd_IsNotApprovedOntoAStoppedServer(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.advance(r.LeaseEnd.Sub(h.clock.Now()) - time.Hour)
	mustContain(t, "extension", h.ops(dev, "lease extend srv-1 8d still testing"), "needs an approver")
	h.drain()
	msgs := h.channelMessages("platform-approvals")
	ask := msgs[len(msgs)-1]
	mustContain(t, "extension approval", messageText(ask), "extending srv-1 by 8d")
	committed := h.committed("platform")

	h.advance(time.Hour)
	h.advance(31 * time.Minute) // the grace ran out: stopped
	h.advance(time.Minute)
	if got := h.request("srv-1"); got.State != workflows.StateStopped {
		t.Fatalf("srv-1 is %s after its lease and grace, want stopped", got.State)
	}
	h.advance(2 * time.Hour)
	h.clickStale(lead, ask, "apr-1") // a client that still shows the buttons
	h.drain()
	got := h.request("srv-1")
	if !got.LeaseEnd.Equal(r.LeaseEnd) {
		t.Errorf("a stopped server's lease was extended to %s after it ended at %s", got.LeaseEnd, r.LeaseEnd)
	}
	if c := h.committed("platform"); c > committed {
		t.Errorf("%s committed for an extension of a server that was stopped", c-committed)
	}
	if got.State != workflows.StateStopped {
		t.Errorf("srv-1 is %s", got.State)
	}
	mustContain(t, "the approvers' thread", strings.Join(func() []string {
		var out []string
		for _, m := range h.channelMessages("platform-approvals") {
			out = append(out, messageText(m))
		}
		return out
	}(), "\n"), "lease ended before the extension was decided")
}

// TestExtensionWaitingAtTheLeaseEnd_ClosedAtTheEnd: an extension still
// waiting for approvers when the lease and its grace run out can never
// take effect (a click afterwards voids it). It must not keep reminding
// the approvers every remind_every until it expires two days later, nor
// hold its cost out of the team's budget all that time: it is closed at
// the end, and the approvers' message says why.
func TestExtensionWaitingAtTheLeaseEnd_ClosedAtTheEnd(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.advance(r.LeaseEnd.Sub(h.clock.Now()) - time.Hour)
	mustContain(t, "extension", h.ops(dev, "lease extend srv-1 8d still testing"), "needs an approver")
	h.drain()
	msgs := h.channelMessages("platform-approvals")
	ask := msgs[len(msgs)-1]
	mustContain(t, "budget while it waits", h.ops(dev, "budget"), "(1)")

	h.advance(time.Hour)
	h.advance(31 * time.Minute) // the grace ran out: stopped
	h.advance(time.Minute)
	if got := h.request("srv-1"); got.State != workflows.StateStopped {
		t.Fatalf("srv-1 is %s after its lease and grace, want stopped", got.State)
	}
	thread := len(h.slack.Thread(ask.Channel, ask.TS))
	h.advance(4 * time.Hour) // a reminder would be due
	h.advance(8 * time.Hour)
	for _, m := range h.slack.Thread(ask.Channel, ask.TS)[thread:] {
		if strings.Contains(messageText(m), "has waited") {
			t.Errorf("approvers reminded of an extension of a lease that ended: %s", messageText(m))
		}
	}
	mustContain(t, "budget after the end", h.ops(dev, "budget"), "(0)")
	msgs = h.channelMessages("platform-approvals")
	var final string
	for _, m := range msgs {
		if m.TS == ask.TS {
			final = messageText(m)
			if strings.Contains(blockText(m.Blocks), "Approve") {
				t.Errorf("the approval message still has its buttons")
			}
		}
	}
	mustContain(t, "the approval message", final, "lease ended")
}

// TestActionItemReminders_StayAtNineAcrossSpringForward: an action item
// due Friday 26 March 2027 (09:00 Berlin, the team's zone) is reminded
// each day at 09:00 Berlin time, on the Monday after the clocks went
// forward (28 March) too: 07:00 UTC then, not 08:00 (10:00 local).
func TestActionItemReminders_StayAtNineAcrossSpringForward(t *testing.T) {
	h := newHarness(t)
	ch := h.declaredAt(time.Date(2027, 3, 25, 10, 0, 0, 0, time.UTC))
	mustContain(t, "action", h.incidentCmd(dev, ch.ID, "action Add an index <@"+dev+"> due 2027-03-26"), "act-1 recorded")
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	h.advanceInSteps(time.Date(2027, 3, 30, 12, 0, 0, 0, time.UTC), 15*time.Minute)
	perDay := remindedAtNine(t, h.dms(dev), "Action item act-1", berlin)
	for _, day := range []string{"Fri 26 Mar", "Sat 27 Mar", "Sun 28 Mar", "Mon 29 Mar", "Tue 30 Mar"} {
		if perDay[day] != 1 {
			t.Errorf("%d reminders on %s, want 1 (all: %v)", perDay[day], day, perDay)
		}
	}
}

// TestOffHours_AcrossSpringForwardAndAClockSetBack: a week of the office
// schedule over the weekend Berlin's clocks go forward (28 March 2027):
// the Friday stop at 20:00 CET (19:00 UTC), the Monday start at 08:00
// CEST (06:00 UTC) and the Monday stop at 20:00 CEST (18:00 UTC), each
// once; and the clock set back an hour after the Monday start (a replica
// with a clock behind) neither stops nor starts it again.
func TestOffHours_AcrossSpringForwardAndAClockSetBack(t *testing.T) {
	h := newEditedHarness(t, offHoursConfig)
	h.clock.Set(time.Date(2027, 3, 26, 9, 0, 0, 0, time.UTC))
	r := h.launched("test-small for 7d")
	calls := func(action string) []time.Time {
		var out []time.Time
		for _, c := range h.ec2.CallsOf(action) {
			out = append(out, c.At.UTC())
		}
		return out
	}
	step := func(until time.Time) { h.advanceInSteps(until, 5*time.Minute) }
	step(time.Date(2027, 3, 29, 6, 30, 0, 0, time.UTC)) // Mon 08:30 CEST
	if got := calls("StopInstances"); len(got) != 1 || got[0].Sub(time.Date(2027, 3, 26, 19, 0, 0, 0, time.UTC)) > 5*time.Minute {
		t.Fatalf("stops %v, want one at Fri 20:00 CET (19:00 UTC)", got)
	}
	h.settle()
	if got := calls("StartInstances"); len(got) != 1 || got[0].Before(time.Date(2027, 3, 29, 6, 0, 0, 0, time.UTC)) || got[0].Sub(time.Date(2027, 3, 29, 6, 0, 0, 0, time.UTC)) > 10*time.Minute {
		t.Fatalf("starts %v, want one at Mon 08:00 CEST (06:00 UTC)", got)
	}
	// A clock an hour behind: it is 07:30 CEST again, the night's stop
	// and the morning's start are not made again.
	h.clock.Set(h.clock.Now().Add(-time.Hour))
	step(time.Date(2027, 3, 29, 17, 55, 0, 0, time.UTC))
	if s, st := len(calls("StopInstances")), len(calls("StartInstances")); s != 1 || st != 1 {
		t.Fatalf("after the clock was set back: %d stops, %d starts, want 1 and 1", s, st)
	}
	if got := h.request(r.ID); got.State != workflows.StateRunning {
		t.Fatalf("srv-1 is %s on Monday afternoon", got.State)
	}
	step(time.Date(2027, 3, 29, 18, 5, 0, 0, time.UTC))
	if got := calls("StopInstances"); len(got) != 2 || got[1].Sub(time.Date(2027, 3, 29, 18, 0, 0, 0, time.UTC)) > 5*time.Minute || got[1].Before(time.Date(2027, 3, 29, 18, 0, 0, 0, time.UTC)) {
		t.Fatalf("stops %v, want the second at Mon 20:00 CEST (18:00 UTC)", got)
	}
	if n := dmsContaining(h, dev, "stops tonight"); n != 2 {
		t.Errorf("%d off-hours warnings, want 2 (Friday, Monday)", n)
	}
}

// TestMeetingDateOnlySetInNotion_KeepsItsDayInNewYork: someone gives the
// post-mortem's Meeting property a date without a time ("2026-11-24").
// opsbot reads it back before the meeting nag. For a New York team the
// meeting is on Tuesday 24 November, not "Mon 23 Nov 19:00 EST" (the
// date read as midnight UTC), and opsbot's later updates of the page
// leave the date as the person wrote it.
func TestMeetingDateOnlySetInNotion_KeepsItsDayInNewYork(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(analyst, "general", "declare Loader stuck sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	inc := h.incident("inc-1")
	if inc.Team != "data" {
		t.Fatalf("incident of team %s, want data (New York)", inc.Team)
	}
	h.incidentCmd(analyst, ch.ID, "status resolved")
	h.drain()
	inc = h.incident("inc-1")
	if inc.PostmortemPageID == "" {
		t.Fatal("no post-mortem page")
	}
	req, err := http.NewRequest("PATCH", h.notion.URL()+"/v1/pages/"+inc.PostmortemPageID,
		strings.NewReader(`{"properties":{"Meeting":{"date":{"start":"2026-11-24"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.notion.Token())
	req.Header.Set("Notion-Version", "2022-06-28")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("set the Meeting date in Notion: HTTP %d", res.StatusCode)
	}
	h.advance(25 * time.Hour) // the meeting nag reads the page first
	got := h.incident("inc-1")
	if got.MeetingAt.IsZero() {
		t.Fatal("the date set in Notion was not recorded")
	}
	if d := got.MeetingAt.In(mustLoad(t, "America/New_York")).Format("2006-01-02"); d != "2026-11-24" {
		t.Errorf("meeting recorded on %s in New York, want 2026-11-24", d)
	}
	var texts []string
	for _, m := range h.slack.Messages(ch.ID) {
		texts = append(texts, messageText(m))
	}
	all := strings.Join(texts, "\n")
	if strings.Contains(all, "Mon 23 Nov") {
		t.Errorf("the meeting is told as on Monday 23 November:\n%s", all)
	}
	// A later change updates the page; the person's date stays a date.
	h.incidentCmd(analyst, ch.ID, "role scribe <@"+analyst+">")
	h.drain()
	page, _ := h.notion.Page(inc.PostmortemPageID)
	if v := page.Properties["Meeting"]; v.Start != "2026-11-24" {
		t.Errorf("Notion Meeting property after an update: %+v, want the date 2026-11-24 as it was set", v)
	}
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	return l
}

// TestActionItemReminders_AtNineWhereTheOwnerWorks: an action item of a
// Berlin incident owned by a member of the New York data team falls due
// at 09:00 New York time on its day and is reminded at 09:00 there each
// day, also across New York's spring-forward (14 March 2027, two weeks
// before Berlin's): not at 09:00 Berlin time, 03:00 in New York.
func TestActionItemReminders_AtNineWhereTheOwnerWorks(t *testing.T) {
	h := newHarness(t)
	newYork := mustLoad(t, "America/New_York")
	ch := h.declaredAt(time.Date(2027, 3, 10, 12, 0, 0, 0, time.UTC))
	mustContain(t, "action", h.incidentCmd(dev, ch.ID, "action Audit the export job <@"+analyst+"> due 2027-03-12"), "act-1 recorded")
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	h.advanceInSteps(time.Date(2027, 3, 16, 20, 0, 0, 0, time.UTC), 15*time.Minute)
	for _, m := range h.dms(analyst) {
		if txt := messageText(m); strings.Contains(txt, "Action item act-1") {
			mustContain(t, "reminder", txt, "was due Fri 12 Mar 09:00 EST")
		}
	}
	perDay := remindedAtNine(t, h.dms(analyst), "Action item act-1", newYork)
	for _, day := range []string{"Fri 12 Mar", "Sat 13 Mar", "Sun 14 Mar", "Mon 15 Mar", "Tue 16 Mar"} {
		if perDay[day] != 1 {
			t.Errorf("%d reminders on %s, want 1 (all: %v)", perDay[day], day, perDay)
		}
	}
}

// TestActionItemDueDate_TodayIsTheOwnersDay: at 03:00 UTC on 24 November
// it is already the 24th in Berlin but still the 23rd in New York. A due
// date of the 23rd is in the past for a Berlin owner (refused, nothing
// recorded) and today for a New York owner (recorded).
func TestActionItemDueDate_TodayIsTheOwnersDay(t *testing.T) {
	h := newHarness(t)
	ch := h.declaredAt(time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))
	mustContain(t, "Berlin owner", h.incidentCmd(dev, ch.ID, "action Add an index <@"+dev+"> due 2026-11-23"),
		"The due date 2026-11-23 is in the past (today is 2026-11-24 in team platform's time zone)")
	mustContain(t, "New York owner", h.incidentCmd(dev, ch.ID, "action Audit the export job <@"+analyst+"> due 2026-11-23"), "act-1 recorded")
}

// TestActionItemTodo_ShowsTheDayTheOwnerGave: the post-mortem's to-do
// gives the due day the owner was given. The item falls due at 09:00 in
// the owner's zone; told in the incident team's, 09:00 in Tokyo on the
// 15th is the 14th in New York, and the page said "due Mon 14 Dec".
func TestActionItemTodo_ShowsTheDayTheOwnerGave(t *testing.T) {
	h := newEditedHarness(t, func(cfg string) string {
		return strings.Replace(cfg, "time_zone: Europe/Berlin", "time_zone: Asia/Tokyo", 1)
	})
	h.clock.Set(time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC))
	h.incidentCmd(analyst, "general", "declare Exports slow sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	if team := h.incident("inc-1").Team; team != "data" {
		t.Fatalf("the incident is team %s's, want data (New York)", team)
	}
	h.incidentCmd(analyst, ch.ID, "status resolved")
	h.drain()
	mustContain(t, "action", h.incidentCmd(analyst, ch.ID, "action Add an index <@"+dev+"> due 2026-12-15"), "act-1 recorded")
	h.drain()
	var todo string
	for _, b := range h.notion.Blocks(h.incident("inc-1").PostmortemPageID) {
		if b.Type == "to_do" && strings.HasPrefix(b.Text, "act-1 · ") {
			todo = b.Text
		}
	}
	mustContain(t, "to-do", todo, "due Tue 15 Dec 2026")
}

// remindedAtNine counts the messages holding text by their local day in
// loc, failing t for any not sent at 09:00 there (within the harness's
// 15-minute ticks).
func remindedAtNine(t *testing.T, msgs []slackfake.Message, text string, loc *time.Location) map[string]int {
	t.Helper()
	perDay := map[string]int{}
	for _, m := range msgs {
		if !strings.Contains(messageText(m), text) {
			continue
		}
		sec, _, _ := strings.Cut(m.TS, ".")
		n, err := strconv.ParseInt(sec, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Unix(n, 0).In(loc)
		perDay[at.Format("Mon 2 Jan")]++
		if at.Hour() != 9 || at.Minute() > 15 {
			t.Errorf("reminder at %s, want at 09:00 in %s", at.Format("Mon 2 Jan 15:04 MST"), loc)
		}
	}
	return perDay
}

// declaredAt declares an incident (platform, sev2) at at and returns
// its channel.
func (h *harness) declaredAt(at time.Time) slackfake.Channel {
	h.t.Helper()
	h.clock.Set(at)
	h.incidentCmd(dev, "general", "declare Orders slow sev2")
	h.drain()
	return h.incidentChannels()[0]
}

// advanceInSteps moves the clock to until a step at a time, ticking and
// running jobs at each, as a running opsbot would see the hours pass.
func (h *harness) advanceInSteps(until time.Time, step time.Duration) {
	h.t.Helper()
	for h.clock.Now().Before(until) {
		h.advance(step)
	}
}
