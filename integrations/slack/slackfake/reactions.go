package slackfake

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// AddReaction is a person adding an emoji reaction to a message in the
// Slack client. name is the emoji without colons ("pushpin"). It fails
// for an unknown user, channel or message, and when the person already
// reacted so. The caller sends the `reaction_added` event if it wants
// one (see ReactionAdded).
func (s *Server) AddReaction(user, channel, ts, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _, err := s.addReaction(user, channel, ts, name)
	return err
}

// ReactionAdded adds a person's reaction (as AddReaction) and builds the
// signed `reaction_added` event Slack then sends the app.
func (s *Server) ReactionAdded(secret, user, channel, ts, name string) (*http.Request, error) {
	s.mu.Lock()
	c, m, err := s.addReaction(user, channel, ts, name)
	var ev map[string]any
	if err == nil {
		ev = map[string]any{
			"type": "reaction_added", "user": user, "reaction": strings.Trim(name, ":"), "item_user": m.User,
			"item": map[string]any{"type": "message", "channel": c.ID, "ts": m.TS},
		}
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Event(secret, ev)
}

// addReaction records user's reaction. Caller holds mu.
func (s *Server) addReaction(user, channel, ts, name string) (*Channel, *Message, error) {
	name = strings.Trim(name, ":")
	if _, ok := s.users[user]; !ok {
		return nil, nil, fmt.Errorf("slackfake: react: no user %q", user)
	}
	if name == "" || strings.ContainsAny(name, " \t\n") {
		return nil, nil, fmt.Errorf("slackfake: react: invalid reaction name %q", name)
	}
	c := s.lookupChannel(channel)
	if c == nil || (c.IsPrivate || c.IsIM) && !c.isMember(user) {
		return nil, nil, fmt.Errorf("slackfake: react: user %s sees no channel %q", user, channel)
	}
	m := s.findMessage(c.ID, ts)
	if m == nil {
		return nil, nil, fmt.Errorf("slackfake: react: no message %s in %s", ts, c.ID)
	}
	if err := react(m, user, name); err != nil {
		return nil, nil, fmt.Errorf("slackfake: react %s on %s in %s: %w", name, ts, c.ID, err)
	}
	return c, m, nil
}

// react adds user to the message's reaction name; an error carries
// Slack's code "already_reacted".
func react(m *Message, user, name string) error {
	for i, r := range m.Reactions {
		if r.Name == name {
			if slices.Contains(r.Users, user) {
				return fail("already_reacted")
			}
			m.Reactions[i].Users = append(slices.Clone(r.Users), user)
			return nil
		}
	}
	m.Reactions = append(m.Reactions, Reaction{Name: name, Users: []string{user}})
	return nil
}
