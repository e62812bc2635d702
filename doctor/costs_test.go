package doctor_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/opsbot/opsbot/doctor"
	awsint "github.com/opsbot/opsbot/integrations/aws"
	"github.com/opsbot/opsbot/integrations/aws/cefake"
)

// TestCostExplorer checks the Cost Explorer line: absent without a costs
// section, and allowed, refused by IAM, or without data yet through the
// real client against the Cost Explorer fake, with one call each.
func TestCostExplorer(t *testing.T) {
	cases := []struct {
		name    string
		costs   bool
		breakIt func(*cefake.Server)
		status  doctor.Status
		detail  string
		fix     string
	}{
		{name: "no costs section, no check", costs: false},
		{name: "allowed", costs: true, status: doctor.StatusOK, detail: "GetCostAndUsage allowed"},
		{name: "IAM refuses", costs: true, breakIt: func(f *cefake.Server) { f.Deny(true) },
			status: doctor.StatusFail, detail: "IAM refused ce:GetCostAndUsage", fix: "allow ce:GetCostAndUsage"},
		{name: "no data yet", costs: true, breakIt: func(f *cefake.Server) { f.SetDataFrom("2026-12-05") },
			status: doctor.StatusWarn, detail: "no data yet", fix: "enable Cost Explorer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			if c.costs {
				w.yaml += "costs:\n  cost_explorer: true\n"
			}
			f := cefake.New(w.clock.Now)
			if c.breakIt != nil {
				c.breakIt(f)
			}
			srv := newHTTPTest(t, f)
			d := w.doctor(t)
			if c.costs {
				cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDDOCTOR", awsSecret, ""), HTTPClient: srv.Client()}
				d.Costs = awsint.NewCostExplorer(awsint.CostExplorerOptions{Config: &cfg, Endpoint: srv.URL, MaxAttempts: 1, MaxBackoff: time.Millisecond})
			}
			r := d.Run(t.Context())
			var got *doctor.Check
			for i := range r.Checks {
				if r.Checks[i].Area == "aws" && r.Checks[i].Name == "Cost Explorer" {
					got = &r.Checks[i]
				}
			}
			if !c.costs {
				if got != nil || len(f.Calls()) != 0 {
					t.Fatalf("Cost Explorer checked without a costs section: %+v, %d calls", got, len(f.Calls()))
				}
				return
			}
			if got == nil {
				t.Fatalf("no Cost Explorer check in %+v", r.Checks)
			}
			if got.Status != c.status || !strings.Contains(got.Detail, c.detail) || !strings.Contains(got.Fix, c.fix) {
				t.Errorf("check = %+v, want status %s, detail with %q, fix with %q", *got, c.status, c.detail, c.fix)
			}
			if n := len(f.Calls()); n != 1 {
				t.Errorf("%d Cost Explorer calls, want exactly 1 (each costs $0.01)", n)
			}
			if (c.status == doctor.StatusFail) == r.OK {
				t.Errorf("report OK = %v with the check %s", r.OK, c.status)
			}
		})
	}
}

func newHTTPTest(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
