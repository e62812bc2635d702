package slackfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// The app's routes, from opsbot's CONTRACT.
const (
	CommandsPath     = "/slack/commands"
	InteractionsPath = "/slack/interactions"
	EventsPath       = "/slack/events"
)

// VerificationToken is the deprecated token Slack still puts in payloads.
const VerificationToken = "slackfake-verification-token"

// Signature computes Slack's request signature:
// "v0=" + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
func Signature(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// signedRequest builds a POST to the app signed at the fake's now.
func (s *Server) signedRequest(secret, path, ctype string, body []byte) (*http.Request, error) {
	if s.opts.AppURL == "" {
		return nil, fmt.Errorf("slackfake: Options.AppURL is not set")
	}
	req, err := http.NewRequest(http.MethodPost, s.opts.AppURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request to %s: %w", path, err)
	}
	ts := s.now().Unix()
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", Signature(secret, ts, body))
	return req, nil
}

// SlashCommand builds the signed, form-encoded request Slack sends when
// user types command text in channel. Its trigger_id opens a modal for
// three seconds; its response_url takes five answers within 30 minutes.
func (s *Server) SlashCommand(secret, user, channel, command, text string) (*http.Request, error) {
	form, err := s.slashCommandForm(user, channel, command, text)
	if err != nil {
		return nil, err
	}
	return s.signedRequest(secret, CommandsPath, "application/x-www-form-urlencoded", []byte(form.Encode()))
}

// slashCommandForm builds the fields Slack sends for a slash command,
// with a fresh response_url and trigger_id.
func (s *Server) slashCommandForm(user, channel, command, text string) (url.Values, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[user]
	if !ok {
		return nil, fmt.Errorf("slash command: no user %q", user)
	}
	c := s.lookupChannel(channel)
	if c == nil {
		if _, isUser := s.users[channel]; isUser || channel == "" {
			c = s.imWith(user) // typed in the app's DM
		} else {
			return nil, fmt.Errorf("slash command: no channel %q", channel)
		}
	}
	name := c.Name
	if c.IsIM {
		name = "directmessage"
	}
	return url.Values{
		"token":                 {VerificationToken},
		"team_id":               {s.opts.TeamID},
		"team_domain":           {s.opts.TeamDomain},
		"channel_id":            {c.ID},
		"channel_name":          {name},
		"user_id":               {u.ID},
		"user_name":             {u.Name},
		"command":               {command},
		"text":                  {text},
		"api_app_id":            {s.opts.AppID},
		"is_enterprise_install": {"false"},
		"response_url":          {s.newResponseURL(responseOrigin{user: u.ID, channel: c.ID})},
		"trigger_id":            {s.newTrigger(u.ID, c.ID)},
	}, nil
}

// interaction signs an interaction payload as Slack posts it: a form with
// one field, payload, holding JSON.
func (s *Server) interaction(secret string, payload map[string]any) (*http.Request, error) {
	js, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode interaction payload: %w", err)
	}
	body := url.Values{"payload": {string(js)}}.Encode()
	return s.signedRequest(secret, InteractionsPath, "application/x-www-form-urlencoded", []byte(body))
}

// userRef is the user object in interaction payloads. Caller holds mu.
func (s *Server) userRef(u *User) map[string]any {
	return map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": s.opts.TeamID}
}

// teamRef is the team object in payloads.
func (s *Server) teamRef() map[string]any {
	return map[string]any{"id": s.opts.TeamID, "domain": s.opts.TeamDomain}
}

// Event builds a signed Events API callback carrying event (which needs
// at least a "type"). Each call gets a fresh event_id.
func (s *Server) Event(secret string, event map[string]any) (*http.Request, error) {
	body, err := json.Marshal(s.eventCallback(event))
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return s.signedRequest(secret, EventsPath, "application/json", body)
}

// eventCallback wraps an inner event in Slack's event_callback envelope
// with a fresh event_id.
func (s *Server) eventCallback(event map[string]any) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if _, ok := event["event_ts"]; !ok {
		event["event_ts"] = s.newTS()
	}
	return map[string]any{
		"token":      VerificationToken,
		"team_id":    s.opts.TeamID,
		"api_app_id": s.opts.AppID,
		"event":      event,
		"type":       "event_callback",
		"event_id":   s.newID("Ev"),
		"event_time": now.Unix(),
		"authorizations": []map[string]any{{
			"enterprise_id": nil, "team_id": s.opts.TeamID, "user_id": s.opts.BotUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
	}
}

// URLVerification builds the handshake Slack sends when the events URL is
// saved; the app must echo challenge.
func (s *Server) URLVerification(secret, challenge string) (*http.Request, error) {
	body, err := json.Marshal(map[string]any{"token": VerificationToken, "challenge": challenge, "type": "url_verification"})
	if err != nil {
		return nil, fmt.Errorf("encode url_verification: %w", err)
	}
	return s.signedRequest(secret, EventsPath, "application/json", body)
}

// AppHomeOpened builds the event Slack sends when user opens the app's
// Home tab.
func (s *Server) AppHomeOpened(secret, user string) (*http.Request, error) {
	s.mu.Lock()
	im := s.imWith(user)
	s.mu.Unlock()
	return s.Event(secret, map[string]any{"type": "app_home_opened", "user": user, "channel": im.ID, "tab": "home"})
}

// AppMention builds the event for a message in channel that mentions the
// bot; the message is also stored in the channel, as the user's.
func (s *Server) AppMention(secret, user, channel, text string) (*http.Request, error) {
	s.mu.Lock()
	c := s.lookupChannel(channel)
	if c == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("app mention: no channel %q", channel)
	}
	m := &Message{Channel: c.ID, User: user, Text: text, TS: s.newTS()}
	s.messages[c.ID] = append(s.messages[c.ID], m)
	s.mu.Unlock()
	return s.Event(secret, map[string]any{
		"type": "app_mention", "user": user, "text": text, "ts": m.TS, "channel": c.ID, "event_ts": m.TS,
	})
}
