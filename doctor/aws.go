package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	awsint "github.com/opsbot/opsbot/integrations/aws"
	"github.com/opsbot/opsbot/workflows"
)

// aws checks the credentials (STS GetCallerIdentity), then for each
// template that its AMI, subnet and security groups exist in its region,
// and that IAM allows launching it (RunInstances with DryRun), then Cost
// Explorer when the config uses it.
func (d *Doctor) aws(ctx context.Context) {
	const area = "aws"
	if d.AWS == nil {
		d.add(Check{Area: area, Name: "credentials", Status: StatusFail, Detail: "the AWS SDK could not be set up",
			Fix: "set AWS_REGION and credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an IAM role)"})
		return
	}
	var id awsint.Identity
	err := d.within(ctx, func(ctx context.Context) (err error) {
		id, err = d.AWS.WhoAmI(ctx)
		return err
	})
	if err != nil {
		d.add(Check{Area: area, Name: "credentials", Status: StatusFail, Detail: "STS GetCallerIdentity failed: " + err.Error(),
			Fix: "give opsbot AWS credentials: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an IAM role (IRSA on Kubernetes); GetCallerIdentity needs no permission, so this is the credentials themselves"})
		d.add(Check{Area: area, Name: "templates", Status: StatusSkip, Detail: "not checked without working credentials"})
		return
	}
	d.add(Check{Area: area, Name: "credentials", Status: StatusOK, Detail: fmt.Sprintf("%s (account %s)", id.Arn, id.Account)})
	for _, tpl := range d.Config.Catalog.Templates {
		d.template(ctx, tpl, id.Arn)
	}
	d.costExplorer(ctx, id.Arn)
}

// grant is the fix for an IAM refusal.
func grant(action, arn string) string {
	return fmt.Sprintf("allow %s for %s in its IAM policy (`aws sts decode-authorization-message` reads the refusal's encoded message)", action, arn)
}

// awsFail words the failure of one Describe call.
func awsFail(err error, action, notFound, arn string) (string, string) {
	code := awsint.ErrorCode(err)
	switch {
	case code == "UnauthorizedOperation" || code == "AccessDenied" || code == "AccessDeniedException":
		return "IAM refused " + action, grant(action, arn)
	case strings.HasSuffix(code, ".NotFound") || strings.HasSuffix(code, ".Malformed") || code == "":
		return err.Error(), notFound
	}
	return err.Error(), ""
}

func (d *Doctor) template(ctx context.Context, tpl *workflows.Template, arn string) {
	const area = "aws"
	prefix := fmt.Sprintf("template %s: ", tpl.Name)
	field := fmt.Sprintf("templates[%s]", tpl.Name)
	imageOK := true

	err := d.within(ctx, func(ctx context.Context) error { return d.AWS.DescribeImage(ctx, tpl.Region, tpl.AMI) })
	if err != nil {
		imageOK = false
		detail, fix := awsFail(err, "ec2:DescribeImages",
			fmt.Sprintf("the AMI does not exist in %s (deregistered, in another region, or not shared with this account): put an AMI of %s in %s.ami", tpl.Region, tpl.Region, field), arn)
		d.add(Check{Area: area, Name: prefix + "AMI " + tpl.AMI, Status: StatusFail, Detail: detail, Fix: fix})
	} else {
		d.add(Check{Area: area, Name: prefix + "AMI " + tpl.AMI, Status: StatusOK, Detail: "exists in " + tpl.Region})
	}

	if tpl.Subnet != "" {
		err := d.within(ctx, func(ctx context.Context) error { return d.AWS.DescribeSubnet(ctx, tpl.Region, tpl.Subnet) })
		if err != nil {
			detail, fix := awsFail(err, "ec2:DescribeSubnets",
				fmt.Sprintf("the subnet does not exist in %s: put a subnet of %s in %s.subnet, or leave it out for the default VPC", tpl.Region, tpl.Region, field), arn)
			d.add(Check{Area: area, Name: prefix + "subnet " + tpl.Subnet, Status: StatusFail, Detail: detail, Fix: fix})
		} else {
			d.add(Check{Area: area, Name: prefix + "subnet " + tpl.Subnet, Status: StatusOK, Detail: "exists in " + tpl.Region})
		}
	}

	if len(tpl.SecurityGroups) > 0 {
		groups := strings.Join(tpl.SecurityGroups, ", ")
		err := d.within(ctx, func(ctx context.Context) error {
			return d.AWS.DescribeSecurityGroups(ctx, tpl.Region, tpl.SecurityGroups)
		})
		if err != nil {
			detail, fix := awsFail(err, "ec2:DescribeSecurityGroups",
				fmt.Sprintf("a security group does not exist in %s: fix %s.security_groups (groups belong to a region and a VPC)", tpl.Region, field), arn)
			d.add(Check{Area: area, Name: prefix + "security groups " + groups, Status: StatusFail, Detail: detail, Fix: fix})
		} else {
			d.add(Check{Area: area, Name: prefix + "security groups " + groups, Status: StatusOK, Detail: "exist in " + tpl.Region})
		}
	}

	name := prefix + "launch allowed"
	if !imageOK {
		d.add(Check{Area: area, Name: name, Status: StatusSkip, Detail: "not tried: the AMI is missing"})
		return
	}
	spec := d.launchSpec(tpl)
	err = d.within(ctx, func(ctx context.Context) error { return d.AWS.CanLaunch(ctx, spec) })
	code := awsint.ErrorCode(err)
	switch {
	case err == nil:
		d.add(Check{Area: area, Name: name, Status: StatusOK, Detail: "RunInstances dry run: DryRunOperation (IAM allows it)"})
	case code == "UnauthorizedOperation":
		d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: "RunInstances dry run: UnauthorizedOperation",
			Fix: grant("ec2:RunInstances and ec2:CreateTags (tags are set at launch)", arn) +
				"; an instance_profile also needs iam:PassRole on its role"})
	default:
		d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: "RunInstances dry run: " + err.Error(),
			Fix: "EC2 would refuse this launch: check the template's instance_type, key_pair, subnet and groups in " + tpl.Region})
	}
}

// launchSpec is the launch a request of tpl would make, for the dry run:
// the first team allowed to use it supplies the policy's user data.
func (d *Doctor) launchSpec(tpl *workflows.Template) workflows.LaunchSpec {
	team := &workflows.Team{Name: "doctor", Policy: &workflows.Policy{}}
	for _, t := range d.Config.Catalog.Teams {
		if slices.Contains(tpl.Teams, "*") || slices.Contains(tpl.Teams, t.Name) {
			team = t
			break
		}
	}
	r := &workflows.ServerRequest{ID: "srv-doctor", Owner: workflows.Person{Email: "doctor@opsbot.invalid"}, Team: team.Name,
		ClientToken: "opsbot-doctor-" + tpl.Name}
	return workflows.LaunchSpecFor(r, tpl, team, d.now())
}
