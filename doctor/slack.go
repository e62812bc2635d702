package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opsbot/opsbot/config"
	slackout "github.com/opsbot/opsbot/integrations/slack"
)

// slack checks the bot token, its scopes against the manifest's, and
// every channel the config names: it exists and the bot is in it
// (opsbot posts with chat:write, which needs membership).
func (d *Doctor) slack(ctx context.Context) {
	const area = "slack"
	if d.Slack == nil {
		d.add(Check{Area: area, Name: "token", Status: StatusFail, Detail: "SLACK_BOT_TOKEN is not set",
			Fix: "install the Slack app (`opsbot manifest` prints its manifest) and set SLACK_BOT_TOKEN to its Bot User OAuth Token (xoxb-...)"})
		return
	}
	var id slackout.Identity
	err := d.within(ctx, func(ctx context.Context) (err error) {
		id, err = d.Slack.WhoAmI(ctx)
		return err
	})
	if err != nil {
		c := Check{Area: area, Name: "token", Status: StatusFail, Detail: "auth.test failed: " + err.Error(),
			Fix: "check that Slack is reachable from here (SLACK_API_URL, proxies)"}
		switch slackout.SlackError(err) {
		case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type":
			c.Detail = "Slack refused the token (" + slackout.SlackError(err) + ")"
			c.Fix = "set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-...) under OAuth & Permissions of the app, reinstalling the app if it was removed"
		}
		d.add(c)
		d.add(Check{Area: area, Name: "channels", Status: StatusSkip, Detail: "not checked without a working token"})
		return
	}
	d.add(Check{Area: area, Name: "token", Status: StatusOK,
		Detail: fmt.Sprintf("bot @%s (%s) in workspace %s (%s)", id.User, id.UserID, id.Team, id.TeamID)})

	switch missing := missingScopes(d.Scopes, id.Scopes); {
	case id.Scopes == nil:
		d.add(Check{Area: area, Name: "scopes", Status: StatusWarn, Detail: "Slack did not say which scopes the token has (no X-OAuth-Scopes header)",
			Fix: "compare the app's Bot Token Scopes under OAuth & Permissions with `opsbot manifest`"})
	case len(missing) > 0:
		d.add(Check{Area: area, Name: "scopes", Status: StatusFail,
			Detail: "the token lacks " + strings.Join(missing, ", "),
			Fix: "in the Slack app's OAuth & Permissions, add the bot token scope" + pluralS(len(missing)) + " " + strings.Join(missing, ", ") +
				" (or update the app from `opsbot manifest`), then reinstall the app to the workspace so the token gets them"})
	default:
		d.add(Check{Area: area, Name: "scopes", Status: StatusOK, Detail: fmt.Sprintf("all %d scopes of the manifest granted", len(d.Scopes))})
	}

	for _, ch := range configChannels(d.Config) {
		d.channel(ctx, ch, id.User)
	}
}

// channelUse is a channel the config names, and who names it.
type channelUse struct {
	ref  string
	uses []string
}

// configChannels lists the channels of the config in the order teams name
// them: approvals channels, and announce channels when incidents are on.
func configChannels(cfg *config.Config) []channelUse {
	var out []channelUse
	at := map[string]int{}
	add := func(ref, use string) {
		if ref == "" {
			return
		}
		if i, ok := at[ref]; ok {
			out[i].uses = append(out[i].uses, use)
			return
		}
		at[ref] = len(out)
		out = append(out, channelUse{ref: ref, uses: []string{use}})
	}
	for _, t := range cfg.Catalog.Teams {
		add(t.ApprovalsChannel, "approvals of team "+t.Name)
		if cfg.Catalog.Incidents != nil {
			add(t.AnnounceChannel, "incident announcements of team "+t.Name)
		}
	}
	return out
}

func (d *Doctor) channel(ctx context.Context, ch channelUse, bot string) {
	const area = "slack"
	name := "channel " + ch.ref
	use := " (" + strings.Join(ch.uses, "; ") + ")"
	var st slackout.ChannelState
	err := d.within(ctx, func(ctx context.Context) (err error) {
		st, err = d.Slack.Channel(ctx, ch.ref)
		return err
	})
	switch {
	case errors.Is(err, slackout.ErrChannelNotFound):
		d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: "no such channel, or a private one the bot is not in" + use,
			Fix: fmt.Sprintf("create %s, or if it is private, invite the bot: type `/invite @%s` in it; or fix the channel in the config", ch.ref, bot)})
	case err != nil:
		d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: "could not look it up: " + err.Error(),
			Fix: "check that the token has channels:read and groups:read"})
	case st.Archived:
		d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: "#" + st.Name + " is archived" + use,
			Fix: "unarchive #" + st.Name + " or name another channel in the config"})
	case !st.BotMember:
		d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: "#" + st.Name + " exists but the bot is not in it" + use,
			Fix: fmt.Sprintf("invite the bot: type `/invite @%s` in #%s", bot, st.Name)})
	default:
		found := "exists"
		if ch.ref != "#"+st.Name {
			found = "#" + st.Name
		}
		d.add(Check{Area: area, Name: name, Status: StatusOK, Detail: found + ", the bot is a member" + use})
	}
}

// missingScopes are the wanted scopes not granted, sorted.
func missingScopes(want, granted []string) []string {
	var out []string
	for _, s := range want {
		if !slices.Contains(granted, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
