package ec2fake_test

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/workflows"
)

var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*ec2fake.Server, *workflows.ManualClock, *httptest.Server, *ec2.Client) {
	t.Helper()
	clock := workflows.NewManualClock(t0)
	fake := ec2fake.New(clock.Now)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	c := ec2.New(ec2.Options{
		Region:       "us-west-2",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		HTTPClient:   srv.Client(),
	})
	return fake, clock, srv, c
}

func run(t *testing.T, c *ec2.Client, tags map[string]string, count int32) []types.Instance {
	t.Helper()
	var ts []types.Tag
	for k, v := range tags {
		ts = append(ts, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := c.RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12345678"), InstanceType: types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(count),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: ts}},
	})
	if err != nil {
		t.Fatalf("run instances: %v", err)
	}
	return out.Instances
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestDescribeInstances_Filters(t *testing.T) {
	_, clock, _, c := setup(t)
	web := run(t, c, map[string]string{"team": "web", "env": "prod"}, 2)
	db := run(t, c, map[string]string{"team": "data"}, 1)
	clock.Advance(time.Minute)
	if _, err := c.StopInstances(context.Background(), &ec2.StopInstancesInput{InstanceIds: []string{*db[0].InstanceId}}); err != nil {
		t.Fatal(err)
	}
	all := []string{*web[0].InstanceId, *web[1].InstanceId, *db[0].InstanceId}
	f := func(name string, values ...string) types.Filter {
		return types.Filter{Name: aws.String(name), Values: values}
	}
	for _, tc := range []struct {
		name    string
		ids     []string
		filters []types.Filter
		want    []string
	}{
		{"everything", nil, nil, all},
		{"tag value", nil, []types.Filter{f("tag:team", "web")}, all[:2]},
		{"tag values are ORed", nil, []types.Filter{f("tag:team", "web", "data")}, all},
		{"tag wildcard", nil, []types.Filter{f("tag:team", "d*")}, all[2:]},
		{"tag-key", nil, []types.Filter{f("tag-key", "env")}, all[:2]},
		{"state", nil, []types.Filter{f("instance-state-name", "stopping")}, all[2:]},
		{"filters are ANDed", nil, []types.Filter{f("tag:team", "web"), f("instance-state-name", "stopping")}, nil},
		{"instance-id filter ignores unknown IDs", nil, []types.Filter{f("instance-id", all[0], "i-00000000000000000")}, all[:1]},
		{"IDs and a filter", all, []types.Filter{f("tag:team", "data")}, all[2:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: tc.ids, Filters: tc.filters})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range out.Reservations {
				for _, in := range r.Instances {
					got = append(got, *in.InstanceId)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if len(all) != 3 || *web[0].InstanceId == *web[1].InstanceId {
		t.Fatalf("MaxCount=2 launched %v", all)
	}
}

func TestDescribeInstances_Errors(t *testing.T) {
	_, _, _, c := setup(t)
	in := run(t, c, nil, 1)
	for _, tc := range []struct {
		name string
		in   *ec2.DescribeInstancesInput
		code string
	}{
		{"unknown ID", &ec2.DescribeInstancesInput{InstanceIds: []string{*in[0].InstanceId, "i-0000000000000000f"}}, "InvalidInstanceID.NotFound"},
		{"malformed ID", &ec2.DescribeInstancesInput{InstanceIds: []string{"vol-1"}}, "InvalidInstanceID.Malformed"},
		{"unknown filter", &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("colour"), Values: []string{"red"}}}}, "InvalidParameterValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.DescribeInstances(context.Background(), tc.in)
			if code(err) != tc.code {
				t.Errorf("error = %v, want %s", err, tc.code)
			}
		})
	}
}

func TestLifecycle_StateMachine(t *testing.T) {
	fake, clock, _, c := setup(t)
	ctx := context.Background()
	id := *run(t, c, nil, 1)[0].InstanceId
	ids := []string{id}
	state := func() ec2fake.State { in, _ := fake.Instance(id); return in.State }

	if _, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids}); code(err) != "IncorrectInstanceState" {
		t.Errorf("stopping a pending instance: %v, want IncorrectInstanceState", err)
	}
	clock.Advance(ec2fake.DefaultDelays.Launch)
	if s := state(); s != ec2fake.Running {
		t.Fatalf("after the launch delay: %s", s)
	}
	out, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids})
	if err != nil || out.StoppingInstances[0].PreviousState.Name != types.InstanceStateNameRunning ||
		out.StoppingInstances[0].CurrentState.Name != types.InstanceStateNameStopping ||
		aws.ToInt32(out.StoppingInstances[0].CurrentState.Code) != 64 {
		t.Fatalf("stop: %+v, %v", out, err)
	}
	clock.Advance(ec2fake.DefaultDelays.Stop)
	first, _ := fake.Instance(id)
	clock.Advance(time.Hour)
	if _, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids}); err != nil {
		t.Fatal(err)
	}
	again, _ := fake.Instance(id)
	if first.State != ec2fake.Stopped || again.State != ec2fake.Pending || !again.LaunchTime.After(first.LaunchTime) {
		t.Errorf("stop then start: %s at %v, then %s at %v; want stopped, then pending with a later launch time",
			first.State, first.LaunchTime, again.State, again.LaunchTime)
	}
	if _, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(ec2fake.DefaultDelays.Terminate)
	if s := state(); s != ec2fake.Terminated {
		t.Errorf("after terminate: %s", s)
	}
	if _, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids}); code(err) != "IncorrectInstanceState" {
		t.Errorf("starting a terminated instance: %v, want IncorrectInstanceState", err)
	}
}

func TestDryRun_EveryMutatingAction(t *testing.T) {
	fake, clock, _, c := setup(t)
	ctx := context.Background()
	id := *run(t, c, map[string]string{"a": "1"}, 1)[0].InstanceId
	clock.Advance(time.Minute)
	ids := []string{id}
	yes := aws.Bool(true)
	actions := map[string]func() error{
		"RunInstances": func() error {
			_, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-1"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), DryRun: yes})
			return err
		},
		"StopInstances": func() error {
			_, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids, DryRun: yes})
			return err
		},
		"StartInstances": func() error {
			_, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids, DryRun: yes})
			return err
		},
		"TerminateInstances": func() error {
			_, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids, DryRun: yes})
			return err
		},
		"CreateTags": func() error {
			_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("2")}}, DryRun: yes})
			return err
		},
	}
	for action, call := range actions {
		t.Run(action, func(t *testing.T) {
			if err := call(); code(err) != "DryRunOperation" {
				t.Errorf("dry run: %v, want DryRunOperation", err)
			}
			fake.SetPermission(action, false)
			if err := call(); code(err) != "UnauthorizedOperation" {
				t.Errorf("dry run without permission: %v, want UnauthorizedOperation", err)
			}
			fake.SetPermission(action, true)
		})
	}
	insts := fake.Instances()
	if len(insts) != 1 || insts[0].State != ec2fake.Running || insts[0].Tags["a"] != "1" {
		t.Errorf("dry runs changed something: %+v", insts)
	}
}

func TestRunInstances_ConcurrentSameTokenLaunchesOnce(t *testing.T) {
	fake, _, _, c := setup(t)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			out, err := c.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String("ami-1"),
				MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ClientToken: aws.String("tok-1")})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = *out.Instances[0].InstanceId
		})
	}
	wg.Wait()
	if n := len(fake.Instances()); n != 1 {
		t.Fatalf("%d instances for one token", n)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Errorf("answers differ: %v", ids)
		}
	}
}

// The raw wire: what the SDK hides.
func TestWire_ErrorShapeStatusAndRegion(t *testing.T) {
	fake, _, srv, _ := setup(t)
	post := func(auth string, form url.Values) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	auth := "AWS4-HMAC-SHA256 Credential=AKID/20250314/eu-central-1/ec2/aws4_request, SignedHeaders=host, Signature=00"
	status, body := post(auth, url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "InstanceId.1": {"i-0123456789abcdef0"}})
	var e struct {
		XMLName xml.Name `xml:"Response"`
		Code    string   `xml:"Errors>Error>Code"`
		Message string   `xml:"Errors>Error>Message"`
		ReqID   string   `xml:"RequestID"`
	}
	if err := xml.Unmarshal(body, &e); err != nil || status != 400 || e.Code != "InvalidInstanceID.NotFound" ||
		!strings.Contains(e.Message, "i-0123456789abcdef0") || e.ReqID == "" {
		t.Errorf("not found: %d %s (%v)", status, body, err)
	}
	status, body = post("", url.Values{"Action": {"DescribeInstances"}})
	if status != 401 || !strings.Contains(string(body), "<Code>AuthFailure</Code>") {
		t.Errorf("unsigned: %d %s", status, body)
	}
	status, body = post(auth, url.Values{"Action": {"RunInstances"}, "ImageId": {"ami-1"}, "MinCount": {"1"}, "MaxCount": {"1"}, "DryRun": {"true"}})
	if status != 412 || !strings.Contains(string(body), "<Code>DryRunOperation</Code>") {
		t.Errorf("dry run: %d %s", status, body)
	}
	status, body = post(auth, url.Values{"Action": {"RunInstances"}, "ImageId": {"ami-1"}, "MinCount": {"1"}, "MaxCount": {"1"}})
	if status != 200 || !strings.Contains(string(body), `<RunInstancesResponse xmlns="`+ec2fake.Namespace+`">`) ||
		!strings.Contains(string(body), "<instancesSet><item><instanceId>i-") {
		t.Errorf("run: %d %s", status, body)
	}
	if in := fake.Instances(); len(in) != 1 || in[0].Region != "eu-central-1" ||
		!strings.HasSuffix(in[0].PrivateDNS, ".eu-central-1.compute.internal") {
		t.Errorf("region from the credential scope: %+v", in)
	}
	status, _ = post(auth, url.Values{"Action": {"LaunchRockets"}})
	if status != 400 {
		t.Errorf("unknown action: %d", status)
	}
}
