package aws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	opsaws "github.com/opsbot/opsbot/integrations/aws"
	"github.com/opsbot/opsbot/integrations/aws/cloudwatchfake"
	"github.com/opsbot/opsbot/integrations/aws/stsfake"
)

func cloudwatchRig(t *testing.T, now time.Time, pageDatapoints int32) (*cloudwatchfake.Server, *opsaws.EC2, *httptest.Server) {
	t.Helper()
	fake := cloudwatchfake.New(func() time.Time { return now })
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""), HTTPClient: srv.Client()}
	e, err := opsaws.New(context.Background(), opsaws.Options{Config: &cfg, MetricsEndpoint: srv.URL, MetricsPageDatapoints: pageDatapoints, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return fake, e, srv
}

// TestCPU_BatchesOf500AndFollowsNextToken: 1,201 instances over a day of
// hourly datapoints take three calls' worth of queries (500, 500, 201),
// each paged by NextToken at 5,000 datapoints; every instance's 24 points
// come back, through the real SDK speaking RPC v2 CBOR.
func TestCPU_BatchesOf500AndFollowsNextToken(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	fake, e, _ := cloudwatchRig(t, now, 5000)
	var ids []string
	for i := 0; i < 1201; i++ {
		id := fmt.Sprintf("i-%017d", i)
		ids = append(ids, id)
		fake.SetCPU(id, now.Add(-48*time.Hour), float64(i%10))
	}
	fake.SetCPU(ids[7], now.Add(-3*time.Hour), 80)
	got, err := e.CPU(context.Background(), "", "us-east-1", ids, now.Add(-24*time.Hour), now, time.Hour)
	if err != nil {
		t.Fatalf("CPU: %v", err)
	}
	if len(got) != len(ids) {
		t.Fatalf("%d instances answered, want %d", len(got), len(ids))
	}
	for i, id := range ids {
		if n := len(got[id]); n != 24 {
			t.Fatalf("%s: %d points, want 24", id, n)
		}
		if i != 7 && got[id][0].Percent != float64(i%10) {
			t.Fatalf("%s: %v", id, got[id][0])
		}
	}
	if last := got[ids[7]][23]; last.Percent != 80 || !last.At.Equal(now.Add(-time.Hour)) {
		t.Errorf("busy instance's last point %+v", last)
	}
	calls := fake.Calls()
	perBatch := map[int]int{}
	for _, c := range calls {
		if c.Queries > cloudwatchfake.MaxQueries {
			t.Fatalf("a call with %d queries", c.Queries)
		}
		perBatch[c.Queries]++
	}
	// 500 x 24 = 12,000 points: three pages each; 201 x 24 = 4,824: one.
	if perBatch[500] != 6 || perBatch[201] != 1 || len(calls) != 7 {
		t.Errorf("calls by query count = %v (%d calls)", perBatch, len(calls))
	}
}

// TestCloudWatchFake_RefusesWhatCloudWatchRefuses, through the real client:
// more than 500 queries, an Id that does not start with a lowercase
// letter, a Period not a multiple of 60, a forged NextToken; the SDK
// reads each as an API error with its code.
func TestCloudWatchFake_RefusesWhatCloudWatchRefuses(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	_, _, srv := cloudwatchRig(t, now, 0)
	c := cloudwatch.New(cloudwatch.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.Client(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""), RetryMaxAttempts: 1})
	q := func(id string, period int32) types.MetricDataQuery {
		return types.MetricDataQuery{Id: aws.String(id), MetricStat: &types.MetricStat{
			Metric: &types.Metric{Namespace: aws.String("AWS/EC2"), MetricName: aws.String("CPUUtilization"),
				Dimensions: []types.Dimension{{Name: aws.String("InstanceId"), Value: aws.String("i-1")}}},
			Period: aws.Int32(period), Stat: aws.String("Maximum")}}
	}
	many := make([]types.MetricDataQuery, 501)
	for i := range many {
		many[i] = q(fmt.Sprintf("q%d", i), 60)
	}
	for _, tc := range []struct {
		name  string
		in    cloudwatch.GetMetricDataInput
		codes []string
	}{
		{"501 queries", cloudwatch.GetMetricDataInput{MetricDataQueries: many}, []string{"InvalidParameterValue", "InvalidParameterValueException"}},
		{"Id with a capital", cloudwatch.GetMetricDataInput{MetricDataQueries: []types.MetricDataQuery{q("Cpu", 60)}}, []string{"InvalidParameterValue", "InvalidParameterValueException"}},
		{"duplicate Id", cloudwatch.GetMetricDataInput{MetricDataQueries: []types.MetricDataQuery{q("a", 60), q("a", 60)}}, []string{"InvalidParameterValue", "InvalidParameterValueException"}},
		{"period 90s", cloudwatch.GetMetricDataInput{MetricDataQueries: []types.MetricDataQuery{q("a", 90)}}, []string{"InvalidParameterValue", "InvalidParameterValueException"}},
		{"forged token", cloudwatch.GetMetricDataInput{MetricDataQueries: []types.MetricDataQuery{q("a", 60)}, NextToken: aws.String("x")}, []string{"InvalidNextToken"}},
	} {
		in := tc.in
		in.StartTime, in.EndTime = aws.Time(now.Add(-time.Hour)), aws.Time(now)
		_, err := c.GetMetricData(context.Background(), &in)
		var ae smithy.APIError
		if !errors.As(err, &ae) {
			t.Errorf("%s: %v, want an API error", tc.name, err)
			continue
		}
		ok := false
		for _, code := range tc.codes {
			ok = ok || ae.ErrorCode() == code
		}
		if !ok {
			t.Errorf("%s: code %q (%v), want one of %v", tc.name, ae.ErrorCode(), err, tc.codes)
		}
	}
}

// TestCPU_ReadInTheInstancesAccount: with two accounts, the CPU of an
// instance in the role's account is read from CloudWatch with the role's
// temporary credentials (STS AssumeRole, through stscreds) in its region;
// asked with the default credentials, CloudWatch has no data for it, as
// in AWS (metrics belong to the account). The default account's
// instances are read with the default credentials.
func TestCPU_ReadInTheInstancesAccount(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	sts := stsfake.New(time.Now)
	sts.AddRole(stsfake.Role{ARN: prodRole, ExternalID: "opsbot-ext-1", Account: prodID})
	stsSrv := httptest.NewServer(sts)
	t.Cleanup(stsSrv.Close)
	cw := cloudwatchfake.New(func() time.Time { return now })
	cw.KeyAccounts(sts.KeyAccount)
	cwSrv := httptest.NewServer(cw)
	t.Cleanup(cwSrv.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	e, err := opsaws.New(context.Background(), opsaws.Options{Config: &cfg, MetricsEndpoint: cwSrv.URL, STSEndpoint: stsSrv.URL, MaxAttempts: 1,
		Accounts: []opsaws.Account{{Name: "prod", ID: prodID, RoleARN: prodRole, ExternalID: "opsbot-ext-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	cw.SetCPUIn(prodID, "i-prod", now.Add(-48*time.Hour), 1.5)
	cw.SetCPUIn(cloudwatchfake.DefaultAccount, "i-home", now.Add(-48*time.Hour), 2.5)
	ctx := context.Background()
	from, to := now.Add(-24*time.Hour), now

	got, err := e.CPU(ctx, "prod", "eu-central-1", []string{"i-prod"}, from, to, time.Hour)
	if err != nil {
		t.Fatalf("CPU in prod: %v", err)
	}
	if n := len(got["i-prod"]); n != 24 || got["i-prod"][0].Percent != 1.5 {
		t.Fatalf("prod instance: %d points %v", n, got["i-prod"])
	}
	calls := cw.Calls()
	if c := calls[len(calls)-1]; c.Region != "eu-central-1" {
		t.Errorf("prod call in region %q, want eu-central-1", c.Region)
	} else if acct, ok := sts.KeyAccount(c.AccessKey); !ok || acct != prodID {
		t.Errorf("prod call signed with %q (account %q), want the role's key", c.AccessKey, acct)
	}
	if n := len(sts.Calls()); n != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", n)
	}

	// The adversary's case: the same instance asked in the default account.
	wrong, err := e.CPU(ctx, "", "eu-central-1", []string{"i-prod"}, from, to, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(wrong["i-prod"]) != 0 {
		t.Errorf("the default account read prod's metrics: %v", wrong["i-prod"])
	}

	home, err := e.CPU(ctx, "", "us-east-1", []string{"i-home"}, from, to, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(home["i-home"]); n != 24 {
		t.Errorf("default account's instance: %d points", n)
	}
	calls = cw.Calls()
	if c := calls[len(calls)-1]; c.AccessKey != "AKIDEXAMPLE" || c.Region != "us-east-1" {
		t.Errorf("default call %+v", c)
	}
	if _, err := e.CPU(ctx, "staging", "us-east-1", []string{"i-x"}, from, to, time.Hour); err == nil {
		t.Error("an account not in the config was read")
	}
}
