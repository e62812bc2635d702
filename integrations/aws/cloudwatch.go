package aws

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/opsbot/opsbot/workflows"
)

var _ workflows.CPUSource = (*EC2)(nil)

// MaxMetricQueries is how many queries CloudWatch takes in one
// GetMetricData call.
const MaxMetricQueries = 500

// cloudwatchClient returns the CloudWatch client of a region in an
// account ("" the default one), made on first use: an instance's metrics
// live in its own account and region, so an account with a role is read
// with the role's credentials (STS AssumeRole, cached like EC2's).
// CloudWatch v1.75 of the SDK speaks Smithy RPC v2 CBOR.
func (e *EC2) cloudwatchClient(account, region string) (*cloudwatch.Client, error) {
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
	if e.metrics == nil {
		e.metrics = map[string]*cloudwatch.Client{}
	}
	if c, ok := e.metrics[key]; ok {
		return c, nil
	}
	c := cloudwatch.NewFromConfig(e.cfg, func(o *cloudwatch.Options) {
		o.Region = region
		if creds != nil {
			o.Credentials = creds
		}
		if e.opts.MetricsEndpoint != "" {
			o.BaseEndpoint = aws.String(e.opts.MetricsEndpoint)
		} else if e.opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(e.opts.Endpoint)
		}
	})
	e.metrics[key] = c
	return c, nil
}

// CPU returns the CPUUtilization datapoints (the Maximum of each period)
// of the instances ids in region of account over [from, to), by instance
// ID. It asks for up to 500 instances a call and follows NextToken to the
// end.
func (e *EC2) CPU(ctx context.Context, account, region string, ids []string, from, to time.Time, period time.Duration) (map[string][]workflows.CPUPoint, error) {
	out := map[string][]workflows.CPUPoint{}
	if len(ids) == 0 {
		return out, nil
	}
	c, err := e.cloudwatchClient(account, region)
	if err != nil {
		return nil, fmt.Errorf("read CPU in %s: %w", where(account, region), err)
	}
	secs := int32(period / time.Second)
	for lo := 0; lo < len(ids); lo += MaxMetricQueries {
		batch := ids[lo:min(lo+MaxMetricQueries, len(ids))]
		byQuery := map[string]string{}
		queries := make([]types.MetricDataQuery, 0, len(batch))
		for i, id := range batch {
			qid := fmt.Sprintf("cpu%d", i)
			byQuery[qid] = id
			queries = append(queries, types.MetricDataQuery{
				Id: aws.String(qid),
				MetricStat: &types.MetricStat{
					Metric: &types.Metric{
						Namespace:  aws.String("AWS/EC2"),
						MetricName: aws.String("CPUUtilization"),
						Dimensions: []types.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(id)}},
					},
					Period: aws.Int32(secs),
					Stat:   aws.String("Maximum"),
				},
				ReturnData: aws.Bool(true),
			})
		}
		in := &cloudwatch.GetMetricDataInput{
			MetricDataQueries: queries,
			StartTime:         aws.Time(from),
			EndTime:           aws.Time(to),
			ScanBy:            types.ScanByTimestampAscending,
		}
		if e.opts.MetricsPageDatapoints > 0 {
			in.MaxDatapoints = aws.Int32(e.opts.MetricsPageDatapoints)
		}
		p := cloudwatch.NewGetMetricDataPaginator(c, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, classify(err, fmt.Sprintf("read CPU of %d instances in %s", len(batch), where(account, region)))
			}
			for _, r := range page.MetricDataResults {
				id, ok := byQuery[aws.ToString(r.Id)]
				if !ok {
					continue
				}
				for i, t := range r.Timestamps {
					if i < len(r.Values) {
						out[id] = append(out[id], workflows.CPUPoint{At: t.UTC(), Percent: r.Values[i]})
					}
				}
			}
		}
	}
	return out, nil
}
