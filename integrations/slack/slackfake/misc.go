package slackfake

import (
	"strconv"
	"strings"
)

// auth.test: who the token belongs to.
func (s *Server) authTest(params) (result, error) {
	return result{
		"url":                   "https://" + s.opts.TeamDomain + ".slack.com/",
		"team":                  s.opts.TeamName,
		"user":                  s.opts.BotName,
		"team_id":               s.opts.TeamID,
		"user_id":               s.opts.BotUserID,
		"bot_id":                s.opts.BotID,
		"is_enterprise_install": false,
	}, nil
}

// pins.add: pin a message in a channel the bot is in.
func (s *Server) pinsAdd(p params) (result, error) {
	c, err := s.readable(p.Get("channel"))
	if err != nil {
		return nil, err
	}
	ts := p.Get("timestamp")
	if ts == "" {
		return nil, fail("no_item_specified")
	}
	m := s.findMessage(c.ID, ts)
	if m == nil {
		return nil, fail("message_not_found")
	}
	if m.Pinned {
		return nil, fail("already_pinned")
	}
	m.Pinned = true
	s.pins[c.ID] = append(s.pins[c.ID], Pin{Channel: c.ID, TS: ts, By: s.opts.BotUserID, At: s.now()})
	return result{}, nil
}

// pins.list: a channel's pinned messages.
func (s *Server) pinsList(p params) (result, error) {
	c, err := s.readable(p.Get("channel"))
	if err != nil {
		return nil, err
	}
	items := []map[string]any{}
	for _, pin := range s.pins[c.ID] {
		m := s.findMessage(c.ID, pin.TS)
		if m == nil {
			continue
		}
		items = append(items, map[string]any{
			"type": "message", "channel": c.ID, "created": pin.At.Unix(),
			"created_by": pin.By, "message": s.messageJSON(m),
		})
	}
	return result{"items": items}, nil
}

// reactions.add: the bot reacts to a message.
func (s *Server) reactionsAdd(p params) (result, error) {
	name := strings.Trim(p.Get("name"), ":")
	if name == "" {
		return nil, fail("invalid_name")
	}
	c, err := s.readable(p.Get("channel"))
	if err != nil {
		return nil, err
	}
	m := s.findMessage(c.ID, p.Get("timestamp"))
	if m == nil {
		return nil, fail("message_not_found")
	}
	if err := react(m, s.opts.BotUserID, name); err != nil {
		return nil, err
	}
	return result{}, nil
}

// users.info: one user.
func (s *Server) usersInfo(p params) (result, error) {
	u, ok := s.users[p.Get("user")]
	if !ok {
		return nil, fail("user_not_found")
	}
	return result{"user": s.userJSON(u)}, nil
}

// users.lookupByEmail: a user by email, case-insensitively.
func (s *Server) usersLookupByEmail(p params) (result, error) {
	email := p.Get("email")
	for _, id := range s.userOrder {
		if u := s.users[id]; u.Email != "" && strings.EqualFold(u.Email, email) && !u.Deleted {
			return result{"user": s.userJSON(u)}, nil
		}
	}
	return nil, fail("users_not_found")
}

// users.list: every user, paginated.
func (s *Server) usersList(p params) (result, error) {
	start, limit := 0, 200
	if cur := p.Get("cursor"); cur != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(cur, "o:"))
		if err != nil || n < 0 || n > len(s.userOrder) {
			return nil, fail("invalid_cursor")
		}
		start = n
	}
	if l, err := strconv.Atoi(p.Get("limit")); err == nil && l > 0 {
		limit = min(l, 1000)
	}
	end := min(start+limit, len(s.userOrder))
	members := make([]map[string]any, 0, end-start)
	for _, id := range s.userOrder[start:end] {
		members = append(members, s.userJSON(s.users[id]))
	}
	next := ""
	if end < len(s.userOrder) {
		next = "o:" + strconv.Itoa(end)
	}
	return result{"members": members, "response_metadata": map[string]any{"next_cursor": next}}, nil
}
