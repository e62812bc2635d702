package ec2fake_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
)

// TestRunInstances_NetworkMetadataProfileAndEncryption: the fake reads
// what the SDK sends for the primary network interface, the metadata
// options, the instance profile and the root volume's encryption,
// records it on the instance, describes it back, and refuses the
// combinations EC2 refuses.
func TestRunInstances_NetworkMetadataProfileAndEncryption(t *testing.T) {
	fake, _, _, c := setup(t)
	fake.SetImage("ami-12345678", "/dev/xvda")
	base := func() *ec2.RunInstancesInput {
		return &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), InstanceType: types.InstanceTypeT3Micro,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1)}
	}
	primary := func(public bool) []types.InstanceNetworkInterfaceSpecification {
		return []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(0), SubnetId: aws.String("subnet-0123abcd"),
			Groups: []string{"sg-0aaa1111"}, AssociatePublicIpAddress: aws.Bool(public)}}
	}

	hardened := base()
	hardened.NetworkInterfaces = primary(false)
	hardened.MetadataOptions = &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateRequired}
	hardened.IamInstanceProfile = &types.IamInstanceProfileSpecification{Name: aws.String("dev-box")}
	hardened.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"),
		Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(20), Encrypted: aws.Bool(true)}}}
	out, err := c.RunInstances(context.Background(), hardened)
	if err != nil {
		t.Fatal(err)
	}
	got := out.Instances[0]
	if got.MetadataOptions == nil || got.MetadataOptions.HttpTokens != types.HttpTokensStateRequired {
		t.Errorf("metadata options = %+v, want tokens required", got.MetadataOptions)
	}
	if got.IamInstanceProfile == nil || aws.ToString(got.IamInstanceProfile.Arn) != "arn:aws:iam::"+ec2fake.OwnerID+":instance-profile/dev-box" {
		t.Errorf("instance profile = %+v", got.IamInstanceProfile)
	}
	if got.PublicIpAddress != nil || aws.ToString(got.SubnetId) != "subnet-0123abcd" || len(got.SecurityGroups) != 1 {
		t.Errorf("public %v, subnet %v, groups %v; want none, the interface's subnet and group", aws.ToString(got.PublicIpAddress), aws.ToString(got.SubnetId), got.SecurityGroups)
	}
	in, _ := fake.Instance(aws.ToString(got.InstanceId))
	if !in.RootVolume.Encrypted || in.RootVolume.SizeGB != 20 || in.HTTPTokens != "required" || in.PublicIP != "" {
		t.Errorf("recorded %+v", in)
	}

	public := base()
	public.NetworkInterfaces = primary(true)
	out, err = c.RunInstances(context.Background(), public)
	if err != nil {
		t.Fatal(err)
	}
	if out.Instances[0].PublicIpAddress == nil || out.Instances[0].MetadataOptions.HttpTokens != types.HttpTokensStateOptional {
		t.Errorf("asked for a public address and no metadata options: %v, %+v", out.Instances[0].PublicIpAddress, out.Instances[0].MetadataOptions)
	}
	if in, _ := fake.Instance(aws.ToString(out.Instances[0].InstanceId)); in.RootVolume.Encrypted {
		t.Error("a volume not asked to be encrypted is recorded as encrypted")
	}

	refused := []struct {
		name string
		edit func(*ec2.RunInstancesInput)
		code string
	}{
		{"subnet both top-level and on the interface", func(in *ec2.RunInstancesInput) {
			in.NetworkInterfaces, in.SubnetId = primary(false), aws.String("subnet-0123abcd")
		}, "InvalidParameterCombination"},
		{"groups both top-level and on the interface", func(in *ec2.RunInstancesInput) {
			in.NetworkInterfaces, in.SecurityGroupIds = primary(false), []string{"sg-0aaa1111"}
		}, "InvalidParameterCombination"},
		{"public address on a secondary interface", func(in *ec2.RunInstancesInput) {
			in.NetworkInterfaces = append(primary(false), types.InstanceNetworkInterfaceSpecification{DeviceIndex: aws.Int32(1), AssociatePublicIpAddress: aws.Bool(true)})
		}, "InvalidParameterCombination"},
		{"an interface without a device index", func(in *ec2.RunInstancesInput) {
			in.NetworkInterfaces = []types.InstanceNetworkInterfaceSpecification{{SubnetId: aws.String("subnet-0123abcd")}}
		}, "InvalidParameterValue"},
		{"unknown metadata token setting", func(in *ec2.RunInstancesInput) {
			in.MetadataOptions = &types.InstanceMetadataOptionsRequest{HttpTokens: "sometimes"}
		}, "InvalidParameterValue"},
		{"profile by name and ARN", func(in *ec2.RunInstancesInput) {
			in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Name: aws.String("a"), Arn: aws.String("arn:aws:iam::123456789012:instance-profile/a")}
		}, "InvalidParameterCombination"},
		{"malformed profile ARN", func(in *ec2.RunInstancesInput) {
			in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Arn: aws.String("arn:aws:iam::123456789012:role/a")}
		}, "InvalidParameterValue"},
	}
	before := len(fake.Instances())
	for _, tt := range refused {
		in := base()
		tt.edit(in)
		if _, err := c.RunInstances(context.Background(), in); code(err) != tt.code {
			t.Errorf("%s: err = %v, want %s", tt.name, err, tt.code)
		}
	}
	if n := len(fake.Instances()); n != before {
		t.Errorf("refused launches created %d instances", n-before)
	}
}

// TestTags_EC2RestrictionsRefused: a launch or CreateTags that would give
// a resource more than 50 tags is refused with TagLimitExceeded, a key
// over 128 or a value over 256 characters with InvalidParameterValue, and
// nothing is launched or tagged; 50 tags of the longest key and value are
// accepted.
func TestTags_EC2RestrictionsRefused(t *testing.T) {
	fake, _, _, c := setup(t)
	fake.SetImage("ami-12345678", "/dev/xvda")
	ctx := context.Background()
	launch := func(n int, key, value string) error {
		var tags []types.Tag
		for i := range n {
			tags = append(tags, types.Tag{Key: aws.String(fmt.Sprintf("%s%02d", key, i)), Value: aws.String(value)})
		}
		_, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), InstanceType: types.InstanceTypeT3Micro,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: tags}}})
		return err
	}
	if err := launch(51, "k", "v"); code(err) != "TagLimitExceeded" {
		t.Errorf("51 tags: %v", err)
	}
	if err := launch(1, strings.Repeat("k", 127), "v"); code(err) != "InvalidParameterValue" {
		t.Errorf("129-character key: %v", err)
	}
	if err := launch(1, "k", strings.Repeat("é", 257)); code(err) != "InvalidParameterValue" {
		t.Errorf("257-character value: %v", err)
	}
	if n := len(fake.Instances()); n != 0 {
		t.Fatalf("%d instances launched by refused calls", n)
	}
	if err := launch(50, strings.Repeat("k", 126), strings.Repeat("é", 256)); err != nil {
		t.Fatalf("50 tags at the limits: %v", err)
	}
	id := fake.Instances()[0].ID
	_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("one-more"), Value: aws.String("x")}}})
	if code(err) != "TagLimitExceeded" {
		t.Errorf("a 51st tag: %v", err)
	}
	key := strings.Repeat("k", 126) + "07"
	if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String(key), Value: aws.String("new")}}}); err != nil {
		t.Errorf("overwriting one of the 50: %v", err)
	}
}
