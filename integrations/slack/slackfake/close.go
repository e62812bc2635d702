package slackfake

import (
	"fmt"
	"net/http"
)

// CloseView is a person cancelling modal viewID (its Close button or ✕).
// The modal closes, and with it every modal the person has open when it
// was opened with clear_on_close. When the app asked for notify_on_close
// it returns the signed view_closed interaction Slack sends the app
// (is_cleared true when the stack was cleared); otherwise the request is
// nil, as Slack tells the app nothing.
func (s *Server) CloseView(secret, user, viewID string) (*http.Request, error) {
	s.mu.Lock()
	u, ok := s.users[user]
	v, vok := s.views[viewID]
	if !ok || !vok || v.User != user || v.Type != "modal" || !v.Open {
		s.mu.Unlock()
		return nil, fmt.Errorf("close view: user %q has no open modal %q", user, viewID)
	}
	cleared := v.ClearOnClose
	for _, x := range s.views {
		if x.ID == v.ID || cleared && x.User == user && x.Type == "modal" {
			x.Open = false
		}
	}
	if !v.NotifyOnClose {
		s.mu.Unlock()
		return nil, nil
	}
	payload := map[string]any{
		"type": "view_closed", "team": s.teamRef(), "user": s.userRef(u), "api_app_id": s.opts.AppID,
		"token": VerificationToken, "view": s.viewJSON(v), "is_cleared": cleared,
		"is_enterprise_install": false, "enterprise": nil,
	}
	s.mu.Unlock()
	return s.interaction(secret, payload)
}
