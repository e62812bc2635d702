package slack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/opsbot/opsbot/workflows"
)

var _ workflows.Channels = (*Client)(nil)

// maxInvite is how many users conversations.invite takes in one call.
const maxInvite = 1000

// CreateChannel makes a channel (private when private is set) with
// conversations.create. When
// the name is taken by a channel this bot created, that channel is
// returned: the earlier attempt got as far as creating it (a retried job).
// When anyone else holds the name, the error is workflows.ErrNameTaken.
func (c *Client) CreateChannel(ctx context.Context, name string, private bool) (workflows.MessageRef, error) {
	var ch *slackapi.Channel
	err := c.call(ctx, "conversations.create", func(ctx context.Context) (err error) {
		ch, err = c.api.CreateConversationContext(ctx, slackapi.CreateConversationParams{ChannelName: name, IsPrivate: private})
		return err
	})
	if err == nil {
		c.channels.put(ch.Name, ch.ID)
		return workflows.MessageRef{Channel: ch.ID}, nil
	}
	if SlackError(err) != "name_taken" {
		return workflows.MessageRef{}, fmt.Errorf("create channel #%s: %w", name, err)
	}
	ours, id, lerr := c.createdByBot(ctx, name)
	if lerr != nil {
		return workflows.MessageRef{}, fmt.Errorf("create channel #%s: name taken, and checking who holds it failed: %w", name, lerr)
	}
	if !ours {
		return workflows.MessageRef{}, workflows.Permanent(fmt.Errorf("create channel #%s: %w", name, workflows.ErrNameTaken))
	}
	c.log.InfoContext(ctx, "channel existed, created by this bot earlier", "channel", name, "id", id)
	return workflows.MessageRef{Channel: id}, nil
}

// createdByBot finds the live channel called name and says whether this
// bot created it. An archived or invisible holder of the name is not ours
// to reuse.
func (c *Client) createdByBot(ctx context.Context, name string) (bool, string, error) {
	id, err := c.ChannelID(ctx, name)
	if err != nil {
		if errors.Is(err, errNoChannel) {
			return false, "", nil
		}
		return false, "", err
	}
	var ch *slackapi.Channel
	err = c.call(ctx, "conversations.info", func(ctx context.Context) (err error) {
		ch, err = c.api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: id})
		return err
	})
	if err != nil {
		return false, "", fmt.Errorf("read channel %s: %w", id, err)
	}
	me, err := c.BotUserID(ctx)
	if err != nil {
		return false, "", err
	}
	return ch.Creator == me && !ch.IsArchived, id, nil
}

// BotUserID returns the bot's own user ID (auth.test), asked once.
func (c *Client) BotUserID(ctx context.Context) (string, error) {
	c.botMu.Lock()
	defer c.botMu.Unlock()
	if c.botUser != "" {
		return c.botUser, nil
	}
	var resp *slackapi.AuthTestResponse
	err := c.call(ctx, "auth.test", func(ctx context.Context) (err error) {
		resp, err = c.api.AuthTestContext(ctx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("ask Slack who the bot is: %w", err)
	}
	c.botUser = resp.UserID
	return c.botUser, nil
}

// Invite adds people to a channel: Slack user IDs as they are, emails
// through users.lookupByEmail. It returns the references no Slack user
// was found for, and those Slack refused to add (each logged with
// Slack's reason, e.g. a guest who may not join). People already in the
// channel, and the bot itself, are not errors. Users go in batches of up
// to 1000 with force=true, so one refused user does not keep the others
// out.
func (c *Client) Invite(ctx context.Context, channelID string, people []string) ([]string, error) {
	var missing, ids []string
	refOf := map[string]string{} // user ID -> the reference it came from
	me, err := c.BotUserID(ctx)
	if err != nil {
		return nil, fmt.Errorf("invite to %s: %w", channelID, err)
	}
	for _, ref := range people {
		ref = strings.TrimSpace(ref)
		if ref == "" {
			continue
		}
		id, err := c.resolveUser(ctx, ref)
		switch {
		case SlackError(err) == "users_not_found" || (err != nil && !IsUserID(ref) && !strings.Contains(ref, "@")):
			missing = append(missing, ref)
			continue
		case err != nil:
			return nil, fmt.Errorf("invite %s to %s: %w", ref, channelID, err)
		}
		if id == me || slices.Contains(ids, id) {
			continue
		}
		ids = append(ids, id)
		refOf[id] = ref
	}
	for batch := range slices.Chunk(ids, maxInvite) {
		refused, err := c.inviteBatch(ctx, channelID, batch)
		if err != nil {
			return nil, err
		}
		for _, id := range refused {
			missing = append(missing, refOf[id])
		}
	}
	return missing, nil
}

// inviteBatch invites up to maxInvite users and returns those Slack
// refused for a reason other than already being there.
func (c *Client) inviteBatch(ctx context.Context, channelID string, ids []string) ([]string, error) {
	err := c.call(ctx, "conversations.invite", func(ctx context.Context) error {
		_, err := c.api.ForceInviteUsersToConversationContext(ctx, channelID, ids...)
		return err
	})
	if err == nil {
		return nil, nil
	}
	var se slackapi.SlackErrorResponse
	if !errors.As(err, &se) {
		return nil, fmt.Errorf("invite %d people to %s: %w", len(ids), channelID, err)
	}
	if len(se.Errors) == 0 {
		// One user, or Slack answered without per-user detail.
		switch se.Err {
		case "already_in_channel", "cant_invite_self":
			return nil, nil
		case "user_not_found", "cant_invite", "user_is_restricted", "user_is_ultra_restricted", "user_team_not_in_channel":
			if len(ids) == 1 {
				c.log.WarnContext(ctx, "Slack refused to add a person to a channel", "channel", channelID, "user", ids[0], "reason", se.Err)
				return ids, nil
			}
		}
		return nil, fmt.Errorf("invite %d people to %s: %w", len(ids), channelID, err)
	}
	var refused []string
	for _, e := range se.Errors {
		ue := e.ConversationsInviteResponseError
		if ue == nil || ue.Ok {
			continue
		}
		switch ue.Error {
		case "already_in_channel", "cant_invite_self":
		default:
			c.log.WarnContext(ctx, "Slack refused to add a person to a channel", "channel", channelID, "user", ue.User, "reason", ue.Error)
			refused = append(refused, ue.User)
		}
	}
	return refused, nil
}
