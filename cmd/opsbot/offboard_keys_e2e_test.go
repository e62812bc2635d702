package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/offboard"
)

// foreignInstance launches an instance the way someone would outside
// opsbot (no opsbot tags), with key pair key, through the real SDK.
func (h *harness) foreignInstance(key string) string {
	h.t.Helper()
	c := ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.ec2hs.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	out, err := c.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String("ami-0123456789abcdef0"),
		InstanceType: "t3.micro", MinCount: aws.Int32(1), MaxCount: aws.Int32(1), KeyName: aws.String(key)})
	if err != nil {
		h.t.Fatalf("launch outside opsbot: %v", err)
	}
	return aws.ToString(out.Instances[0].InstanceId)
}

// keysMessage is the newest text of the key pairs' message in the
// thread of the offboarding report, and the message itself.
func (h *harness) keysMessage(channel string) (slackfake.Message, string) {
	h.t.Helper()
	for _, m := range h.channelMessages(channel) {
		if t := messageText(m); strings.Contains(t, "EC2 key pairs of") {
			return m, t
		}
	}
	h.t.Fatalf("no key pairs message in %s", channel)
	return slackfake.Message{}, ""
}

// keyButtons are the Delete buttons of the key pairs' message, by label:
// the action ID as drawn and the value.
func keyButtons(m slackfake.Message) map[string][2]string {
	out := map[string][2]string{}
	var blocks []struct {
		Elements []map[string]any `json:"elements"`
	}
	_ = json.Unmarshal(m.Blocks, &blocks)
	for _, b := range blocks {
		for _, el := range b.Elements {
			if id, _ := el["action_id"].(string); slackout.BaseActionID(id) == offboard.ActKeyDelete {
				txt, _ := el["text"].(map[string]any)
				out[txt["text"].(string)] = [2]string{id, el["value"].(string)}
			}
		}
	}
	return out
}

// TestOffboard_KeyPairsListedAndDeletedByAnApprover: the person's key
// pairs (tagged with their email, or named after them) are listed in the
// report's thread with the instances launched with them, opsbot's and
// others' (listed only, never touched); Delete key pair is refused to
// the departed person, a member, another team's approver and an admin
// who is no approver, with the reason and an audit entry; an approver's
// press deletes once in EC2, a second press and a replay do nothing.
func TestOffboard_KeyPairsListedAndDeletedByAnApprover(t *testing.T) {
	h := newEditedHarness(t, func(cfg string) string {
		// A team whose approver is not platform's: "another team's approver".
		return strings.Replace(cfg, "    approvers: [U0LEAD]\n    monthly_budget_usd: 20", "    approvers: [sre@example.com]\n    monthly_budget_usd: 20", 1)
	})
	r := h.launched("test-small for 2d") // launched with the template's key pair "dev"
	h.ec2.AddKeyPair("us-east-1", "dev", nil)
	laptop := h.ec2.AddKeyPair("us-east-1", "laptop-2024", map[string]string{"Owner": "Dev@Example.com"})
	h.ec2.AddKeyPair("us-east-1", "shared-ci", map[string]string{"Owner": "platform@example.com"})
	h.ec2.AddKeyPair("us-east-1", "devops", nil) // "dev" is a prefix, not their name
	foreign := h.foreignInstance("laptop-2024")
	h.advance(time.Minute) // it runs
	before := h.ec2.Instance

	got := h.ops(admin, "offboard dev@example.com")
	mustContain(t, "command", got, "EC2 key pairs are being looked up")
	h.drain()
	m, txt := h.keysMessage("platform-approvals")
	if m.ThreadTS == "" {
		t.Errorf("the key pairs are not in the report's thread")
	}
	mustContain(t, "keys", txt, "`dev`", "named after them", r.Instance.ID+" (running, opsbot's "+r.ID+")",
		"`laptop-2024`", laptop, "tagged Owner=Dev@Example.com", foreign+" (running, not opsbot's: listed only, opsbot does not touch it)")
	for _, not := range []string{"shared-ci", "devops"} {
		if strings.Contains(txt, not) {
			t.Errorf("lists %s, which is not theirs:\n%s", not, txt)
		}
	}
	if n := len(h.ec2.CallsOf("DescribeKeyPairs")); n != 1 {
		t.Errorf("%d DescribeKeyPairs calls, want 1 (one place)", n)
	}
	buttons := keyButtons(m)
	del := buttons["Delete key pair laptop-2024"]
	act, id := del[0], del[1]
	if id == "" || len(buttons) != 2 {
		t.Fatalf("buttons %v", buttons)
	}

	// Refused, each with its reason, nothing deleted.
	for _, c := range []struct{ who, user, want string }{
		{"the departed person", dev, "cannot delete your own key pair"},
		{"a member", dev2, "Only the approvers of team platform"},
		{"another team's approver", sre, "Only the approvers of team platform"},
		{"an admin who is no approver", admin, "Only the approvers of team platform"},
		{"someone not in the config", stranger, "Only the approvers of team platform"},
	} {
		h.click(c.user, m, act, id)
		h.drain()
		mustContain(t, c.who, h.lastResponse(), c.want)
	}
	if n := len(h.ec2.CallsOf("DeleteKeyPair")); n != 0 {
		t.Fatalf("%d deletions after refusals", n)
	}
	if n := strings.Count(h.audit(id), "keypair.delete.refuse"); n != 5 {
		t.Errorf("%d refusals audited, want 5:\n%s", n, h.audit(id))
	}

	// An approver deletes; the double click and a replay do nothing more.
	h.click(lead, m, act, id)
	mustContain(t, "approver", h.lastResponse(), "laptop-2024 ("+laptop+") is being deleted")
	h.click(lead2, m, act, id)
	mustContain(t, "second press", h.lastResponse(), "being deleted", "nothing more was done")
	h.drain()
	h.forge(lead, act, id) // the old button, replayed
	mustContain(t, "replay", h.lastResponse(), "deleted by", "nothing more was done")
	h.drain()
	if calls := h.ec2.CallsOf("DeleteKeyPair"); len(calls) != 1 || calls[0].Params.Get("KeyPairId") != laptop {
		t.Fatalf("DeleteKeyPair calls: %+v", calls)
	}
	for _, kp := range h.ec2.KeyPairs() {
		if kp.Name == "laptop-2024" {
			t.Errorf("laptop-2024 still in EC2")
		}
	}
	if in, ok := h.ec2.Instance(foreign); !ok || in.State != "running" {
		t.Errorf("the instance opsbot did not launch was touched: %+v", in)
	}
	_ = before
	mustContain(t, "audit", h.audit(id), "U0LEAD <lead@example.com> keypair.delete", "opsbot ec2.keypair.delete asked by U0LEAD")
	m, txt = h.keysMessage("platform-approvals")
	mustContain(t, "after", txt, "`laptop-2024`", "deleted by <@U0LEAD>")
	if b := keyButtons(m); len(b) != 1 || b["Delete key pair dev"][1] == "" {
		t.Errorf("buttons after the deletion: %v", b)
	}
	// The buttons carry opsbot's own IDs; the times are the harness's.
	golden := regexp.MustCompile(`as of [^"]*`).ReplaceAll(m.Blocks, []byte("as of NOW"))
	compareGolden(t, map[string]json.RawMessage{"offboard_keys": golden})
}

// TestOffboard_KeyPairDryRun: in dry run the deletion is checked with
// EC2's DryRun flag and reported as such; the key pair stays.
func TestOffboard_KeyPairDryRun(t *testing.T) {
	h := newUnbootedHarness(t)
	h.dry = true
	h.boot()
	h.ec2.AddKeyPair("us-east-1", "dev-old", nil)
	h.ops(admin, "offboard <@"+dev+">")
	h.drain()
	m, _ := h.keysMessage("platform-approvals")
	b := keyButtons(m)["Delete key pair dev-old"]
	h.click(lead, m, b[0], b[1])
	h.drain()
	_, txt := h.keysMessage("platform-approvals")
	mustContain(t, "dry run", txt, "checked (dry run), not deleted", "Dry run")
	if calls := h.ec2.CallsOf("DeleteKeyPair"); len(calls) != 1 || !calls[0].DryRun {
		t.Fatalf("DeleteKeyPair calls: %+v", calls)
	}
	if len(h.ec2.KeyPairs()) != 1 {
		t.Errorf("the key pair was deleted in dry run")
	}
}

// TestOffboard_TeamOwnedServer: a server handed to its team warns the
// team's approvals channel (not the person who left) before its lease
// ends; an approver extends it; /ops server and the approvers' Home tab
// show it as the team's; the departed person's /ops servers no longer
// lists it and their clicks are refused.
func TestOffboard_TeamOwnedServer(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.ops(admin, "offboard <@"+dev+">")
	h.drain()
	dmsBefore := len(h.dms(dev))
	h.advance(24*time.Hour + time.Minute) // the 24h warning
	var warn string
	var warnBlocks json.RawMessage
	for _, m := range h.channelMessages("platform-approvals") {
		if t := messageText(m); strings.Contains(t, r.ID+"'s lease ends in") {
			warn, warnBlocks = t, m.Blocks
		}
	}
	compareGolden(t, map[string]json.RawMessage{"offboard_team_lease_warning": unixless(warnBlocks)})
	mustContain(t, "warning in the team's channel", warn, "Owned by team platform since <@U0DEV> left", "<@U0LEAD>", "Extend 1 day")
	for _, m := range h.dms(dev)[dmsBefore:] {
		if strings.Contains(messageText(m), r.ID) {
			t.Errorf("the departed person was told: %s", messageText(m))
		}
	}
	mustContain(t, "approver extends", h.ops(lead, "lease extend "+r.ID+" 1d"), "extended")
	mustContain(t, "show", h.ops(lead, "server "+r.ID), "team platform, since <@U0DEV> left")
	mustContain(t, "member show", h.ops(dev2, "server "+r.ID), "team platform, since <@U0DEV> left")
	mustContain(t, "home", h.home(lead2), "Handed to your team", r.ID, "<@U0DEV> left")
	if s := h.ops(dev, "servers"); strings.Contains(s, r.ID) {
		t.Errorf("the departed person still lists %s: %s", r.ID, s)
	}
	mustContain(t, "departed extends", h.ops(dev, "lease extend "+r.ID+" 1d"), "was offboarded")
}

// TestOffboard_ReRoutesApprovalsOfADepartedApprover: approvals that
// waited on an approver who left are asked of the other approvers in
// their thread; a team left without one is flagged; the departed
// approver's Approve is refused; another approver decides.
func TestOffboard_ReRoutesApprovalsOfADepartedApprover(t *testing.T) {
	h := newHarness(t)
	h.ops(dev, "server request build-box for 1d compile")
	h.drain()
	apr := h.request("srv-1")
	if apr.State != workflows.StatePending {
		t.Fatalf("srv-1 is %s", apr.State)
	}
	got := h.ops(admin, "offboard <@"+lead+">")
	mustContain(t, "command", got, "1 approval(s) asked of the other approvers")
	h.drain()
	var reroute, report string
	var approval, rerouted slackfake.Message
	for _, m := range h.channelMessages("platform-approvals") {
		switch t := messageText(m); {
		case strings.Contains(t, "waits on the team's other approvers now"):
			reroute, rerouted = t, m
			if m.ThreadTS == "" {
				// a reply in the approval's thread
				h.t.Errorf("the re-route is not a thread reply")
			}
		case strings.Contains(t, "Offboarding:"):
			report = t
		case strings.Contains(t, "approval needed"):
			approval = m
		}
	}
	mustContain(t, "re-route", reroute, "<@U0LEAD> left", "<@"+lead2+">")
	compareGolden(t, map[string]json.RawMessage{"offboard_reroute": rerouted.Blocks})
	mustContain(t, "report", report, "waited on them too; asked of the other approvers")
	var data string
	for _, m := range h.channelMessages("data-approvals") {
		if t := messageText(m); strings.Contains(t, "Offboarding:") {
			data = t
		}
	}
	mustContain(t, "no approver left", data, "No approver left", "Team data has no other approver")
	// The departed approver presses Approve: refused.
	h.click(lead, approval, workflows.ActApprove, "apr-1")
	h.drain()
	mustContain(t, "departed approves", h.lastResponse(), "was offboarded")
	if st := h.request("srv-1").State; st != workflows.StatePending {
		t.Fatalf("after the departed approver's click: %s", st)
	}
	h.click(lead2, approval, workflows.ActApprove, "apr-1")
	h.settle()
	if st := h.request("srv-1").State; st == workflows.StatePending {
		t.Fatalf("another approver could not decide")
	}
}

// unixless replaces the Unix times buttons carry (they follow the
// harness's paced clock) with UNIX.
func unixless(b json.RawMessage) json.RawMessage {
	return regexp.MustCompile(`\b1[0-9]{9}\b`).ReplaceAll(b, []byte("UNIX"))
}
