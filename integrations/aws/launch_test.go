package aws_test

import (
	"context"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestLaunch_TagsInstanceAndVolumeAndSendsClientToken(t *testing.T) {
	r := newRig(t, false)
	r.fake.SetImage("ami-0abcdef1234567890", "/dev/sda1")
	s := spec("srv-1")

	got := r.launched(t, "srv-1")

	if !regexp.MustCompile(`^i-[0-9a-f]{17}$`).MatchString(got.ID) {
		t.Errorf("instance ID = %q, want i- and 17 hex digits", got.ID)
	}
	if got.State != workflows.InstancePending || got.Type != "t3.micro" || got.Region != "us-east-1" {
		t.Errorf("launched = %+v, want a pending t3.micro in us-east-1", got)
	}
	if want := t0.Truncate(time.Second); !got.LaunchTime.Equal(want) {
		t.Errorf("launch time = %v, want %v", got.LaunchTime, want)
	}
	if !regexp.MustCompile(`^10\.0\.\d+\.\d+$`).MatchString(got.PrivateIP) ||
		!regexp.MustCompile(`^ip-10-0-\d+-\d+\.us-east-1\.compute\.internal$`).MatchString(got.PrivateDNS) {
		t.Errorf("address = %q / %q", got.PrivateIP, got.PrivateDNS)
	}
	if !maps.Equal(got.Tags, s.Tags) {
		t.Errorf("returned tags = %v, want %v", got.Tags, s.Tags)
	}

	insts := r.fake.Instances()
	if len(insts) != 1 {
		t.Fatalf("fake has %d instances, want 1", len(insts))
	}
	f := insts[0]
	if f.ClientToken != s.ClientToken || f.ImageID != s.AMI || f.SubnetID != s.Subnet || f.KeyName != s.KeyName {
		t.Errorf("fake instance = %+v, want the spec's token, AMI, subnet and key", f)
	}
	if !slices.Equal(f.SecurityGroups, s.SecurityGroups) {
		t.Errorf("security groups = %v, want %v", f.SecurityGroups, s.SecurityGroups)
	}
	if f.UserData != s.UserData {
		t.Errorf("user data = %q, want %q", f.UserData, s.UserData)
	}
	if f.RootVolume.DeviceName != "/dev/sda1" || f.RootVolume.SizeGB != 30 {
		t.Errorf("root volume = %+v, want 30 GB on the AMI's root device /dev/sda1", f.RootVolume)
	}
	if !maps.Equal(f.Tags, s.Tags) || !maps.Equal(f.RootVolume.Tags, s.Tags) {
		t.Errorf("fake tags: instance %v, volume %v; want both %v", f.Tags, f.RootVolume.Tags, s.Tags)
	}
	calls := r.fake.CallsOf("RunInstances")
	if len(calls) != 1 || calls[0].Params.Get("ClientToken") != s.ClientToken {
		t.Errorf("RunInstances calls = %+v, want one carrying ClientToken %q", calls, s.ClientToken)
	}
}

func TestLaunch_SameClientTokenTwiceLaunchesOnce(t *testing.T) {
	r := newRig(t, false)
	first := r.launched(t, "srv-2")
	r.clock.Advance(time.Minute)
	second := r.launched(t, "srv-2")

	if first.ID != second.ID || !first.LaunchTime.Equal(second.LaunchTime) {
		t.Errorf("second launch = %s at %v, want the first %s at %v", second.ID, second.LaunchTime, first.ID, first.LaunchTime)
	}
	if second.State != workflows.InstanceRunning {
		t.Errorf("second answer state = %s, want the instance as it is now (running)", second.State)
	}
	if n := len(r.fake.Instances()); n != 1 {
		t.Errorf("fake has %d instances, want 1", n)
	}
	if n := r.countCalls("RunInstances"); n != 2 {
		t.Errorf("RunInstances calls = %d, want 2 (both answered by the same reservation)", n)
	}
}

func TestLaunch_ReusedTokenWithOtherParametersIsPermanent(t *testing.T) {
	r := newRig(t, false)
	r.launched(t, "srv-3")
	s := spec("srv-3")
	s.InstanceType = "t3.large"
	_, err := r.ec2.Launch(context.Background(), s)
	if err == nil || !isPermanent(err) {
		t.Fatalf("launch with reused token = %v, want a permanent IdempotentParameterMismatch", err)
	}
	if n := len(r.fake.Instances()); n != 1 {
		t.Errorf("fake has %d instances, want 1", n)
	}
}

func TestLaunch_RefusesWithoutClientToken(t *testing.T) {
	r := newRig(t, false)
	s := spec("srv-4")
	s.ClientToken = ""
	if _, err := r.ec2.Launch(context.Background(), s); err == nil || !isPermanent(err) {
		t.Fatalf("launch without token = %v, want a permanent refusal", err)
	}
	if calls := r.fake.Calls(); len(calls) != 0 {
		t.Errorf("fake saw %d calls, want none", len(calls))
	}
}

func TestLaunch_InAnotherRegion(t *testing.T) {
	r := newRig(t, false)
	s := spec("srv-5")
	s.Region = "eu-west-1"
	got, err := r.ec2.Launch(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := r.fake.Instance(got.ID)
	if f.Region != "eu-west-1" || got.Region != "eu-west-1" {
		t.Errorf("region: fake %q, adapter %q; want eu-west-1", f.Region, got.Region)
	}
	if found, err := r.ec2.Describe(context.Background(), "", "us-east-1", []string{got.ID}); err != nil || len(found) != 0 {
		t.Errorf("describe in us-east-1 = %v, %v; want nothing (the instance is in eu-west-1)", found, err)
	}
}

func TestDryRun_ChecksAndCreatesNothing(t *testing.T) {
	r := newRig(t, true)
	_, err := r.ec2.Launch(context.Background(), spec("srv-6"))
	if !errors.Is(err, workflows.ErrDryRun) {
		t.Fatalf("dry-run launch = %v, want ErrDryRun", err)
	}
	if n := len(r.fake.Instances()); n != 0 {
		t.Errorf("dry run created %d instances", n)
	}
	calls := r.fake.CallsOf("RunInstances")
	if len(calls) != 1 || !calls[0].DryRun || calls[0].Error != "DryRunOperation" {
		t.Errorf("RunInstances calls = %+v, want one dry run answered DryRunOperation", calls)
	}
}

func TestDryRun_PermissionOffIsNotADryRunSuccess(t *testing.T) {
	r := newRig(t, true)
	r.fake.SetPermission("RunInstances", false)
	_, err := r.ec2.Launch(context.Background(), spec("srv-7"))
	if err == nil || errors.Is(err, workflows.ErrDryRun) || !isPermanent(err) {
		t.Fatalf("dry run without permission = %v, want a permanent UnauthorizedOperation", err)
	}
}

func TestLaunch_RetriesThrottlingAndServerErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   string
		status int
	}{
		{"throttled", "RequestLimitExceeded", 503},
		{"internal error", "InternalError", 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, false)
			r.fake.FailNext("RunInstances", 1, tc.code, tc.status)
			got := r.launched(t, "srv-8")
			calls := r.fake.CallsOf("RunInstances")
			if len(calls) != 2 || calls[0].Error != tc.code || calls[1].Error != "" {
				t.Fatalf("RunInstances calls = %+v, want a failed one then a retry", calls)
			}
			if calls[0].Params.Get("ClientToken") != calls[1].Params.Get("ClientToken") {
				t.Errorf("retry changed the client token")
			}
			if insts := r.fake.Instances(); len(insts) != 1 || insts[0].ID != got.ID {
				t.Errorf("instances = %+v, want just %s", insts, got.ID)
			}
		})
	}
}

func TestLaunch_GivesUpAfterMaxAttempts(t *testing.T) {
	r := newRig(t, false)
	r.fake.Throttle("RunInstances", 10)
	_, err := r.ec2.Launch(context.Background(), spec("srv-9"))
	if err == nil || isPermanent(err) {
		t.Fatalf("launch = %v, want a retryable error after the attempts ran out", err)
	}
	if n := r.countCalls("RunInstances"); n != 3 {
		t.Errorf("RunInstances calls = %d, want MaxAttempts = 3", n)
	}
}

func isPermanent(err error) bool { return workflows.IsPermanent(err) }

// TestLaunch_HardenedByDefault: IMDSv2 only, an encrypted root volume,
// no public address, the subnet and groups on the primary interface (EC2
// refuses them in both places); a public address and an instance profile
// only when the spec asks.
func TestLaunch_HardenedByDefault(t *testing.T) {
	r := newRig(t, false)
	r.launched(t, "srv-1")
	s := spec("srv-2")
	s.PublicIP, s.InstanceProfile = true, "arn:aws:iam::123456789012:instance-profile/dev"
	if _, err := r.ec2.Launch(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	s = spec("srv-3")
	s.InstanceProfile = "dev-box"
	if _, err := r.ec2.Launch(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	insts := r.fake.Instances()
	for i, want := range []struct {
		public  bool
		profile string
	}{{false, ""}, {true, "arn:aws:iam::123456789012:instance-profile/dev"}, {false, "instance-profile/dev-box"}} {
		f := insts[i]
		if f.HTTPTokens != "required" || f.HTTPEndpoint != "enabled" || !f.RootVolume.Encrypted {
			t.Errorf("%s: tokens %q, endpoint %q, encrypted %v; want IMDSv2 required and an encrypted root", f.ID, f.HTTPTokens, f.HTTPEndpoint, f.RootVolume.Encrypted)
		}
		if (f.PublicIP != "") != want.public {
			t.Errorf("%s: public address %q, want one: %v", f.ID, f.PublicIP, want.public)
		}
		if want.profile == "" && f.InstanceProfile != "" || want.profile != "" && !strings.HasSuffix(f.InstanceProfile, want.profile) {
			t.Errorf("%s: instance profile %q, want %q", f.ID, f.InstanceProfile, want.profile)
		}
		if f.SubnetID != "subnet-0123abcd" || len(f.SecurityGroups) != 2 {
			t.Errorf("%s: subnet %q groups %v", f.ID, f.SubnetID, f.SecurityGroups)
		}
	}
	p := r.fake.CallsOf("RunInstances")[0].Params
	if p.Get("SubnetId") != "" || p.Get("SecurityGroupId.1") != "" || p.Get("NetworkInterface.1.SubnetId") != "subnet-0123abcd" ||
		p.Get("NetworkInterface.1.AssociatePublicIpAddress") != "false" || p.Get("MetadataOptions.HttpTokens") != "required" {
		t.Errorf("RunInstances sent %v", p)
	}
}
