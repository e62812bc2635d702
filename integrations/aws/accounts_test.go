package aws_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	opsaws "github.com/opsbot/opsbot/integrations/aws"
	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/integrations/aws/stsfake"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/actions"
)

const (
	prodRole = "arn:aws:iam::111122223333:role/opsbot"
	prodID   = "111122223333"
)

// accountsRig is the real adapter with two accounts, through the real
// SDK's STS client and stscreds, against the STS and EC2 fakes.
type accountsRig struct {
	sts *stsfake.Server
	ec2 *ec2fake.Server
	e   *opsaws.EC2
}

func newAccountsRig(t *testing.T, stsNow func() time.Time) *accountsRig {
	t.Helper()
	r := &accountsRig{sts: stsfake.New(stsNow), ec2: ec2fake.New(time.Now)}
	r.sts.AddRole(stsfake.Role{ARN: prodRole, ExternalID: "opsbot-ext-1", Account: prodID})
	stsSrv := httptest.NewServer(r.sts)
	t.Cleanup(stsSrv.Close)
	ec2Srv := httptest.NewServer(r.ec2)
	t.Cleanup(ec2Srv.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	e, err := opsaws.New(context.Background(), opsaws.Options{
		Config: &cfg, Endpoint: ec2Srv.URL, STSEndpoint: stsSrv.URL, MaxAttempts: 2, MaxBackoff: time.Millisecond,
		Accounts: []opsaws.Account{
			{Name: "prod", ID: prodID, RoleARN: prodRole, ExternalID: "opsbot-ext-1"},
			{Name: "dev", ID: "444455556666"}, // no role: the default credentials
			{Name: "broken", ID: "777788889999", RoleARN: "arn:aws:iam::777788889999:role/opsbot", ExternalID: "wrong"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.e = e
	return r
}

func inAccount(id, account string) workflows.LaunchSpec {
	s := spec(id)
	s.Account = account
	return s
}

func TestAccounts_EC2CallsSignedWithTheAssumedRole(t *testing.T) {
	r := newAccountsRig(t, time.Now)
	ctx := context.Background()
	in, err := r.e.Launch(ctx, inAccount("srv-1", "prod"))
	if err != nil {
		t.Fatalf("launch in prod: %v", err)
	}
	if in.Account != "prod" {
		t.Errorf("instance account = %q, want prod", in.Account)
	}
	if _, err := r.e.Describe(ctx, "prod", "us-east-1", []string{in.ID}); err != nil {
		t.Fatalf("describe in prod: %v", err)
	}
	snap, err := r.e.Snapshot(ctx, in, map[string]string{workflows.TagManaged: "true", workflows.TagRequest: "srv-1", actions.TagOp: "op-1"})
	if err != nil {
		t.Fatalf("snapshot in prod: %v", err)
	}
	// Looked up in the default account, the snapshot would be "not found"
	// and taken for deleted; in prod it is found and deleted.
	if err := r.e.DeleteSnapshot(ctx, "prod", "us-east-1", snap.ID); err != nil {
		t.Fatalf("delete snapshot in prod: %v", err)
	}
	if _, err := r.e.End(ctx, in, workflows.EndTerminate); err != nil {
		t.Fatalf("terminate in prod: %v", err)
	}
	deleted := false
	for _, ec := range r.ec2.Calls() {
		deleted = deleted || ec.Action == "DeleteSnapshot"
	}
	if !deleted {
		t.Error("no DeleteSnapshot call reached EC2")
	}
	calls := r.sts.Calls()
	if len(calls) != 1 {
		t.Fatalf("AssumeRole calls = %d, want 1 (credentials cached): %+v", len(calls), calls)
	}
	c := calls[0]
	if c.RoleARN != prodRole || c.ExternalID != "opsbot-ext-1" || c.SessionName != opsaws.SessionName || c.Error != "" {
		t.Errorf("AssumeRole call = %+v", c)
	}
	for _, ec := range r.ec2.Calls() {
		if acct, ok := r.sts.KeyAccount(ec.AccessKey); !ok || acct != prodID {
			t.Errorf("%s signed with %q (account %q), want the prod role's key", ec.Action, ec.AccessKey, acct)
		}
	}
}

func TestAccounts_DefaultAndRolelessAccountsUseTheDefaultChain(t *testing.T) {
	r := newAccountsRig(t, time.Now)
	for _, acct := range []string{"", "dev"} {
		if _, err := r.e.Launch(context.Background(), inAccount("srv-"+acct+"x", acct)); err != nil {
			t.Fatalf("launch in %q: %v", acct, err)
		}
	}
	if n := len(r.sts.Calls()); n != 0 {
		t.Errorf("AssumeRole calls = %d, want 0", n)
	}
	for _, ec := range r.ec2.Calls() {
		if ec.AccessKey != "AKIDEXAMPLE" {
			t.Errorf("%s signed with %q, want the default AKIDEXAMPLE", ec.Action, ec.AccessKey)
		}
	}
}

func TestAccounts_ExpiredCredentialsAreAssumedAgain(t *testing.T) {
	// STS's clock is two hours behind: what it issues has already
	// expired by the wall clock the SDK's cache reads, so every call
	// assumes the role again instead of signing with stale keys.
	r := newAccountsRig(t, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	ctx := context.Background()
	in, err := r.e.Launch(ctx, inAccount("srv-1", "prod"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.Describe(ctx, "prod", "us-east-1", []string{in.ID}); err != nil {
		t.Fatal(err)
	}
	if n := len(r.sts.Calls()); n < 2 {
		t.Errorf("AssumeRole calls = %d, want a new one after expiry", n)
	}
}

func TestAccounts_AccessDeniedIsPermanentAndLaunchesNothing(t *testing.T) {
	r := newAccountsRig(t, time.Now)
	_, err := r.e.Launch(context.Background(), inAccount("srv-1", "broken"))
	if err == nil {
		t.Fatal("launch with a refused role succeeded")
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Errorf("error = %v, want STS's AccessDenied through the SDK", err)
	}
	if !workflows.IsPermanent(err) {
		t.Errorf("AccessDenied should not be retried: %v", err)
	}
	if n := len(r.ec2.CallsOf("RunInstances")); n != 0 {
		t.Errorf("RunInstances calls = %d, want none", n)
	}
	// The role's trust policy changed: the next assumption is refused.
	r.sts.RemoveRole(prodRole)
	if _, err := r.e.Launch(context.Background(), inAccount("srv-2", "prod")); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("launch after the role was removed: %v", err)
	}
}

func TestAccounts_UnknownAccountIsRefused(t *testing.T) {
	r := newAccountsRig(t, time.Now)
	_, err := r.e.Launch(context.Background(), inAccount("srv-1", "staging"))
	if err == nil || !workflows.IsPermanent(err) || !strings.Contains(err.Error(), `"staging"`) {
		t.Errorf("launch in an unknown account: %v", err)
	}
}
