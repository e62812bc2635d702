package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden_EverythingOpsbotRenders drives one session through every
// message, modal and Home view opsbot renders, and compares what reached
// Slack, block for block, with the golden files. Run with -update after a
// deliberate change and review the diff.
func TestGolden_EverythingOpsbotRenders(t *testing.T) {
	h := newHarness(t)
	got := map[string]json.RawMessage{}
	lastIn := func(ms []slackfake.Message, contains string) json.RawMessage {
		for i := len(ms) - 1; i >= 0; i-- {
			if strings.Contains(messageText(ms[i]), contains) {
				return ms[i].Blocks
			}
		}
		t.Fatalf("no message containing %q", contains)
		return nil
	}
	modal := func(user, callback string) json.RawMessage {
		vs := h.slack.Views(user)
		for i := len(vs) - 1; i >= 0; i-- {
			if vs[i].CallbackID == callback {
				return vs[i].JSON
			}
		}
		t.Fatalf("no %s modal for %s", callback, user)
		return nil
	}

	h.ops(dev, "server request test-small for 2d smoke tests <!channel> & <b>")
	got["reply_request_approved"] = json.RawMessage(h.slack.Responses()[len(h.slack.Responses())-1].Blocks)
	h.settle()
	got["dm_lease_running"] = lastIn(h.dms(dev), "is running")
	h.ops(dev, "server request build-box for 1d compile <@U0LEAD> please")
	got["reply_request_pending"] = json.RawMessage(h.slack.Responses()[len(h.slack.Responses())-1].Blocks)
	h.drain()
	got["approval_pending"] = h.channelMessages("platform-approvals")[0].Blocks
	h.click(lead, h.channelMessages("platform-approvals")[0], workflows.ActApprove, "apr-1")
	h.settle()
	got["approval_approved"] = h.channelMessages("platform-approvals")[0].Blocks
	got["dm_decision_approved"] = lastIn(h.dms(dev), "was approved")
	h.ops(dev, "server request build-box for 1d")
	h.drain()
	h.click(lead, h.channelMessages("platform-approvals")[1], workflows.ActDeny, "apr-2")
	got["modal_deny"] = modal(lead, "approval.deny")
	h.ops(dev, "server request")
	got["modal_request"] = modal(dev, "ops.request")
	h.ops(dev, "lease extend")
	got["modal_extend"] = modal(dev, "lease.extend")
	got["reply_servers"] = json.RawMessage(h.slack.Responses()[len(h.slack.Responses())-1].Blocks)
	h.ops(dev, "budget")
	got["reply_budget"] = json.RawMessage(h.slack.Responses()[len(h.slack.Responses())-1].Blocks)
	h.ops(lead, "approvals")
	got["reply_approvals"] = json.RawMessage(h.slack.Responses()[len(h.slack.Responses())-1].Blocks)
	h.ops(dev, "server request test-small for 2x")
	got["reply_usage_error"] = json.RawMessage(h.slack.Responses()[len(h.slack.Responses())-1].Blocks)
	h.advance(24*time.Hour + time.Minute)
	got["dm_lease_warning"] = lastIn(h.dms(dev), "lease ends in")

	h.incidentCmd(dev, "general", "declare")
	got["modal_declare"] = modal(dev, "incident.declare")
	if _, err := h.pd.Trigger(pdService, "Checkout <b>failing</b> & slow"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	ch := h.incidentChannels()[0]
	got["incident_summary"] = h.summary(ch.ID).Blocks
	got["incident_checklist"] = lastIn(h.slack.Messages(ch.ID), "Response checklist")
	got["incident_announcement"] = h.channelMessages("incidents")[0].Blocks
	h.advance(2 * time.Hour)
	got["incident_nag_update"] = lastIn(h.slack.Messages(ch.ID), "with no update")
	h.incidentCmd(dev, ch.ID, "update Rolled back *4.2* <!channel>; errors falling")
	h.incidentCmd(dev, ch.ID, "severity sev1")
	h.incidentCmd(dev, ch.ID, "role scribe <@"+lead+">")
	h.incidentCmd(dev, ch.ID, "status identified")
	h.drain()
	got["incident_update"] = lastIn(h.slack.Messages(ch.ID), "Update on inc-1")
	got["incident_line_severity"] = lastIn(h.slack.Messages(ch.ID), "Severity: sev")
	got["incident_line_role"] = lastIn(h.slack.Messages(ch.ID), "is now Scribe")
	got["incident_dm_role"] = lastIn(h.dms(lead), "made you Scribe")
	got["incident_summary_updated"] = h.summary(ch.ID).Blocks
	got["incident_announcement_updated"] = h.channelMessages("incidents")[0].Blocks
	h.send(h.slack.AppHomeOpened(testSecret, lead))
	h.drain()
	for _, v := range h.slack.Views(lead) {
		if v.Type == "home" {
			got["home_approver"] = v.JSON
		}
	}

	compareGolden(t, got)
	// User text is escaped wherever it appears: nobody can smuggle a
	// mention or a broadcast through a reason or a title.
	for name, raw := range got {
		s := blockText(raw)
		if strings.Contains(s, "<!channel>") || strings.Contains(s, "<b>") || strings.Contains(s, "<@U0LEAD> please") {
			t.Errorf("%s carries unescaped user text: %s", name, s)
		}
	}
	// Slack sends a mention or a broadcast typed in a command as <@U…> and
	// <!channel>: opsbot reads them back as the inert text typed.
	mustContain(t, "approval", blockText(got["approval_pending"]), "compile @U0LEAD please")
	mustContain(t, "summary", blockText(got["incident_summary"]), "Checkout &lt;b&gt;failing&lt;/b&gt; &amp; slow")
	mustContain(t, "update", blockText(got["incident_update"]), "`Rolled back *4.2* @\u2060channel; errors falling`")
}

// compareGolden compares each rendered JSON with testdata/golden/NAME.json,
// or rewrites the files with -update.
func compareGolden(t *testing.T, got map[string]json.RawMessage) {
	t.Helper()
	dir := filepath.Join("testdata", "golden")
	for name, raw := range got {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		pretty := buf.Bytes()
		path := filepath.Join(dir, name+".json")
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, pretty, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (run go test ./cmd/opsbot -run Golden -update)", name, err)
			continue
		}
		if !bytes.Equal(want, pretty) {
			t.Errorf("%s differs from %s:\n%s", name, path, pretty)
		}
	}
}

// TestGolden_GuardRailRefusals renders every refusal of the budget and
// approval guard rails, so a change of wording is a reviewed diff.
func TestGolden_GuardRailRefusals(t *testing.T) {
	h := newEditedHarness(t, tightData("1.5"))
	got := map[string]json.RawMessage{}
	last := func() json.RawMessage { rs := h.slack.Responses(); return json.RawMessage(rs[len(rs)-1].Blocks) }

	h.ops(analyst, "server request test-small for 26h")
	h.ops(analyst, "server request test-small for 26h")
	h.ops(analyst, "server request test-small for 26h")
	got["refusal_request_over_budget"] = last()
	h.drain()
	h.edit = tightData("1")
	h.restart()
	msgs := h.channelMessages("data-approvals")
	h.click(lead, msgs[1], workflows.ActApprove, "apr-2")
	got["refusal_approve_over_budget"] = last()
	h.ops(analyst, "lease release srv-2")
	got["reply_withdrawn"] = last()
	h.drain()
	got["approval_withdrawn"] = h.channelMessages("data-approvals")[1].Blocks

	h.launched("test-small for 2d")
	dm := h.dms(dev)[0]
	value := buttonValue(t, dm, workflows.ActLeaseExtend)
	h.click(dev, dm, workflows.ActLeaseExtend, value)
	h.click(dev, dm, workflows.ActLeaseExtend, value)
	got["refusal_extend_moved"] = last()

	// An approver extends dev's lease beyond policy (the self-service
	// extension is used): he, the owner and an outsider may not vote.
	h.ops(lead, "lease extend srv-4 6d")
	h.drain()
	approvals := h.channelMessages("platform-approvals")
	proxy := approvals[len(approvals)-1]
	got["approval_proxy_pending"] = proxy.Blocks
	for name, who := range map[string]string{"refusal_vote_initiator": lead, "refusal_vote_owner": dev, "refusal_vote_outsider": stranger} {
		h.click(who, proxy, workflows.ActApprove, buttonValue(t, proxy, workflows.ActApprove))
		got[name] = last()
	}
	// lead2's own server: nobody but lead2 and lead could approve lead's
	// extension of it.
	h.ops(lead2, "server request test-small for 1d")
	h.settle()
	h.ops(lead, "lease extend srv-5 8d")
	got["refusal_extend_nobody_left"] = last()

	// One build-box approved but not launched yet, one waiting; then the
	// policy changes so that neither snapshot passes.
	h.ops(dev, "server request build-box for 1d")
	h.drain()
	approvals = h.channelMessages("platform-approvals")
	h.click(lead, approvals[len(approvals)-1], workflows.ActApprove, buttonValue(t, approvals[len(approvals)-1], workflows.ActApprove))
	h.ops(dev, "server request build-box for 1d")
	h.edit = func(c string) string { return onlySmall(tightData("1")(c)) }
	h.restart()
	h.drain()
	approvals = h.channelMessages("platform-approvals")
	h.click(lead, approvals[len(approvals)-1], workflows.ActApprove, buttonValue(t, approvals[len(approvals)-1], workflows.ActApprove))
	got["refusal_approve_voided"] = last()
	h.drain()
	approvals = h.channelMessages("platform-approvals")
	got["approval_voided_before_launch"] = approvals[len(approvals)-2].Blocks
	got["approval_voided_at_click"] = approvals[len(approvals)-1].Blocks
	dms := h.dms(dev)
	got["dm_lease_voided_before_launch"] = lastMessageWith(t, dms, "Not launched")
	got["dm_decision_voided"] = lastMessageWith(t, dms, "was closed")
	compareGolden(t, got)
}

func lastMessageWith(t *testing.T, ms []slackfake.Message, contains string) json.RawMessage {
	t.Helper()
	for i := len(ms) - 1; i >= 0; i-- {
		if strings.Contains(messageText(ms[i]), contains) {
			return ms[i].Blocks
		}
	}
	t.Fatalf("no message containing %q", contains)
	return nil
}
