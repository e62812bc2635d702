package bot

import (
	"context"
	"fmt"

	"github.com/opsbot/opsbot/workflows"
)

// reviewCommand answers /incident stats and /incident review.
func (b *Bot) reviewCommand(ctx context.Context, actor workflows.Person, c IncidentCommand) workflows.Reply {
	switch c.Kind {
	case IncStats:
		_, m, err := b.Incidents.Stats(ctx, actor, c.Team, c.Days)
		if err != nil {
			return b.failure(err, UsageStats)
		}
		return workflows.Reply{Message: m}
	case IncReview:
		m, err := b.Incidents.RequestReview(ctx, actor, c.Team)
		if err != nil {
			return b.failure(err, UsageReview)
		}
		return workflows.Reply{Message: m}
	}
	return textReply("Unknown review command.")
}

// reviewClick handles the alert review's buttons: a decision about an
// alert, and Done on a decision's work.
func (b *Bot) reviewClick(ctx context.Context, actor workflows.Person, actionID, value string) (workflows.Reply, bool) {
	if b.Incidents == nil || (actionID != workflows.ActReviewDecide && actionID != workflows.ActReviewDone) {
		return workflows.Reply{}, false
	}
	id, n, d, ok := workflows.ParseReviewValue(value)
	if !ok {
		return textReply("That review button is broken."), true
	}
	if actionID == workflows.ActReviewDone {
		it, err := b.Incidents.FollowUpDone(ctx, actor, id, n)
		if err != nil {
			return b.failure(err, UsageReview), true
		}
		return textReply(fmt.Sprintf("Marked done: %s (%s). Its reminders end.", workflows.UserText(it.Label), it.ID())), true
	}
	it, err := b.Incidents.Decide(ctx, actor, id, n, d)
	if err != nil {
		return b.failure(err, UsageReview), true
	}
	text := fmt.Sprintf("Recorded for %s: %s.", workflows.UserText(it.Label), it.Decision.Title())
	if it.Decision.HasWork() {
		text += " You own the follow-up; you will be reminded from its due date until you press Done."
	}
	return textReply(text), true
}
