package ec2fake_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	ptypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/workflows"
)

// launchInput is a RunInstances call with every parameter the fake keeps.
func launchInput(token string) *ec2.RunInstancesInput {
	return &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0abc1234"), InstanceType: types.InstanceTypeM6iLarge,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ClientToken: aws.String(token),
		SubnetId: aws.String("subnet-0123"), SecurityGroupIds: []string{"sg-01", "sg-02"}, KeyName: aws.String("ops"),
		UserData: aws.String(base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n"))),
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sda1"),
			Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(40)}}},
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("opsbot:request"), Value: aws.String("srv-1")}}},
			{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("web")}}},
		},
	}
}

// restored serves a new fake on clock, restored from snap, with an EC2
// client pointed at it.
func restored(t *testing.T, clock *workflows.ManualClock, snap []byte) (*ec2fake.Server, *ec2.Client, string) {
	t.Helper()
	fake := ec2fake.New(clock.Now)
	if err := fake.Restore(snap); err != nil {
		t.Fatalf("restore: %v", err)
	}
	c, url := serve(t, fake)
	return fake, c, url
}

func serve(t *testing.T, fake *ec2fake.Server) (*ec2.Client, string) {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return ec2.New(ec2.Options{Region: "us-west-2", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), HTTPClient: srv.Client()}), srv.URL
}

func describeAll(t *testing.T, c *ec2.Client) []types.Reservation {
	t.Helper()
	out, err := c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	return out.Reservations
}

// asJSON prints SDK values readably (they are full of pointers).
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func stateOf(t *testing.T, c *ec2.Client, id string) types.InstanceStateName {
	t.Helper()
	out, err := c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return out.Reservations[0].Instances[0].State.Name
}

func TestSnapshot_RestoreReadsBackTheSameThroughTheSDK(t *testing.T) {
	ctx := context.Background()
	a, clockA, _, ca := setup(t)
	a.SetImage("ami-0abc1234", "/dev/sda1")
	a.SetPrice("us-east-1", "m6i.large", 0.096)
	first, err := ca.RunInstances(ctx, launchInput("tok-1"))
	if err != nil {
		t.Fatal(err)
	}
	pair := run(t, ca, map[string]string{"team": "data"}, 2)
	clockA.Advance(time.Minute) // all running
	if _, err := ca.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{*pair[0].InstanceId}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{*pair[1].InstanceId}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{*first.Instances[0].InstanceId},
		Tags: []types.Tag{{Key: aws.String("lease"), Value: aws.String("2025-03-15")}}}); err != nil {
		t.Fatal(err)
	}
	want, wantFake := describeAll(t, ca), a.Instances()
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	// The restarted fake comes up 20s later: stopping and shutting-down
	// are still under way (they take 30s) and finish when they would have.
	clockB := workflows.NewManualClock(clockA.Now().Add(20 * time.Second))
	b, cb, url := restored(t, clockB, snap)
	if got, want := asJSON(t, describeAll(t, cb)), asJSON(t, want); got != want {
		t.Errorf("DescribeInstances after restore:\n got %s\nwant %s", got, want)
	}
	if got := b.Instances(); !reflect.DeepEqual(got, wantFake) {
		t.Errorf("Instances after restore:\n got %+v\nwant %+v", got, wantFake)
	}
	if s := stateOf(t, cb, *pair[0].InstanceId); s != types.InstanceStateNameStopping {
		t.Errorf("20s into a stop: %s, want stopping", s)
	}
	clockB.Advance(11 * time.Second)
	if s := stateOf(t, cb, *pair[0].InstanceId); s != types.InstanceStateNameStopped {
		t.Errorf("31s after the stop: %s, want stopped (the state's start time was lost)", s)
	}
	if s := stateOf(t, cb, *pair[1].InstanceId); s != types.InstanceStateNameTerminated {
		t.Errorf("31s after terminate: %s, want terminated", s)
	}

	// The ClientToken launched before the snapshot still names its launch.
	again, err := cb.RunInstances(ctx, launchInput("tok-1"))
	if err != nil {
		t.Fatalf("retry with the same ClientToken: %v", err)
	}
	if *again.ReservationId != *first.ReservationId || *again.Instances[0].InstanceId != *first.Instances[0].InstanceId {
		t.Errorf("ClientToken retry got %s/%s, want %s/%s", *again.ReservationId, *again.Instances[0].InstanceId,
			*first.ReservationId, *first.Instances[0].InstanceId)
	}
	other := launchInput("tok-1")
	other.KeyName = aws.String("someone-else")
	if _, err := cb.RunInstances(ctx, other); code(err) != "IdempotentParameterMismatch" {
		t.Errorf("same token, other parameters: %v, want IdempotentParameterMismatch", err)
	}
	if n := len(b.Instances()); n != 3 {
		t.Fatalf("%d instances after the token retries, want 3", n)
	}

	// New IDs continue the sequence: the restored fake hands out what the
	// original would have, and nothing it handed out before.
	nextA, nextB := run(t, ca, nil, 1), run(t, cb, nil, 1)
	if *nextA[0].InstanceId != *nextB[0].InstanceId || *nextA[0].PrivateIpAddress != *nextB[0].PrivateIpAddress {
		t.Errorf("next launch: restored %s (%s), original %s (%s)", *nextB[0].InstanceId, *nextB[0].PrivateIpAddress,
			*nextA[0].InstanceId, *nextA[0].PrivateIpAddress)
	}
	seen := map[string]bool{}
	for _, in := range b.Instances() {
		for _, id := range []string{in.ID, in.RootVolume.ID, in.PrivateIP} {
			if seen[id] {
				t.Errorf("ID %s handed out twice after restore", id)
			}
			seen[id] = true
		}
	}
	reservations := map[string]bool{}
	for _, r := range describeAll(t, cb) {
		if reservations[*r.ReservationId] {
			t.Errorf("reservation %s handed out twice", *r.ReservationId)
		}
		reservations[*r.ReservationId] = true
	}

	img, err := cb.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-0abc1234"}})
	if err != nil || len(img.Images) != 1 || aws.ToString(img.Images[0].RootDeviceName) != "/dev/sda1" {
		t.Errorf("declared image after restore: %+v, %v", img, err)
	}
	pc := pricing.New(pricing.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), HTTPClient: cb.Options().HTTPClient})
	prod, err := pc.GetProducts(ctx, &pricing.GetProductsInput{ServiceCode: aws.String("AmazonEC2"),
		Filters: []ptypes.Filter{{Type: ptypes.FilterTypeTermMatch, Field: aws.String("instanceType"), Value: aws.String("m6i.large")}}})
	if err != nil || len(prod.PriceList) == 0 {
		t.Errorf("price after restore: %d products, %v", len(prod.PriceList), err)
	}
}

func TestRestore_ReplacesStateButKeepsTheRun(t *testing.T) {
	a, _, _, ca := setup(t)
	run(t, ca, nil, 1)
	empty, err := ec2fake.New(time.Now).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	a.FailNext("DescribeInstances", 1, "InvalidParameterValue", 400)
	if err := a.Restore(empty); err != nil {
		t.Fatal(err)
	}
	if n := len(a.Instances()); n != 0 {
		t.Errorf("%d instances after restoring an empty snapshot", n)
	}
	if _, err := ca.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}); code(err) != "InvalidParameterValue" {
		t.Errorf("an armed fault should survive Restore: %v", err)
	}
	if n := len(a.Calls()); n < 2 {
		t.Errorf("the call log should survive Restore: %d calls", n)
	}
}

func TestRestore_OlderOrDamagedShapes(t *testing.T) {
	for _, tc := range []struct {
		name, snap string
		want       int // instances after restore
	}{
		{"empty object", `{}`, 0},
		{"unknown fields", `{"version":9,"volumes":[1,2],"instances":[{"id":"i-0000000000000000a","state":"running","colour":"red"}]}`, 1},
		{"dangling references", `{"instances":[{"id":"i-0000000000000000a"},{"id":"i-0000000000000000a"}],
			"reservations":[{"id":"r-1","instance_ids":["i-gone"]}],"client_tokens":{"us-west-2/t":"r-gone"}}`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, c, _ := restored(t, workflows.NewManualClock(t0), []byte(tc.snap))
			if n := len(fake.Instances()); n != tc.want {
				t.Errorf("%d instances, want %d", n, tc.want)
			}
			describeAll(t, c)
			in := launchInput("t")
			out, err := c.RunInstances(context.Background(), in)
			if err != nil {
				t.Fatalf("launch after restore: %v", err)
			}
			ids := map[string]bool{}
			for _, x := range fake.Instances() {
				if ids[x.ID] {
					t.Errorf("duplicate instance %s", x.ID)
				}
				ids[x.ID] = true
			}
			if len(ids) != tc.want+1 || !ids[*out.Instances[0].InstanceId] {
				t.Errorf("instances %v after launching %s", ids, *out.Instances[0].InstanceId)
			}
		})
	}
	fake := ec2fake.New(time.Now)
	if err := fake.Restore([]byte("not json")); err == nil {
		t.Error("Restore accepted garbage")
	}
}

func TestSnapshot_ConcurrentWithTraffic(t *testing.T) {
	a, _, _, ca := setup(t)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for range 5 {
				if _, err := ca.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := ca.RunInstances(context.Background(), launchInput("")); err != nil {
				t.Error(err)
			}
		}
	})
	for i := range 10 {
		b, err := a.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if i == 5 {
			b = snap
		}
		if err := a.Restore(b); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, in := range a.Instances() {
		if seen[in.ID] {
			t.Errorf("instance %s handed out twice", in.ID)
		}
		seen[in.ID] = true
	}
}
