package bot

import (
	"context"
	"fmt"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/actions"
)

// showServer answers `/ops server SRV` and the Actions button: the server
// with the buttons the person may press.
func (b *Bot) showServer(ctx context.Context, actor workflows.Person, id string) workflows.Reply {
	if b.Actions == nil {
		return textReply("Server actions are not set up in this opsbot.")
	}
	v, err := b.Actions.Show(ctx, actor, id)
	if err != nil {
		return b.failure(err, UsageServer)
	}
	return workflows.Reply{Message: actions.ViewMessage(v)}
}

// actionClick handles the buttons of server actions.
func (b *Bot) actionClick(ctx context.Context, actor workflows.Person, id, value string) (workflows.Reply, bool) {
	if b.Actions == nil {
		return workflows.Reply{}, false
	}
	switch id {
	case workflows.ActServerShow:
		return b.showServer(ctx, actor, value), true
	case workflows.ActServerAction:
		res, err := b.Actions.Run(ctx, actor, value)
		if err != nil {
			return b.failure(err, UsageServer), true
		}
		return runReply(res), true
	case workflows.ActOpApprove, workflows.ActOpDeny:
		approve := id == workflows.ActOpApprove
		res, err := b.Actions.Decide(ctx, actor, value, approve)
		if err != nil {
			return b.failure(err, UsageServer), true
		}
		switch res.Op.State {
		case actions.OpQueued:
			return textReply(fmt.Sprintf("You approved %s: the %s of %s is under way.", res.Op.ID, res.Op.Action, res.Request.ID)), true
		case actions.OpDenied:
			return textReply(fmt.Sprintf("You denied %s (%s of %s).", res.Op.ID, res.Op.Action, res.Request.ID)), true
		}
		return textReply(fmt.Sprintf("%s could no longer be done and was closed: %s", res.Op.ID, res.Op.Result)), true
	case workflows.ActSnapshotKeep:
		sn, err := b.Actions.Keep(ctx, actor, value)
		if err != nil {
			return b.failure(err, UsageServer), true
		}
		return textReply(fmt.Sprintf("%s will be kept when %s is released. Delete it in EC2 when you no longer need it.", sn.ID, sn.Server)), true
	}
	return workflows.Reply{}, false
}

func runReply(res *actions.Result) workflows.Reply {
	o := res.Op
	if o.State == actions.OpPending {
		return textReply(fmt.Sprintf("The %s of %s needs one of team %s's approvers; they were asked in their channel (%s). You will hear in a direct message.",
			o.Action, res.Request.ID, res.Request.Team, o.ID))
	}
	return textReply(fmt.Sprintf("The %s of %s is under way (%s); the result comes in a direct message, details in its thread.", o.Action, res.Request.ID, o.ID))
}
