package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows/audit"
)

// TestAudit_ShownToApproversAndAdminsOnly: /ops audit answers admins and
// the team's approvers, with names and times in the reader's zone, and
// refuses everyone else with the reason.
func TestAudit_ShownToApproversAndAdminsOnly(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d smoke")
	_, view := h.showServer(dev, r.ID)
	h.press(dev, view, r.ID+" reboot")
	h.drain()
	h.incidentCmd(dev, "general", "declare Orders slow sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	h.incidentCmd(dev, ch.ID, "status identified")
	h.incidentCmd(dev, ch.ID, "severity sev1")
	h.incidentCmd(dev, ch.ID, "role comms <@"+dev2+">")
	h.drain()

	got := h.ops(lead, "audit "+r.ID)
	mustContain(t, "approver reads a server", got, "Audit log: srv-1", "<@U0DEV>", "request.create srv-1", "action.reboot srv-1", "ec2.reboot srv-1", "CET", "Europe/Berlin")
	if strings.Contains(got, "U0DEV <dev@example.com>") {
		t.Errorf("raw actor IDs shown:\n%s", got)
	}
	mustContain(t, "incident changes audited", h.ops(admin, "audit inc-1"), "incident.status inc-1", "investigating → identified", "incident.severity inc-1", "sev2 → sev1", "incident.role inc-1", "comms")
	mustContain(t, "team", h.ops(lead, "audit platform 2d"), "team platform", "request.create srv-1")
	mustContain(t, "by a person", h.ops(lead, "audit <@"+dev+"|dev> 1d"), "by <@U0DEV>", "action.reboot")
	for _, c := range []struct{ user, text, want string }{
		{dev, "audit", "shown to opsbot's admins and to teams' approvers"},
		{stranger, "audit srv-1", "shown to opsbot's admins and to teams' approvers"},
		{lead, "audit nosuchteam", "There is no team, server or incident"},
		{lead, "audit srv-1 2d extra", "at most a subject and a since"},
		{lead, "audit srv-99", "There is no server, approval, incident or runbook run"},
		{lead, "audit @dev", "Name the person"},
	} {
		mustContain(t, c.user+" "+c.text, h.ops(c.user, c.text), c.want)
	}
}

// TestAudit_DataApproverSeesOnlyDataTeam: an approver of one team does not
// read another team's log.
func TestAudit_OtherTeamsLogIsRefused(t *testing.T) {
	h := newEditedHarness(t, func(s string) string {
		return strings.Replace(s, "    approvers: [U0LEAD]\n    monthly_budget_usd: 20", "    approvers: [U0ANA]\n    monthly_budget_usd: 20", 1)
	})
	h.launched("test-small for 1d")
	mustContain(t, "other team's approver", h.ops(analyst, "audit srv-1"), "belongs to team platform")
	mustContain(t, "other team's name", h.ops(analyst, "audit platform"), "Team platform's audit log is shown to its approvers")
	if got := h.ops(analyst, "audit"); strings.Contains(got, "srv-1") {
		t.Errorf("data's approver sees platform's entries:\n%s", got)
	}
}

// TestAuditExport_JSONLinesInIDOrder: the export writes every entry once,
// oldest first, with stable fields, and resumes after an id.
func TestAuditExport_JSONLinesInIDOrder(t *testing.T) {
	h := newHarness(t)
	h.launched("test-small for 1d")
	h.ops(dev, "lease release srv-1")
	h.settle()
	var buf bytes.Buffer
	if err := writeAudit(context.Background(), h.app.DB, audit.Filter{Since: start.Add(-time.Hour)}, &buf); err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		lines = append(lines, m)
	}
	if len(lines) < 4 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, k := range []string{"id", "at", "actor", "actor_slack_id", "actor_email", "action", "subject", "reason", "detail"} {
		if _, ok := lines[0][k]; !ok {
			t.Errorf("field %s missing: %v", k, lines[0])
		}
	}
	if lines[0]["action"] != "request.create" || lines[0]["actor_slack_id"] != dev || lines[0]["actor_email"] != "dev@example.com" {
		t.Errorf("first line %v", lines[0])
	}
	prev := 0.0
	for _, l := range lines {
		if id := l["id"].(float64); id <= prev {
			t.Fatalf("ids not increasing: %v", lines)
		} else {
			prev = id
		}
	}
	var rest bytes.Buffer
	mid := int64(lines[1]["id"].(float64))
	if err := writeAudit(context.Background(), h.app.DB, audit.Filter{AfterID: mid}, &rest); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(rest.String(), "\n"); n != len(lines)-2 {
		t.Errorf("resumed export: %d lines, want %d", n, len(lines)-2)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"audit", "export"}, &out, &errOut, mapEnv(nil)); err == nil || !strings.Contains(errOut.String(), "--since is required") {
		t.Errorf("no --since: %v %s", err, errOut.String())
	}
}

// TestAudit_PrivateIncidentHiddenFromApproversNotInIt attacks `/ops
// audit` with a private incident: the team's approver, who is not in it
// (not invited, not on their Home), must not read its title or story
// through the audit log, by its ID or in the team's or the declarer's
// entries; the declarer's own approver-in-it and opsbot's admins do.
func TestAudit_PrivateIncidentHiddenFromApproversNotInIt(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare --private Payroll export leaked sev2")
	h.drain()
	h.incidentCmd(dev, "general", "declare Cache down sev3")
	h.drain()
	mustContain(t, "by its ID", h.ops(lead, "audit inc-1"), "private incident")
	for _, q := range []string{"audit platform", "audit <@" + dev + "|dev>", "audit"} {
		got := h.ops(lead, q)
		if strings.Contains(got, "Payroll") || strings.Contains(got, "inc-1") {
			t.Errorf("%s shows the private incident to an approver not in it:\n%s", q, got)
		}
		mustContain(t, q+" still shows the public one", got, "inc-2")
	}
	mustContain(t, "admin reads it", h.ops(admin, "audit inc-1"), "incident.declare inc-1", "Payroll export leaked")
	// Given a role, the approver is in it and reads its story.
	ch := h.incidentChannels()[0]
	h.incidentCmd(dev, ch.ID, "role scribe <@"+lead+">")
	h.drain()
	mustContain(t, "approver in it", h.ops(lead, "audit inc-1"), "incident.declare inc-1", "Payroll export leaked")
}

// TestAudit_ByBareSlackMemberID attacks the person forms `/ops audit`
// documents (an email, a Slack member ID, or a mention): a member ID
// typed as is must read as that person, not as an unknown team.
func TestAudit_ByBareSlackMemberID(t *testing.T) {
	h := newHarness(t)
	h.launched("test-small for 1d smoke")
	h.drain()
	byMention := h.ops(lead, "audit <@"+dev+"|dev> 1d")
	mustContain(t, "by mention", byMention, "by <@U0DEV>", "request.create")
	mustContain(t, "by member ID", h.ops(lead, "audit "+dev+" 1d"), "by <@U0DEV>", "request.create")
	mustContain(t, "by email", h.ops(lead, "audit dev@example.com 1d"), "request.create")
}

// TestAudit_OffboardedApproverReadsNothing attacks `/ops audit` with an
// approver who was offboarded while the config still names them:
// someone who left no longer reads the team's audit log.
func TestAudit_OffboardedApproverReadsNothing(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	mustContain(t, "before", h.ops(lead, "audit "+r.ID), "request.create")
	mustContain(t, "offboard", h.ops(admin, "offboard <@"+lead+"|lead>"), "is offboarded")
	h.drain()
	for _, q := range []string{"audit " + r.ID, "audit platform", "audit"} {
		got := h.ops(lead, q)
		mustContain(t, q, got, "was offboarded")
		if strings.Contains(got, "request.create") {
			t.Errorf("%s: shown to someone offboarded:\n%s", q, got)
		}
	}
}

// TestAudit_SinceOutsideWhatTimeCanHold: `/ops audit SINCE` with a date
// the store's nanosecond times cannot hold wrapped around: 9999-01-01
// (or any day after 2262) listed the entries from before it, and
// 1600-01-01 said "Nothing was recorded" above a log that has entries. A
// date to come is now refused with the reason; one before opsbot could
// have recorded anything reads the whole log, and the title says the
// year.
func TestAudit_SinceOutsideWhatTimeCanHold(t *testing.T) {
	h := newHarness(t)
	h.ops(lead, "server request test-small for 1d")
	for _, since := range []string{"2026-11-22", "2263-01-01", "9999-01-01"} {
		reply := h.ops(lead, "audit "+since)
		mustContain(t, since, reply, "in the future")
		if strings.Contains(reply, "request.create") {
			t.Errorf("audit since %s lists what came before it: %s", since, reply)
		}
	}
	for _, since := range []string{"1600-01-01", "0001-01-01", "1970-01-01"} {
		mustContain(t, since, h.ops(lead, "audit "+since), "request.create srv-1", "1970")
	}
}
