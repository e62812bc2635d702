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
	got, err := e.CPU(context.Background(), "us-east-1", ids, now.Add(-24*time.Hour), now, time.Hour)
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
