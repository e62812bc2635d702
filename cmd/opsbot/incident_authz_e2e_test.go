package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// More people for the authorization tests, none of them in a team.
const (
	scribe = "U0SCRIBE" // given the scribe role by a team member
	helper = "U0HELP"   // added with /incident add by a team member
	joiner = "U0JOIN"   // joined the incident channel by themselves
	guest  = "U0GUEST"  // the person each "add" action adds
)

// authzWorld adds the people above to Slack and, for those who may act,
// to PagerDuty (acknowledging and resolving need a PagerDuty user).
func authzWorld(t *testing.T) *harness {
	h := newHarness(t)
	// Many incidents on one service here: no alert-storm linking.
	h.extra += "  storm: {count: 0}\n"
	h.restart()
	for _, u := range []slackfake.User{
		{ID: scribe, Name: "scribe", Email: "scribe@elsewhere.com"},
		{ID: helper, Name: "helper", Email: "helper@elsewhere.com"},
		{ID: joiner, Name: "joiner", Email: "joiner@elsewhere.com"},
		{ID: guest, Name: "guest", Email: "guest@elsewhere.com"},
	} {
		h.slack.AddUser(u)
	}
	for _, u := range []pdfake.User{
		{Name: "SRE", Email: "sre@example.com"},
		{Name: "Scribe", Email: "scribe@elsewhere.com"},
		{Name: "Helper", Email: "helper@elsewhere.com"},
		// PagerDuty users who may not act in opsbot: refusals must come
		// from opsbot's rules, not from PagerDuty.
		{Name: "Ana", Email: "ana@example.com"},
		{Name: "Stranger", Email: "stranger@elsewhere.com"},
		{Name: "Joiner", Email: "joiner@elsewhere.com"},
	} {
		h.pd.AddUser(u)
	}
	return h
}

// openIncident triggers a PagerDuty incident on the platform service and
// returns opsbot's incident and its channel.
func (h *harness) openIncident(title string) (*workflows.Incident, slackfake.Channel) {
	h.t.Helper()
	// A minute apart: Slack allows about 20 channel creations a minute.
	h.clock.Advance(time.Minute)
	pdInc, err := h.pd.Trigger(pdService, title)
	if err != nil {
		h.t.Fatal(err)
	}
	var inc *workflows.Incident
	for range 5 {
		h.drain()
		h.app.DB.View(h.t.Context(), func(tx workflows.Tx) (err error) {
			inc, err = tx.IncidentByPagerDuty(pdInc.ID)
			return err
		})
		if inc != nil && inc.ChannelID != "" {
			break
		}
		h.clock.Advance(10 * time.Second) // a retried job's backoff
	}
	if inc == nil || inc.ChannelID == "" {
		h.t.Fatalf("no channel for %s", title)
	}
	ch, _ := h.slack.Channel(inc.ChannelID)
	return inc, ch
}

// authzAction is one thing a person tries on an incident.
type authzAction struct {
	name    string
	guarded bool // only the people responsible may do it
	do      func(h *harness, user string, inc *workflows.Incident, ch slackfake.Channel) string
	done    func(inc *workflows.Incident) bool // the change is in the record
}

func cmdAction(name, text string, guarded bool, done func(*workflows.Incident) bool) authzAction {
	return authzAction{name: name, guarded: guarded, done: done,
		do: func(h *harness, user string, inc *workflows.Incident, ch slackfake.Channel) string {
			return h.incidentCmd(user, ch.ID, strings.ReplaceAll(text, "SELF", user))
		}}
}

// clickAction presses a button on the incident's summary. Snooze buttons
// live on reminders; their clicks are sent with Forge, as a client
// replaying an edited payload would: the handler is the same.
func clickAction(name, actionID, value string, done func(*workflows.Incident) bool) authzAction {
	return authzAction{name: name, guarded: true, done: done,
		do: func(h *harness, user string, inc *workflows.Incident, ch slackfake.Channel) string {
			before := len(h.slack.Responses())
			msg := h.summary(ch.ID)
			h.send(h.slack.BlockAction(testSecret, slackfake.Click{User: user, Channel: msg.Channel, MessageTS: msg.TS,
				ActionID: actionID, Value: strings.ReplaceAll(value, "ID", inc.ID), Forge: actionID == workflows.ActNagSnooze}))
			if len(h.slack.Responses()) == before {
				return ""
			}
			return h.lastResponse()
		}}
}

// TestIncidentActions_EveryActionByEveryKindOfActor runs every incident
// action through the real handlers as every kind of person: those
// responsible for the incident (its team's member, the team's
// incident_members, a role holder, PagerDuty's assignee, a person added
// with /incident add) may; another team's member, a person absent from the
// config and one who joined the channel by themselves are refused, told
// who may act, and change nothing. Updates stay open to everyone; a forged
// 366-day snooze is refused for everyone.
func TestIncidentActions_EveryActionByEveryKindOfActor(t *testing.T) {
	h := authzWorld(t)
	type kind struct {
		name    string
		user    string
		allowed bool
		setup   func(inc *workflows.Incident, ch slackfake.Channel)
	}
	give := func(text string) func(*workflows.Incident, slackfake.Channel) {
		return func(inc *workflows.Incident, ch slackfake.Channel) {
			if r := h.incidentCmd(dev, ch.ID, text); !strings.Contains(r, inc.ID) {
				t.Fatalf("setup %q: %s", text, r)
			}
		}
	}
	kinds := []kind{
		{"owning team member", dev, true, nil},
		{"incident_members", sre, true, nil},
		{"role holder", scribe, true, give("role scribe <@" + scribe + "|scribe>")},
		{"PagerDuty assignee", oncall, true, nil},
		{"added user", helper, true, give("add <@" + helper + "|helper>")},
		{"other team's member", analyst, false, nil},
		{"user absent from config", stranger, false, nil},
		{"channel joiner", joiner, false, func(_ *workflows.Incident, ch slackfake.Channel) {
			if err := h.slack.Join(joiner, ch.ID); err != nil {
				t.Fatal(err)
			}
		}},
	}
	// Three incidents per person: the first takes every action that
	// leaves it open and ends resolved by button; the second is resolved by
	// command; the third is cancelled.
	first := []authzAction{
		cmdAction("update", "update Looking at the dashboards", false, func(i *workflows.Incident) bool { return i.LastUpdate == "Looking at the dashboards" }),
		cmdAction("severity", "severity sev1", true, func(i *workflows.Incident) bool { return i.Severity == workflows.Sev1 }),
		cmdAction("status", "status identified", true, func(i *workflows.Incident) bool { return i.Status == workflows.StatusIdentified }),
		cmdAction("take commander", "role commander <@SELF>", true, func(i *workflows.Incident) bool { return i.Commander.SlackID != "" }),
		cmdAction("add", "add <@"+guest+"|guest>", true, func(i *workflows.Incident) bool {
			return slices.ContainsFunc(i.Added, func(p workflows.Person) bool { return p.SlackID == guest })
		}),
		clickAction("snooze (button)", workflows.ActNagSnooze, "ID update 2h", func(i *workflows.Incident) bool { return !i.Snoozed["update"].IsZero() }),
		clickAction("acknowledge (button)", workflows.ActIncidentAck, "ID", func(i *workflows.Incident) bool { return i.PDStatus == workflows.PDAcknowledged }),
		cmdAction("post-mortem scheduled", "postmortem scheduled 2026-11-24 15:00", true, func(i *workflows.Incident) bool { return !i.MeetingAt.IsZero() }),
		cmdAction("post-mortem done", "postmortem done", true, func(i *workflows.Incident) bool { return i.PostmortemDone }),
		clickAction("resolve (button)", workflows.ActIncidentResolve, "ID", func(i *workflows.Incident) bool { return i.Status == workflows.StatusResolved }),
	}
	second := []authzAction{
		cmdAction("resolve (command)", "status resolved", true, func(i *workflows.Incident) bool { return i.Status == workflows.StatusResolved }),
	}
	third := []authzAction{
		cmdAction("cancel", "cancel declared by mistake", true, func(i *workflows.Incident) bool { return i.Cancelled }),
	}
	forged := clickAction("forged 366d snooze", workflows.ActNagSnooze, "ID update 366d", func(i *workflows.Incident) bool {
		return i.Snoozed["update"].After(h.clock.Now().Add(8 * 24 * time.Hour))
	})

	tried, refused := 0, 0
	for _, k := range kinds {
		groups := [][]authzAction{first, second, third}
		if !k.allowed {
			// Refused actions change nothing: one incident takes them all.
			groups = [][]authzAction{append(append(append([]authzAction{}, first...), second...), third...)}
		}
		for n, actions := range groups {
			inc, ch := h.openIncident(fmt.Sprintf("%s case %d", k.name, n+1))
			if k.setup != nil {
				k.setup(inc, ch)
				h.drain()
			}
			if n == 0 {
				actions = append([]authzAction{forged}, actions...)
			}
			for _, a := range actions {
				before := h.incident(inc.ID)
				reply := a.do(h, k.user, before, ch)
				h.drain()
				after := h.incident(inc.ID)
				tried++
				wantAllowed := a.name != forged.name && (k.allowed || !a.guarded)
				switch {
				case wantAllowed && !a.done(after):
					t.Errorf("%s: %s was not done; reply %q", k.name, a.name, reply)
				case !wantAllowed && a.done(after):
					t.Errorf("%s: %s was done, want refused; reply %q", k.name, a.name, reply)
				case !wantAllowed:
					refused++
					if a.name == forged.name {
						mustContain(t, k.name+" "+a.name, reply, "at most 7d")
						continue
					}
					mustContain(t, k.name+" "+a.name, reply, "Only the people responsible for "+inc.ID, "team platform", "<@U0DEV>", "<@U0SRE>", "<@U0ONCALL>", "/incident add @you")
					if strings.Contains(reply, "&lt;@") || strings.Contains(reply, " U0") || strings.Contains(reply, "sre@example.com") {
						t.Errorf("%s %s: the refusal shows bare IDs: %q", k.name, a.name, reply)
					}
					b, a2 := *before, *after
					b.UpdatedAt, a2.UpdatedAt = time.Time{}, time.Time{}
					if fmt.Sprint(b) != fmt.Sprint(a2) {
						t.Errorf("%s: refused %s changed the incident:\n%+v\n%+v", k.name, a.name, b, a2)
					}
				}
			}
		}
	}
	t.Logf("authorization: %d cases tried, %d refused (%d kinds of actor)", tried, refused, len(kinds))
	if want := len(kinds) * (len(first) + len(second) + len(third) + 1); tried != want {
		t.Errorf("tried %d cases, want %d", tried, want)
	}
	if want := 3*(len(first)-1+len(second)+len(third)) + len(kinds); refused != want {
		t.Errorf("refused %d cases, want %d", refused, want)
	}
	// Refusals are answered to the person alone.
	for _, r := range h.slack.Responses() {
		if strings.Contains(responseText(r), "Only the people responsible") && r.ResponseType == "in_channel" {
			t.Errorf("a refusal was posted in the channel: %+v", r)
		}
	}
}

// TestResolve_NoPagerDutyUser_RefusedBeforeAnythingIsRecorded: dev2 is a
// platform member but has no PagerDuty account. PagerDuty would refuse a
// resolve from them, so opsbot refuses first and records nothing (before,
// opsbot said "resolved" while PagerDuty said triggered).
func TestResolve_NoPagerDutyUser_RefusedBeforeAnythingIsRecorded(t *testing.T) {
	h := newHarness(t)
	inc, ch := h.openIncident("Cache misses")
	h.click(dev2, h.summary(ch.ID), workflows.ActIncidentResolve, inc.ID)
	mustContain(t, "refusal", h.lastResponse(), "PagerDuty has no user with your email (dev2@example.com)", "Do it in PagerDuty")
	mustContain(t, "ack refusal", h.incidentCmd(dev2, ch.ID, "cancel oops"), "PagerDuty has no user with your email")
	h.drain()
	got := h.incident(inc.ID)
	if got.Status != workflows.StatusInvestigating || got.PDStatus != workflows.PDTriggered || got.Cancelled {
		t.Fatalf("record changed: %s / %s / cancelled %v", got.Status, got.PDStatus, got.Cancelled)
	}
	if n := len(h.pd.CallsTo("PUT /incidents")); n != 0 {
		t.Errorf("%d PUT /incidents calls", n)
	}
	// Not a PagerDuty matter: a status short of resolved is theirs to set.
	mustContain(t, "status", h.incidentCmd(dev2, ch.ID, "status identified"), inc.ID+": done")
}

// TestResolve_PagerDutyRefuses_RecordTakenBackAndChannelTold: the lookup
// of the PagerDuty user fails, so opsbot goes ahead; PagerDuty then
// refuses the resolve (400 "Requester User Not Found", as it answers an
// unknown From). opsbot takes its record back to where it was and tells
// the channel why, once, even when the job runs again.
func TestResolve_PagerDutyRefuses_RecordTakenBackAndChannelTold(t *testing.T) {
	h := newHarness(t)
	inc, ch := h.openIncident("Queue stuck")
	h.incidentCmd(dev2, ch.ID, "status identified")
	h.pd.FailNext("GET /users", 503, 100)
	h.click(dev2, h.summary(ch.ID), workflows.ActIncidentResolve, inc.ID)
	mustContain(t, "reply", h.lastResponse(), "You resolved "+inc.ID)
	h.drain()
	puts := h.pd.CallsTo("PUT /incidents")
	if len(puts) != 1 || puts[0].Status != 400 || !strings.Contains(puts[0].From, "dev2@") {
		t.Fatalf("PUT /incidents %+v", puts)
	}
	got := h.incident(inc.ID)
	if got.Status != workflows.StatusIdentified || got.PDStatus != workflows.PDTriggered || !got.ResolvedAt.IsZero() {
		t.Fatalf("after the refusal: %s / %s resolved at %v, want identified / triggered", got.Status, got.PDStatus, got.ResolvedAt)
	}
	if pdInc, _ := h.pd.Incident(got.PDIncidentID); pdInc.Status != "triggered" {
		t.Errorf("PagerDuty says %s", pdInc.Status)
	}
	var told []string
	for _, m := range h.slack.Messages(ch.ID) {
		if strings.Contains(messageText(m), "PagerDuty refused it") {
			told = append(told, messageText(m))
		}
	}
	if len(told) != 1 {
		t.Fatalf("%d refusal messages in the channel: %v", len(told), told)
	}
	mustContain(t, "channel", told[0], inc.ID+" was resolved from Slack, but PagerDuty refused it: Requester User Not Found", "open again (identified)", "triggered in PagerDuty", "done from Slack by:\n<@U0DEV2>")
	sum := messageText(h.summary(ch.ID))
	mustContain(t, "summary", sum, "identified", "Resolve")
}

// TestCancel_ResolvesPagerDutyWithANote_NoPostmortemNoReminders.
func TestCancel_ResolvesPagerDutyWithANote_NoPostmortemNoReminders(t *testing.T) {
	h := newHarness(t)
	inc, ch := h.openIncident("Wrong service paged")
	mustContain(t, "stranger", h.incidentCmd(stranger, ch.ID, "cancel"), "Only the people responsible")
	mustContain(t, "cancel", h.incidentCmd(dev, ch.ID, "cancel   alert was a test"), inc.ID+" is cancelled")
	h.drain()
	got := h.incident(inc.ID)
	if !got.Cancelled || got.Status != workflows.StatusResolved || got.PDStatus != workflows.PDResolved {
		t.Fatalf("record: cancelled %v %s %s", got.Cancelled, got.Status, got.PDStatus)
	}
	pdInc, _ := h.pd.Incident(got.PDIncidentID)
	if pdInc.Status != "resolved" || len(pdInc.Notes) != 1 || !strings.Contains(pdInc.Notes[0].Content, "declared by mistake: alert was a test") {
		t.Fatalf("PagerDuty: %s notes %+v", pdInc.Status, pdInc.Notes)
	}
	if note := pdInc.Notes[0].Content; !strings.Contains(note, "by dev@example.com") || strings.Contains(note, dev) {
		t.Errorf("the note names the person by Slack ID, not as PagerDuty's readers know them: %q", note)
	}
	mustContain(t, "again", h.incidentCmd(dev, ch.ID, "cancel"), "already cancelled")
	mustContain(t, "status after", h.incidentCmd(dev, ch.ID, "status investigating"), "was cancelled")
	var said bool
	for _, m := range h.slack.Messages(ch.ID) {
		said = said || strings.Contains(messageText(m), inc.ID+" is cancelled, declared by mistake: alert was a test. There will be no post-mortem and no reminders. The PagerDuty incident is resolved with a note saying so. Cancelled by:\n<@U0DEV>")
	}
	if !said {
		t.Error("the channel was not told")
	}
	mustContain(t, "summary", messageText(h.summary(ch.ID)), "cancelled (declared by mistake)")
	ann := h.channelMessages("incidents")
	if len(ann) != 1 {
		t.Fatalf("%d announcements", len(ann))
	}
	mustContain(t, "announcement", messageText(ann[0]), inc.ID, "cancelled, declared by mistake: Wrong service paged")
	// Days later: no post-mortem, no reminder.
	before := len(h.slack.Messages(ch.ID)) + len(h.dms(dev))
	for range 8 {
		h.advance(24 * time.Hour)
	}
	if n := len(h.notion.Pages(h.dbID)); n != 0 {
		t.Errorf("%d post-mortem pages for a cancelled incident", n)
	}
	if after := len(h.slack.Messages(ch.ID)) + len(h.dms(dev)); after != before {
		t.Errorf("%d messages after the cancel", after-before)
	}
}

// TestDeclare_RateLimitedPerPerson: declaring stays open to anyone, at
// most five times an hour each; the refusal says when to try again.
func TestDeclare_RateLimitedPerPerson(t *testing.T) {
	h := newHarness(t)
	for i := range 5 {
		mustContain(t, "declare", h.incidentCmd(stranger, "general", fmt.Sprintf("declare Thing %d broke", i)), "declared")
		h.clock.Advance(time.Minute)
	}
	reply := h.incidentCmd(stranger, "general", "declare Thing 6 broke")
	// The first came at 10:00 Berlin; a slot frees an hour later.
	mustContain(t, "limit", reply, "You have declared 5 incidents in the last 1h", "again at Sat 21 Nov 11:00 CET (in 55m)", "ask a teammate")
	mustContain(t, "someone else", h.incidentCmd(analyst, "general", "declare Thing 6 broke"), "declared")
	h.clock.Advance(55 * time.Minute)
	mustContain(t, "later", h.incidentCmd(stranger, "general", "declare Thing 7 broke"), "declared")
	var n int
	h.app.DB.View(t.Context(), func(tx workflows.Tx) error {
		is, err := tx.Incidents(workflows.IncidentFilter{})
		n = len(is)
		return err
	})
	if n != 7 {
		t.Errorf("%d incidents, want 7", n)
	}
}

func TestDeclare_UnknownSeverityRefused_NothingOpened(t *testing.T) {
	h := newHarness(t)
	for _, text := range []string{"declare x sev0", "declare x SEV-4", "declare x sev"} {
		reply := h.incidentCmd(dev, "general", text)
		mustContain(t, text, reply, "is not a severity: use sev1 (worst), sev2 or sev3", "/incident declare [--private] TITLE [sev1|sev2|sev3]")
	}
	h.drain()
	if n := len(h.pd.Incidents()); n != 0 {
		t.Errorf("%d PagerDuty incidents", n)
	}
	mustContain(t, "dashed", h.incidentCmd(dev, "general", "declare x SEV-1"), "inc-1 declared (sev1): x.")
}
