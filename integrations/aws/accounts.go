package aws

import (
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/opsbot/opsbot/workflows"
)

// Account is one AWS account opsbot works in.
type Account struct {
	Name       string
	ID         string
	RoleARN    string // empty: the default credentials
	ExternalID string
}

// AccountsFrom turns the config's accounts into the adapter's.
func AccountsFrom(as []*workflows.Account) []Account {
	out := make([]Account, 0, len(as))
	for _, a := range as {
		out = append(out, Account{Name: a.Name, ID: a.ID, RoleARN: a.RoleARN, ExternalID: a.ExternalID})
	}
	return out
}

// SessionName is the RoleSessionName opsbot assumes roles under: it
// appears in CloudTrail beside every call made with the role.
const SessionName = "opsbot"

// roles hands out the credentials of each account: for an account with a
// role, an STS AssumeRole provider behind aws.NewCredentialsCache, which
// assumes the role on first use and again shortly before the credentials
// expire (so one AssumeRole call serves about an hour of EC2 calls).
type roles struct {
	base     aws.Config
	accounts map[string]Account
	endpoint string

	mu    sync.Mutex
	sts   *sts.Client
	cache map[string]aws.CredentialsProvider
}

func newRoles(base aws.Config, accounts []Account, endpoint string) *roles {
	r := &roles{base: base, accounts: map[string]Account{}, endpoint: endpoint, cache: map[string]aws.CredentialsProvider{}}
	for _, a := range accounts {
		r.accounts[a.Name] = a
	}
	return r
}

// provider returns the credentials of account: nil for the default
// credentials (no account, or an account without a role), an error for an
// account the config does not name.
func (r *roles) provider(account string) (aws.CredentialsProvider, error) {
	if account == "" {
		return nil, nil
	}
	a, ok := r.accounts[account]
	if !ok {
		return nil, workflows.Permanent(fmt.Errorf("AWS account %q is not in opsbot's config (accounts:)", account))
	}
	if a.RoleARN == "" {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.cache[account]; ok {
		return p, nil
	}
	if r.sts == nil {
		r.sts = sts.NewFromConfig(r.base, func(o *sts.Options) {
			if o.Region == "" {
				o.Region = "us-east-1"
			}
			if r.endpoint != "" {
				o.BaseEndpoint = aws.String(r.endpoint)
			}
		})
	}
	p := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(r.sts, a.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = SessionName
		if a.ExternalID != "" {
			o.ExternalID = aws.String(a.ExternalID)
		}
	}))
	r.cache[account] = p
	return p, nil
}

// Credentials returns the credentials opsbot uses in account, for other
// AWS clients (Cost Explorer in the payer account): nil means the default.
func (e *EC2) Credentials(account string) (aws.CredentialsProvider, error) {
	return e.creds.provider(account)
}
