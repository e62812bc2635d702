package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/slack-go/slack"

	"github.com/opsbot/opsbot/workflows"
)

func (b *Bot) serveCommand(w http.ResponseWriter, r *http.Request) {
	body, sig, ok := b.readVerified(w, r)
	if !ok {
		return
	}
	cmd, err := slack.SlashCommandParse(formRequest(string(body)))
	if err != nil {
		http.Error(w, "malformed slash command", http.StatusBadRequest)
		return
	}
	if readOnly(cmd) {
		b.answerRead(w, r, cmd, body, sig)
		return
	}
	rec, ok := b.takeInSigned(w, r, kindCommand, body, sig)
	if !ok {
		return
	}
	b.respond(r.Context(), w, cmd.ResponseURL, cmd.Command, b.handledReply(rec, func(ctx context.Context) workflows.Reply {
		return b.Command(ctx, cmd)
	}))
}

// Command answers a slash command, whatever transport brought it.
func (b *Bot) Command(ctx context.Context, cmd slack.SlashCommand) workflows.Reply {
	// What a person typed enters as data: without the marks opsbot uses
	// inside its own messages (a pasted mention mark would otherwise be
	// read as one wherever the text is shown unmarked).
	cmd.Text = workflows.PlainText(cmd.Text)
	b.Log.DebugContext(ctx, "slash command", "command", cmd.Command, "user", cmd.UserID, "channel", cmd.ChannelID)
	switch strings.TrimPrefix(cmd.Command, "/") {
	case "ops":
		return b.ops(ctx, cmd)
	case "incident":
		return b.incident(ctx, cmd)
	default:
		return textReply(fmt.Sprintf("opsbot does not know the command %s. Try `/ops help`.", cmd.Command))
	}
}

func (b *Bot) ops(ctx context.Context, cmd slack.SlashCommand) workflows.Reply {
	c, err := ParseOps(cmd.Text)
	if err != nil {
		return errorReply(err)
	}
	actor := b.person(ctx, cmd.UserID)
	now := b.Clock.Now()
	switch c.Kind {
	case OpsHelp:
		return workflows.Reply{Message: workflows.Message{Title: "opsbot: servers, leases and budgets", Text: OpsHelpText}}
	case OpsRequestUI:
		if err := b.openRequestModal(ctx, actor, cmd.TriggerID); err != nil {
			return errorReply(err)
		}
		return workflows.Reply{}
	case OpsRequest:
		res, err := b.Servers.Request(ctx, actor, workflows.RequestInput{Template: c.Template, Duration: c.Duration, Reason: c.Reason})
		if err != nil {
			return b.failure(err, UsageRequest)
		}
		return requestReply(b.Servers.Catalog, res)
	case OpsServers:
		list, err := b.Servers.MyServers(ctx, actor)
		if err != nil {
			return b.failure(err, UsageServers)
		}
		return serversReply(b.Servers.Catalog, list, now)
	case OpsExtendUI:
		if err := b.openExtendModal(ctx, actor, cmd.TriggerID); err != nil {
			return errorReply(err)
		}
		return workflows.Reply{}
	case OpsExtend:
		res, err := b.Servers.Extend(ctx, actor, c.Server, c.Duration, c.Reason)
		if err != nil {
			return b.failure(err, UsageExtend)
		}
		return extendReply(b.Servers.Catalog, res, c.Duration)
	case OpsRelease:
		r, err := b.Servers.Release(ctx, actor, c.Server)
		if err != nil {
			return b.failure(err, UsageRelease)
		}
		return releaseReply(b.Servers, r)
	case OpsBudget:
		s, err := b.Servers.Budget(ctx, actor, c.Team)
		if err != nil {
			return b.failure(err, UsageBudget)
		}
		return budgetReply(s)
	case OpsServer:
		return b.showServer(ctx, actor, c.Server)
	case OpsOffboard:
		return b.offboardCommand(ctx, actor, c.Rest)
	case OpsAudit:
		return b.auditCommand(ctx, actor, strings.Fields(c.Rest))
	case OpsRun:
		return b.runCommand(ctx, actor, c.Rest, cmd.TriggerID)
	case OpsCosts:
		if b.Costs == nil {
			return textReply("Costs are not set up in opsbot's config (the costs: section). `/ops budget` shows opsbot's own figures.")
		}
		m, err := b.Costs.Show(ctx, actor, c.Team, c.Month)
		if err != nil {
			return b.failure(err, UsageCosts)
		}
		return workflows.Reply{Message: m}
	case OpsApprovals:
		list, err := b.Servers.PendingApprovals(ctx, actor)
		if err != nil {
			return b.failure(err, UsageApprovals)
		}
		return approvalsReply(list)
	}
	return textReply(OpsHelpText)
}

// failure turns an error from workflows into a reply: the message of a
// user-facing error with the usage line when it was a mistake in the
// input, an apology (and a log line) otherwise.
func (b *Bot) failure(err error, usage string) workflows.Reply {
	if errors.Is(err, workflows.ErrReplayed) {
		// Another delivery of the same request did it: it answers.
		return workflows.Reply{}
	}
	var e *workflows.Error
	if !errors.As(err, &e) {
		b.Log.Error("command failed", "err", err)
		return textReply(workflows.ErrorMessage(err))
	}
	if e.Code == workflows.EInvalid {
		return errorReply(&UsageError{Problem: e.Message, Usage: usage})
	}
	reply := textReply(e.Message)
	reply.Mention = e.People
	return reply
}

func errorReply(err error) workflows.Reply {
	var ue *UsageError
	if errors.As(err, &ue) {
		return workflows.Reply{Message: workflows.Message{Text: ue.Problem, Note: "Usage: " + ue.Usage}}
	}
	return textReply(workflows.ErrorMessage(err))
}

func textReply(s string) workflows.Reply { return workflows.Reply{Message: workflows.Message{Text: s}} }
