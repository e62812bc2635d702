package main

import (
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

// changedBuildBox is a config reload that rewrites the build-box template:
// another instance type, AMI, volume and tags.
func changedBuildBox(cfg string) string {
	return strings.Replace(cfg, `    instance_type: c6i.2xlarge
    ami: ami-0123456789abcdef0
    region: us-east-1
    root_volume_gb: 100
    tags: {cost-center: platform}`, `    instance_type: c6i.8xlarge
    ami: ami-0fedcba9876543210
    region: us-east-1
    root_volume_gb: 500
    tags: {cost-center: platform, env: changed}`, 1)
}

// onlySmall is a config reload after which the standard policy allows only
// t3 instances, and the big templates became t3 boxes.
func onlySmall(cfg string) string {
	for _, r := range [][2]string{
		{`instance_types: ["t3.*", "c6i.*"]`, `instance_types: ["t3.*"]`},
		{"instance_type: c6i.2xlarge", "instance_type: t3.large"},
		{"instance_type: c6i.8xlarge", "instance_type: t3.xlarge"},
		{"{t3.small: 0.0208,", "{t3.small: 0.0208, t3.large: 0.0832, t3.xlarge: 0.1664,"},
	} {
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	return cfg
}

// An approval approves exactly what was shown: the launch spec is
// snapshotted when the request is made, and a template edited before the
// approver clicks changes nothing about what is launched or its price.
func TestApproval_LaunchesTheSnapshotNotTheEditedTemplate(t *testing.T) {
	h := newHarness(t)
	h.ops(dev, "server request build-box for 1d compile")
	h.drain()
	mustContain(t, "approval", messageText(h.channelMessages("platform-approvals")[0]), "Launches", "c6i.2xlarge in us-east-1")
	before := h.request("srv-1")
	h.edit = changedBuildBox
	h.restart()

	h.click(lead, h.channelMessages("platform-approvals")[0], workflows.ActApprove, "apr-1")
	mustContain(t, "approve", h.lastResponse(), "You approved srv-1")
	h.settle()
	insts := h.ec2.Instances()
	if len(insts) != 1 {
		t.Fatalf("%d instances", len(insts))
	}
	in := insts[0]
	if in.Type != "c6i.2xlarge" || in.ImageID != "ami-0123456789abcdef0" || in.RootVolume.SizeGB != 100 {
		t.Errorf("launched %s %s %dGB, want the snapshot c6i.2xlarge ami-0123456789abcdef0 100GB", in.Type, in.ImageID, in.RootVolume.SizeGB)
	}
	if in.Tags["env"] != "" || in.Tags["cost-center"] != "platform" {
		t.Errorf("launched with tags %v, want the snapshot's", in.Tags)
	}
	r := h.request("srv-1")
	if r.HourlyRate != before.HourlyRate || h.committed("platform") != before.Estimate {
		t.Errorf("rate %s → %s, committed %s, want the snapshot's %s", before.HourlyRate, r.HourlyRate, h.committed("platform"), before.Estimate)
	}
}

// A snapshot that today's policy refuses voids the approval when the
// approver clicks: nothing launches, nothing is committed, the reservation
// is given back, and both the requester and the approvers are told why.
func TestApproval_VoidedAtTheClickWhenPolicyNowRefuses(t *testing.T) {
	h := newHarness(t)
	h.ops(dev, "server request build-box for 1d compile")
	h.drain()
	h.edit = onlySmall
	h.restart()

	h.click(lead, h.channelMessages("platform-approvals")[0], workflows.ActApprove, "apr-1")
	mustContain(t, "click", h.lastResponse(), "srv-1 could no longer take effect and was closed",
		"the policy changed: Team platform may not run c6i.2xlarge instances (allowed: t3.*)")
	h.settle()
	if n := len(h.ec2.CallsOf("RunInstances")); n != 0 {
		t.Fatalf("%d launches of a voided approval", n)
	}
	r := h.request("srv-1")
	if r.State != workflows.StateDenied || !strings.Contains(r.StateReason, "voided") {
		t.Fatalf("srv-1 is %s (%s)", r.State, r.StateReason)
	}
	if got := h.committed("platform"); got != 0 {
		t.Fatalf("committed %s", got)
	}
	mustContain(t, "budget", h.ops(dev, "budget"), "$0.00 (0)")
	mustContain(t, "approval message", messageText(h.channelMessages("platform-approvals")[0]), "srv-1: closed", "may not run c6i.2xlarge")
	var told bool
	for _, m := range h.dms(dev) {
		told = told || strings.Contains(messageText(m), "was closed") && strings.Contains(messageText(m), "may not run c6i.2xlarge")
	}
	if !told {
		t.Error("the requester was not told why")
	}
}

// Approved, then the policy changes before the launch runs: the launch is
// voided, nothing is started, the commitment is given back, and the owner
// and the approvers are told.
func TestLaunch_VoidedWhenPolicyChangedAfterApproval(t *testing.T) {
	h := newHarness(t)
	h.ops(dev, "server request build-box for 1d compile")
	h.drain()
	h.click(lead, h.channelMessages("platform-approvals")[0], workflows.ActApprove, "apr-1")
	if r := h.request("srv-1"); r.State != workflows.StateApproved || h.committed("platform") == 0 {
		t.Fatalf("srv-1 is %s with %s committed before the launch job", r.State, h.committed("platform"))
	}
	h.edit = onlySmall
	h.restart()
	h.settle()
	if n := len(h.ec2.CallsOf("RunInstances")); n != 0 {
		t.Fatalf("%d launches after the policy refused the snapshot", n)
	}
	r := h.request("srv-1")
	if r.State != workflows.StateFailed || !strings.Contains(r.StateReason, "voided before launch") {
		t.Fatalf("srv-1 is %s (%s)", r.State, r.StateReason)
	}
	if got := h.committed("platform"); got != 0 {
		t.Fatalf("committed %s after the void", got)
	}
	mustContain(t, "owner", messageText(h.dms(dev)[len(h.dms(dev))-1]), "Not launched", "may not run c6i.2xlarge", "budget given back")
	mustContain(t, "approvers", messageText(h.channelMessages("platform-approvals")[0]), "srv-1: closed", "voided before launch")
}

// Neither the owner nor whoever asked may vote. An approver who extends
// someone else's lease beyond policy cannot then approve it himself.
func TestExtension_ProxySelfApprovalRefused(t *testing.T) {
	h := newHarness(t)
	h.launched("test-small for 1d")
	reply := h.ops(lead, "lease extend srv-1 8d still needed")
	mustContain(t, "proxy extend", reply, "needs an approver")
	h.drain()
	msgs := h.channelMessages("platform-approvals")
	approval := msgs[len(msgs)-1]
	mustContain(t, "approval", messageText(approval), "Requested by", "<@U0LEAD>", "Server owner", "<@U0DEV>")
	mustContain(t, "lead's list", h.ops(lead, "approvals"), "Nothing waits for your decision")

	end := h.request("srv-1").LeaseEnd
	for _, c := range []struct{ who, want string }{
		{lead, "You asked for this yourself (extending srv-1 by 8d)"},
		{dev, "You cannot decide your own request (srv-1)"},
		{stranger, "Only team platform's approvers can decide srv-1"},
	} {
		h.click(c.who, approval, workflows.ActApprove, "apr-1")
		mustContain(t, c.who+"'s click", h.lastResponse(), c.want)
	}
	if r := h.request("srv-1"); !r.LeaseEnd.Equal(end) {
		t.Fatalf("a refused vote moved the lease to %s", r.LeaseEnd)
	}
	var votes []workflows.Decision
	if err := h.app.DB.View(t.Context(), func(tx workflows.Tx) (err error) {
		votes, err = tx.Decisions("apr-1")
		return err
	}); err != nil || len(votes) != 0 {
		t.Fatalf("refused clicks recorded %d votes (%v)", len(votes), err)
	}

	h.click(lead2, approval, workflows.ActApprove, "apr-1")
	mustContain(t, "another approver", h.lastResponse(), "You approved srv-1")
	h.drain()
	if r := h.request("srv-1"); !r.LeaseEnd.Equal(end.Add(8 * 24 * 3600e9)) {
		t.Fatalf("lease end %s after approval, want 8d past %s", r.LeaseEnd, end)
	}
}

// When nobody but the owner and whoever asked could approve, an
// extension beyond policy is refused at once instead of waiting.
func TestExtension_NobodyLeftToApprove_RefusedAtOnce(t *testing.T) {
	h := newEditedHarness(t, func(cfg string) string {
		// Team data: approver lead only; a test-small for a day fits.
		return strings.Replace(cfg, "lifecycle: {end_action: terminate, grace: 0s}", "lifecycle: {max_lease: 2d, max_lifetime: 10d, end_action: terminate, grace: 0s}", 1)
	})
	h.ops(analyst, "server request test-small for 1d")
	h.settle()
	reply := h.ops(lead, "lease extend srv-1 3d")
	mustContain(t, "extend", reply, "needs 1 approval", "team data has no approver besides the server's owner and you")
	h.drain()
	if msgs := h.channelMessages("data-approvals"); len(msgs) != 0 {
		t.Fatalf("approvers were asked about something nobody may approve")
	}
}
