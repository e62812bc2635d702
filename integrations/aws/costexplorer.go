package aws

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"

	"github.com/opsbot/opsbot/workflows/costs"
)

var _ costs.Explorer = (*CostExplorer)(nil)

// CostExplorer implements costs.Explorer with the costexplorer client.
// Cost Explorer's endpoint is in us-east-1 whatever the data's regions;
// it charges per request, so opsbot calls it from the daily refresh only.
type CostExplorer struct {
	client *costexplorer.Client
}

// CostExplorerOptions configure the Cost Explorer client.
type CostExplorerOptions struct {
	Config *aws.Config // base config; its credentials unless Credentials is set
	// Credentials, when set, sign the calls (the payer account's role).
	Credentials aws.CredentialsProvider
	Endpoint    string // tests and the sandbox
	MaxAttempts int    // default 4: LimitExceededException is retried with backoff
	MaxBackoff  time.Duration
}

// NewCostExplorer builds the client; it makes no call.
func NewCostExplorer(o CostExplorerOptions) *CostExplorer {
	cfg := o.Config.Copy()
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = 4
	}
	backoff := o.MaxBackoff
	if backoff <= 0 {
		backoff = retry.DefaultMaxBackoff
	}
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = attempts
			so.MaxBackoff = backoff
		})
	}
	c := costexplorer.NewFromConfig(cfg, func(co *costexplorer.Options) {
		co.Region = "us-east-1"
		if o.Credentials != nil {
			co.Credentials = o.Credentials
		}
		if o.Endpoint != "" {
			co.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return &CostExplorer{client: c}
}

// maxPages bounds one query's pages: a runaway token cannot make the
// refresh call Cost Explorer (at $0.01 a request) without end.
const maxPages = 50

// CostAndUsage runs one GetCostAndUsage, reading every page.
func (c *CostExplorer) CostAndUsage(ctx context.Context, q costs.Query) (costs.Answer, error) {
	gran := cetypes.GranularityDaily
	if q.Monthly {
		gran = cetypes.GranularityMonthly
	}
	in := &costexplorer.GetCostAndUsageInput{
		TimePeriod:  &cetypes.DateInterval{Start: aws.String(q.Start), End: aws.String(q.End)},
		Granularity: gran,
		Metrics:     []string{q.Metric},
	}
	for _, g := range q.GroupBy {
		if g.Key == "" {
			continue
		}
		in.GroupBy = append(in.GroupBy, cetypes.GroupDefinition{Type: cetypes.GroupDefinitionType(g.Type), Key: aws.String(g.Key)})
	}
	doing := fmt.Sprintf("Cost Explorer GetCostAndUsage %s to %s by %v", q.Start, q.End, q.GroupBy)
	ans := costs.Answer{Accounts: map[string]string{}}
	for {
		out, err := c.client.GetCostAndUsage(ctx, in)
		ans.Calls++
		if err != nil {
			return ans, classifyCE(err, doing)
		}
		for _, r := range out.ResultsByTime {
			day := aws.ToString(r.TimePeriod.Start)
			for _, g := range r.Groups {
				mv, ok := g.Metrics[q.Metric]
				if !ok {
					continue
				}
				f, err := strconv.ParseFloat(aws.ToString(mv.Amount), 64)
				if err != nil {
					return ans, fmt.Errorf("%s: amount %q: %w", doing, aws.ToString(mv.Amount), err)
				}
				var keys [2]string
				for i := 0; i < len(g.Keys) && i < 2; i++ {
					keys[i] = g.Keys[i]
					if i < len(q.GroupBy) && q.GroupBy[i].Type == "TAG" {
						_, keys[i], _ = strings.Cut(g.Keys[i], "$") // "team$platform" → "platform"
					}
				}
				ans.Lines = append(ans.Lines, costs.Line{Day: day, Keys: keys, Amount: f, Estimated: r.Estimated})
			}
		}
		for _, dv := range out.DimensionValueAttributes {
			if d := dv.Attributes["description"]; d != "" {
				ans.Accounts[aws.ToString(dv.Value)] = d
			}
		}
		if aws.ToString(out.NextPageToken) == "" {
			return ans, nil
		}
		if ans.Calls >= maxPages {
			return ans, fmt.Errorf("%s: more than %d pages", doing, maxPages)
		}
		in.NextPageToken = out.NextPageToken
	}
}

// classifyCE wraps Cost Explorer's errors in what the costs workflow
// tells people about.
func classifyCE(err error, doing string) error {
	switch errorCode(err) {
	case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation":
		return fmt.Errorf("%s: %w: %w", doing, costs.ErrAccessDenied, err)
	case "DataUnavailableException":
		return fmt.Errorf("%s: %w: %w", doing, costs.ErrDataUnavailable, err)
	case "LimitExceededException":
		return fmt.Errorf("%s: %w: %w", doing, costs.ErrLimitExceeded, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}
