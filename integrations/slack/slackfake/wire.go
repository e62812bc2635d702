package slackfake

import (
	"encoding/json"
	"strings"
	"time"
)

// The JSON shapes below follow Slack's Web API objects (user, conversation,
// message), with the fields slack-go decodes.

func (s *Server) userJSON(u *User) map[string]any {
	offset := 0
	if loc, err := time.LoadLocation(u.TZ); err == nil {
		_, offset = s.now().In(loc).Zone()
	}
	return map[string]any{
		"id":          u.ID,
		"team_id":     s.opts.TeamID,
		"name":        u.Name,
		"deleted":     u.Deleted,
		"real_name":   u.RealName,
		"tz":          u.TZ,
		"tz_offset":   offset,
		"is_bot":      u.IsBot,
		"is_admin":    u.IsAdmin,
		"is_app_user": false,
		"profile": map[string]any{
			"email":                   u.Email,
			"real_name":               u.RealName,
			"real_name_normalized":    u.RealName,
			"display_name":            u.Name,
			"display_name_normalized": u.Name,
			"team":                    s.opts.TeamID,
		},
	}
}

func (s *Server) channelJSON(c *Channel) map[string]any {
	out := map[string]any{
		"id":              c.ID,
		"created":         c.Created.Unix(),
		"is_im":           c.IsIM,
		"is_org_shared":   false,
		"is_archived":     c.Archived,
		"is_member":       c.isMember(s.opts.BotUserID),
		"context_team_id": s.opts.TeamID,
	}
	if c.IsIM {
		out["user"] = c.User
		out["is_open"] = true
		return out
	}
	out["name"] = c.Name
	out["name_normalized"] = c.Name
	out["is_channel"] = !c.IsPrivate
	out["is_group"] = false
	out["is_private"] = c.IsPrivate
	out["is_mpim"] = false
	out["is_general"] = c.Name == "general"
	out["creator"] = c.Creator
	out["num_members"] = len(c.Members)
	out["topic"] = map[string]any{"value": c.Topic, "creator": c.Creator, "last_set": 0}
	out["purpose"] = map[string]any{"value": c.Purpose, "creator": c.Creator, "last_set": 0}
	out["previous_names"] = []string{}
	return out
}

func (s *Server) messageJSON(m *Message) map[string]any {
	out := map[string]any{
		"type": "message",
		"ts":   m.TS,
		"text": m.Text,
		"team": s.opts.TeamID,
	}
	if m.User != "" {
		out["user"] = m.User
	}
	if m.BotID != "" {
		out["bot_id"] = m.BotID
		out["app_id"] = s.opts.AppID
	}
	if len(m.Blocks) > 0 {
		out["blocks"] = json.RawMessage(m.Blocks)
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.Replies > 0 {
		out["reply_count"] = m.Replies
	}
	if m.Edited != nil {
		out["edited"] = map[string]any{"user": m.Edited.User, "ts": m.Edited.TS}
	}
	if m.Pinned {
		out["pinned_to"] = []string{m.Channel}
	}
	if len(m.Files) > 0 {
		fs := make([]map[string]any, len(m.Files))
		for i, f := range m.Files {
			fs[i] = s.fileJSON(f)
		}
		out["files"] = fs
		out["upload"] = true
	}
	if len(m.Reactions) > 0 {
		rs := make([]map[string]any, len(m.Reactions))
		for i, r := range m.Reactions {
			rs[i] = map[string]any{"name": r.Name, "users": r.Users, "count": len(r.Users)}
		}
		out["reactions"] = rs
	}
	return out
}

// permalink builds a message's link the way Slack shapes it.
func (s *Server) permalink(m *Message) string {
	u := s.opts.BaseURL + "/archives/" + m.Channel + "/p" + strings.ReplaceAll(m.TS, ".", "")
	if m.IsReply() {
		u += "?thread_ts=" + m.ThreadTS + "&cid=" + m.Channel
	}
	return u
}
