package bot

import (
	"context"

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
	}
	return textReply("Unknown review command.")
}
