package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/opsbot/opsbot/workflows"
)

// Describe returns the instances with these IDs in a region of an account
// ("" the default one). IDs EC2 does not
// know (InvalidInstanceID.NotFound) are left out of the result rather than
// failing the call.
func (e *EC2) Describe(ctx context.Context, account, region string, ids []string) ([]workflows.Instance, error) {
	found, err := e.describe(ctx, account, region, ids)
	if err != nil {
		return nil, err
	}
	out := make([]workflows.Instance, 0, len(found))
	for _, in := range found {
		out = append(out, fromEC2(account, region, in))
	}
	return out, nil
}

func (e *EC2) describe(ctx context.Context, account, region string, ids []string) ([]types.Instance, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	doing := fmt.Sprintf("describe %v in %s", ids, where(account, region))
	c, err := e.client(account, region)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	if errorCode(err) == "InvalidInstanceID.NotFound" {
		if len(ids) == 1 {
			return nil, nil
		}
		// EC2 fails the whole call for one unknown ID; a filter on the
		// IDs answers the known ones and ignores the rest.
		return e.describeFiltered(ctx, c, doing, ids)
	}
	if err != nil {
		return nil, classify(err, doing)
	}
	return flatten(out.Reservations), nil
}

func (e *EC2) describeFiltered(ctx context.Context, c *ec2.Client, doing string, ids []string) ([]types.Instance, error) {
	var all []types.Instance
	p := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{
		Filters: []types.Filter{{Name: aws.String("instance-id"), Values: ids}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify(err, doing)
		}
		all = append(all, flatten(page.Reservations)...)
	}
	return all, nil
}

func flatten(rs []types.Reservation) []types.Instance {
	var out []types.Instance
	for _, r := range rs {
		out = append(out, r.Instances...)
	}
	return out
}

// guard describes want and returns what EC2 says of it, or ErrNotOurs
// (with the reason) when it is gone or is not the instance opsbot
// recorded.
func (e *EC2) guard(ctx context.Context, want workflows.Instance, doing string) (types.Instance, workflows.Instance, error) {
	found, err := e.describe(ctx, want.Account, want.Region, []string{want.ID})
	if err != nil {
		return types.Instance{}, workflows.Instance{}, err
	}
	if len(found) == 0 {
		return types.Instance{}, workflows.Instance{}, fmt.Errorf("%s: EC2 does not know %s: %w", doing, want.ID, workflows.ErrNotOurs)
	}
	got := fromEC2(want.Account, want.Region, found[0])
	if !workflows.SameInstance(want, got) {
		e.log.WarnContext(ctx, "ec2 refused to touch an instance that does not match opsbot's records",
			"instance", want.ID, "doing", doing, "want_launch", want.LaunchTime, "got_launch", got.LaunchTime,
			"want_request", want.Tags[workflows.TagRequest], "got_request", got.Tags[workflows.TagRequest],
			"got_managed", got.Tags[workflows.TagManaged])
		return types.Instance{}, workflows.Instance{}, fmt.Errorf("%s: %w", doing, workflows.ErrNotOurs)
	}
	return found[0], got, nil
}

// End stops or terminates want after checking that EC2 describes the same
// instance opsbot launched. An instance already in (or on its way to) the
// asked-for state is returned as it is, with no call.
func (e *EC2) End(ctx context.Context, want workflows.Instance, action workflows.EndAction) (workflows.Instance, error) {
	doing := fmt.Sprintf("%s %s in %s", action, want.ID, where(want.Account, want.Region))
	if action != workflows.EndStop && action != workflows.EndTerminate {
		return workflows.Instance{}, workflows.Permanent(fmt.Errorf("%s: unknown end action", doing))
	}
	_, got, err := e.guard(ctx, want, doing)
	if err != nil {
		return workflows.Instance{}, err
	}
	switch got.State {
	case workflows.InstanceTerminated, workflows.InstanceShuttingDown:
		return got, nil // gone or going: more than stopped
	case workflows.InstanceStopped, workflows.InstanceStopping:
		if action == workflows.EndStop {
			return got, nil
		}
	}
	c, err := e.client(want.Account, want.Region)
	if err != nil {
		return workflows.Instance{}, fmt.Errorf("%s: %w", doing, err)
	}
	var changes []types.InstanceStateChange
	if action == workflows.EndStop {
		out, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{want.ID}, DryRun: e.dryRun()})
		if err != nil {
			return workflows.Instance{}, e.refused(ctx, err, doing, want)
		}
		changes = out.StoppingInstances
	} else {
		out, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{want.ID}, DryRun: e.dryRun()})
		if err != nil {
			return workflows.Instance{}, e.refused(ctx, err, doing, want)
		}
		changes = out.TerminatingInstances
	}
	for _, ch := range changes {
		if aws.ToString(ch.InstanceId) == want.ID && ch.CurrentState != nil {
			got.State = workflows.InstanceState(ch.CurrentState.Name)
		}
	}
	e.log.InfoContext(ctx, "ec2 instance ended", "instance", want.ID, "action", action, "state", got.State)
	return got, nil
}

func (e *EC2) refused(ctx context.Context, err error, doing string, want workflows.Instance) error {
	err = classify(err, doing)
	e.log.InfoContext(ctx, "ec2 change not made", "instance", want.ID, "doing", doing, "dry_run", e.opts.DryRun, "err", err)
	return err
}

// Retag sets tags on want and its EBS volumes, with the same guard as End.
func (e *EC2) Retag(ctx context.Context, want workflows.Instance, tags map[string]string) error {
	doing := fmt.Sprintf("retag %s in %s", want.ID, where(want.Account, want.Region))
	if len(tags) == 0 {
		return nil
	}
	raw, _, err := e.guard(ctx, want, doing)
	if err != nil {
		return err
	}
	resources := []string{want.ID}
	for _, m := range raw.BlockDeviceMappings {
		if m.Ebs != nil && m.Ebs.VolumeId != nil {
			resources = append(resources, *m.Ebs.VolumeId)
		}
	}
	c, err := e.client(want.Account, want.Region)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: resources, Tags: ec2Tags(tags), DryRun: e.dryRun()})
	if err != nil {
		return e.refused(ctx, err, doing, want)
	}
	return nil
}

// Start starts want again after a stop, after checking that EC2 describes
// the instance opsbot launched. EC2 moves the launch time of an instance
// it starts, so the instance returned is described again after the call
// and carries the new launch time. An instance that a previous attempt
// (or someone outside opsbot) already started has a later launch time
// and opsbot's tags: it is returned as it is, with no call.
func (e *EC2) Start(ctx context.Context, want workflows.Instance) (workflows.Instance, error) {
	doing := fmt.Sprintf("start %s in %s", want.ID, where(want.Account, want.Region))
	found, err := e.describe(ctx, want.Account, want.Region, []string{want.ID})
	if err != nil {
		return workflows.Instance{}, err
	}
	if len(found) == 0 {
		return workflows.Instance{}, fmt.Errorf("%s: EC2 does not know %s: %w", doing, want.ID, workflows.ErrNotOurs)
	}
	got := fromEC2(want.Account, want.Region, found[0])
	if restartedSince(want, got) {
		return got, nil
	}
	if !workflows.SameInstance(want, got) {
		e.log.WarnContext(ctx, "ec2 refused to start an instance that does not match opsbot's records",
			"instance", want.ID, "want_launch", want.LaunchTime, "got_launch", got.LaunchTime,
			"want_request", want.Tags[workflows.TagRequest], "got_request", got.Tags[workflows.TagRequest],
			"got_managed", got.Tags[workflows.TagManaged])
		return workflows.Instance{}, fmt.Errorf("%s: %w", doing, workflows.ErrNotOurs)
	}
	switch got.State {
	case workflows.InstancePending, workflows.InstanceRunning:
		return got, nil
	case workflows.InstanceStopping:
		// EC2 refuses to start an instance still stopping
		// (IncorrectInstanceState); try again once it has stopped.
		return workflows.Instance{}, fmt.Errorf("%s: the instance is still stopping", doing)
	case workflows.InstanceShuttingDown, workflows.InstanceTerminated:
		return workflows.Instance{}, workflows.Permanent(fmt.Errorf("%s: the instance is %s", doing, got.State))
	}
	c, err := e.client(want.Account, want.Region)
	if err != nil {
		return workflows.Instance{}, fmt.Errorf("%s: %w", doing, err)
	}
	if _, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{want.ID}, DryRun: e.dryRun()}); err != nil {
		return workflows.Instance{}, e.refused(ctx, err, doing, want)
	}
	after, err := e.describe(ctx, want.Account, want.Region, []string{want.ID})
	if err != nil {
		return workflows.Instance{}, fmt.Errorf("%s: describe after the start: %w", doing, err)
	}
	if len(after) == 0 {
		return workflows.Instance{}, fmt.Errorf("%s: EC2 no longer describes %s: %w", doing, want.ID, workflows.ErrNotOurs)
	}
	got = fromEC2(want.Account, want.Region, after[0])
	e.log.InfoContext(ctx, "ec2 instance started", "instance", want.ID, "state", got.State, "launch", got.LaunchTime)
	return got, nil
}

// restartedSince reports whether got is want started again since opsbot
// recorded it: same ID, opsbot's tags for the same request, starting or
// running, and a later launch time.
func restartedSince(want, got workflows.Instance) bool {
	req := want.Tags[workflows.TagRequest]
	return want.ID != "" && got.ID == want.ID && req != "" &&
		got.Tags[workflows.TagManaged] == "true" && got.Tags[workflows.TagRequest] == req &&
		!want.LaunchTime.IsZero() && got.LaunchTime.After(want.LaunchTime) &&
		(got.State == workflows.InstancePending || got.State == workflows.InstanceRunning)
}
