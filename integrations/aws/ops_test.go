package aws_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/actions"
)

func launchedRunning(t *testing.T, r *rig) workflows.Instance {
	t.Helper()
	in, err := r.ec2.Launch(context.Background(), spec("srv-7"))
	if err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(time.Minute)
	return in
}

func TestOps_RebootSnapshotDiagnoseThroughTheSDK(t *testing.T) {
	r := newRig(t, false)
	ctx := context.Background()
	in := launchedRunning(t, r)
	if err := r.ec2.Reboot(ctx, in); err != nil {
		t.Fatalf("reboot: %v", err)
	}
	if n := r.fake.Reboots(in.ID); n != 1 {
		t.Fatalf("reboots = %d", n)
	}
	tags := map[string]string{workflows.TagManaged: "true", workflows.TagRequest: "srv-7", actions.TagOp: "op-1"}
	s1, err := r.ec2.Snapshot(ctx, in, tags)
	if err != nil || !strings.HasPrefix(s1.ID, "snap-") || !strings.HasPrefix(s1.VolumeID, "vol-") || s1.State != "pending" {
		t.Fatalf("snapshot = %+v, %v", s1, err)
	}
	// The same op again (a retried job) finds the snapshot it made.
	s2, err := r.ec2.Snapshot(ctx, in, tags)
	if err != nil || s2.ID != s1.ID || len(r.fake.Snapshots()) != 1 {
		t.Fatalf("retried snapshot = %+v, %v; %d snapshots", s2, err, len(r.fake.Snapshots()))
	}
	r.fake.SetConsole(in.ID, strings.Repeat("line\n", 40)+"last line\n")
	r.fake.SetImpaired(in.ID, true)
	r.clock.Advance(3 * time.Minute)
	d, err := r.ec2.Diagnose(ctx, in)
	if err != nil {
		t.Fatalf("diagnose: %v", err)
	}
	if d.State != workflows.InstanceRunning || d.SystemStatus != "ok" || d.InstanceStatus != "impaired" ||
		len(d.Failed) != 1 || d.Failed[0] != "instance reachability" || len(d.Console) != actions.ConsoleLines || d.Console[len(d.Console)-1] != "last line" {
		t.Fatalf("diagnosis = %+v", d)
	}
	if err := r.ec2.DeleteSnapshot(ctx, "", "us-east-1", s1.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	// Gone already: done, not an error.
	if err := r.ec2.DeleteSnapshot(ctx, "", "us-east-1", s1.ID); err != nil {
		t.Fatalf("delete again: %v", err)
	}
}

func TestOps_RefusesWhatIsNotOurs(t *testing.T) {
	r := newRig(t, false)
	ctx := context.Background()
	in := launchedRunning(t, r)
	other := in
	other.Tags = map[string]string{workflows.TagManaged: "true", workflows.TagRequest: "srv-8"}
	if err := r.ec2.Reboot(ctx, other); !errors.Is(err, workflows.ErrNotOurs) {
		t.Fatalf("reboot of another request's instance = %v", err)
	}
	if _, err := r.ec2.Snapshot(ctx, other, map[string]string{actions.TagOp: "op-1"}); !errors.Is(err, workflows.ErrNotOurs) {
		t.Fatalf("snapshot = %v", err)
	}
	if _, err := r.ec2.Diagnose(ctx, other); !errors.Is(err, workflows.ErrNotOurs) {
		t.Fatalf("diagnose = %v", err)
	}
	if n := r.fake.Reboots(in.ID); n != 0 {
		t.Fatalf("rebooted: %d", n)
	}
}

func TestOps_DryRun(t *testing.T) {
	r := newRig(t, false)
	in := launchedRunning(t, r)
	dry := newRigSharing(t, r, true)
	ctx := context.Background()
	if err := dry.Reboot(ctx, in); !errors.Is(err, workflows.ErrDryRun) {
		t.Fatalf("dry reboot = %v", err)
	}
	if _, err := dry.Snapshot(ctx, in, map[string]string{actions.TagOp: "op-1"}); !errors.Is(err, workflows.ErrDryRun) {
		t.Fatalf("dry snapshot = %v", err)
	}
	if r.fake.Reboots(in.ID) != 0 || len(r.fake.Snapshots()) != 0 {
		t.Fatal("a dry run changed something")
	}
}

// TestFake_ErrorsAsEC2SendsThem checks the fake's errors through the SDK's
// own error decoding: codes the adapter branches on.
func TestFake_ErrorsAsEC2SendsThem(t *testing.T) {
	r := newRig(t, false)
	ctx := context.Background()
	c := ec2.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, HTTPClient: r.srv.Client()}, func(o *ec2.Options) {
		o.BaseEndpoint = aws.String(r.srv.URL)
		o.Credentials = staticCreds{}
	})
	code := func(err error) string {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		return ""
	}
	_, err := c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String("snap-0123456789abcdef0")})
	if code(err) != "InvalidSnapshot.NotFound" {
		t.Errorf("delete unknown snapshot: %v", err)
	}
	_, err = c.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String("vol-0123456789abcdef0")})
	if code(err) != "InvalidVolume.NotFound" {
		t.Errorf("snapshot unknown volume: %v", err)
	}
	_, err = c.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String("i-0123456789abcdef0")})
	if code(err) != "InvalidInstanceID.NotFound" {
		t.Errorf("console of unknown instance: %v", err)
	}
	_, err = c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"nope"}})
	if code(err) != "InvalidKeyPair.NotFound" {
		t.Errorf("describe unknown key: %v", err)
	}
	id := r.fake.AddKeyPair("us-east-1", "dana", map[string]string{"owner": "dana@example.com"})
	out, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil || len(out.KeyPairs) != 1 || aws.ToString(out.KeyPairs[0].KeyPairId) != id || len(out.KeyPairs[0].Tags) != 1 || out.KeyPairs[0].CreateTime == nil {
		t.Fatalf("describe keys = %+v, %v", out, err)
	}
	del, err := c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("dana")})
	if err != nil || !aws.ToBool(del.Return) || aws.ToString(del.KeyPairId) != id {
		t.Fatalf("delete key = %+v, %v", del, err)
	}
	// Deleting a name that does not exist succeeds, as in EC2.
	if _, err := c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("dana")}); err != nil {
		t.Fatalf("delete key again: %v", err)
	}
}

type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", Source: "test"}, nil
}
