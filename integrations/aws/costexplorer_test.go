package aws_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/smithy-go"

	opsaws "github.com/opsbot/opsbot/integrations/aws"
	"github.com/opsbot/opsbot/integrations/aws/cefake"
	"github.com/opsbot/opsbot/workflows/costs"
)

var ceNow = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

func newCE(t *testing.T) (*cefake.Server, *opsaws.CostExplorer, *httptest.Server) {
	t.Helper()
	f := cefake.New(func() time.Time { return ceNow })
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""), HTTPClient: srv.Client()}
	return f, opsaws.NewCostExplorer(opsaws.CostExplorerOptions{Config: &cfg, Endpoint: srv.URL, MaxAttempts: 3, MaxBackoff: time.Millisecond}), srv
}

func seedCE(f *cefake.Server) {
	f.NameAccount("111122223333", "prod")
	f.NameAccount("444455556666", "dev")
	for d := 1; d <= 30; d++ {
		day := time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
		f.Add(
			cefake.Record{Day: day, Account: "111122223333", Service: "Amazon Elastic Compute Cloud - Compute", Tags: map[string]string{"team": "platform"}, Unblended: 10, Amortized: 8},
			cefake.Record{Day: day, Account: "444455556666", Service: "Amazon Relational Database Service", Tags: map[string]string{"team": "data"}, Unblended: 2.5},
			cefake.Record{Day: day, Account: "444455556666", Service: "AWS Lambda", Unblended: 0.1},
		)
	}
}

func TestCostExplorer_GroupsPagesAndNames(t *testing.T) {
	f, ce, _ := newCE(t)
	seedCE(f)
	f.SetPageSize(7)
	ans, err := ce.CostAndUsage(context.Background(), costs.Query{Start: "2026-11-01", End: "2026-12-01", Metric: costs.MetricUnblended,
		GroupBy: [2]costs.Group{costs.ByTag("team"), costs.ByAccount}})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Calls != 5 || len(f.Calls()) != 5 {
		t.Errorf("calls = %d (fake saw %d), want 5 pages of 7 days", ans.Calls, len(f.Calls()))
	}
	if len(ans.Lines) != 90 {
		t.Fatalf("lines = %d, want 90", len(ans.Lines))
	}
	sums := map[[2]string]float64{}
	for _, l := range ans.Lines {
		sums[l.Keys] += l.Amount
	}
	if sums[[2]string{"platform", "111122223333"}] != 300 || sums[[2]string{"", "444455556666"}] < 2.99 || sums[[2]string{"data", "444455556666"}] != 75 {
		t.Errorf("sums = %v", sums)
	}
	if ans.Accounts["111122223333"] != "prod" || ans.Accounts["444455556666"] != "dev" {
		t.Errorf("accounts = %v", ans.Accounts)
	}
	c := f.Calls()[0]
	if c.Monthly || c.Metrics[0] != "UnblendedCost" || c.GroupBy[0] != "TAG:team" || c.GroupBy[1] != "DIMENSION:LINKED_ACCOUNT" {
		t.Errorf("first call = %+v", c)
	}
	if f.Calls()[1].PageToken == "" {
		t.Error("the second call did not send NextPageToken")
	}
}

func TestCostExplorer_MonthlyAndAmortized(t *testing.T) {
	f, ce, _ := newCE(t)
	seedCE(f)
	ans, err := ce.CostAndUsage(context.Background(), costs.Query{Start: "2026-10-01", End: "2026-12-01", Monthly: true, Metric: costs.MetricAmortized,
		GroupBy: [2]costs.Group{costs.ByService}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ans.Lines {
		if l.Day != "2026-11-01" {
			t.Errorf("line of %s, want only November's", l.Day)
		}
		if l.Keys[0] == "Amazon Elastic Compute Cloud - Compute" && l.Amount != 240 {
			t.Errorf("amortized EC2 = %v, want 240", l.Amount)
		}
	}
}

func TestCostExplorer_Errors(t *testing.T) {
	q := costs.Query{Start: "2026-11-01", End: "2026-12-01", Metric: costs.MetricUnblended, GroupBy: [2]costs.Group{costs.ByService}}
	t.Run("access denied", func(t *testing.T) {
		f, ce, _ := newCE(t)
		f.Deny(true)
		_, err := ce.CostAndUsage(context.Background(), q)
		if !errors.Is(err, costs.ErrAccessDenied) {
			t.Fatalf("err = %v", err)
		}
		if n := len(f.Calls()); n != 1 {
			t.Errorf("calls = %d: access denied must not be retried", n)
		}
	})
	t.Run("data unavailable", func(t *testing.T) {
		f, ce, _ := newCE(t)
		f.SetDataFrom("2026-11-15")
		if _, err := ce.CostAndUsage(context.Background(), q); !errors.Is(err, costs.ErrDataUnavailable) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("limit exceeded once is retried", func(t *testing.T) {
		f, ce, _ := newCE(t)
		seedCE(f)
		f.FailNext("LimitExceededException", 1)
		ans, err := ce.CostAndUsage(context.Background(), q)
		if err != nil || len(ans.Lines) == 0 {
			t.Fatalf("err = %v, lines %d", err, len(ans.Lines))
		}
		if n := len(f.Calls()); n != 2 {
			t.Errorf("calls = %d, want 2 (one throttled, one retried)", n)
		}
	})
	t.Run("limit exceeded for good", func(t *testing.T) {
		f, ce, _ := newCE(t)
		f.FailNext("LimitExceededException", 10)
		if _, err := ce.CostAndUsage(context.Background(), q); !errors.Is(err, costs.ErrLimitExceeded) {
			t.Fatalf("err = %v", err)
		}
		if n := len(f.Calls()); n != 3 {
			t.Errorf("calls = %d, want the 3 attempts", n)
		}
	})
}

// The fake refuses what Cost Explorer refuses, through the real client.
func TestCEFake_Validation(t *testing.T) {
	_, _, srv := newCE(t)
	c := costexplorer.New(costexplorer.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	period := &cetypes.DateInterval{Start: aws.String("2026-11-01"), End: aws.String("2026-12-01")}
	g := func(typ cetypes.GroupDefinitionType, k string) cetypes.GroupDefinition {
		return cetypes.GroupDefinition{Type: typ, Key: aws.String(k)}
	}
	for _, tc := range []struct {
		name string
		in   costexplorer.GetCostAndUsageInput
		code string
	}{
		{"three group-bys", costexplorer.GetCostAndUsageInput{TimePeriod: period, Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"},
			GroupBy: []cetypes.GroupDefinition{g("DIMENSION", "SERVICE"), g("DIMENSION", "LINKED_ACCOUNT"), g("TAG", "team")}}, "ValidationException"},
		{"start after end", costexplorer.GetCostAndUsageInput{TimePeriod: &cetypes.DateInterval{Start: aws.String("2026-12-01"), End: aws.String("2026-11-01")},
			Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"}}, "ValidationException"},
		{"bad token", costexplorer.GetCostAndUsageInput{TimePeriod: period, Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"},
			NextPageToken: aws.String("nope")}, "InvalidNextTokenException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.GetCostAndUsage(context.Background(), &tc.in)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
}

// TestCEFake_SourceBillsAnyDay: a source adds its records for every day
// asked, beside the recorded ones, daily and monthly.
func TestCEFake_SourceBillsAnyDay(t *testing.T) {
	f, ce, _ := newCE(t)
	f.Add(cefake.Record{Day: "2027-03-02", Account: "111122223333", Service: "AWS Lambda", Unblended: 1})
	f.SetSource(func(day time.Time) []cefake.Record {
		return []cefake.Record{{Day: day.Format("2006-01-02"), Account: "111122223333", Service: "AWS Lambda", Unblended: 2}}
	})
	ans, err := ce.CostAndUsage(context.Background(), costs.Query{Start: "2027-03-01", End: "2027-03-04", Metric: costs.MetricUnblended,
		GroupBy: [2]costs.Group{costs.ByService}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Lines) != 3 || ans.Lines[1].Amount != 3 || ans.Lines[0].Amount != 2 {
		t.Fatalf("lines = %+v, want 2, 3, 2", ans.Lines)
	}
	ans, err = ce.CostAndUsage(context.Background(), costs.Query{Start: "2027-02-01", End: "2027-04-01", Monthly: true, Metric: costs.MetricUnblended,
		GroupBy: [2]costs.Group{costs.ByService}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Lines) != 2 || ans.Lines[0].Amount != 56 || ans.Lines[1].Amount != 63 {
		t.Fatalf("monthly lines = %+v, want February 56 and March 63", ans.Lines)
	}
}
