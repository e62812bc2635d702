package slackfake

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// postTarget resolves chat.* "channel": an ID, a name, or a user ID (which
// means the bot's IM with that user, as in Slack). Caller holds mu.
func (s *Server) postTarget(ref string) (*Channel, error) {
	if ref == "" {
		return nil, fail("channel_not_found")
	}
	if u, ok := s.users[ref]; ok && !u.IsBot {
		return s.imWith(u.ID), nil
	}
	c := s.lookupChannel(ref)
	switch {
	case c == nil:
		return nil, fail("channel_not_found")
	case c.Archived:
		return nil, fail("is_archived")
	case !c.isMember(s.opts.BotUserID):
		if c.IsPrivate {
			return nil, fail("channel_not_found")
		}
		return nil, fail("not_in_channel")
	}
	return c, nil
}

// content reads text and blocks, checking them as Slack does.
func content(p params) (string, json.RawMessage, error) {
	text := p.Get("text")
	var blocks json.RawMessage
	if raw := p.Get("blocks"); raw != "" {
		b, msgs := checkBlocks(raw, maxMessageBlocks)
		if msgs != nil {
			return "", nil, fail("invalid_blocks", msgs...)
		}
		if string(b) != "[]" && string(b) != "null" {
			blocks = b
		}
	}
	if text == "" && blocks == nil && p.Get("attachments") == "" {
		return "", nil, fail("no_text")
	}
	if utf8.RuneCountInString(text) > maxMessageText {
		return "", nil, fail("msg_too_long")
	}
	return text, blocks, nil
}

// maxMetadata bounds a message's metadata. Slack documents no exact
// figure; this keeps the fake from storing whatever it is sent.
const maxMetadata = 8000

// metadata reads chat.postMessage's and chat.update's "metadata": a JSON
// object with a string event_type and an object event_payload, as Slack
// requires (invalid_metadata_format when it is not JSON,
// invalid_metadata_schema when the shape is wrong). It is kept as sent.
func metadata(p params) (json.RawMessage, error) {
	raw := p.Get("metadata")
	if raw == "" {
		return nil, nil
	}
	if len(raw) > maxMetadata {
		return nil, fail("metadata_too_large")
	}
	var m struct {
		EventType    *string         `json:"event_type"`
		EventPayload json.RawMessage `json:"event_payload"`
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fail("invalid_metadata_format")
	}
	var payload map[string]any
	if m.EventType == nil || *m.EventType == "" || json.Unmarshal(m.EventPayload, &payload) != nil || payload == nil {
		return nil, fail("invalid_metadata_schema")
	}
	return json.RawMessage(raw), nil
}

// chat.postMessage: post to a channel or IM, optionally in a thread.
// A thread_ts that names no message is refused with thread_not_found
// (stricter than Slack, which may post it top-level) so bugs show.
func (s *Server) chatPostMessage(p params) (result, error) {
	c, err := s.postTarget(p.Get("channel"))
	if err != nil {
		return nil, err
	}
	text, blocks, err := content(p)
	if err != nil {
		return nil, err
	}
	meta, err := metadata(p)
	if err != nil {
		return nil, err
	}
	m := &Message{Channel: c.ID, User: s.opts.BotUserID, BotID: s.opts.BotID, Text: text, Blocks: blocks, Metadata: meta}
	if tts := p.Get("thread_ts"); tts != "" {
		parent := s.threadRoot(c.ID, tts)
		if parent == nil {
			return nil, fail("thread_not_found")
		}
		parent.ThreadTS = parent.TS
		parent.Replies++
		m.ThreadTS = parent.TS
	}
	m.TS = s.newTS()
	s.messages[c.ID] = append(s.messages[c.ID], m)
	return result{"channel": c.ID, "ts": m.TS, "message": s.messageJSON(m)}, nil
}

// chat.update: edit one of the bot's messages. Blocks left out are kept;
// an empty array removes them.
func (s *Server) chatUpdate(p params) (result, error) {
	c, m, err := s.ownMessage(p.Get("channel"), p.Get("ts"), "cant_update_message")
	if err != nil {
		return nil, err
	}
	text := p.Get("text")
	blocks := m.Blocks
	if raw, ok := p.Values["blocks"]; ok {
		b, msgs := checkBlocks(raw[0], maxMessageBlocks)
		if msgs != nil {
			return nil, fail("invalid_blocks", msgs...)
		}
		blocks = b
		if string(b) == "[]" || string(b) == "null" {
			blocks = nil
		}
	}
	if text == "" && blocks == nil {
		return nil, fail("no_text")
	}
	if utf8.RuneCountInString(text) > maxMessageText {
		return nil, fail("msg_too_long")
	}
	if _, ok := p.Values["metadata"]; ok {
		meta, err := metadata(p)
		if err != nil {
			return nil, err
		}
		m.Metadata = meta
	}
	m.Text, m.Blocks = text, blocks
	m.Edited = &Edit{User: s.opts.BotUserID, TS: s.newTS()}
	return result{"channel": c.ID, "ts": m.TS, "text": m.Text, "message": s.messageJSON(m)}, nil
}

// chat.delete: remove one of the bot's messages (and its pin).
func (s *Server) chatDelete(p params) (result, error) {
	c, m, err := s.ownMessage(p.Get("channel"), p.Get("ts"), "cant_delete_message")
	if err != nil {
		return nil, err
	}
	s.deleteMessage(c, m)
	return result{"channel": c.ID, "ts": m.TS}, nil
}

// deleteMessage removes m and its pin. Caller holds mu.
func (s *Server) deleteMessage(c *Channel, m *Message) {
	s.messages[c.ID] = slices.DeleteFunc(s.messages[c.ID], func(x *Message) bool { return x == m })
	s.pins[c.ID] = slices.DeleteFunc(s.pins[c.ID], func(x Pin) bool { return x.TS == m.TS })
	if m.IsReply() {
		if parent := s.findMessage(c.ID, m.ThreadTS); parent != nil && parent.Replies > 0 {
			parent.Replies--
		}
	}
}

// DeleteAs deletes a message in Slack's client as user would: a
// workspace admin may delete anyone's, the bot's too. Afterwards
// chat.update and pins of it answer message_not_found, as Slack does.
func (s *Server) DeleteAs(user, channel, ts string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[user]; !ok {
		return fmt.Errorf("delete: no user %q", user)
	}
	c := s.lookupChannel(channel)
	if c == nil {
		return fmt.Errorf("delete: no channel %q", channel)
	}
	m := s.findMessage(c.ID, ts)
	if m == nil {
		return fmt.Errorf("delete: no message %s in %s", ts, channel)
	}
	s.deleteMessage(c, m)
	return nil
}

// ownMessage finds a message the bot may edit. Caller holds mu.
func (s *Server) ownMessage(channel, ts, notOwn string) (*Channel, *Message, error) {
	c := s.lookupChannel(channel)
	if c == nil {
		return nil, nil, fail("channel_not_found")
	}
	m := s.findMessage(c.ID, ts)
	if m == nil {
		return nil, nil, fail("message_not_found")
	}
	if m.User != s.opts.BotUserID {
		return nil, nil, fail(notOwn)
	}
	return c, m, nil
}

// chat.postEphemeral: show a message to one member of a conversation.
func (s *Server) chatPostEphemeral(p params) (result, error) {
	c, err := s.postTarget(p.Get("channel"))
	if err != nil {
		return nil, err
	}
	user := p.Get("user")
	if _, ok := s.users[user]; !ok {
		return nil, fail("user_not_found")
	}
	if !c.isMember(user) {
		return nil, fail("user_not_in_channel")
	}
	text, blocks, err := content(p)
	if err != nil {
		return nil, err
	}
	ts := s.newTS()
	s.ephemerals[user] = append(s.ephemerals[user], Ephemeral{
		Channel: c.ID, User: user, TS: ts, ThreadTS: p.Get("thread_ts"),
		Text: text, Blocks: blocks, Source: "chat.postEphemeral",
	})
	return result{"message_ts": ts}, nil
}

// chat.getPermalink: a link to a message.
func (s *Server) chatGetPermalink(p params) (result, error) {
	c := s.lookupChannel(p.Get("channel"))
	if c == nil {
		return nil, fail("channel_not_found")
	}
	m := s.findMessage(c.ID, p.Get("message_ts"))
	if m == nil {
		return nil, fail("message_not_found")
	}
	return result{"channel": c.ID, "permalink": s.permalink(m)}, nil
}

// splitList reads a comma-separated argument.
func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
