package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/opsbot/opsbot/workflows"
)

// What `opsbot doctor` asks AWS: who opsbot is, whether each template's
// AMI, subnet and security groups exist in its region, and whether IAM
// lets opsbot launch it (a RunInstances dry run).

// Identity is the caller STS sees.
type Identity struct {
	Account, Arn string
}

// WhoAmI asks STS GetCallerIdentity, which needs no permission: it fails
// only when the credentials are missing, invalid or expired.
func (e *EC2) WhoAmI(ctx context.Context) (Identity, error) {
	region := e.cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	c := sts.NewFromConfig(e.cfg, func(o *sts.Options) {
		o.Region = region
		if e.opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(e.opts.Endpoint)
		}
	})
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, fmt.Errorf("sts GetCallerIdentity: %w", err)
	}
	return Identity{Account: aws.ToString(out.Account), Arn: aws.ToString(out.Arn)}, nil
}

// ErrorCode is the AWS error code in err ("InvalidAMIID.NotFound",
// "UnauthorizedOperation"), or "".
func ErrorCode(err error) string { return errorCode(err) }

// DescribeImage checks that an AMI exists in a region.
func (e *EC2) DescribeImage(ctx context.Context, region, ami string) error {
	c, err := e.client("", region)
	if err != nil {
		return err
	}
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	if err != nil {
		return fmt.Errorf("describe image %s in %s: %w", ami, region, err)
	}
	if len(out.Images) == 0 {
		// EC2 answers an empty list, not an error, for an AMI the
		// account may not see (private to another account).
		return fmt.Errorf("describe image %s in %s: not found or not shared with this account", ami, region)
	}
	return nil
}

// DescribeSubnet checks that a subnet exists in a region.
func (e *EC2) DescribeSubnet(ctx context.Context, region, subnet string) error {
	c, err := e.client("", region)
	if err != nil {
		return err
	}
	out, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnet}})
	if err != nil {
		return fmt.Errorf("describe subnet %s in %s: %w", subnet, region, err)
	}
	if len(out.Subnets) == 0 {
		return fmt.Errorf("describe subnet %s in %s: not found", subnet, region)
	}
	return nil
}

// DescribeSecurityGroups checks that security groups exist in a region.
func (e *EC2) DescribeSecurityGroups(ctx context.Context, region string, groups []string) error {
	c, err := e.client("", region)
	if err != nil {
		return err
	}
	out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: groups})
	if err != nil {
		return fmt.Errorf("describe security groups %v in %s: %w", groups, region, err)
	}
	if len(out.SecurityGroups) != len(groups) {
		return fmt.Errorf("describe security groups %v in %s: %d of %d found", groups, region, len(out.SecurityGroups), len(groups))
	}
	return nil
}

// CanLaunch sends spec's RunInstances with DryRun set: EC2 checks the
// request and IAM's permission and answers DryRunOperation (allowed: nil
// here) or the error a real launch would get (UnauthorizedOperation when
// IAM says no). Nothing is launched.
func (e *EC2) CanLaunch(ctx context.Context, spec workflows.LaunchSpec) error {
	c, err := e.client(spec.Account, spec.Region)
	if err != nil {
		return err
	}
	in, err := e.runInput(ctx, c, spec, aws.Bool(true))
	if err != nil {
		return fmt.Errorf("dry-run launch in %s: find the AMI's root device: %w", spec.Region, err)
	}
	_, err = c.RunInstances(ctx, in)
	if errorCode(err) == "DryRunOperation" {
		return nil
	}
	if err == nil {
		return fmt.Errorf("dry-run launch in %s: EC2 answered without DryRunOperation", spec.Region)
	}
	return fmt.Errorf("dry-run launch in %s: %w", spec.Region, err)
}
