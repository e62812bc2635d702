package aws

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/actions"
)

var _ actions.Operator = (*EC2)(nil)

// Reboot reboots want after checking that EC2 describes the instance
// opsbot launched.
func (e *EC2) Reboot(ctx context.Context, want workflows.Instance) error {
	doing := fmt.Sprintf("reboot %s in %s", want.ID, want.Region)
	if _, _, err := e.guard(ctx, want, doing); err != nil {
		return err
	}
	c, err := e.client(want.Account, want.Region)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	if _, err := c.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: []string{want.ID}, DryRun: e.dryRun()}); err != nil {
		return e.refused(ctx, err, doing, want)
	}
	e.log.InfoContext(ctx, "ec2 instance rebooted", "instance", want.ID)
	return nil
}

// Snapshot snapshots want's root volume. CreateSnapshot has no client
// token, so the snapshot is tagged with the op that asked for it and
// looked for first: a retried op finds the snapshot it made.
func (e *EC2) Snapshot(ctx context.Context, want workflows.Instance, tags map[string]string) (actions.SnapshotInfo, error) {
	doing := fmt.Sprintf("snapshot the root volume of %s in %s", want.ID, want.Region)
	raw, _, err := e.guard(ctx, want, doing)
	if err != nil {
		return actions.SnapshotInfo{}, err
	}
	vol := ""
	for _, m := range raw.BlockDeviceMappings {
		if m.Ebs != nil && aws.ToString(m.DeviceName) == aws.ToString(raw.RootDeviceName) {
			vol = aws.ToString(m.Ebs.VolumeId)
		}
	}
	if vol == "" {
		return actions.SnapshotInfo{}, workflows.Permanent(fmt.Errorf("%s: EC2 shows no EBS root volume", doing))
	}
	c, err := e.client(want.Account, want.Region)
	if err != nil {
		return actions.SnapshotInfo{}, fmt.Errorf("%s: %w", doing, err)
	}
	if op := tags[actions.TagOp]; op != "" {
		out, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
			Filters: []types.Filter{{Name: aws.String("tag:" + actions.TagOp), Values: []string{op}}, {Name: aws.String("volume-id"), Values: []string{vol}}}})
		if err != nil {
			return actions.SnapshotInfo{}, classify(err, doing)
		}
		if len(out.Snapshots) > 0 {
			s := out.Snapshots[0]
			return actions.SnapshotInfo{ID: aws.ToString(s.SnapshotId), VolumeID: aws.ToString(s.VolumeId), State: string(s.State)}, nil
		}
	}
	out, err := c.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol), DryRun: e.dryRun(),
		Description:       aws.String(fmt.Sprintf("opsbot %s of %s (%s)", tags[actions.TagOp], tags[workflows.TagRequest], want.ID)),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: ec2Tags(tags)}}})
	if err != nil {
		return actions.SnapshotInfo{}, e.refused(ctx, err, doing, want)
	}
	e.log.InfoContext(ctx, "ec2 snapshot started", "instance", want.ID, "snapshot", aws.ToString(out.SnapshotId))
	return actions.SnapshotInfo{ID: aws.ToString(out.SnapshotId), VolumeID: aws.ToString(out.VolumeId), State: string(out.State)}, nil
}

// DeleteSnapshot deletes a snapshot opsbot made: one without opsbot's
// managed tag is refused (workflows.ErrNotOurs), one already gone is done.
// It runs in the server's account: looked up anywhere else, the snapshot
// would be "not found" and taken for deleted.
func (e *EC2) DeleteSnapshot(ctx context.Context, account, region, id string) error {
	doing := fmt.Sprintf("delete snapshot %s in %s", id, region)
	c, err := e.client(account, region)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	out, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	if errorCode(err) == "InvalidSnapshot.NotFound" {
		return nil
	}
	if err != nil {
		return classify(err, doing)
	}
	if len(out.Snapshots) == 0 {
		return nil
	}
	managed := false
	for _, t := range out.Snapshots[0].Tags {
		managed = managed || (aws.ToString(t.Key) == workflows.TagManaged && aws.ToString(t.Value) == "true")
	}
	if !managed {
		return workflows.Permanent(fmt.Errorf("%s: it lacks opsbot's tags: %w", doing, workflows.ErrNotOurs))
	}
	_, err = c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id), DryRun: e.dryRun()})
	if errorCode(err) == "InvalidSnapshot.NotFound" {
		return nil
	}
	if err != nil {
		return classify(err, doing)
	}
	e.log.InfoContext(ctx, "ec2 snapshot deleted", "snapshot", id)
	return nil
}

// Diagnose reads want's status checks and the last lines of its console
// (base64 in EC2's answer). It reads only; the guard still applies, so
// opsbot diagnoses only its own instances.
func (e *EC2) Diagnose(ctx context.Context, want workflows.Instance) (actions.Diagnosis, error) {
	doing := fmt.Sprintf("diagnose %s in %s", want.ID, want.Region)
	_, got, err := e.guard(ctx, want, doing)
	if err != nil {
		return actions.Diagnosis{}, err
	}
	c, err := e.client(want.Account, want.Region)
	if err != nil {
		return actions.Diagnosis{}, fmt.Errorf("%s: %w", doing, err)
	}
	d := actions.Diagnosis{State: got.State}
	st, err := c.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: []string{want.ID}, IncludeAllInstances: aws.Bool(true)})
	if err != nil {
		return d, classify(err, doing)
	}
	for _, s := range st.InstanceStatuses {
		if aws.ToString(s.InstanceId) != want.ID {
			continue
		}
		if s.SystemStatus != nil {
			d.SystemStatus = string(s.SystemStatus.Status)
			d.Failed = append(d.Failed, failed("system", s.SystemStatus.Details)...)
		}
		if s.InstanceStatus != nil {
			d.InstanceStatus = string(s.InstanceStatus.Status)
			d.Failed = append(d.Failed, failed("instance", s.InstanceStatus.Details)...)
		}
	}
	sort.Strings(d.Failed)
	con, err := c.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(want.ID)})
	if err != nil {
		return d, classify(err, doing)
	}
	if out := aws.ToString(con.Output); out != "" {
		text, err := base64.StdEncoding.DecodeString(out)
		if err != nil {
			return d, workflows.Permanent(fmt.Errorf("%s: console output is not base64: %w", doing, err))
		}
		d.Console = actions.LastLines(string(text), actions.ConsoleLines)
	}
	d.ConsoleAt = aws.ToTime(con.Timestamp)
	return d, nil
}

func failed(kind string, ds []types.InstanceStatusDetails) []string {
	var out []string
	for _, d := range ds {
		if d.Status == types.StatusTypeFailed {
			out = append(out, kind+" "+string(d.Name))
		}
	}
	return out
}
