package slack

import (
	"context"
	"fmt"

	slackapi "github.com/slack-go/slack"

	"github.com/opsbot/opsbot/workflows"
)

// MetadataType is the event_type of the metadata opsbot puts on every
// message it posts. The payload's "id" is the message's delivery ID
// (workflows.Message.DeliveryID), so a message can be found again after
// a crash that came between posting it and recording where it went.
const MetadataType = "opsbot_message"

// findWithin is how many of the latest messages in a conversation (or
// replies in a thread) FindPosted reads: a message is looked for by the
// job that posted it, minutes after, so the newest page is enough.
const findWithin = 200

func deliveryMetadata(id string) slackapi.SlackMetadata {
	return slackapi.SlackMetadata{EventType: MetadataType, EventPayload: map[string]any{"id": id}}
}

// FindPosted looks for the message the bot already posted for m (one
// whose metadata carries m's delivery ID) among the latest messages where
// m goes: under parent when parent is set, else in m's channel or DM.
// When it finds one it finishes what the crash may have cut short (the
// pin) and returns where it is.
func (c *Client) FindPosted(ctx context.Context, m workflows.Message, parent workflows.MessageRef) (workflows.MessageRef, bool, error) {
	id := m.DeliveryID()
	if id == "" {
		return workflows.MessageRef{}, false, nil
	}
	channel := parent.Channel
	if channel == "" {
		var err error
		if channel, err = c.target(ctx, m); err != nil {
			return workflows.MessageRef{}, false, fmt.Errorf("look for %s: %w", describe(m), err)
		}
	}
	me, err := c.BotUserID(ctx)
	if err != nil {
		return workflows.MessageRef{}, false, fmt.Errorf("look for %s: %w", describe(m), err)
	}
	msgs, err := c.latest(ctx, channel, parent.TS)
	if err != nil {
		return workflows.MessageRef{}, false, fmt.Errorf("look for %s in %s: %w", describe(m), channel, err)
	}
	for _, x := range msgs {
		// Only the bot's own messages count: another app could post
		// metadata of the same type into a shared channel.
		if x.User != me || x.Metadata.EventType != MetadataType || x.Metadata.EventPayload["id"] != id {
			continue
		}
		ref := workflows.MessageRef{Channel: channel, TS: x.Timestamp}
		if m.Pin && len(x.PinnedTo) == 0 {
			c.pin(ctx, ref, m)
		}
		return ref, true, nil
	}
	return workflows.MessageRef{}, false, nil
}

// latest reads the newest messages of a conversation, or of the thread
// under threadTS, with their metadata (which Slack returns only when
// asked with include_all_metadata).
func (c *Client) latest(ctx context.Context, channel, threadTS string) ([]slackapi.Message, error) {
	if threadTS == "" {
		var resp *slackapi.GetConversationHistoryResponse
		err := c.call(ctx, "conversations.history", func(ctx context.Context) (err error) {
			resp, err = c.api.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{
				ChannelID: channel, Limit: findWithin, IncludeAllMetadata: true,
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		return resp.Messages, nil
	}
	// A thread comes oldest first: read it to its end.
	var all []slackapi.Message
	cursor := ""
	for page := 0; page < 10; page++ {
		var msgs []slackapi.Message
		var more bool
		var next string
		err := c.call(ctx, "conversations.replies", func(ctx context.Context) (err error) {
			msgs, more, next, err = c.api.GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{
				ChannelID: channel, Timestamp: threadTS, Limit: findWithin, Cursor: cursor, IncludeAllMetadata: true,
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		all = append(all, msgs...)
		if !more || next == "" {
			break
		}
		cursor = next
	}
	return all, nil
}

// pin pins a posted message. A failed pin is logged, not returned: the
// message is out, and failing would make the outbox post it again.
func (c *Client) pin(ctx context.Context, ref workflows.MessageRef, m workflows.Message) {
	err := c.call(ctx, "pins.add", func(ctx context.Context) error {
		return c.api.AddPinContext(ctx, ref.Channel, slackapi.ItemRef{Timestamp: ref.TS})
	})
	if err != nil && SlackError(err) != "already_pinned" {
		c.log.ErrorContext(ctx, "pin posted message", "channel", ref.Channel, "ts", ref.TS, "key", m.Key, "err", err)
	}
}
