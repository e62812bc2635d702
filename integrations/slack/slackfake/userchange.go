package slackfake

import (
	"fmt"
	"net/http"
)

// UserDeactivated marks a user deleted, as a workspace admin deactivating
// them does, and builds the signed user_change event Slack sends then:
// the whole user object with "deleted": true (Events API, user_change;
// scope users:read).
func (s *Server) UserDeactivated(secret, userID string) (*http.Request, error) {
	s.mu.Lock()
	u, ok := s.users[userID]
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("user_change: no user %q", userID)
	}
	u.Deleted = true
	now := s.now()
	user := map[string]any{
		"id": u.ID, "team_id": s.opts.TeamID, "name": u.Name, "deleted": true, "real_name": u.RealName,
		"is_bot": u.IsBot, "is_admin": false, "updated": now.Unix(),
		"profile": map[string]any{"email": u.Email, "real_name": u.RealName, "display_name": u.Name},
	}
	s.mu.Unlock()
	return s.Event(secret, map[string]any{"type": "user_change", "user": user, "cache_ts": now.Unix()})
}
