package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// ModalRunbook is the callback ID of a runbook's form; its
// private_metadata is the runbook's name.
const ModalRunbook = "runbook.run"

// fieldRunReason is the form's last, optional input: why, for the audit
// log. Errors that belong to no parameter are shown on it.
const fieldRunReason = "run_reason"

// UsageRun is the usage line of /ops run.
const UsageRun = runbooks.Usage

// runCommand answers `/ops run [RUNBOOK]`: without a name, the runbooks
// the person may run; with one, its form.
func (b *Bot) runCommand(ctx context.Context, actor workflows.Person, name, triggerID string) workflows.Reply {
	if b.Runbooks == nil {
		return textReply("No runbooks are set up in opsbot's config (the runbooks: section, docs/actions.md).")
	}
	if name == "" {
		return workflows.Reply{Message: runbooks.ListMessage(b.Runbooks.Available(actor))}
	}
	if err := b.openRunbookModal(ctx, actor, name, triggerID); err != nil {
		return b.failure(err, UsageRun)
	}
	return workflows.Reply{}
}

func (b *Bot) openRunbookModal(ctx context.Context, actor workflows.Person, name, triggerID string) error {
	rb, err := b.Runbooks.Form(ctx, actor, name)
	if err != nil {
		return err
	}
	if _, err := b.Views.OpenViewContext(ctx, triggerID, RunbookModal(rb)); err != nil {
		return fmt.Errorf("open the form of %s: %w", rb.Name, err)
	}
	return nil
}

// RunbookModal is a runbook's form: one input per parameter, typed.
func RunbookModal(rb *runbooks.Runbook) slack.ModalViewRequest {
	intro := rb.Description
	if intro == "" {
		intro = "Runs " + rb.Name + "."
	}
	if rb.NeedApprover {
		intro += "\nAn approver confirms it before it runs."
	}
	blocks := []slack.Block{slack.NewSectionBlock(plain(truncate(intro, 3000)), nil, nil)}
	for _, p := range rb.Params {
		var el slack.BlockElement
		switch p.Type {
		case runbooks.TypeChoice, runbooks.TypeBool:
			opts := p.Options
			if p.Type == runbooks.TypeBool {
				opts = []string{"yes", "no"}
			}
			var options []*slack.OptionBlockObject
			var initial *slack.OptionBlockObject
			for _, o := range opts {
				opt := slack.NewOptionBlockObject(o, plain(truncate(o, 75)), nil)
				options = append(options, opt)
				if p.Default != "" {
					dv, _ := p.Parse(p.Default)
					if ov, _ := p.Parse(o); dv == ov {
						initial = opt
					}
				}
			}
			sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose"), p.Name, options...)
			sel.InitialOption = initial
			el = sel
		case runbooks.TypeNumber:
			n := slack.NewNumberInputBlockElement(nil, p.Name, !p.Integer)
			n.InitialValue = p.Default
			if p.Min != nil {
				n.MinValue = strconv.FormatFloat(*p.Min, 'f', -1, 64)
			}
			if p.Max != nil {
				n.MaxValue = strconv.FormatFloat(*p.Max, 'f', -1, 64)
			}
			el = n
		default:
			t := slack.NewPlainTextInputBlockElement(nil, p.Name)
			t.InitialValue = p.Default
			max := p.MaxLength
			if max <= 0 {
				max = runbooks.DefaultMaxLength
			}
			t.MaxLength = max
			el = t
		}
		var hint *slack.TextBlockObject
		if p.Help != "" {
			hint = plain(truncate(p.Help, 2000))
		}
		in := slack.NewInputBlock(p.Name, plain(truncate(p.LabelText(), 2000)), hint, el)
		in.Optional = !p.Required
		blocks = append(blocks, in)
	}
	blocks = append(blocks, optional(slack.NewInputBlock(fieldRunReason, plain("Why (for the audit log)"), nil,
		slack.NewPlainTextInputBlockElement(nil, fieldRunReason))))
	view := modal(ModalRunbook, truncate("Run "+rb.Name, 24), "Run", blocks...)
	view.PrivateMetadata = rb.Name
	return view
}

// submitRunbook handles a runbook form's submission: wrong values are
// shown on their fields and nothing runs.
func (b *Bot) submitRunbook(ctx context.Context, actor workflows.Person, ic slack.InteractionCallback, values map[string]map[string]slack.BlockAction) *slack.ViewSubmissionResponse {
	if b.Runbooks == nil {
		return nil
	}
	name := ic.View.PrivateMetadata
	rb, ok := b.Runbooks.Runbook(name)
	if !ok {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{fieldRunReason: "This runbook is no longer in opsbot's config."})
	}
	raw := map[string]string{}
	for _, p := range rb.Params {
		a := values[p.Name][p.Name]
		v := a.Value
		if a.SelectedOption.Value != "" {
			v = a.SelectedOption.Value
		}
		if v != "" {
			raw[p.Name] = v
		}
	}
	reason := strings.TrimSpace(values[fieldRunReason][fieldRunReason].Value)
	_, err := b.Runbooks.Start(ctx, actor, rb.Name, raw, reason, "view:"+ic.View.ID)
	var fe *runbooks.FormError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		out := map[string]string{}
		for k, v := range fe.Fields {
			if _, ok := rb.Param(k); ok {
				out[k] = truncate(v, 150)
			} else {
				out[fieldRunReason] = truncate(v, 150)
			}
		}
		return slack.NewErrorsViewSubmissionResponse(out)
	case errors.Is(err, workflows.ErrReplayed):
		return nil
	}
	if workflows.ErrorCode(err) == "internal" {
		b.Log.ErrorContext(ctx, "run from form", "runbook", rb.Name, "err", err)
	}
	return slack.NewErrorsViewSubmissionResponse(map[string]string{fieldRunReason: truncate(workflows.ErrorMessage(err), 150)})
}

// runbookClick handles the runbook buttons: a runbook's Run button
// (its form) and Approve/Deny on a run ("run-3").
func (b *Bot) runbookClick(ctx context.Context, actor workflows.Person, id, value, triggerID string) (workflows.Reply, bool) {
	if b.Runbooks == nil {
		return workflows.Reply{}, false
	}
	switch {
	case id == workflows.ActRunbookOpen:
		if err := b.openRunbookModal(ctx, actor, value, triggerID); err != nil {
			return b.failure(err, UsageRun), true
		}
		return workflows.Reply{}, true
	case (id == workflows.ActOpApprove || id == workflows.ActOpDeny) && strings.HasPrefix(value, "run-"):
		approve := id == workflows.ActOpApprove
		r, err := b.Runbooks.Decide(ctx, actor, value, approve)
		if err != nil {
			return b.failure(err, UsageRun), true
		}
		if approve {
			return textReply(fmt.Sprintf("You approved %s: %s is under way.", r.ID, r.Runbook)), true
		}
		return textReply(fmt.Sprintf("You denied %s (%s).", r.ID, r.Runbook)), true
	}
	return workflows.Reply{}, false
}
