package bot

import (
	"context"
	"fmt"

	"github.com/opsbot/opsbot/workflows"
)

// choiceClick handles the Stop / Release / Keep buttons offered for one
// server (an idle flag, the off-hours warning, offboarding, the cost
// review).
func (b *Bot) choiceClick(ctx context.Context, actor workflows.Person, action, value string) workflows.Reply {
	c, err := workflows.ParseServerChoice(value)
	if err != nil {
		return b.failure(err, UsageRelease)
	}
	res, err := b.Servers.Choose(ctx, actor, action, c)
	if err != nil {
		return b.failure(err, UsageRelease)
	}
	return textReply(res.Text)
}

// startedReply answers Start again on a server stopped within its lease.
func startedReply(cat *workflows.Catalog, r *workflows.ServerRequest) workflows.Reply {
	until := r.LeaseEnd.UTC().Format("2006-01-02 15:04 UTC")
	if team, ok := cat.Team(r.Team); ok {
		until = team.LocalTime(r.LeaseEnd)
	}
	return textReply(fmt.Sprintf("%s is being started; its lease runs until %s. You will see it running in its message.", r.ID, until))
}
