package aws

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/opsbot/opsbot/workflows"
)

// Launch starts one instance for spec. The request carries spec's
// ClientToken, never one the SDK invents, so a retried or restarted launch
// returns the instance the first one started. The instance and its
// volumes are tagged in the same call.
func (e *EC2) Launch(ctx context.Context, spec workflows.LaunchSpec) (workflows.Instance, error) {
	doing := fmt.Sprintf("launch %s (%s from %s in %s)", spec.RequestID, spec.InstanceType, spec.AMI, spec.Region)
	if spec.ClientToken == "" {
		return workflows.Instance{}, workflows.Permanent(fmt.Errorf("%s: no client token: a launch without one could run twice", doing))
	}
	if len(spec.ClientToken) > 64 {
		return workflows.Instance{}, workflows.Permanent(fmt.Errorf("%s: client token longer than EC2's 64 characters", doing))
	}
	c, err := e.client(spec.Account, spec.Region)
	if err != nil {
		return workflows.Instance{}, workflows.Permanent(fmt.Errorf("%s: %w", doing, err))
	}
	in, err := e.runInput(ctx, c, spec, e.dryRun())
	if err != nil {
		return workflows.Instance{}, classify(err, doing+": find the AMI's root device")
	}
	out, err := c.RunInstances(ctx, in)
	if err != nil {
		err = classify(err, doing)
		e.log.InfoContext(ctx, "ec2 launch not made", "request", spec.RequestID, "client_token", spec.ClientToken, "dry_run", e.opts.DryRun, "err", err)
		return workflows.Instance{}, err
	}
	if len(out.Instances) == 0 {
		return workflows.Instance{}, fmt.Errorf("%s: EC2 answered with no instance", doing)
	}
	got := fromEC2(spec.Account, spec.Region, out.Instances[0])
	if len(got.Tags) == 0 {
		got.Tags = spec.Tags
	}
	e.log.InfoContext(ctx, "ec2 launched", "request", spec.RequestID, "instance", got.ID, "state", got.State, "region", spec.Region)
	return got, nil
}

// runInput is the RunInstances request for spec: what Launch sends, and
// what the doctor's dry run sends to ask whether it would be allowed.
func (e *EC2) runInput(ctx context.Context, c *ec2.Client, spec workflows.LaunchSpec, dryRun *bool) (*ec2.RunInstancesInput, error) {
	in := &ec2.RunInstancesInput{
		ClientToken:  aws.String(spec.ClientToken),
		ImageId:      aws.String(spec.AMI),
		InstanceType: types.InstanceType(spec.InstanceType),
		MinCount:     aws.Int32(1),
		MaxCount:     aws.Int32(1),
		DryRun:       dryRun,
		// IMDSv2 only: a process on the server (or a request forged
		// through it) cannot read the instance's credentials with a
		// plain GET.
		MetadataOptions: &types.InstanceMetadataOptionsRequest{
			HttpTokens:   types.HttpTokensStateRequired,
			HttpEndpoint: types.InstanceMetadataEndpointStateEnabled,
		},
		// The primary interface says whether there is a public address,
		// so the subnet's own default never decides it. EC2 then wants
		// the subnet and groups on the interface, not beside it.
		NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{{
			DeviceIndex:              aws.Int32(0),
			AssociatePublicIpAddress: aws.Bool(spec.PublicIP),
			DeleteOnTermination:      aws.Bool(true),
		}},
	}
	if spec.Subnet != "" {
		in.NetworkInterfaces[0].SubnetId = aws.String(spec.Subnet)
	}
	if len(spec.SecurityGroups) > 0 {
		in.NetworkInterfaces[0].Groups = slices.Clone(spec.SecurityGroups)
	}
	if p := spec.InstanceProfile; p != "" {
		if strings.HasPrefix(p, "arn:") {
			in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Arn: aws.String(p)}
		} else {
			in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Name: aws.String(p)}
		}
	}
	if spec.KeyName != "" {
		in.KeyName = aws.String(spec.KeyName)
	}
	if spec.UserData != "" {
		in.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(spec.UserData)))
	}
	// The root volume is always encrypted. The mapping applies to it only
	// when it names the AMI's own root device; any other name adds a
	// second disk.
	root, err := e.rootDevice(ctx, c, spec.Account+"/"+spec.Region, spec.AMI)
	if err != nil {
		return nil, err
	}
	ebs := &types.EbsBlockDevice{
		VolumeType:          types.VolumeTypeGp3,
		DeleteOnTermination: aws.Bool(true),
		Encrypted:           aws.Bool(true), // with the account's default EBS key
	}
	if spec.RootVolumeGB > 0 {
		ebs.VolumeSize = aws.Int32(int32(spec.RootVolumeGB))
	}
	in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String(root), Ebs: ebs}}
	if tags := ec2Tags(spec.Tags); len(tags) > 0 {
		in.TagSpecifications = []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: tags},
			{ResourceType: types.ResourceTypeVolume, Tags: tags},
		}
	}
	return in, nil
}

// rootDevice asks EC2 for the root device name of an AMI, once per
// account/region and AMI.
func (e *EC2) rootDevice(ctx context.Context, c *ec2.Client, region, ami string) (string, error) {
	key := region + "/" + ami
	e.mu.Lock()
	root, ok := e.roots[key]
	e.mu.Unlock()
	if ok {
		return root, nil
	}
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	if err != nil {
		return "", err
	}
	if len(out.Images) == 0 || aws.ToString(out.Images[0].RootDeviceName) == "" {
		return "", fmt.Errorf("AMI %s not found in %s", ami, region)
	}
	root = aws.ToString(out.Images[0].RootDeviceName)
	e.mu.Lock()
	e.roots[key] = root
	e.mu.Unlock()
	return root, nil
}

// ec2Tags converts a tag map, sorted by key so requests are stable (EC2
// compares a reused ClientToken's parameters).
func ec2Tags(m map[string]string) []types.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// fromEC2 is what opsbot keeps of an EC2 instance.
func fromEC2(account, region string, in types.Instance) workflows.Instance {
	out := workflows.Instance{
		ID:         aws.ToString(in.InstanceId),
		Account:    account,
		Region:     region,
		Type:       string(in.InstanceType),
		LaunchTime: aws.ToTime(in.LaunchTime).UTC(),
		PrivateIP:  aws.ToString(in.PrivateIpAddress),
		PrivateDNS: aws.ToString(in.PrivateDnsName),
		Tags:       map[string]string{},
	}
	if in.State != nil {
		out.State = workflows.InstanceState(in.State.Name)
	}
	for _, t := range in.Tags {
		out.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}
