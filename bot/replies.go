package bot

import (
	"fmt"

	"time"

	"github.com/opsbot/opsbot/workflows"
)

func budgetLine(b workflows.BudgetSummary) string {
	return fmt.Sprintf("Team %s has %s of %s left for %s.", b.Team, b.Remaining(), b.Budget, b.Month)
}

func requestReply(cat *workflows.Catalog, res *workflows.RequestResult) workflows.Reply {
	r := res.Request
	m := workflows.Message{Fields: []workflows.Field{
		{Label: "Template", Value: r.Template},
		{Label: "Duration", Value: workflows.FormatDuration(r.Duration)},
		{Label: "Estimate", Value: fmt.Sprintf("%s (%s/h)", r.Estimate, r.HourlyRate.Rate())},
		{Label: "Budget left", Value: fmt.Sprintf("%s of %s (%s)", res.Budget.Remaining(), res.Budget.Budget, res.Budget.Month)},
	}}
	switch r.State {
	case workflows.StateApproved:
		m.Title = r.ID + " approved: launching now"
		m.Text = "It fit under the auto-approve ceiling and the budget. You will get a DM when it is running."
	case workflows.StatePending:
		a := res.Approval
		channel := ""
		if team, ok := cat.Team(r.Team); ok {
			channel = " in " + team.ApprovalsChannel
		}
		m.Title = r.ID + " is waiting for approval"
		m.Text = fmt.Sprintf("Team %s's approvers were asked%s; it needs %d approval(s). You will get a DM when they decide.", r.Team, channel, a.Required)
		if a.Overrun > 0 {
			m.Text += fmt.Sprintf(" It would go %s over the budget.", a.Overrun)
		}
	case workflows.StateDenied:
		m.Title = r.ID + " was refused"
		m.Text = "Because " + r.StateReason + "."
	default:
		m.Title = r.ID + " is " + r.State.Words()
	}
	return workflows.Reply{Message: m}
}

func serversReply(cat *workflows.Catalog, list []*workflows.ServerRequest, now time.Time) workflows.Reply {
	if len(list) == 0 {
		return textReply("You have no servers. Ask for one with `" + UsageRequest + "`.")
	}
	m := workflows.Message{Title: fmt.Sprintf("Your servers (%d)", len(list))}
	for _, r := range list {
		end := "—"
		if team, ok := cat.Team(r.Team); ok && !r.LeaseEnd.IsZero() {
			end = team.LocalTime(r.LeaseEnd)
		}
		m.Fields = append(m.Fields, workflows.Field{
			Label: fmt.Sprintf("%s · %s", r.ID, r.Template),
			Value: fmt.Sprintf("%s · lease ends %s · %s so far", r.State.Words(), end, r.CostSoFar(now)),
		})
	}
	return workflows.Reply{Message: m}
}

func extendReply(cat *workflows.Catalog, res *workflows.ExtendResult, d time.Duration) workflows.Reply {
	r := res.Request
	if a := res.Approval; a != nil {
		return workflows.Reply{Message: workflows.Message{
			Title: fmt.Sprintf("Extending %s by %s needs an approver", r.ID, workflows.FormatDuration(d)),
			Text:  fmt.Sprintf("Because %s. Team %s's approvers were asked (%s); you will get a DM when they decide.", a.Note, r.Team, a.Cost),
		}}
	}
	end := r.LeaseEnd.String()
	if team, ok := cat.Team(r.Team); ok {
		end = team.LocalTime(r.LeaseEnd)
	}
	return workflows.Reply{Message: workflows.Message{
		Title: fmt.Sprintf("%s extended by %s", r.ID, workflows.FormatDuration(d)),
		Text:  "The lease now ends " + end + ". " + budgetLine(res.Budget),
	}}
}

func budgetReply(b workflows.BudgetSummary) workflows.Reply {
	return workflows.Reply{Message: workflows.Message{
		Title: fmt.Sprintf("Team %s, %s", b.Team, b.Month),
		Fields: []workflows.Field{
			{Label: "Budget", Value: b.Budget.String()},
			{Label: "Committed", Value: b.Committed.String()},
			{Label: "Spent so far", Value: b.Spent.String()},
			{Label: "Reserved by open requests", Value: fmt.Sprintf("%s (%d)", b.Reserved, b.Open)},
			{Label: "Remaining", Value: b.Remaining().String()},
		},
	}}
}

// maxListedApprovals is how many approvals /ops approvals lists, each
// with Approve and Deny: 25 fit a Slack message (50 blocks) with room.
const maxListedApprovals = 25

func approvalsReply(list []*workflows.Approval) workflows.Reply {
	if len(list) == 0 {
		return textReply("Nothing waits for your decision.")
	}
	m := workflows.Message{Title: fmt.Sprintf("%d waiting for your decision", len(list))}
	if n := len(list) - maxListedApprovals; n > 0 {
		// One Slack message holds 50 blocks: the first ones, with their
		// buttons; deciding them brings the next into the list.
		list = list[:maxListedApprovals]
		m.Note = fmt.Sprintf("The first %d are listed; %d more wait. Decided ones leave the list: `%s` again shows the next.", maxListedApprovals, n, UsageApprovals)
	}
	for _, a := range list {
		what := "new server"
		if a.Kind == workflows.ApproveExtension {
			what = "extend by " + workflows.FormatDuration(a.Extend)
		}
		m.Fields = append(m.Fields, workflows.Field{
			Label: fmt.Sprintf("%s · %s (%s)", a.RequestID, what, a.ID),
			Value: fmt.Sprintf("%s · by %s · %s", a.Cost, workflows.Mention(a.Requester.Ref()), workflows.UserText(a.Reason)),
		})
		m.Actions = append(m.Actions,
			workflows.Action{ID: workflows.ActApprove, Label: "Approve " + a.RequestID, Value: a.ID, Style: workflows.StylePrimary},
			workflows.Action{ID: workflows.ActDeny, Label: "Deny " + a.RequestID, Value: a.ID, Style: workflows.StyleDanger})
	}
	return workflows.Reply{Message: m}
}

// releaseReply answers a release. In dry run nothing is given back: EC2
// only checks the termination and the owner hears its answer. A request
// that was still waiting is withdrawn.
func releaseReply(s *workflows.Servers, r *workflows.ServerRequest) workflows.Reply {
	if r.State == workflows.StateWithdrawn {
		return textReply(fmt.Sprintf("%s was withdrawn: its approval is closed and the budget it reserved is free again.", r.ID))
	}
	if s.DryRun && r.Instance.ID != "" && !r.State.Final() {
		return textReply(fmt.Sprintf("Dry run: %s would be given back now (%s terminated). opsbot only asks EC2 to check it; nothing changes, and you will get EC2's answer in a DM.", r.ID, r.Instance.ID))
	}
	return textReply(fmt.Sprintf("%s is being given back: its instance will be terminated and the unused budget returned.", r.ID))
}
