package slack

import (
	"context"
	"fmt"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/opsbot/opsbot/workflows"
)

// maxHomeBlocks is Slack's limit for a Home tab view.
const maxHomeBlocks = 100

// How many of each list the Home tab shows; the rest are counted. With
// every list full the tab stays under maxHomeBlocks, so no section is cut
// off by the ones before it.
const (
	homeServers   = 12 // two blocks each
	homeHanded    = 6  // three blocks each
	homePending   = 8
	homeApprovals = 8 // two blocks each
	homeIncidents = 10
	homeRunbooks  = maxButtons // one block of buttons
)

// firstOf is the first n of list.
func firstOf[T any](list []T, n int) []T { return list[:min(n, len(list))] }

// Home renders a person's App Home tab: their servers with Extend and
// Release buttons, their requests waiting for approval, the approvals
// waiting on them with Approve and Deny buttons, their team's budget and
// the open incidents. All user text is shown as typed (see Literal).
func (rd Renderer) Home(h workflows.Home) []slackapi.Block {
	var blocks []slackapi.Block
	header := func(s string) {
		blocks = append(blocks, slackapi.NewHeaderBlock(slackapi.NewTextBlockObject(slackapi.PlainTextType, s, false, false)))
	}
	section := func(text string) {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(capText(text, maxSectionText)), nil, nil))
	}
	// typed is text a person typed (a reason, a title): shown as typed.
	typed := func(s string) string { return inline(workflows.UserText(s)) }
	timeIn := func(team *workflows.Team, r *workflows.ServerRequest) string {
		if team == nil || r.LeaseEnd.IsZero() {
			return "-"
		}
		return team.LocalTime(r.LeaseEnd)
	}

	header("Your servers")
	if len(h.Servers) == 0 {
		section("You have no servers. Ask for one with `/ops server request`.")
	}
	serverBlocks := func(r *workflows.ServerRequest, team *workflows.Team) {
		section(fmt.Sprintf("*%s* · %s · %s\nLease ends %s · %s so far of %s estimated",
			Escape(r.ID), Escape(r.Template), Escape(r.State.Words()), Escape(timeIn(team, r)), r.CostSoFar(h.Now), r.Estimate))
		if r.State == workflows.StateRunning && r.EndingAt.IsZero() {
			blocks = append(blocks, buttons([]workflows.Action{
				{ID: workflows.ActLeaseExtend, Label: "Extend 1 day", Value: workflows.ExtendValue(r, "1d"), Style: workflows.StylePrimary},
				workflows.ServerShowAction(r),
				workflows.ReleaseAction(r),
			})...)
		}
		if r.State == workflows.StateStopped && r.EndingAt.IsZero() {
			acts := workflows.StoppedActions(r)
			if h.Now.Before(r.LeaseEnd) {
				// Stopped within its lease: Start is among its actions.
				acts = []workflows.Action{workflows.StoppedActions(r)[0], workflows.ServerShowAction(r), workflows.ReleaseAction(r)}
			}
			blocks = append(blocks, buttons(acts)...)
		}
	}
	more := func(n int, where string) {
		if n > 0 {
			section(fmt.Sprintf("… and %d more: %s", n, where))
		}
	}
	for _, r := range firstOf(h.Servers, homeServers) {
		serverBlocks(r, h.Team)
	}
	more(len(h.Servers)-homeServers, "`/ops servers` lists them all.")
	if len(h.Handed) > 0 {
		header("Handed to your team")
		for _, r := range firstOf(h.Handed, homeHanded) {
			section(fmt.Sprintf("%s left: team %s looks after it now.", mention(r.HandedFrom.Ref()), Escape(r.Team)))
			serverBlocks(r, h.Team)
		}
		more(len(h.Handed)-homeHanded, "`/ops server srv-N` shows any of them with its actions.")
	}
	if len(h.Pending) > 0 {
		header("Waiting for approval")
		for _, r := range firstOf(h.Pending, homePending) {
			section(fmt.Sprintf("*%s* · %s for %s · %s", Escape(r.ID), Escape(r.Template), workflows.FormatDuration(r.Duration), r.Estimate))
		}
		more(len(h.Pending)-homePending, "`/ops servers` lists them all.")
	}
	if len(h.Approvals) > 0 {
		header("Waiting for your decision")
		for _, a := range firstOf(h.Approvals, homeApprovals) {
			what := "a new server"
			if a.Kind == workflows.ApproveExtension {
				what = "extending by " + workflows.FormatDuration(a.Extend)
			}
			who := a.Requester.Email
			if a.Requester.SlackID != "" {
				who = "<@" + a.Requester.SlackID + ">"
			} else {
				who = Escape(who)
			}
			reason := typed(a.Reason)
			if a.Reason == "" {
				reason = "(no reason given)"
			}
			section(fmt.Sprintf("*%s* · %s · %s · %s\n%s", Escape(a.RequestID), Escape(what), a.Cost, who, reason))
			blocks = append(blocks, buttons([]workflows.Action{
				{ID: workflows.ActApprove, Label: "Approve", Value: a.ID, Style: workflows.StylePrimary},
				{ID: workflows.ActDeny, Label: "Deny", Value: a.ID, Style: workflows.StyleDanger},
			})...)
		}
		more(len(h.Approvals)-homeApprovals, "`/ops approvals` lists them.")
	}
	if h.Budget != nil {
		b := h.Budget
		header(fmt.Sprintf("Team %s budget, %s", b.Team, b.Month))
		blocks = append(blocks, slackapi.NewSectionBlock(nil, []*slackapi.TextBlockObject{
			mrkdwn("*Budget*\n" + b.Budget.String()),
			mrkdwn("*Committed*\n" + b.Committed.String()),
			mrkdwn("*Spent so far*\n" + b.Spent.String()),
			mrkdwn("*Reserved by open requests*\n" + b.Reserved.String()),
			mrkdwn("*Remaining*\n" + b.Remaining().String()),
		}, nil))
	}
	if len(h.Runbooks) > 0 {
		header("Runbooks")
		section("Everyday actions you may run; each opens its form. `/ops run` lists them too.")
		blocks = append(blocks, buttons(firstOf(h.Runbooks, homeRunbooks))...)
		more(len(h.Runbooks)-homeRunbooks, "`/ops run` lists them all.")
	}
	header("Open incidents")
	if len(h.Incidents) == 0 {
		section("None. 🎉")
	}
	for _, inc := range firstOf(h.Incidents, homeIncidents) {
		where := ""
		if inc.ChannelID != "" {
			where = " · <#" + inc.ChannelID + ">"
		}
		section(fmt.Sprintf("*%s* · %s · %s · %s%s", Escape(inc.ID), inc.Severity, inc.Status, typed(inc.Title), where))
	}
	more(len(h.Incidents)-homeIncidents, "open incidents, each in its channel.")
	blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn("Updated "+Escape(homeTime(h))+" · `/ops help` · `/incident help`")))
	if len(blocks) > maxHomeBlocks {
		blocks = append(blocks[:maxHomeBlocks-1], slackapi.NewContextBlock("", mrkdwn("… more than fits here: see `/ops servers` and `/ops approvals`.")))
	}
	return blocks
}

func homeTime(h workflows.Home) string {
	if h.Team != nil {
		return h.Team.LocalTime(h.Now)
	}
	return h.Now.UTC().Format("Mon 2 Jan 15:04 MST")
}

// PublishHome shows blocks on a person's App Home tab (views.publish).
func (c *Client) PublishHome(ctx context.Context, userID string, blocks []slackapi.Block) error {
	view := slackapi.HomeTabViewRequest{Type: slackapi.VTHomeTab, Blocks: slackapi.Blocks{BlockSet: blocks}, CallbackID: "opsbot.home"}
	return c.call(ctx, "views.publish", func(ctx context.Context) error {
		_, err := c.api.PublishViewContext(ctx, slackapi.PublishViewContextRequest{UserID: userID, View: view})
		if err != nil {
			return fmt.Errorf("publish home of %s: %w", userID, err)
		}
		return nil
	})
}

// ResolvePerson turns a config reference (a Slack user ID or an email)
// into both, so workflows can match either.
func (c *Client) ResolvePerson(ctx context.Context, ref string) (workflows.Person, error) {
	if strings.Contains(ref, "@") {
		id, err := c.UserID(ctx, ref)
		return workflows.Person{SlackID: id, Email: ref}, err
	}
	email, err := c.UserEmail(ctx, ref)
	return workflows.Person{SlackID: ref, Email: email}, err
}
