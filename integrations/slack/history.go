package slack

import (
	"context"
	"fmt"

	slackapi "github.com/slack-go/slack"
)

// Message reads one channel message: who wrote it (a user ID) and its
// text. The timeline reaction uses it to copy a marked message.
func (c *Client) Message(ctx context.Context, channel, ts string) (author, text string, err error) {
	var resp *slackapi.GetConversationHistoryResponse
	err = c.call(ctx, "conversations.history", func(ctx context.Context) (err error) {
		resp, err = c.api.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{
			ChannelID: channel, Latest: ts, Oldest: ts, Inclusive: true, Limit: 1,
		})
		return err
	})
	if err != nil {
		return "", "", fmt.Errorf("read message %s in %s: %w", ts, channel, err)
	}
	if len(resp.Messages) == 0 {
		return "", "", fmt.Errorf("read message %s in %s: not found", ts, channel)
	}
	m := resp.Messages[0]
	author = m.User
	if author == "" {
		author = m.Username
	}
	return author, m.Text, nil
}
