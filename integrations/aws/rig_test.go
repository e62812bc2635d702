package aws_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	opsaws "github.com/opsbot/opsbot/integrations/aws"
	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/workflows"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

// rig is the real adapter, through the real SDK, against the fake on a
// loopback httptest server.
type rig struct {
	clock *workflows.ManualClock
	fake  *ec2fake.Server
	srv   *httptest.Server
	ec2   *opsaws.EC2
}

func newRig(t *testing.T, dryRun bool) *rig {
	t.Helper()
	clock := workflows.NewManualClock(t0)
	fake := ec2fake.New(clock.Now)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &rig{clock: clock, fake: fake, srv: srv, ec2: adapter(t, srv, dryRun)}
}

// newRigSharing is a second adapter on r's fake, e.g. one in dry-run mode.
func newRigSharing(t *testing.T, r *rig, dryRun bool) *opsaws.EC2 {
	return adapter(t, r.srv, dryRun)
}

func adapter(t *testing.T, srv *httptest.Server, dryRun bool) *opsaws.EC2 {
	t.Helper()
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:  srv.Client(),
	}
	e, err := opsaws.New(context.Background(), opsaws.Options{
		Config: &cfg, Endpoint: srv.URL, DryRun: dryRun, MaxAttempts: 3, MaxBackoff: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("new adapter: %v", err)
	}
	return e
}

func spec(requestID string) workflows.LaunchSpec {
	return workflows.LaunchSpec{
		RequestID:      requestID,
		ClientToken:    "opsbot-" + requestID + "-1",
		Region:         "us-east-1",
		InstanceType:   "t3.micro",
		AMI:            "ami-0abcdef1234567890",
		Subnet:         "subnet-0123abcd",
		SecurityGroups: []string{"sg-0aaa1111", "sg-0bbb2222"},
		KeyName:        "ops",
		RootVolumeGB:   30,
		UserData:       "#!/bin/sh\necho hello\n",
		Tags: map[string]string{
			workflows.TagManaged:  "true",
			workflows.TagRequest:  requestID,
			workflows.TagOwner:    "ada@example.com",
			workflows.TagTeam:     "platform",
			workflows.TagLeaseEnd: "2025-03-16T09:26:53Z",
			"Name":                requestID + "-small",
		},
	}
}

// launched launches spec(id) and fails the test on error.
func (r *rig) launched(t *testing.T, id string) workflows.Instance {
	t.Helper()
	in, err := r.ec2.Launch(context.Background(), spec(id))
	if err != nil {
		t.Fatalf("launch %s: %v", id, err)
	}
	return in
}

func (r *rig) countCalls(action string) int { return len(r.fake.CallsOf(action)) }
