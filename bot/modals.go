package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/opsbot/opsbot/workflows"
)

// Modal callback IDs.
const (
	ModalRequest = "ops.request"
	ModalDeny    = "approval.deny"
	ModalDeclare = "incident.declare"
	ModalExtend  = "lease.extend"
)

// Block IDs of modal fields; errors are shown on them.
const (
	fieldTemplate = "template"
	fieldDuration = "duration"
	fieldReason   = "reason"
	fieldTitle    = "title"
	fieldSeverity = "severity"
	fieldServer   = "server"
)

func (b *Bot) openRequestModal(ctx context.Context, actor workflows.Person, triggerID string) error {
	team, ok := b.Servers.Catalog.TeamOf(actor)
	if !ok {
		return workflows.Errorf(workflows.EForbidden, "You are not a member of any team in opsbot's config; ask your platform team to add you.")
	}
	var options []*slack.OptionBlockObject
	for _, t := range b.Servers.Catalog.TemplatesFor(team) {
		label := t.Name
		if q, err := b.Servers.Estimator.Quote(ctx, t); err == nil {
			label = fmt.Sprintf("%s · %s/day", t.Name, q.Hourly().For(24))
		}
		desc := t.Description
		if desc == "" {
			desc = t.InstanceType + " in " + t.Region
		}
		options = append(options, slack.NewOptionBlockObject(t.Name, plain(truncate(label, 75)), plain(truncate(desc, 75))))
	}
	if len(options) == 0 {
		return workflows.Errorf(workflows.EForbidden, "Team %s may not use any server template.", team.Name)
	}
	lc := team.Policy.Lifecycle
	view := modal(ModalRequest, "Request a server", "Request",
		slack.NewInputBlock(fieldTemplate, plain("Template"), nil,
			staticSelect("Choose a template", fieldTemplate, options)),
		optional(slack.NewInputBlock(fieldDuration, plain("For how long"),
			plain(fmt.Sprintf("Like 4h or 2d. Default %s, at most %s.", workflows.FormatDuration(lc.DefaultLease), workflows.FormatDuration(lc.MaxLease))),
			slack.NewPlainTextInputBlockElement(plain(workflows.FormatDuration(lc.DefaultLease)), fieldDuration))),
		optional(slack.NewInputBlock(fieldReason, plain("Why"), nil, multiline(slack.NewPlainTextInputBlockElement(plain("What is it for?"), fieldReason)))),
	)
	if _, err := b.Views.OpenViewContext(ctx, triggerID, view); err != nil {
		return fmt.Errorf("open request form: %w", err)
	}
	return nil
}

func (b *Bot) openExtendModal(ctx context.Context, actor workflows.Person, triggerID string) error {
	mine, err := b.Servers.MyServers(ctx, actor)
	if err != nil {
		return err
	}
	var options []*slack.OptionBlockObject
	for _, r := range mine {
		if r.State == workflows.StateRunning && r.EndingAt.IsZero() {
			end := r.LeaseEnd.UTC().Format("Jan 2 15:04 MST")
			if team, ok := b.Servers.Catalog.Team(r.Team); ok {
				end = team.LocalTime(r.LeaseEnd)
			}
			// The value binds the lease end shown, like an Extend button.
			value := r.ID + " " + strconv.FormatInt(r.LeaseEnd.Unix(), 10)
			options = append(options, slack.NewOptionBlockObject(value, plain(truncate(r.ID+" · "+r.Template, 75)), plain(truncate("ends "+end, 75))))
		}
	}
	if len(options) == 0 {
		return workflows.Errorf(workflows.EConflict, "You have no running server to extend.")
	}
	view := modal(ModalExtend, "Extend a lease", "Extend",
		slack.NewInputBlock(fieldServer, plain("Server"), nil,
			staticSelect("Choose a server", fieldServer, options)),
		slack.NewInputBlock(fieldDuration, plain("How much longer"), plain("Like 4h or 2d."),
			slack.NewPlainTextInputBlockElement(plain("1d"), fieldDuration)),
		optional(slack.NewInputBlock(fieldReason, plain("Why"), nil, multiline(slack.NewPlainTextInputBlockElement(plain("What is it still needed for?"), fieldReason)))),
	)
	if _, err := b.Views.OpenViewContext(ctx, triggerID, view); err != nil {
		return fmt.Errorf("open extend form: %w", err)
	}
	return nil
}

func (b *Bot) openDenyModal(ctx context.Context, triggerID, approvalID string) error {
	view := modal(ModalDeny, "Deny request", "Deny",
		slack.NewInputBlock(fieldReason, plain("Reason, sent to the requester"), nil,
			multiline(slack.NewPlainTextInputBlockElement(plain("Why not?"), fieldReason))),
	)
	view.PrivateMetadata = approvalID
	_, err := b.Views.OpenViewContext(ctx, triggerID, view)
	return err
}

// Submission handles a modal's submit: nil closes the modal, a response
// with errors shows them on the fields.
func (b *Bot) Submission(ctx context.Context, ic slack.InteractionCallback) *slack.ViewSubmissionResponse {
	cleanValues(ic.View.State)
	// A person who submits again because the first answer was slow must
	// not make a second request: each view is acted on once. A submission
	// refused with errors is forgotten, so the corrected one goes through.
	// The view's key is recorded with the submission's effect (the
	// intake of ctx), so a refused one records nothing.
	if ic.View.ID != "" {
		key := "slack-view:" + ic.View.ID
		seen, err := workflows.Seen(ctx, b.Store, key)
		if err != nil {
			b.Log.ErrorContext(ctx, "look up submission", "err", err)
			return slack.NewErrorsViewSubmissionResponse(map[string]string{})
		}
		if seen {
			return nil
		}
		if !workflows.AlsoMark(ctx, key) {
			ctx = workflows.WithIntake(ctx, b.Clock.Now(), key)
		}
	}
	return b.submit(ctx, ic)
}

func (b *Bot) submit(ctx context.Context, ic slack.InteractionCallback) *slack.ViewSubmissionResponse {
	actor := b.person(ctx, ic.User.ID)
	// Slack always sends the state of a modal with inputs, but the
	// payload is outside input: without one, every field reads empty and
	// the form answers with what is missing.
	var values map[string]map[string]slack.BlockAction
	if ic.View.State != nil {
		values = ic.View.State.Values
	}
	switch ic.View.CallbackID {
	case ModalRunbook:
		return b.submitRunbook(ctx, actor, ic, values)
	case ModalRequest:
		in := workflows.RequestInput{
			Template: values[fieldTemplate][fieldTemplate].SelectedOption.Value,
			Reason:   strings.TrimSpace(values[fieldReason][fieldReason].Value),
		}
		if s := strings.TrimSpace(values[fieldDuration][fieldDuration].Value); s != "" {
			d, err := workflows.ParseDuration(s)
			if err != nil {
				return slack.NewErrorsViewSubmissionResponse(map[string]string{fieldDuration: workflows.ErrorMessage(err)})
			}
			in.Duration = d
		}
		ctx := b.answer(ctx, actor, func(v any) (workflows.Message, bool) {
			res, ok := v.(*workflows.RequestResult)
			return requestReply(b.Servers.Catalog, res).Message, ok
		})
		_, err := b.Servers.Request(ctx, actor, in)
		if err != nil {
			field := fieldTemplate
			if strings.Contains(workflows.ErrorMessage(err), "longer than") {
				field = fieldDuration
			}
			if workflows.ErrorCode(err) == "internal" {
				b.Log.ErrorContext(ctx, "request from form", "err", err)
			}
			return slack.NewErrorsViewSubmissionResponse(map[string]string{field: truncate(workflows.ErrorMessage(err), 150)})
		}
		return nil
	case ModalDeclare:
		raw := values[fieldSeverity][fieldSeverity].SelectedOption.Value
		sev, ok := workflows.ParseSeverity(raw)
		if !ok && raw != "" {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{fieldSeverity: "Choose sev1, sev2 or sev3."})
		}
		if b.Incidents == nil {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{fieldTitle: "Incidents are not configured in opsbot."})
		}
		ctx := b.answer(ctx, actor, func(v any) (workflows.Message, bool) {
			inc, ok := v.(*workflows.Incident)
			if !ok {
				return workflows.Message{}, false
			}
			return workflows.Message{Text: fmt.Sprintf("%s declared (%s): %s. Its channel is being opened.", inc.ID, inc.Severity, workflows.UserText(inc.Title))}, true
		})
		_, err := b.Incidents.Declare(ctx, actor, workflows.DeclareInput{Title: values[fieldTitle][fieldTitle].Value, Severity: sev})
		if err != nil {
			if workflows.ErrorCode(err) == "internal" {
				b.Log.ErrorContext(ctx, "declare from form", "err", err)
			}
			return slack.NewErrorsViewSubmissionResponse(map[string]string{fieldTitle: truncate(workflows.ErrorMessage(err), 150)})
		}
		return nil
	case ModalExtend:
		id, end, _ := strings.Cut(values[fieldServer][fieldServer].SelectedOption.Value, " ")
		var drawnFor time.Time
		if sec, err := strconv.ParseInt(end, 10, 64); err == nil && sec > 0 {
			drawnFor = time.Unix(sec, 0)
		}
		d, err := workflows.ParseDuration(values[fieldDuration][fieldDuration].Value)
		if err != nil {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{fieldDuration: workflows.ErrorMessage(err)})
		}
		ctx := b.answer(ctx, actor, func(v any) (workflows.Message, bool) {
			res, ok := v.(*workflows.ExtendResult)
			return extendReply(b.Servers.Catalog, res, d).Message, ok
		})
		_, err = b.Servers.ExtendFrom(ctx, actor, id, d, strings.TrimSpace(values[fieldReason][fieldReason].Value), drawnFor)
		if err != nil {
			if workflows.ErrorCode(err) == "internal" {
				b.Log.ErrorContext(ctx, "extend from form", "err", err)
			}
			field := fieldServer
			if workflows.ErrorCode(err) == workflows.ERefused {
				field = fieldDuration
			}
			return slack.NewErrorsViewSubmissionResponse(map[string]string{field: truncate(workflows.ErrorMessage(err), 150)})
		}
		return nil
	case ModalDeny:
		reason := strings.TrimSpace(values[fieldReason][fieldReason].Value)
		ctx := b.answer(ctx, actor, func(v any) (workflows.Message, bool) {
			res, ok := v.(*workflows.DecideResult)
			if !ok || res.Request == nil {
				return workflows.Message{}, false
			}
			return workflows.Message{Text: fmt.Sprintf("You denied %s. The requester has been told why.", res.Request.ID)}, true
		})
		_, err := b.Servers.Decide(ctx, actor, ic.View.PrivateMetadata, false, reason)
		if err != nil {
			if workflows.ErrorCode(err) == "internal" {
				b.Log.ErrorContext(ctx, "deny from form", "err", err)
			}
			return slack.NewErrorsViewSubmissionResponse(map[string]string{fieldReason: truncate(workflows.ErrorMessage(err), 150)})
		}
		return nil
	}
	return nil
}

// answer returns ctx for a submission whose outcome p is told by DM:
// the workflow queues the message render makes of its result in the
// transaction of its effect, so a crash after the effect cannot lose it
// (a DM queued in a second transaction was lost so, and Slack's retry
// was a replay that said nothing).
func (b *Bot) answer(ctx context.Context, p workflows.Person, render func(any) (workflows.Message, bool)) context.Context {
	return workflows.WithAnswer(ctx, p.SlackID, render)
}

// maxSelectOptions is Slack's limit on a static select's options, and on
// its option groups and each group's options.
const maxSelectOptions = 100

// staticSelect is a select menu of options. Slack refuses more than 100
// options in one menu (invalid_arguments), so a longer list is split into
// option groups of 100 ("1–100", "101–200", ...): every option stays
// selectable, with the same value, up to 10,000 of them.
func staticSelect(placeholder, actionID string, options []*slack.OptionBlockObject) *slack.SelectBlockElement {
	if len(options) <= maxSelectOptions {
		return slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain(placeholder), actionID, options...)
	}
	var groups []*slack.OptionGroupBlockObject
	for i := 0; i < len(options) && len(groups) < maxSelectOptions; i += maxSelectOptions {
		end := min(i+maxSelectOptions, len(options))
		groups = append(groups, slack.NewOptionGroupBlockElement(plain(fmt.Sprintf("%d–%d", i+1, end)), options[i:end]...))
	}
	return slack.NewOptionsGroupSelectBlockElement(slack.OptTypeStatic, plain(placeholder), actionID, groups...)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func optional(b *slack.InputBlock) *slack.InputBlock {
	b.Optional = true
	return b
}

func multiline(e *slack.PlainTextInputBlockElement) *slack.PlainTextInputBlockElement {
	e.Multiline = true
	return e
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// modal builds a form with a title, a submit button and Cancel.
func modal(callbackID, title, submit string, blocks ...slack.Block) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: callbackID,
		Title:      plain(title),
		Submit:     plain(submit),
		Close:      plain("Cancel"),
		Blocks:     slack.Blocks{BlockSet: blocks},
	}
}

// cleanValues drops the marks opsbot uses inside its own messages from
// what a person typed in a form (see Command).
func cleanValues(st *slack.ViewState) {
	if st == nil {
		return
	}
	for _, block := range st.Values {
		for id, v := range block {
			v.Value = workflows.PlainText(v.Value)
			block[id] = v
		}
	}
}
