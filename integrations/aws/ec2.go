// Package aws implements workflows.Provisioner and workflows.PriceSource
// with aws-sdk-go-v2: EC2 for instances, the Price List API for prices.
//
// Every change goes through one code path whether or not DryRun is on;
// in dry-run mode EC2 itself checks the request and answers
// DryRunOperation, which becomes workflows.ErrDryRun.
package aws

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/pricing"

	"github.com/opsbot/opsbot/workflows"
)

var (
	_ workflows.Provisioner = (*EC2)(nil)
	_ workflows.PriceSource = (*EC2)(nil)
)

// Options configure the adapter.
type Options struct {
	// DryRun sends every change with EC2's DryRun flag: nothing is created
	// or destroyed, and each change returns workflows.ErrDryRun.
	DryRun bool
	// Config is used instead of config.LoadDefaultConfig when set (tests,
	// or a caller that built its own). Its Retryer is replaced.
	Config *aws.Config
	// Endpoint, when set, is the base URL of both EC2 and the Price List
	// API (tests and the sandbox). In production leave it empty: the
	// SDK's AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_EC2 are honoured.
	Endpoint string
	// PricingRegion is where the Price List API is called; it exists only
	// in us-east-1 and ap-south-1. Default us-east-1.
	PricingRegion string
	// MaxAttempts bounds the SDK's standard retryer (throttling, 5xx,
	// connection errors). Default 5.
	MaxAttempts int
	// MaxBackoff caps the wait between attempts. Default 20s (the SDK's).
	MaxBackoff time.Duration
	// MetricsEndpoint, when set, is the base URL of CloudWatch; else
	// Endpoint when that is set (the sandbox serves both on one), else the
	// SDK's AWS_ENDPOINT_URL(_CLOUDWATCH) or AWS's.
	MetricsEndpoint string
	// MetricsPageDatapoints, when set, asks CloudWatch for at most this
	// many datapoints a page (tests of paging); default CloudWatch's 100,800.
	MetricsPageDatapoints int32
	// Log receives one line per change made or refused. Default: discard.
	Log *slog.Logger
	// Transport, when set, wraps the HTTP transport of every call (each
	// attempt of the SDK's retries): tracing and metrics. The call's
	// context names its operation (awsmiddleware.GetOperationName).
	Transport func(http.RoundTripper) http.RoundTripper
	// Accounts are the AWS accounts templates name (config accounts:).
	// An account with a role is reached through STS AssumeRole; the empty
	// name, and an account without a role, use Config's credentials.
	Accounts []Account
	// STSEndpoint, when set, is the base URL of STS (tests, the sandbox);
	// in production the SDK's AWS_ENDPOINT_URL_STS is honoured.
	STSEndpoint string
}

// EC2 talks to EC2 in any region (one client per region, made on first
// use) and to the Price List API.
type EC2 struct {
	cfg  aws.Config
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	clients map[string]*ec2.Client // account/region → client
	pricing *pricing.Client
	metrics map[string]*cloudwatch.Client
	roots   map[string]string // account/region/AMI → root device name
	creds   *roles
}

// New builds the adapter. It makes no network call: credentials and
// endpoints are resolved on the first request.
func New(ctx context.Context, o Options) (*EC2, error) {
	var cfg aws.Config
	if o.Config != nil {
		cfg = o.Config.Copy()
	} else {
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx); err != nil {
			return nil, fmt.Errorf("load AWS config: %w", err)
		}
	}
	if o.PricingRegion == "" {
		o.PricingRegion = "us-east-1"
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = retry.DefaultMaxBackoff
	}
	attempts, backoff := o.MaxAttempts, o.MaxBackoff
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = attempts
			so.MaxBackoff = backoff
		})
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Transport != nil {
		base := cfg.HTTPClient
		if base == nil {
			base = awshttp.NewBuildableClient()
		}
		cfg.HTTPClient = wrappedClient{o.Transport(roundTripper(base.Do))}
	}
	return &EC2{cfg: cfg, opts: o, log: log, clients: map[string]*ec2.Client{}, roots: map[string]string{},
		creds: newRoles(cfg, o.Accounts, o.STSEndpoint)}, nil
}

// client returns the EC2 client of a region in an account ("" the
// default one), creating it on first use. An account with a role signs
// with the role's credentials, assumed through STS and refreshed before
// they expire.
func (e *EC2) client(account, region string) (*ec2.Client, error) {
	if region == "" {
		return nil, fmt.Errorf("no region given")
	}
	creds, err := e.creds.provider(account)
	if err != nil {
		return nil, err
	}
	key := account + "/" + region
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.clients[key]; ok {
		return c, nil
	}
	c := ec2.NewFromConfig(e.cfg, func(o *ec2.Options) {
		o.Region = region
		if creds != nil {
			o.Credentials = creds
		}
		if e.opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(e.opts.Endpoint)
		}
	})
	e.clients[key] = c
	return c, nil
}

// where names a place for messages: "us-east-1", or "us-east-1 of prod".
func where(account, region string) string {
	if account == "" {
		return region
	}
	return region + " of " + account
}

func (e *EC2) pricingClient() *pricing.Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pricing == nil {
		e.pricing = pricing.NewFromConfig(e.cfg, func(o *pricing.Options) {
			o.Region = e.opts.PricingRegion
			if e.opts.Endpoint != "" {
				o.BaseEndpoint = aws.String(e.opts.Endpoint)
			}
		})
	}
	return e.pricing
}

// dryRun is the DryRun flag for a change: nil (left out) when off.
func (e *EC2) dryRun() *bool {
	if e.opts.DryRun {
		return aws.Bool(true)
	}
	return nil
}

// Config is the AWS config the adapter was built with, for the other
// AWS clients (Cost Explorer) to share its credentials and HTTP client.
func (e *EC2) Config() aws.Config { return e.cfg.Copy() }
