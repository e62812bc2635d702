package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/opsbot/opsbot/workflows/offboard"
)

var _ offboard.KeyPairs = (*EC2)(nil)

// KeyPairs lists every key pair of a region in account, with its tags.
// DescribeKeyPairs is not paginated: one call answers them all.
func (e *EC2) KeyPairs(ctx context.Context, account, region string) ([]offboard.KeyPair, error) {
	doing := fmt.Sprintf("list key pairs in %s", region)
	c, err := e.client(account, region)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	out, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil {
		return nil, classify(err, doing)
	}
	kps := make([]offboard.KeyPair, 0, len(out.KeyPairs))
	for _, kp := range out.KeyPairs {
		k := offboard.KeyPair{ID: aws.ToString(kp.KeyPairId), Name: aws.ToString(kp.KeyName), Fingerprint: aws.ToString(kp.KeyFingerprint),
			Created: aws.ToTime(kp.CreateTime), Tags: map[string]string{}}
		for _, t := range kp.Tags {
			k.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		kps = append(kps, k)
	}
	return kps, nil
}

// InstancesWithKeys lists the instances of a region in account launched
// with one of the key pairs names (the key-name filter), opsbot's and
// everyone else's, terminated ones left out. It only reads.
func (e *EC2) InstancesWithKeys(ctx context.Context, account, region string, names []string) ([]offboard.KeyInstance, error) {
	doing := fmt.Sprintf("list instances launched with %d key pair(s) in %s", len(names), region)
	if len(names) == 0 {
		return nil, nil
	}
	c, err := e.client(account, region)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	var out []offboard.KeyInstance
	p := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("key-name"), Values: names},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped", "shutting-down"}},
	}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify(err, doing)
		}
		for _, in := range flatten(page.Reservations) {
			ki := offboard.KeyInstance{ID: aws.ToString(in.InstanceId), KeyName: aws.ToString(in.KeyName), Tags: map[string]string{}}
			if in.State != nil {
				ki.State = string(in.State.Name)
			}
			for _, t := range in.Tags {
				ki.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			out = append(out, ki)
		}
	}
	return out, nil
}

// DeleteKeyPair deletes a key pair by its ID, with EC2's DryRun flag in
// dry-run mode. A key pair gone already (InvalidKeyPair.NotFound for
// the ID opsbot read in this account and region) is not an error.
func (e *EC2) DeleteKeyPair(ctx context.Context, account, region, id string) error {
	doing := fmt.Sprintf("delete key pair %s in %s", id, region)
	c, err := e.client(account, region)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	_, err = c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyPairId: aws.String(id), DryRun: e.dryRun()})
	if errorCode(err) == "InvalidKeyPair.NotFound" {
		e.log.InfoContext(ctx, "ec2 key pair gone already", "key_pair", id, "region", region)
		return nil
	}
	if err != nil {
		return classify(err, doing)
	}
	e.log.InfoContext(ctx, "ec2 key pair deleted", "key_pair", id, "region", region)
	return nil
}
