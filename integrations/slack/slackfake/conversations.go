package slackfake

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxChannelName is Slack's limit on channel names.
const maxChannelName = 80

// checkChannelName applies Slack's naming rules for conversations.create:
// lowercase letters, digits, hyphens and underscores, at most 80
// characters, not only punctuation.
func checkChannelName(name string) error {
	switch {
	case name == "":
		return fail("invalid_name_required")
	case utf8.RuneCountInString(name) > maxChannelName:
		return fail("invalid_name_maxlength")
	}
	letters := false
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			letters = true
		case r == '-' || r == '_':
		default:
			return fail("invalid_name_specials")
		}
	}
	if !letters {
		return fail("invalid_name_punctuation")
	}
	return nil
}

// visible finds a conversation the bot can see: public channels, and
// private ones and IMs it is in. Caller holds mu.
func (s *Server) visible(ref string) (*Channel, error) {
	c := s.lookupChannel(ref)
	if c == nil || ((c.IsPrivate || c.IsIM) && !c.isMember(s.opts.BotUserID)) {
		return nil, fail("channel_not_found")
	}
	return c, nil
}

// conversations.open: the bot's IM with one user (multi-person IMs are
// not modelled).
func (s *Server) convOpen(p params) (result, error) {
	if id := p.Get("channel"); id != "" {
		c, err := s.visible(id)
		if err != nil {
			return nil, err
		}
		return result{"channel": s.channelJSON(c), "already_open": true, "no_op": true}, nil
	}
	users := splitList(p.Get("users"))
	switch {
	case len(users) == 0:
		return nil, fail("users_list_not_supplied")
	case len(users) > 1:
		return nil, fail("method_not_supported_for_channel_type", "multi-person IMs are not modelled by slackfake")
	}
	u, ok := s.users[users[0]]
	if !ok {
		return nil, fail("user_not_found")
	}
	if u.Deleted {
		return nil, fail("user_disabled")
	}
	existed := false
	for _, id := range s.chanOrder {
		if c := s.channels[id]; c.IsIM && c.User == u.ID {
			existed = true
		}
	}
	c := s.imWith(u.ID)
	res := result{"channel": map[string]any{"id": c.ID}}
	if p.flag("return_im") || existed {
		res["channel"] = s.channelJSON(c)
	}
	if existed {
		res["already_open"], res["no_op"] = true, true
	}
	return res, nil
}

// conversations.create: a new channel, the bot its creator and member.
func (s *Server) convCreate(p params) (result, error) {
	name := p.Get("name")
	if err := checkChannelName(name); err != nil {
		return nil, err
	}
	for _, id := range s.chanOrder {
		if c := s.channels[id]; !c.IsIM && c.Name == name {
			return nil, fail("name_taken")
		}
	}
	c := s.putChannel(Channel{
		ID: s.newID("C"), Name: name, IsPrivate: p.flag("is_private"),
		Creator: s.opts.BotUserID, Created: s.now(), Members: []string{s.opts.BotUserID},
	})
	return result{"channel": s.channelJSON(c)}, nil
}

// maxInvite is how many users conversations.invite takes at once.
const maxInvite = 1000

// conversations.invite: add users to a channel the bot is in. As in
// Slack, one bad user fails the whole call unless force is set; with
// force the valid users are added and the failures are still reported,
// one {"user","ok":false,"error"} entry each in "errors".
func (s *Server) convInvite(p params) (result, error) {
	c, err := s.visible(p.Get("channel"))
	if err != nil {
		return nil, err
	}
	if c.IsIM {
		return nil, fail("method_not_supported_for_channel_type")
	}
	if c.Archived {
		return nil, fail("is_archived")
	}
	if !c.isMember(s.opts.BotUserID) {
		return nil, fail("not_in_channel")
	}
	users := splitList(p.Get("users"))
	switch {
	case len(users) == 0:
		return nil, fail("no_user")
	case len(users) > maxInvite:
		return nil, fail("too_many_users")
	}
	var ok []string
	var failed []inviteFailure
	for _, id := range users {
		code := ""
		switch u, known := s.users[id]; {
		case id == s.opts.BotUserID:
			code = "cant_invite_self"
		case !known:
			code = "user_not_found"
		case u.Deleted:
			code = "cant_invite"
		case c.isMember(id) || slices.Contains(ok, id):
			code = "already_in_channel"
		}
		if code != "" {
			failed = append(failed, inviteFailure{User: id, Error: code})
			continue
		}
		ok = append(ok, id)
	}
	if len(failed) == 0 || p.flag("force") {
		c.Members = append(c.Members, ok...)
	}
	if len(failed) > 0 {
		return nil, &inviteError{failed}
	}
	return result{"channel": s.channelJSON(c)}, nil
}

// inviteFailure is one refused user of conversations.invite.
type inviteFailure struct {
	User  string `json:"user"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

// inviteError is conversations.invite's answer when users were refused:
// the first user's error code, and every refusal in "errors".
type inviteError struct{ failed []inviteFailure }

func (e *inviteError) Error() string { return e.failed[0].Error }

// conversations.info: one conversation.
func (s *Server) convInfo(p params) (result, error) {
	c, err := s.visible(p.Get("channel"))
	if err != nil {
		return nil, err
	}
	return result{"channel": s.channelJSON(c)}, nil
}

// readable finds a conversation whose messages the bot may read. Caller
// holds mu.
func (s *Server) readable(ref string) (*Channel, error) {
	c, err := s.visible(ref)
	if err != nil {
		return nil, err
	}
	if !c.isMember(s.opts.BotUserID) {
		return nil, fail("not_in_channel")
	}
	return c, nil
}

// conversations.history: top-level messages, newest first, paginated.
func (s *Server) convHistory(p params) (result, error) {
	c, err := s.readable(p.Get("channel"))
	if err != nil {
		return nil, err
	}
	var top []*Message
	for _, m := range s.messages[c.ID] {
		if !m.IsReply() && inRange(m.TS, p) {
			top = append(top, m)
		}
	}
	slices.Reverse(top)
	return s.page(top, p, "messages")
}

// conversations.replies: a thread, parent first, oldest first.
func (s *Server) convReplies(p params) (result, error) {
	c, err := s.readable(p.Get("channel"))
	if err != nil {
		return nil, err
	}
	parent := s.findMessage(c.ID, p.Get("ts"))
	if parent == nil {
		return nil, fail("thread_not_found")
	}
	root := parent.TS
	if parent.IsReply() {
		root = parent.ThreadTS
	}
	var thread []*Message
	for _, m := range s.messages[c.ID] {
		if m.TS == root || m.ThreadTS == root {
			thread = append(thread, m)
		}
	}
	return s.page(thread, p, "messages")
}

// inRange applies history's oldest/latest bounds (exclusive unless
// inclusive is set). Timestamps of equal width compare as strings.
func inRange(ts string, p params) bool {
	incl := p.flag("inclusive")
	if o := p.Get("oldest"); o != "" && (ts < o || (!incl && ts == o)) {
		return false
	}
	if l := p.Get("latest"); l != "" && (ts > l || (!incl && ts == l)) {
		return false
	}
	return true
}

// page slices a result list by cursor (an offset) and limit.
func (s *Server) page(ms []*Message, p params, key string) (result, error) {
	start, limit := 0, 100
	if cur := p.Get("cursor"); cur != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(cur, "o:"))
		if err != nil || n < 0 || n > len(ms) {
			return nil, fail("invalid_cursor")
		}
		start = n
	}
	if l, err := strconv.Atoi(p.Get("limit")); err == nil && l > 0 {
		limit = min(l, 1000)
	}
	end := min(start+limit, len(ms))
	out := make([]map[string]any, 0, end-start)
	withMeta := p.flag("include_all_metadata")
	for _, m := range ms[start:end] {
		j := s.messageJSON(m)
		if withMeta && len(m.Metadata) > 0 {
			j["metadata"] = m.Metadata
		}
		out = append(out, j)
	}
	next := ""
	if end < len(ms) {
		next = "o:" + strconv.Itoa(end)
	}
	return result{key: out, "has_more": next != "", "response_metadata": map[string]any{"next_cursor": next}}, nil
}

// conversations.setTopic and setPurpose.
func (s *Server) convSetTopic(p params) (result, error) {
	return s.setInfo(p, "topic", func(c *Channel, v string) { c.Topic = v })
}

func (s *Server) convSetPurpose(p params) (result, error) {
	return s.setInfo(p, "purpose", func(c *Channel, v string) { c.Purpose = v })
}

func (s *Server) setInfo(p params, field string, set func(*Channel, string)) (result, error) {
	c, err := s.readable(p.Get("channel"))
	if err != nil {
		return nil, err
	}
	if c.Archived {
		return nil, fail("is_archived")
	}
	v := p.Get(field)
	if utf8.RuneCountInString(v) > 250 {
		return nil, fail("too_long")
	}
	set(c, v)
	return result{"channel": s.channelJSON(c)}, nil
}

// conversations.list: channels of the requested types, paginated.
func (s *Server) convList(p params) (result, error) {
	types := splitList(p.Get("types"))
	if len(types) == 0 {
		types = []string{"public_channel"}
	}
	var out []map[string]any
	for _, id := range s.chanOrder {
		c := s.channels[id]
		kind := "public_channel"
		switch {
		case c.IsIM:
			kind = "im"
		case c.IsPrivate:
			kind = "private_channel"
		}
		if !slices.Contains(types, kind) || (p.flag("exclude_archived") && c.Archived) {
			continue
		}
		if (c.IsPrivate || c.IsIM) && !c.isMember(s.opts.BotUserID) {
			continue
		}
		out = append(out, s.channelJSON(c))
	}
	start, limit := 0, 100
	if cur := p.Get("cursor"); cur != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(cur, "o:"))
		if err != nil || n < 0 || n > len(out) {
			return nil, fail("invalid_cursor")
		}
		start = n
	}
	if l, err := strconv.Atoi(p.Get("limit")); err == nil && l > 0 {
		limit = min(l, 1000)
	}
	end := min(start+limit, len(out))
	next := ""
	if end < len(out) {
		next = "o:" + strconv.Itoa(end)
	}
	page := out[start:end]
	if page == nil {
		page = []map[string]any{}
	}
	return result{"channels": page, "response_metadata": map[string]any{"next_cursor": next}}, nil
}
