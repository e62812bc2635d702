package aws_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	opsaws "github.com/opsbot/opsbot/integrations/aws"
	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/workflows"
)

// In production the adapter loads the SDK's default config, so the
// standard AWS_ENDPOINT_URL variables point it at another endpoint (the
// sandbox's fake, a proxy) with no option of ours.
func TestNew_HonoursTheSDKEndpointVariables(t *testing.T) {
	clock := workflows.NewManualClock(t0)
	fake := ec2fake.New(clock.Now)
	fake.SetPrice("us-east-1", "t3.micro", 0.0104)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL":            srv.URL,
		"AWS_REGION":                  "us-east-1",
		"AWS_ACCESS_KEY_ID":           "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":       "secret",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_PROFILE":                 "",
	} {
		t.Setenv(k, v)
	}
	e, err := opsaws.New(context.Background(), opsaws.Options{})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	in, err := e.Launch(context.Background(), spec("srv-20"))
	if err != nil {
		t.Fatalf("launch through AWS_ENDPOINT_URL: %v", err)
	}
	if got, ok := fake.Instance(in.ID); !ok || got.ClientToken != spec("srv-20").ClientToken {
		t.Errorf("the fake did not get the launch: %+v", got)
	}
	if p, err := e.HourlyPrice(context.Background(), "us-east-1", "t3.micro"); err != nil || p != workflows.USD(0.0104) {
		t.Errorf("price through AWS_ENDPOINT_URL = %v, %v", p, err)
	}
}
