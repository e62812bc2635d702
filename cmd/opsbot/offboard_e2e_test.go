package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

func (h *harness) offboardReports() []string {
	var out []string
	for _, m := range h.channelMessages("platform-approvals") {
		if t := messageText(m); strings.Contains(t, "Offboarding:") {
			out = append(out, t)
		}
	}
	return out
}

// TestOffboard_HandsOverOnce: an admin's /ops offboard hands the
// person's servers to the team's approvers (Stop / Release / Keep),
// withdraws their waiting requests, vacates their incident roles with a
// note, reports once in the approvals channel and the audit log; the
// deactivation event that follows, delivered twice, does nothing more.
func TestOffboard_HandsOverOnce(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.ops(dev, "server request build-box for 1d compile")
	h.drain()
	h.incidentCmd(dev, "general", "declare Orders slow sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	h.incidentCmd(lead, ch.ID, "role commander <@"+dev+">")
	h.drain()

	mustContain(t, "not an admin", h.ops(lead, "offboard <@"+dev+">"), "Only opsbot's admins offboard people")
	mustContain(t, "usage", h.ops(admin, "offboard @dana"), "Usage: /ops offboard")
	got := h.ops(admin, "offboard <@"+dev+"|dev>")
	mustContain(t, "admin offboards", got, "is offboarded: 1 server(s) handed to their team", "1 request(s) withdrawn", "1 incident role(s) vacated")
	h.drain()
	reports := h.offboardReports()
	if len(reports) != 1 {
		t.Fatalf("%d reports: %v", len(reports), reports)
	}
	mustContain(t, "report", reports[0], r.ID+" (test-small", "handed to team platform", "srv-2 (build-box): waiting for approval, withdrawn", "inc-1 commander: vacated", "Stop now", "Keep")
	// The server is the team's now; the departed person is kept as who
	// held it.
	if got := h.request(r.ID); got.Owner != (workflows.Person{}) || got.HandedFrom.SlackID != dev || !got.TeamOwned() {
		t.Errorf("after offboarding: owner %v, handed from %v", got.Owner, got.HandedFrom)
	}
	mustContain(t, "handover audit", h.audit(r.ID), "U0ADMIN <admin@example.com> server.handover offboarding: U0DEV <dev@example.com> left")
	// The withdrawal is the admin's, on behalf of the offboarding, not a
	// release by the person who left.
	wd := h.audit("srv-2")
	mustContain(t, "withdraw audit", wd, "U0ADMIN <admin@example.com> request.withdraw offboarding: U0DEV <dev@example.com> left")
	if strings.Contains(wd, "lease.release") {
		t.Errorf("withdrawal audited as a release:\n%s", wd)
	}
	// The pinned summary shows the commander vacated.
	for _, m := range h.slack.Messages(ch.ID) {
		if m.Pinned {
			if txt := messageText(m); strings.Contains(txt, dev) || !strings.Contains(txt, "nobody yet") {
				t.Errorf("pinned summary still shows the departed commander:\n%s", txt)
			}
		}
	}
	if st := h.request("srv-2").State; st != workflows.StateWithdrawn {
		t.Errorf("pending request is %s", st)
	}
	if inc := h.incident("inc-1"); inc.Commander != (workflows.Person{}) {
		t.Errorf("commander still %v", inc.Commander)
	}
	mustContain(t, "channel note", messageText(h.slack.Messages(ch.ID)[len(h.slack.Messages(ch.ID))-1]), "left the organisation", "commander role is vacant")
	mustContain(t, "audit", h.audit("U0DEV"), "user.offboard")

	// The deactivation follows, delivered twice: nothing more.
	req, err := h.slack.UserDeactivated(testSecret, dev)
	if err != nil {
		t.Fatal(err)
	}
	h.send(req, nil)
	h.send(h.slack.Event(testSecret, map[string]any{"type": "user_change", "user": map[string]any{"id": dev, "deleted": true, "profile": map[string]any{"email": "dev@example.com"}}}))
	h.drain()
	if n := len(h.offboardReports()); n != 1 {
		t.Fatalf("%d reports after the event", n)
	}
	mustContain(t, "again", h.ops(admin, "offboard dev@example.com"), "offboarded already")

	// An approver stops the handed-over server from the report.
	msgs := h.channelMessages("platform-approvals")
	var report json.RawMessage
	for _, m := range msgs {
		if strings.Contains(messageText(m), "Offboarding:") {
			report = m.Blocks
			var blocks []struct {
				Elements []map[string]any `json:"elements"`
			}
			_ = json.Unmarshal(m.Blocks, &blocks)
			for _, b := range blocks {
				for _, el := range b.Elements {
					if el["action_id"] == workflows.ActServerStop {
						h.click(lead, m, workflows.ActServerStop, el["value"].(string))
					}
				}
			}
		}
	}
	h.settle()
	if st := h.request(r.ID).State; st != workflows.StateStopped {
		t.Errorf("after Stop from the report: %s", st)
	}
	// The buttons carry the instant they were drawn, which depends on how
	// far the harness's paced calls moved the clock: not compared.
	report = regexp.MustCompile(`offboarding [0-9]+`).ReplaceAll(report, []byte("offboarding DRAWN"))
	compareGolden(t, map[string]json.RawMessage{"offboard_report": report})
}

// TestOffboard_DeactivationEvent: a user_change with deleted: true
// offboards; one without changes nothing.
func TestOffboard_DeactivationEvent(t *testing.T) {
	h := newHarness(t)
	h.launched("test-small for 1d")
	h.send(h.slack.Event(testSecret, map[string]any{"type": "user_change", "user": map[string]any{"id": dev, "deleted": false}}))
	h.drain()
	if n := len(h.offboardReports()); n != 0 {
		t.Fatalf("a profile change offboarded: %d", n)
	}
	req, err := h.slack.UserDeactivated(testSecret, dev)
	if err != nil {
		t.Fatal(err)
	}
	h.send(req, nil)
	h.drain()
	reports := h.offboardReports()
	if len(reports) != 1 {
		t.Fatalf("%d reports", len(reports))
	}
	mustContain(t, "report", reports[0], "their Slack account was deactivated", "srv-1")
	mustContain(t, "audit", h.audit("srv-1"), "opsbot server.handover offboarding: U0DEV <dev@example.com>'s Slack account was deactivated")
}

// TestOffboard_NotYourselfNorByAnOffboardedAdmin attacks who may
// offboard whom: an admin who names themselves is refused (nobody would
// be left to take their decisions back: only the database could), and an
// admin who was offboarded, while the config still names them, offboards
// nobody. Neither changes anything: the person is offboarded afterwards
// as usual, not "already".
func TestOffboard_NotYourselfNorByAnOffboardedAdmin(t *testing.T) {
	h := newEditedHarness(t, func(s string) string {
		return strings.Replace(s, "admins: [admin@example.com]", "admins: [admin@example.com, U0LEAD]", 1)
	})
	mustContain(t, "yourself by email", h.ops(admin, "offboard admin@example.com"), "yourself")
	mustContain(t, "yourself by mention", h.ops(lead, "offboard <@"+lead+"|lead>"), "yourself")
	mustContain(t, "admin offboards an admin", h.ops(admin, "offboard <@"+lead+"|lead>"), "is offboarded")
	h.drain()
	mustContain(t, "offboarded admin", h.ops(lead, "offboard <@"+dev+"|dev>"), "was offboarded")
	if got := h.audit("dev@example.com") + h.audit("U0DEV"); strings.Contains(got, "user.offboard") {
		t.Errorf("the refusal offboarded dev:\n%s", got)
	}
	mustContain(t, "dev still offboarded once", h.ops(admin, "offboard <@"+dev+"|dev>"), "is offboarded")
	mustContain(t, "admin still there", h.ops(admin, "offboard admin@example.com"), "yourself")
}

// TestOffboard_NoServersOrLeasesFromThemAfterwards attacks the promise
// that opsbot takes no decision or action from an offboarded person
// while the config still names them, through the server commands: a
// member asks for a server (which the policy would launch at once), an
// approver extends and releases the team's server. Each is refused with
// the reason and nothing changes.
func TestOffboard_NoServersOrLeasesFromThemAfterwards(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	end := h.request(r.ID).LeaseEnd
	mustContain(t, "offboard lead", h.ops(admin, "offboard <@"+lead+"|lead>"), "is offboarded")
	mustContain(t, "offboard dev2", h.ops(admin, "offboard <@"+dev2+"|dev2>"), "is offboarded")
	h.drain()
	mustContain(t, "request", h.ops(dev2, "server request test-small for 1d x"), "was offboarded")
	mustContain(t, "extend", h.ops(lead, "lease extend "+r.ID+" 1d"), "was offboarded")
	mustContain(t, "release", h.ops(lead, "lease release "+r.ID), "was offboarded")
	h.drain()
	if n := len(h.requests()); n != 1 {
		t.Errorf("%d server requests, want the one from before", n)
	}
	if got := h.request(r.ID); got.State != workflows.StateRunning || !got.LeaseEnd.Equal(end) {
		t.Errorf("the server changed: %s, lease end %s (was %s)", got.State, got.LeaseEnd, end)
	}
}

// TestOffboard_ByEmailFindsTheApproverNamedBySlackID attacks the
// documented form `/ops offboard EMAIL` with an approver the config
// names by Slack member ID (approvers: [U0LEAD]): offboarding them by
// email must find their teams as offboarding them by mention does (the
// approval waiting on them re-routed, the team told), and leave them
// unable to approve.
func TestOffboard_ByEmailFindsTheApproverNamedBySlackID(t *testing.T) {
	h := newHarness(t)
	h.ops(dev, "server request build-box for 1d compile")
	h.drain()
	got := h.ops(admin, "offboard lead@example.com")
	mustContain(t, "command", got, "1 approval(s) asked of the other approvers")
	h.drain()
	var report string
	for _, m := range h.channelMessages("platform-approvals") {
		if t := messageText(m); strings.Contains(t, "Offboarding:") {
			report = t
		}
	}
	mustContain(t, "report", report, "waited on them too; asked of the other approvers")
}
