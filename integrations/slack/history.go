package slack

import (
	"context"
	"fmt"

	slackapi "github.com/slack-go/slack"
)

// Message reads one channel message: who wrote it (their name, or their
// user ID when Slack has none) and its text as it was typed (Unformat:
// Slack keeps it escaped, with links and mentions as references). The timeline reaction uses it
// to copy a marked message. A message in a thread is not in the channel's
// history, so it is looked for in the thread too (conversations.replies
// accepts the ts of any message in a thread).
func (c *Client) Message(ctx context.Context, channel, ts string) (author, text string, err error) {
	m, err := c.historyMessage(ctx, channel, ts)
	if err != nil {
		return "", "", err
	}
	if m == nil {
		if m, err = c.threadMessage(ctx, channel, ts); err != nil {
			return "", "", err
		}
	}
	if m == nil {
		return "", "", fmt.Errorf("read message %s in %s: not found", ts, channel)
	}
	return c.authorName(ctx, m), Unformat(m.Text), nil
}

func (c *Client) historyMessage(ctx context.Context, channel, ts string) (*slackapi.Message, error) {
	var resp *slackapi.GetConversationHistoryResponse
	err := c.call(ctx, "conversations.history", func(ctx context.Context) (err error) {
		resp, err = c.api.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{
			ChannelID: channel, Latest: ts, Oldest: ts, Inclusive: true, Limit: 1,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read message %s in %s: %w", ts, channel, err)
	}
	for i := range resp.Messages {
		if resp.Messages[i].Timestamp == ts {
			return &resp.Messages[i], nil
		}
	}
	return nil, nil
}

func (c *Client) threadMessage(ctx context.Context, channel, ts string) (*slackapi.Message, error) {
	var msgs []slackapi.Message
	err := c.call(ctx, "conversations.replies", func(ctx context.Context) (err error) {
		msgs, _, _, err = c.api.GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{ChannelID: channel, Timestamp: ts})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read thread message %s in %s: %w", ts, channel, err)
	}
	for i := range msgs {
		if msgs[i].Timestamp == ts {
			return &msgs[i], nil
		}
	}
	return nil, nil
}

// authorName names a message's author the way people know them.
func (c *Client) authorName(ctx context.Context, m *slackapi.Message) string {
	if m.User == "" {
		return m.Username
	}
	var u *slackapi.User
	err := c.call(ctx, "users.info", func(ctx context.Context) (err error) {
		u, err = c.api.GetUserInfoContext(ctx, m.User)
		return err
	})
	if err != nil || u == nil {
		return m.User
	}
	if u.RealName != "" {
		return u.RealName
	}
	return u.Name
}
