package main

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/workflows"
)

func TestLease_WarningDMThenStopAtTheEnd(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	before := len(h.dms(dev))

	h.advance(r.LeaseEnd.Sub(h.clock.Now()) - 24*time.Hour - time.Minute)
	if got := len(h.dms(dev)); got != before {
		t.Fatalf("warned early: %d DMs", got)
	}
	h.advance(time.Minute)
	dms := h.dms(dev)
	if len(dms) != before+1 {
		t.Fatalf("%d DMs at the 24h mark, want one warning", len(dms)-before)
	}
	warning := dms[len(dms)-1]
	mustContain(t, "warning", messageText(warning), "lease ends in 1d", "Extend 1 day", "Release now", "stopped")
	h.advance(time.Minute)
	if got := len(h.dms(dev)); got != before+1 {
		t.Fatalf("warning repeated")
	}
	// A restart neither repeats nor skips.
	h.restart()
	h.advance(time.Minute)
	if got := len(h.dms(dev)); got != before+1 {
		t.Fatalf("warning repeated after a restart")
	}
	h.advance(r.LeaseEnd.Sub(h.clock.Now()) - time.Hour)
	mustContain(t, "1h warning", messageText(h.dms(dev)[len(h.dms(dev))-1]), "lease ends in 1h")

	// At the end, the grace period, then the stop.
	h.advance(time.Hour)
	if h.ec2.CallsOf("StopInstances") != nil {
		t.Fatal("stopped before the grace period ran out")
	}
	h.advance(30 * time.Minute)
	if n := len(h.ec2.CallsOf("StopInstances")); n != 1 {
		t.Fatalf("%d stops, want 1", n)
	}
	h.advance(time.Minute)
	if got := h.request("srv-1"); got.State != workflows.StateStopped {
		t.Fatalf("state %s, want stopped", got.State)
	}
	in, _ := h.ec2.Instance(r.Instance.ID)
	if in.State != ec2fake.Stopping && in.State != ec2fake.Stopped {
		t.Errorf("instance is %s", in.State)
	}
	h.advance(10 * time.Minute)
	if n := len(h.ec2.CallsOf("StopInstances")); n != 1 {
		t.Fatalf("stopped again: %d", n)
	}
}

func TestExtend_WithinPolicyCommitsMore_BeyondNeedsApproval_PastLifetimeRefused(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	committed := h.committed("platform")

	reply := h.ops(dev, "lease extend srv-1 1d more tests")
	mustContain(t, "extend", reply, "srv-1 extended by 1d")
	h.drain()
	r2 := h.request("srv-1")
	if !r2.LeaseEnd.Equal(r.LeaseEnd.Add(24 * time.Hour)) {
		t.Fatalf("lease end %s, want %s", r2.LeaseEnd, r.LeaseEnd.Add(24*time.Hour))
	}
	if extra := h.committed("platform") - committed; extra != r.HourlyRate.For(24) {
		t.Errorf("extension committed %s, want %s", extra, r.HourlyRate.For(24))
	}
	in, _ := h.ec2.Instance(r.Instance.ID)
	if in.Tags["opsbot:lease-end"] != r2.LeaseEnd.Format(time.RFC3339) {
		t.Errorf("lease-end tag %s, want %s", in.Tags["opsbot:lease-end"], r2.LeaseEnd.Format(time.RFC3339))
	}

	// The one self-service extension is used: the next asks an approver.
	reply = h.ops(dev, "lease extend srv-1 1d")
	mustContain(t, "second extension", reply, "needs an approver", "self-service extension")
	h.drain()
	msgs := h.channelMessages("platform-approvals")
	mustContain(t, "extension approval", messageText(msgs[len(msgs)-1]), "extending srv-1 by 1d")

	// Past the maximum lifetime (10d): refused with the reason.
	reply = h.ops(dev, "lease extend srv-1 7d")
	mustContain(t, "lifetime", reply, "already has an extension waiting")
	h.click(lead, msgs[len(msgs)-1], workflows.ActApprove, "apr-1")
	h.drain()
	reply = h.ops(dev, "lease extend srv-1 7d")
	mustContain(t, "lifetime", reply, "past the maximum lifetime of 10d")
	if got := h.request("srv-1"); !got.LeaseEnd.Equal(r.LeaseEnd.Add(48 * time.Hour)) {
		t.Errorf("lease end %s after refused extension", got.LeaseEnd)
	}
}

func TestRelease_TerminatesAndGivesBackTheUnusedBudget(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.advance(12 * time.Hour)
	mustContain(t, "release", h.ops(dev, "lease release srv-1"), "srv-1 is being given back")
	h.drain()
	if n := len(h.ec2.CallsOf("TerminateInstances")); n != 1 {
		t.Fatalf("%d terminations", n)
	}
	got := h.request("srv-1")
	if got.State != workflows.StateTerminated {
		t.Fatalf("state %s", got.State)
	}
	used := got.CostSoFar(h.clock.Now())
	if c := h.committed("platform"); c != used {
		t.Errorf("committed %s after release, want what was used: %s (estimate was %s)", c, used, r.Estimate)
	}
	mustContain(t, "again", h.ops(dev, "lease release srv-1"), "terminated", "nothing to release")
}

func TestReconcile_TerminatedOutsideClosesTheLease(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.terminateOutside(r.Instance.ID)
	h.clock.Advance(time.Hour)
	if _, err := h.app.Servers.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.drain()
	got := h.request("srv-1")
	if got.State != workflows.StateTerminated || !strings.Contains(got.StateReason, "outside") {
		t.Fatalf("state %s (%s)", got.State, got.StateReason)
	}
	if c := h.committed("platform"); c != got.CostSoFar(h.clock.Now()) {
		t.Errorf("committed %s, want %s used", c, got.CostSoFar(h.clock.Now()))
	}
}

func TestReconcile_StoppedAndStartedOutsideAreNoted(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	admin := h.adminEC2()
	if _, err := admin.StopInstances(t.Context(), &ec2.StopInstancesInput{InstanceIds: []string{r.Instance.ID}}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	if _, err := h.app.Servers.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.drain()
	if got := h.request("srv-1"); got.State != workflows.StateStopped || got.StateReason != "stopped outside opsbot" {
		t.Fatalf("state %s (%s)", got.State, got.StateReason)
	}
	mustContain(t, "owner DM", messageText(h.dms(dev)[0]), "stopped outside opsbot")
	if _, err := admin.StartInstances(t.Context(), &ec2.StartInstancesInput{InstanceIds: []string{r.Instance.ID}}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	if _, err := h.app.Servers.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.drain()
	got := h.request("srv-1")
	if got.State != workflows.StateRunning {
		t.Fatalf("state %s after a start outside", got.State)
	}
	// The new launch time is recorded, so the lease end still stops it.
	h.advance(got.LeaseEnd.Sub(h.clock.Now()) + 31*time.Minute)
	if n := len(h.ec2.CallsOf("StopInstances")); n != 2 {
		t.Fatalf("%d StopInstances calls, want the admin's and opsbot's", n)
	}
}

func TestEnd_NeverTouchesAnInstanceThatDoesNotMatch(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	// Someone retags the instance so it no longer names this request.
	if _, err := h.adminEC2().CreateTags(t.Context(), &ec2.CreateTagsInput{Resources: []string{r.Instance.ID},
		Tags: []ec2types.Tag{{Key: aws.String("opsbot:request"), Value: aws.String("srv-999")}}}); err != nil {
		t.Fatal(err)
	}
	h.advance(r.LeaseEnd.Sub(h.clock.Now()) + 31*time.Minute)
	h.advance(time.Minute)
	if n := len(h.ec2.CallsOf("StopInstances")) + len(h.ec2.CallsOf("TerminateInstances")); n != 0 {
		t.Fatalf("opsbot stopped or terminated an instance that is not its own (%d calls)", n)
	}
	log, err := h.app.DB.AuditLog(t.Context(), "srv-1")
	if err != nil {
		t.Fatal(err)
	}
	var refused bool
	for _, e := range log {
		refused = refused || e.Action == "ec2.refuse"
	}
	if !refused {
		t.Error("the refusal is not in the audit log")
	}
}

func TestDryRun_ChecksEveryChangeAndMakesNone(t *testing.T) {
	h := newHarness(t)
	h.dry = true
	h.restart()
	mustContain(t, "reply", h.ops(dev, "server request test-small for 1d"), "approved")
	h.settle()
	calls := h.ec2.CallsOf("RunInstances")
	if len(calls) != 1 || !calls[0].DryRun {
		t.Fatalf("RunInstances calls %+v, want one with DryRun", calls)
	}
	if n := len(h.ec2.Instances()); n != 0 {
		t.Fatalf("dry run created %d instances", n)
	}
	r := h.request("srv-1")
	if r.State != workflows.StateTerminated || !strings.Contains(r.StateReason, "dry run") {
		t.Fatalf("state %s (%s)", r.State, r.StateReason)
	}
	if c := h.committed("platform"); c != 0 {
		t.Errorf("dry run kept %s committed", c)
	}
	mustContain(t, "owner DM", messageText(h.dms(dev)[0]), "Dry run")
}

func TestLaunchRetriedAfterEC2Errors_LaunchesOnce(t *testing.T) {
	h := newHarness(t)
	h.ec2.FailNext("RunInstances", 1, "InternalError", 500)
	h.ops(dev, "server request test-small for 1d")
	h.settle()
	if n := len(h.ec2.Instances()); n != 1 {
		t.Fatalf("%d instances after a failed first attempt", n)
	}
	// A crash after the launch but before it was recorded replays the job:
	// the same client token returns the same instance.
	r := h.request("srv-1")
	inst, err := h.app.EC2.Launch(t.Context(), workflows.LaunchSpec{RequestID: r.ID, ClientToken: r.ClientToken, Region: "us-east-1",
		InstanceType: "t3.small", AMI: "ami-0123456789abcdef0", Subnet: "subnet-0123456789abcdef0", SecurityGroups: []string{"sg-0123456789abcdef0"},
		KeyName: "dev", RootVolumeGB: 20, Tags: h.ec2.Instances()[0].Tags})
	if err != nil {
		t.Fatalf("replayed launch: %v", err)
	}
	if inst.ID != r.Instance.ID || len(h.ec2.Instances()) != 1 {
		t.Fatalf("replay launched %s, first was %s; %d instances", inst.ID, r.Instance.ID, len(h.ec2.Instances()))
	}
}

func TestRestartOutsideBetweenReconciles_LeaseStillEnds(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	admin := h.adminEC2()
	if _, err := admin.StopInstances(t.Context(), &ec2.StopInstancesInput{InstanceIds: []string{r.Instance.ID}}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	if _, err := admin.StartInstances(t.Context(), &ec2.StartInstancesInput{InstanceIds: []string{r.Instance.ID}}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	if _, err := h.app.Servers.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := h.request("srv-1")
	in, _ := h.ec2.Instance(r.Instance.ID)
	if !got.Instance.LaunchTime.Equal(in.LaunchTime) || got.Instance.LaunchTime.Equal(r.Instance.LaunchTime) {
		t.Fatalf("launch time not recorded: was %s, EC2 says %s, recorded %s", r.Instance.LaunchTime, in.LaunchTime, got.Instance.LaunchTime)
	}
	h.advance(got.LeaseEnd.Sub(h.clock.Now()) + 31*time.Minute)
	h.advance(time.Minute)
	if got := h.request("srv-1"); got.State != workflows.StateStopped {
		t.Fatalf("state %s at the lease end after a restart outside opsbot", got.State)
	}
}

func TestRelease_StoppedAtLeaseEnd_Terminates(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	h.advance(r.LeaseEnd.Sub(h.clock.Now()) + 31*time.Minute)
	h.advance(time.Minute)
	if got := h.request("srv-1"); got.State != workflows.StateStopped {
		t.Fatalf("state %s", got.State)
	}
	mustContain(t, "release", h.ops(dev, "lease release srv-1"), "being given back")
	h.drain()
	if got := h.request("srv-1"); got.State != workflows.StateTerminated {
		t.Fatalf("state %s after releasing a stopped server", got.State)
	}
	if n := len(h.ec2.CallsOf("TerminateInstances")); n != 1 {
		t.Fatalf("%d terminations", n)
	}
}

func TestStoppedServer_TerminatedAtMaxLifetime(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	h.advance(r.LeaseEnd.Sub(h.clock.Now()) + 31*time.Minute)
	h.advance(time.Minute)
	// The policy's max lifetime is 10 days from the lease start.
	h.advance(r.LeaseStart.Add(10*24*time.Hour).Sub(h.clock.Now()) - time.Minute)
	if n := len(h.ec2.CallsOf("TerminateInstances")); n != 0 {
		t.Fatal("terminated before its maximum lifetime")
	}
	h.advance(time.Minute)
	if got := h.request("srv-1"); got.State != workflows.StateTerminated {
		t.Fatalf("state %s past the maximum lifetime", got.State)
	}
}

func TestApproverOwnRequest_RefusedWhenNobodyElseCouldApprove(t *testing.T) {
	h := newHarness(t)
	// huge needs two approvals; lead is one of the team's two approvers.
	mustContain(t, "reply", h.ops(lead, "server request huge for 4d"), "only 1 approver(s) besides you")
	h.drain()
	if msgs := h.channelMessages("platform-approvals"); len(msgs) != 0 {
		t.Fatal("approvers were asked about a request nobody could approve")
	}
}
