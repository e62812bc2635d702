package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/workflows"
)

// History reads one channel message, for the timeline reaction.
type History interface {
	Message(ctx context.Context, channel, ts string) (author, text string, err error)
}

func (b *Bot) incident(ctx context.Context, cmd slack.SlashCommand) workflows.Reply {
	c, err := ParseIncident(cmd.Text)
	if err != nil {
		return errorReply(err)
	}
	if c.Kind == IncHelp {
		return workflows.Reply{Message: workflows.Message{Title: "opsbot: incidents", Text: IncidentHelpText}}
	}
	if b.Incidents == nil {
		return textReply("Incidents are not configured in opsbot: add an `incidents:` section to its config.")
	}
	actor := b.person(ctx, cmd.UserID)
	ref := workflows.IncidentRef{ID: c.Incident, Channel: cmd.ChannelID}
	var inc *workflows.Incident
	usage := UsageIncHelp
	switch c.Kind {
	case IncDeclareUI:
		if err := b.openDeclareModal(ctx, cmd.TriggerID); err != nil {
			return errorReply(err)
		}
		return workflows.Reply{}
	case IncDeclare:
		usage = UsageDeclare
		inc, err = b.Incidents.Declare(ctx, actor, workflows.DeclareInput{Title: c.Title, Severity: c.Severity, Private: c.Private})
		if err == nil {
			text := fmt.Sprintf("%s declared (%s): %s. Its channel is being opened; you are the commander until someone takes over.", inc.ID, inc.Severity, workflows.UserText(inc.Title))
			if inc.Private {
				text = fmt.Sprintf("%s declared privately (%s): %s. Its private channel is being opened with you, the roles and whoever PagerDuty pages; there is no announcement. You are the commander until someone takes over.", inc.ID, inc.Severity, workflows.UserText(inc.Title))
			}
			if inc.NotPaged() {
				text += " PagerDuty was NOT paged: Slack did not give opsbot your email. Page on-call by hand."
			}
			return textReply(text)
		}
	case IncStatus:
		usage = UsageStatus
		inc, err = b.Incidents.SetStatus(ctx, actor, ref, c.Status)
	case IncSeverity:
		usage = UsageSeverity
		inc, err = b.Incidents.SetSeverity(ctx, actor, ref, c.Severity)
	case IncRole:
		usage = UsageRole
		var who workflows.Person
		if who, err = b.named(ctx, c.Who); err == nil {
			inc, err = b.Incidents.SetRole(ctx, actor, ref, c.Role, who)
		}
	case IncAdd:
		usage = UsageAdd
		var who workflows.Person
		if who, err = b.named(ctx, c.Who); err == nil {
			inc, err = b.Incidents.AddMember(ctx, actor, ref, who)
		}
		if err == nil {
			return textReply(fmt.Sprintf("Added to %s: they may now change its status, severity and roles.", inc.ID))
		}
	case IncCancel:
		usage = UsageCancel
		inc, err = b.Incidents.Cancel(ctx, actor, ref, c.Text)
		if err == nil {
			return textReply(fmt.Sprintf("%s is cancelled: no post-mortem, no reminders; the channel is told why.", inc.ID))
		}
	case IncUpdate:
		usage = UsageUpdate
		inc, err = b.Incidents.Update(ctx, actor, ref, c.Text)
	case IncPostmortem:
		usage = UsagePostmortem
		inc, err = b.Incidents.Postmortem(ctx, actor, ref)
		if err == nil {
			if inc.PostmortemURL != "" && !inc.PostmortemShareable() && cmd.ChannelID != inc.ChannelID {
				return textReply("The post-mortem of private incident " + inc.ID + " is linked in its channel until someone runs `" + UsagePublish + "` there.")
			}
			if inc.PostmortemURL != "" {
				return textReply("The post-mortem of " + inc.ID + ": " + inc.PostmortemURL)
			}
			return textReply("The post-mortem of " + inc.ID + " is being written; its link will be posted in the incident channel.")
		}
	case IncScheduled:
		usage = UsageScheduled
		inc, err = b.scheduleMeeting(ctx, actor, ref, c.When)
		if err == nil {
			return workflows.Reply{Public: true, Message: workflows.Message{Text: fmt.Sprintf("Post-mortem meeting for %s recorded: %s.", inc.ID, b.localTime(inc, inc.MeetingAt))}}
		}
	case IncPMDone:
		inc, err = b.Incidents.PostmortemDone(ctx, actor, ref)
	case IncAction:
		return b.addAction(ctx, actor, ref, c)
	case IncStats, IncReview:
		return b.reviewCommand(ctx, actor, c)
	case IncActionDone:
		a, err := b.Incidents.ActionDone(ctx, actor, c.Action)
		if err != nil {
			return b.mentionPeople(ctx, b.failure(err, UsageActionDone))
		}
		return textReply(fmt.Sprintf("%s is done: %s. Its reminders end.", a.ID, workflows.UserText(a.Text)))
	case IncPMPublish:
		usage = UsagePublish
		inc, err = b.Incidents.PublishPostmortem(ctx, actor, ref)
		if err == nil {
			return textReply(fmt.Sprintf("%s: post-mortem published. Its link may now be shared like any incident's.", inc.ID))
		}
	}
	if err != nil {
		return b.mentionPeople(ctx, b.failure(err, usage))
	}
	return textReply(fmt.Sprintf("%s: done. The summary is updated.", inc.ID))
}

// userFinder finds a Slack user by email; the Slack client is one.
type userFinder interface {
	UserID(ctx context.Context, email string) (string, error)
}

// mentionPeople turns the emails a refusal names (people the config knows
// by email, PagerDuty's assignees) into Slack users, so the reply names
// them as mentions, not as emails. An email Slack does not know stays.
func (b *Bot) mentionPeople(ctx context.Context, r workflows.Reply) workflows.Reply {
	f, ok := b.Directory.(userFinder)
	if !ok || len(r.Mention) == 0 {
		return r
	}
	out := make([]string, 0, len(r.Mention))
	seen := map[string]bool{}
	for _, ref := range r.Mention {
		if strings.Contains(ref, "@") {
			if id, err := f.UserID(ctx, ref); err == nil && id != "" {
				ref = id
			}
		}
		if !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	r.Mention = out
	return r
}

// addAction records an action item; its due date is read as 09:00 where
// the owner works (workflows.ActionInput.DueDate).
func (b *Bot) addAction(ctx context.Context, actor workflows.Person, ref workflows.IncidentRef, c IncidentCommand) workflows.Reply {
	in := workflows.ActionInput{Text: c.Text}
	if c.Who != "" {
		owner, err := b.named(ctx, c.Who)
		if err != nil {
			return b.failure(err, UsageAction)
		}
		in.Owner = owner
	}
	in.DueDate = c.Due
	a, err := b.Incidents.AddAction(ctx, actor, ref, in)
	if err != nil {
		return b.failure(err, UsageAction)
	}
	text := fmt.Sprintf("%s recorded for %s: %s.", a.ID, a.IncidentID, workflows.UserText(a.Text))
	var mention []string
	if c.Who != "" {
		text += " Owner: see below."
		mention = []string{mentionRef(in.Owner)}
	}
	if !a.Due.IsZero() {
		text += " Due " + c.Due + "; the owner is reminded from then until it is done."
	}
	// A private incident's item is announced in its own channel only;
	// typed elsewhere, the answer is for the person who typed it.
	public := true
	_ = b.Store.View(ctx, func(tx workflows.Tx) error {
		inc, err := tx.Incident(a.IncidentID)
		if err == nil && inc.Private && inc.ChannelID != ref.Channel {
			public = false
		}
		return err
	})
	return workflows.Reply{Public: public, Message: workflows.Message{Mention: mention,
		Text: text + " It goes on the post-mortem as a to-do; `/incident action done " + a.ID + "` or checking it there ends it."}}
}

func mentionRef(p workflows.Person) string {
	if p.SlackID != "" {
		return p.SlackID
	}
	return p.Email
}

// teamLocation is the time zone of the incident's team, UTC when the
// incident or its team cannot be found (the command then fails on its own).
func (b *Bot) teamLocation(ctx context.Context, ref workflows.IncidentRef) *time.Location {
	var found *workflows.Incident
	if err := b.Store.View(ctx, func(tx workflows.Tx) error {
		var err error
		if ref.ID != "" {
			found, err = tx.Incident(ref.ID)
		} else {
			found, err = tx.IncidentByChannel(ref.Channel)
		}
		return err
	}); err == nil && found != nil {
		if team, ok := b.Servers.Catalog.Team(found.Team); ok && team.Location != nil {
			return team.Location
		}
	}
	return time.UTC
}

// scheduleMeeting reads DATE TIME in the incident team's time zone.
func (b *Bot) scheduleMeeting(ctx context.Context, actor workflows.Person, ref workflows.IncidentRef, when string) (*workflows.Incident, error) {
	at, err := time.ParseInLocation("2006-01-02 15:04", when, b.teamLocation(ctx, ref))
	if err != nil {
		return nil, workflows.Errorf(workflows.EInvalid, "%q is not a date and time like 2026-11-24 15:00.", when)
	}
	return b.Incidents.ScheduleMeeting(ctx, actor, ref, at)
}

func (b *Bot) localTime(inc *workflows.Incident, t time.Time) string {
	if team, ok := b.Servers.Catalog.Team(inc.Team); ok {
		return team.LocalTime(t)
	}
	return t.UTC().Format("Mon 2 Jan 15:04 MST")
}

// incidentClick handles the summary's and nags' buttons.
func (b *Bot) incidentClick(ctx context.Context, actor workflows.Person, actionID, value string) (workflows.Reply, bool) {
	if b.Incidents == nil {
		return workflows.Reply{}, false
	}
	var err error
	var inc *workflows.Incident
	switch actionID {
	case workflows.ActIncidentAck:
		inc, err = b.Incidents.Acknowledge(ctx, actor, workflows.IncidentRef{ID: value})
		if err == nil {
			return textReply("You acknowledged " + inc.ID + " in PagerDuty."), true
		}
	case workflows.ActIncidentResolve:
		inc, err = b.Incidents.SetStatus(ctx, actor, workflows.IncidentRef{ID: value}, workflows.StatusResolved)
		if err == nil {
			return textReply("You resolved " + inc.ID + ". The post-mortem draft is on its way."), true
		}
	case workflows.ActNagSnooze:
		parts := strings.Fields(value)
		if len(parts) != 3 {
			return textReply("That snooze button is broken."), true
		}
		d, perr := workflows.ParseDuration(parts[2])
		if perr != nil {
			return textReply("That snooze button is broken."), true
		}
		inc, err = b.Incidents.Snooze(ctx, actor, parts[0], workflows.NagKind(parts[1]), d)
		if err == nil {
			return textReply(fmt.Sprintf("Snoozed the %s reminder for %s for %s.", parts[1], inc.ID, workflows.FormatDuration(d))), true
		}
	default:
		return workflows.Reply{}, false
	}
	return b.mentionPeople(ctx, b.failure(err, UsageIncHelp)), true
}

// reactionAdded puts a message marked with the timeline reaction on the
// incident's timeline.
func (b *Bot) reactionAdded(ctx context.Context, raw json.RawMessage) error {
	if b.Incidents == nil || b.History == nil {
		return nil
	}
	var ev struct {
		User     string `json:"user"`
		Reaction string `json:"reaction"`
		Item     struct {
			Type    string `json:"type"`
			Channel string `json:"channel"`
			TS      string `json:"ts"`
		} `json:"item"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil || ev.Item.Type != "message" {
		return nil
	}
	if ev.Reaction != b.Incidents.TimelineReaction() {
		return nil
	}
	author, text, err := b.History.Message(ctx, ev.Item.Channel, ev.Item.TS)
	if err != nil {
		return fmt.Errorf("read the marked message: %w", err)
	}
	return b.Incidents.Pinned(ctx, ev.Item.Channel, ev.Item.TS, slackTime(ev.Item.TS), author, text)
}

// message counts channel messages as updates when the policy says so.
func (b *Bot) message(ctx context.Context, raw json.RawMessage) error {
	if b.Incidents == nil {
		return nil
	}
	var ev struct {
		Channel string `json:"channel"`
		TS      string `json:"ts"`
		Subtype string `json:"subtype"`
		BotID   string `json:"bot_id"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil || ev.Subtype != "" || ev.BotID != "" {
		return nil
	}
	return b.Incidents.Activity(ctx, ev.Channel, slackTime(ev.TS))
}

// slackTime reads a message ts ("1700000000.000100") as a time.
func slackTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	var s, us int64
	fmt.Sscan(sec, &s)
	if frac != "" {
		fmt.Sscan((frac + "000000")[:6], &us)
	}
	return time.Unix(s, us*1000).UTC()
}

func (b *Bot) openDeclareModal(ctx context.Context, triggerID string) error {
	sev := func(s string) *slack.OptionBlockObject { return slack.NewOptionBlockObject(s, plain(s), nil) }
	view := modal(ModalDeclare, "Declare an incident", "Declare",
		slack.NewInputBlock(fieldTitle, plain("What is happening?"), nil, slack.NewPlainTextInputBlockElement(plain("Checkout errors above 5%"), fieldTitle)),
		slack.NewInputBlock(fieldSeverity, plain("Severity"), plain("sev1: customers badly hurt now; sev3: minor"),
			&slack.SelectBlockElement{Type: slack.OptTypeStatic, ActionID: fieldSeverity, Placeholder: plain("Choose"),
				Options: []*slack.OptionBlockObject{sev("sev1"), sev("sev2"), sev("sev3")}, InitialOption: sev("sev3")}),
	)
	if _, err := b.Views.OpenViewContext(ctx, triggerID, view); err != nil {
		return fmt.Errorf("open declare form: %w", err)
	}
	return nil
}

// named is the person a command names: a Slack user (with the email
// Slack knows) or an email.
//
// An email is looked up in Slack: a person named by one no Slack user
// has (a typo, another company's address) could never be reached, so
// it is refused. When Slack cannot be asked, the email is taken as is.
func (b *Bot) named(ctx context.Context, ref string) (workflows.Person, error) {
	if !strings.Contains(ref, "@") {
		return b.person(ctx, ref), nil
	}
	p := workflows.Person{Email: ref}
	if r, ok := invisible(ref); ok {
		return p, workflows.Errorf(workflows.EInvalid, "%q holds an invisible character (U+%04X), likely copied with it: type the email again, or mention them (@name).", ref, r)
	}
	ids, ok := b.Directory.(userIDs)
	if !ok {
		return p, nil
	}
	id, err := ids.UserID(ctx, ref)
	switch {
	case slackout.SlackError(err) == "users_not_found" || slackout.SlackError(err) == "user_not_found": // today's name, and the one older docs give
		return p, workflows.Errorf(workflows.EInvalid, "There is no one in this Slack with the email %s: check it, or mention them (@name).", ref)
	case err != nil:
		b.Log.WarnContext(ctx, "look up Slack user by email", "email", ref, "err", err)
		return p, nil
	}
	p.SlackID = id
	return p, nil
}
