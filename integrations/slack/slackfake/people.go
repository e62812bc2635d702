package slackfake

import (
	"fmt"
	"net/http"
)

// PostAs posts a plain message as a person, the way they would type it in
// the Slack client. It returns the stored message; the caller sends the
// matching `message` event to the app if it wants one (see MessageEvent).
func (s *Server) PostAs(user, channel, text string) (Message, error) {
	return s.postAs(user, channel, "", text)
}

// PostReplyAs posts a person's reply in the thread under threadTS (a
// reply's ts means its thread, as in Slack). The parent's reply count
// grows; the caller sends the `message` event if it wants one.
func (s *Server) PostReplyAs(user, channel, threadTS, text string) (Message, error) {
	if threadTS == "" {
		return Message{}, fmt.Errorf("slackfake: reply as %s in %s: no thread ts", user, channel)
	}
	return s.postAs(user, channel, threadTS, text)
}

func (s *Server) postAs(user, channel, threadTS, text string) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[user]; !ok {
		return Message{}, fmt.Errorf("slackfake: no user %s", user)
	}
	c, err := s.visible(channel)
	if err != nil {
		return Message{}, fmt.Errorf("slackfake: post as %s in %s: %w", user, channel, err)
	}
	m := &Message{Channel: c.ID, User: user, Text: text}
	if threadTS != "" {
		root := s.threadRoot(c.ID, threadTS)
		if root == nil {
			return Message{}, fmt.Errorf("slackfake: reply as %s in %s: no message %s", user, c.ID, threadTS)
		}
		root.ThreadTS = root.TS
		root.Replies++
		m.ThreadTS = root.TS
	}
	m.TS = s.newTS()
	s.messages[c.ID] = append(s.messages[c.ID], m)
	return *m, nil
}

// threadRoot finds the message a reply to ts hangs under: the message
// itself, or its parent when it is a reply. Caller holds mu.
func (s *Server) threadRoot(channelID, ts string) *Message {
	m := s.findMessage(channelID, ts)
	if m != nil && m.IsReply() {
		m = s.findMessage(channelID, m.ThreadTS)
	}
	return m
}

// MessageEvent builds the signed `message` event Slack sends the app for
// a person's message (from PostAs or PostReplyAs): channel_type says
// channel, group or im; a reply carries thread_ts and parent_user_id.
func (s *Server) MessageEvent(secret string, m Message) (*http.Request, error) {
	ev, err := s.messageEvent("message", m)
	if err != nil {
		return nil, err
	}
	return s.Event(secret, ev)
}

// MentionEvent builds the signed `app_mention` event for a stored
// message that names the bot; a reply carries thread_ts.
func (s *Server) MentionEvent(secret string, m Message) (*http.Request, error) {
	ev, err := s.messageEvent("app_mention", m)
	if err != nil {
		return nil, err
	}
	return s.Event(secret, ev)
}

// messageEvent is the inner event for a stored message.
func (s *Server) messageEvent(kind string, m Message) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[m.Channel]
	if c == nil || s.findMessage(c.ID, m.TS) == nil {
		return nil, fmt.Errorf("slackfake: %s event: no message %s in %q", kind, m.TS, m.Channel)
	}
	ev := map[string]any{"type": kind, "channel": c.ID, "user": m.User, "text": m.Text, "ts": m.TS,
		"event_ts": m.TS, "team": s.opts.TeamID}
	if kind == "message" {
		ev["channel_type"] = channelType(c)
	}
	if m.IsReply() {
		ev["thread_ts"] = m.ThreadTS
		if parent := s.findMessage(c.ID, m.ThreadTS); parent != nil {
			ev["parent_user_id"] = parent.User
		}
	}
	return ev, nil
}

// channelType is the Events API's channel_type of a conversation.
func channelType(c *Channel) string {
	switch {
	case c.IsIM:
		return "im"
	case c.IsPrivate:
		return "group"
	}
	return "channel"
}

// Join makes user a member of a public channel by their own doing, as
// clicking "Join channel" in Slack does.
func (s *Server) Join(user, channel string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[user]; !ok {
		return fmt.Errorf("slackfake: no user %s", user)
	}
	c := s.lookupChannel(channel)
	if c == nil || c.IsPrivate || c.IsIM {
		return fmt.Errorf("slackfake: %s cannot join %s: no such public channel", user, channel)
	}
	if !c.isMember(user) {
		c.Members = append(c.Members, user)
	}
	return nil
}
