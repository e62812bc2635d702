package slackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Click is a person pressing a button. Either MessageTS (a message or an
// ephemeral message in Channel) or ViewID (a modal or Home tab) says where
// the button is. The button is looked up there by ActionID, and by Value
// when several buttons share the ActionID; BlockID is filled in from it.
type Click struct {
	User      string
	Channel   string
	MessageTS string
	ViewID    string
	ActionID  string
	Value     string
	// Forge sends the click even when the message has no such button, with
	// Value as given: a client replaying an edited payload.
	Forge bool
}

// buttonIn finds a button in a blocks array.
func buttonIn(blocks json.RawMessage, actionID, value string) (map[string]any, string, bool) {
	var bs []struct {
		Type     string           `json:"type"`
		BlockID  string           `json:"block_id"`
		Elements []map[string]any `json:"elements"`
	}
	if json.Unmarshal(blocks, &bs) != nil {
		return nil, "", false
	}
	for i, b := range bs {
		for _, el := range b.Elements {
			if el["action_id"] != actionID || (value != "" && el["value"] != value) {
				continue
			}
			id := b.BlockID
			if id == "" {
				id = fmt.Sprintf("blk%d", i) // Slack assigns one when the app did not
			}
			return el, id, true
		}
	}
	return nil, "", false
}

// BlockAction builds the signed block_actions interaction Slack sends for
// a click. It fails if the button is not where the click says, as Slack
// could never send that.
func (s *Server) BlockAction(secret string, c Click) (*http.Request, error) {
	payload, err := s.blockActionPayload(c)
	if err != nil {
		return nil, err
	}
	return s.interaction(secret, payload)
}

// blockActionPayload builds the block_actions payload for a click.
func (s *Server) blockActionPayload(c Click) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[c.User]
	if !ok {
		return nil, fmt.Errorf("block action: no user %q", c.User)
	}
	now := s.now()
	payload := map[string]any{
		"type": "block_actions", "user": s.userRef(u), "api_app_id": s.opts.AppID,
		"token": VerificationToken, "team": s.teamRef(), "enterprise": nil,
		"is_enterprise_install": false, "state": map[string]any{"values": map[string]any{}},
	}
	var blocks json.RawMessage
	switch {
	case c.ViewID != "":
		v, ok := s.views[c.ViewID]
		if !ok || v.User != u.ID {
			return nil, fmt.Errorf("block action: user %s has no view %q", u.ID, c.ViewID)
		}
		var head struct {
			Blocks json.RawMessage `json:"blocks"`
		}
		_ = json.Unmarshal(v.JSON, &head)
		blocks = head.Blocks
		payload["container"] = map[string]any{"type": "view", "view_id": v.ID}
		payload["view"] = s.viewJSON(v)
		payload["trigger_id"] = s.newTrigger(u.ID, "")
	default:
		ch := s.lookupChannel(c.Channel)
		if ch == nil {
			return nil, fmt.Errorf("block action: no channel %q", c.Channel)
		}
		container := map[string]any{"type": "message", "message_ts": c.MessageTS, "channel_id": ch.ID, "is_ephemeral": false}
		if m := s.findMessage(ch.ID, c.MessageTS); m != nil {
			blocks = m.Blocks
			payload["message"] = s.messageJSON(m)
			if m.IsReply() {
				container["thread_ts"] = m.ThreadTS
			}
		} else if e := s.findEphemeral(u.ID, ch.ID, c.MessageTS); e != nil {
			blocks = e.Blocks
			container["is_ephemeral"] = true
		} else {
			return nil, fmt.Errorf("block action: no message %s in %s seen by %s", c.MessageTS, ch.ID, u.ID)
		}
		name := ch.Name
		if ch.IsIM {
			name = "directmessage"
		}
		payload["container"] = container
		payload["channel"] = map[string]any{"id": ch.ID, "name": name}
		payload["response_url"] = s.newResponseURL(responseOrigin{
			user: u.ID, channel: ch.ID, messageTS: c.MessageTS, ephemeral: container["is_ephemeral"] == true,
		})
		payload["trigger_id"] = s.newTrigger(u.ID, ch.ID)
	}
	el, blockID, ok := buttonIn(blocks, c.ActionID, c.Value)
	if !ok && c.Forge {
		el, blockID, ok = map[string]any{"type": "button", "text": map[string]any{"type": "plain_text", "text": "forged"}, "value": c.Value}, "forged", true
	}
	if !ok {
		return nil, fmt.Errorf("block action: no element with action_id %q (value %q) there", c.ActionID, c.Value)
	}
	action := map[string]any{
		"type": el["type"], "action_id": c.ActionID, "block_id": blockID,
		"text": el["text"], "value": el["value"], "action_ts": s.tsAt(now),
	}
	if st, ok := el["style"]; ok {
		action["style"] = st
	}
	payload["actions"] = []any{action}
	return payload, nil
}

// tsAt formats a time as a Slack ts without reserving it.
func (s *Server) tsAt(t time.Time) string {
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// findEphemeral finds an ephemeral message a user saw. Caller holds mu.
func (s *Server) findEphemeral(user, channel, ts string) *Ephemeral {
	es := s.ephemerals[user]
	for i := range es {
		if es[i].Channel == channel && es[i].TS == ts && !es[i].Deleted {
			return &es[i]
		}
	}
	return nil
}

// InputValue is what a person entered in one input element of a modal.
// Type is the element type: "plain_text_input" (the default),
// "number_input", "static_select", "users_select", "datepicker",
// "timepicker".
type InputValue struct {
	Type  string
	Value string
}

func (iv InputValue) state() map[string]any {
	t := iv.Type
	if t == "" {
		t = "plain_text_input"
	}
	out := map[string]any{"type": t}
	switch t {
	case "static_select", "external_select":
		out["selected_option"] = map[string]any{
			"text": map[string]any{"type": "plain_text", "text": iv.Value, "emoji": true}, "value": iv.Value,
		}
	case "users_select":
		out["selected_user"] = iv.Value
	case "conversations_select", "channels_select":
		out["selected_conversation"] = iv.Value
	case "datepicker":
		out["selected_date"] = iv.Value
	case "timepicker":
		out["selected_time"] = iv.Value
	default:
		out["value"] = iv.Value
	}
	return out
}

// ViewSubmission builds the signed view_submission Slack sends when user
// submits modal viewID; values is keyed by block_id, then action_id.
func (s *Server) ViewSubmission(secret, user, viewID string, values map[string]map[string]InputValue) (*http.Request, error) {
	s.mu.Lock()
	u, ok := s.users[user]
	v, vok := s.views[viewID]
	if !ok || !vok || v.User != user || v.Type != "modal" || !v.Open {
		s.mu.Unlock()
		return nil, fmt.Errorf("view submission: user %q has no open modal %q", user, viewID)
	}
	state := map[string]any{}
	for blockID, acts := range values {
		m := map[string]any{}
		for actionID, iv := range acts {
			m[actionID] = iv.state()
		}
		state[blockID] = m
	}
	view := s.viewJSON(v)
	view["state"] = map[string]any{"values": state}
	payload := map[string]any{
		"type": "view_submission", "team": s.teamRef(), "user": s.userRef(u),
		"api_app_id": s.opts.AppID, "token": VerificationToken, "trigger_id": s.newTrigger(u.ID, ""),
		"view": view, "response_urls": []any{}, "is_enterprise_install": false, "enterprise": nil,
	}
	s.mu.Unlock()
	return s.interaction(secret, payload)
}
