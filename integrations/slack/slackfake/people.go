package slackfake

import "fmt"

// PostAs posts a plain message as a person, the way they would type it in
// the Slack client. It returns the stored message; the caller sends the
// matching `message` event to the app if it wants one (see Event).
func (s *Server) PostAs(user, channel, text string) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[user]; !ok {
		return Message{}, fmt.Errorf("slackfake: no user %s", user)
	}
	c, err := s.visible(channel)
	if err != nil {
		return Message{}, fmt.Errorf("slackfake: post as %s in %s: %w", user, channel, err)
	}
	m := &Message{Channel: c.ID, User: user, Text: text, TS: s.newTS()}
	s.messages[c.ID] = append(s.messages[c.ID], m)
	return *m, nil
}
