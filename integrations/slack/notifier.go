package slack

import (
	"context"
	"fmt"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/opsbot/opsbot/workflows"
)

// Post sends m to its channel, or as a DM to its user, under parent when
// parent is set (a thread reply lives in the parent's channel). It pins
// the new message when m.Pin. The message carries m's delivery ID in its
// metadata, for FindPosted.
func (c *Client) Post(ctx context.Context, m workflows.Message, parent workflows.MessageRef) (workflows.MessageRef, error) {
	channel := parent.Channel
	if channel == "" {
		var err error
		if channel, err = c.target(ctx, m); err != nil {
			return workflows.MessageRef{}, fmt.Errorf("post %s: %w", describe(m), err)
		}
	}
	out := c.r.Message(c.resolveMentions(ctx, m))
	opts := []slackapi.MsgOption{
		slackapi.MsgOptionText(out.Text, false),
		slackapi.MsgOptionBlocks(out.Blocks...),
	}
	if parent.TS != "" {
		opts = append(opts, slackapi.MsgOptionTS(parent.TS))
	}
	if id := m.DeliveryID(); id != "" {
		opts = append(opts, slackapi.MsgOptionMetadata(deliveryMetadata(id)))
	}
	var ch, ts string
	err := c.callOn(ctx, "chat.postMessage", channel, func(ctx context.Context) (err error) {
		ch, ts, err = c.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if err != nil {
		if SlackError(err) == "channel_not_found" {
			c.forgetTarget(m)
		}
		return workflows.MessageRef{}, fmt.Errorf("post %s to %s: %w", describe(m), channel, err)
	}
	ref := workflows.MessageRef{Channel: ch, TS: ts}
	if m.Pin {
		c.pin(ctx, ref, m)
	}
	return ref, nil
}

// Update edits the message at ref to read m.
func (c *Client) Update(ctx context.Context, ref workflows.MessageRef, m workflows.Message) error {
	out := c.r.Message(c.resolveMentions(ctx, m))
	err := c.call(ctx, "chat.update", func(ctx context.Context) error {
		_, _, _, err := c.api.UpdateMessageContext(ctx, ref.Channel, ref.TS,
			slackapi.MsgOptionText(out.Text, false),
			slackapi.MsgOptionBlocks(out.Blocks...))
		return err
	})
	if SlackError(err) == "message_not_found" {
		return fmt.Errorf("update %s at %s/%s: %w (%w)", describe(m), ref.Channel, ref.TS, workflows.ErrMessageGone, err)
	}
	if err != nil {
		return fmt.Errorf("update %s at %s/%s: %w", describe(m), ref.Channel, ref.TS, err)
	}
	return nil
}

// target finds the conversation for a new message: the DM with m.User,
// or m.Channel.
func (c *Client) target(ctx context.Context, m workflows.Message) (string, error) {
	switch {
	case m.User != "":
		uid, err := c.resolveUser(ctx, m.User)
		if err != nil {
			return "", err
		}
		return c.dmChannel(ctx, uid)
	case m.Channel != "":
		return c.ChannelID(ctx, m.Channel)
	}
	return "", workflows.Permanent(fmt.Errorf("message has neither a channel nor a user"))
}

// forgetTarget drops cached lookups that led to a missing channel, so the
// next attempt looks again.
func (c *Client) forgetTarget(m workflows.Message) {
	if m.Channel != "" {
		c.channels.forget(strings.TrimPrefix(m.Channel, "#"))
	}
	uid := m.User
	if !IsUserID(uid) {
		uid, _ = c.userIDs.get(strings.ToLower(strings.TrimSpace(m.User)))
	}
	if uid != "" {
		c.dms.forget(uid)
	}
}

// resolveMentions turns emails in m.Mention into user IDs. One that
// cannot be resolved stays as (escaped) text and is logged: a message
// without a ping beats no message.
func (c *Client) resolveMentions(ctx context.Context, m workflows.Message) workflows.Message {
	resolve := func(ref string) string {
		if ref == "" || IsUserID(ref) || channelIDPattern.MatchString(ref) {
			return ref
		}
		id, err := c.resolveUser(ctx, ref)
		if err != nil {
			c.log.WarnContext(ctx, "cannot mention person", "ref", ref, "err", err)
			return ref
		}
		return id
	}
	if len(m.Mention) > 0 {
		out := make([]string, len(m.Mention))
		for i, ref := range m.Mention {
			out[i] = resolve(ref)
		}
		m.Mention = out
	}
	text := func(s string) string {
		if !strings.ContainsRune(s, '\uE002') {
			return s
		}
		var b strings.Builder
		for _, sp := range workflows.Spans(s) {
			switch {
			case sp.Mention:
				b.WriteString(workflows.Mention(resolve(sp.Text)))
			case sp.User:
				b.WriteString(workflows.UserText(sp.Text))
			default:
				b.WriteString(sp.Text)
			}
		}
		return b.String()
	}
	m.Title, m.Text, m.Note = text(m.Title), text(m.Text), text(m.Note)
	if len(m.Fields) > 0 {
		fields := append([]workflows.Field(nil), m.Fields...)
		for i := range fields {
			fields[i].Person = resolve(fields[i].Person)
			fields[i].Value = text(fields[i].Value)
			if len(fields[i].People) > 0 {
				ps := make([]string, len(fields[i].People))
				for j, p := range fields[i].People {
					ps[j] = resolve(p)
				}
				fields[i].People = ps
			}
		}
		m.Fields = fields
	}
	return m
}

// describe names a message for errors and logs.
func describe(m workflows.Message) string {
	if m.Key != "" {
		return "message " + m.Key
	}
	return fmt.Sprintf("message %q", m.Title)
}
