package aws_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

func TestHourlyPrice(t *testing.T) {
	r := newRig(t, false)
	r.fake.SetPrice("us-east-1", "t3.micro", 0.0104)
	r.fake.SetPrice("eu-west-1", "t3.micro", 0.0114)
	r.fake.SetPrice("us-east-1", "m5.xlarge", 0.192)
	for _, tc := range []struct {
		region, itype string
		want          workflows.Money
		err           error
	}{
		{"us-east-1", "t3.micro", 10_400, nil},
		{"eu-west-1", "t3.micro", 11_400, nil},
		{"us-east-1", "m5.xlarge", 192_000, nil},
		{"us-west-2", "t3.micro", 0, workflows.ErrNotFound},
		{"us-east-1", "t3.nano", 0, workflows.ErrNotFound},
	} {
		t.Run(tc.region+"/"+tc.itype, func(t *testing.T) {
			got, err := r.ec2.HourlyPrice(context.Background(), tc.region, tc.itype)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Errorf("price = %v, %v; want %v, %v", got, err, tc.want, tc.err)
			}
		})
	}
	// The Price List is only in us-east-1 (and ap-south-1): every call
	// went there, whatever region was priced.
	for _, c := range r.fake.CallsOf("GetProducts") {
		if c.Region != "us-east-1" {
			t.Errorf("GetProducts sent to %s, want us-east-1", c.Region)
		}
	}
}

func TestHourlyPrice_SendsAllTheFilters(t *testing.T) {
	r := newRig(t, false)
	r.fake.SetPrice("us-east-1", "t3.micro", 0.0104)
	if _, err := r.ec2.HourlyPrice(context.Background(), "us-east-1", "t3.micro"); err != nil {
		t.Fatal(err)
	}
	calls := r.fake.CallsOf("GetProducts")
	if len(calls) != 1 {
		t.Fatalf("GetProducts calls = %d, want 1", len(calls))
	}
	var body struct {
		ServiceCode string
		Filters     []struct{ Type, Field, Value string }
	}
	if err := json.Unmarshal([]byte(calls[0].Params.Get("Body")), &body); err != nil {
		t.Fatalf("request body: %v", err)
	}
	want := map[string]string{"instanceType": "t3.micro", "regionCode": "us-east-1", "operatingSystem": "Linux",
		"tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}
	got := map[string]string{}
	for _, f := range body.Filters {
		if f.Type != "TERM_MATCH" {
			t.Errorf("filter %s has type %s, want TERM_MATCH", f.Field, f.Type)
		}
		got[f.Field] = f.Value
	}
	if body.ServiceCode != "AmazonEC2" || len(got) != len(want) {
		t.Fatalf("service %s filters %v, want AmazonEC2 %v", body.ServiceCode, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("filter %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestHourlyPrice_RetriesThrottling(t *testing.T) {
	r := newRig(t, false)
	r.fake.SetPrice("us-east-1", "t3.micro", 0.0104)
	r.fake.FailNext("GetProducts", 1, "ThrottlingException", 400)
	got, err := r.ec2.HourlyPrice(context.Background(), "us-east-1", "t3.micro")
	if err != nil || got != workflows.USD(0.0104) {
		t.Fatalf("price = %v, %v", got, err)
	}
	if n := r.countCalls("GetProducts"); n != 2 {
		t.Errorf("GetProducts calls = %d, want 2", n)
	}
}
