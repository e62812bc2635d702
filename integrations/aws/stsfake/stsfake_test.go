package stsfake_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/opsbot/opsbot/integrations/aws/stsfake"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func client(t *testing.T, f *stsfake.Server) *sts.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return sts.New(sts.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.Client(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
}

func TestAssumeRole_ThroughTheRealClient(t *testing.T) {
	f := stsfake.New(func() time.Time { return t0 })
	f.AddRole(stsfake.Role{ARN: "arn:aws:iam::111122223333:role/opsbot", ExternalID: "x-1", Account: "111122223333"})
	out, err := client(t, f).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::111122223333:role/opsbot"), RoleSessionName: aws.String("opsbot"),
		ExternalId: aws.String("x-1"), DurationSeconds: aws.Int32(900),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	if aws.ToString(c.AccessKeyId) == "" || aws.ToString(c.SecretAccessKey) == "" || aws.ToString(c.SessionToken) == "" {
		t.Fatalf("credentials = %+v", c)
	}
	if !aws.ToTime(c.Expiration).Equal(t0.Add(15 * time.Minute)) {
		t.Errorf("expiration = %v, want %v", aws.ToTime(c.Expiration), t0.Add(15*time.Minute))
	}
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::111122223333:assumed-role/opsbot/opsbot" {
		t.Errorf("assumed role ARN = %s", got)
	}
	if acct, _ := f.KeyAccount(aws.ToString(c.AccessKeyId)); acct != "111122223333" {
		t.Errorf("key account = %q", acct)
	}
}

func TestAssumeRole_Errors(t *testing.T) {
	f := stsfake.New(func() time.Time { return t0 })
	f.AddRole(stsfake.Role{ARN: "arn:aws:iam::111122223333:role/opsbot", ExternalID: "x-1", Account: "111122223333"})
	c := client(t, f)
	for _, tc := range []struct {
		name string
		in   sts.AssumeRoleInput
		code string
	}{
		{"wrong external ID", sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/opsbot"), RoleSessionName: aws.String("opsbot"), ExternalId: aws.String("nope")}, "AccessDenied"},
		{"unknown role", sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/other"), RoleSessionName: aws.String("opsbot")}, "AccessDenied"},
		{"malformed ARN", sts.AssumeRoleInput{RoleArn: aws.String("opsbot"), RoleSessionName: aws.String("opsbot")}, "ValidationError"},
		{"duration too short", sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/opsbot"), RoleSessionName: aws.String("opsbot"), ExternalId: aws.String("x-1"), DurationSeconds: aws.Int32(60)}, "ValidationError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.AssumeRole(context.Background(), &tc.in, func(o *sts.Options) { o.RetryMaxAttempts = 1 })
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Fatalf("error = %v, want %s", err, tc.code)
			}
		})
	}
	for _, call := range f.Calls() {
		if call.Error == "" {
			t.Errorf("call %+v succeeded", call)
		}
	}
}
