package slackfake

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// triggerTTL is how long Slack honours a trigger_id.
const triggerTTL = 3 * time.Second

// View is a modal or an App Home tab as the app last sent it.
type View struct {
	ID              string
	User            string
	Type            string // "modal" or "home"
	CallbackID      string
	ExternalID      string
	PrivateMetadata string
	Title           string
	Hash            string
	// JSON is the view object the app sent, as it sent it.
	JSON json.RawMessage
	// Open is true for a modal on screen (until submitted or closed).
	Open bool
	// Errors are the field errors of the last view_submission answer.
	Errors map[string]string
	// NotifyOnClose asks Slack to send view_closed when the person
	// cancels; ClearOnClose closes the whole stack of modals at once.
	NotifyOnClose bool
	ClearOnClose  bool
}

type trigger struct {
	user    string
	channel string
	expires time.Time
	used    bool
}

// newTrigger issues a trigger_id for a user's interaction. Caller holds mu.
func (s *Server) newTrigger(user, channel string) string {
	id := fmt.Sprintf("%d.%s.%s", s.now().Unix(), s.opts.TeamID, s.newID("TR"))
	s.triggers[id] = trigger{user: user, channel: channel, expires: s.now().Add(triggerTTL)}
	return id
}

// Views returns a user's views (modals and Home tab) in creation order.
func (s *Server) Views(user string) []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []View
	for _, id := range s.viewOrder {
		if v := s.views[id]; v.User == user {
			cp := *v
			out = append(out, cp)
		}
	}
	return out
}

// View returns one view by ID.
func (s *Server) View(id string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[id]
	if !ok {
		return View{}, false
	}
	return *v, true
}

type viewHead struct {
	Type            string   `json:"type"`
	Title           *textObj `json:"title"`
	Submit          *textObj `json:"submit"`
	Close           *textObj `json:"close"`
	CallbackID      string   `json:"callback_id"`
	ExternalID      string   `json:"external_id"`
	PrivateMetadata string   `json:"private_metadata"`
	NotifyOnClose   bool     `json:"notify_on_close"`
	ClearOnClose    bool     `json:"clear_on_close"`
	Blocks          json.RawMessage
}

// parseView checks a view argument the way Slack does.
func parseView(raw string, wantType string) (viewHead, error) {
	var h viewHead
	if raw == "" {
		return h, fail("invalid_arguments", "[ERROR] missing required field: view")
	}
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		return h, fail("invalid_arguments", "[ERROR] view is not a JSON object")
	}
	if wantType != "" && h.Type != wantType {
		return h, fail("invalid_arguments", fmt.Sprintf("[ERROR] view type must be %s [json-pointer:/view/type]", wantType))
	}
	if h.Type == "modal" {
		if h.Title == nil || h.Title.Text == "" {
			return h, fail("invalid_arguments", "[ERROR] missing required field: title [json-pointer:/view/title]")
		}
		if utf8.RuneCountInString(h.Title.Text) > 24 {
			return h, fail("invalid_arguments", "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]")
		}
		for name, b := range map[string]*textObj{"submit": h.Submit, "close": h.Close} {
			if b != nil && utf8.RuneCountInString(b.Text) > 24 {
				return h, fail("invalid_arguments", "[ERROR] must be less than 25 characters [json-pointer:/view/"+name+"/text]")
			}
		}
	}
	if utf8.RuneCountInString(h.CallbackID) > 255 {
		return h, fail("invalid_arguments", "[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]")
	}
	if utf8.RuneCountInString(h.PrivateMetadata) > 3000 {
		return h, fail("invalid_arguments", "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]")
	}
	if len(h.Blocks) > 0 {
		if _, msgs := checkBlocks(string(h.Blocks), maxViewBlocks); msgs != nil {
			return h, fail("invalid_arguments", msgs...)
		}
	}
	return h, nil
}

// views.open: show a modal in answer to a fresh trigger.
func (s *Server) viewsOpen(p params) (result, error) {
	tid := p.Get("trigger_id")
	t, ok := s.triggers[tid]
	switch {
	case !ok || t.used:
		return nil, fail("invalid_trigger_id")
	case s.now().After(t.expires):
		return nil, fail("expired_trigger_id")
	}
	h, err := parseView(p.Get("view"), "modal")
	if err != nil {
		return nil, err
	}
	if err := s.externalFree(h.ExternalID, ""); err != nil {
		return nil, err
	}
	t.used = true
	s.triggers[tid] = t
	v := s.storeView(&View{ID: s.newID("V"), User: t.user, Open: true}, h, p.Get("view"))
	return result{"view": s.viewJSON(v)}, nil
}

// views.update: replace a view by view_id or external_id, optionally
// guarded by hash.
func (s *Server) viewsUpdate(p params) (result, error) {
	var v *View
	if id := p.Get("view_id"); id != "" {
		v = s.views[id]
	} else if ext := p.Get("external_id"); ext != "" {
		for _, x := range s.views {
			if x.ExternalID == ext {
				v = x
			}
		}
	} else {
		return nil, fail("invalid_arguments", "[ERROR] view_id or external_id required")
	}
	if v == nil {
		return nil, fail("not_found")
	}
	if hash := p.Get("hash"); hash != "" && hash != v.Hash {
		return nil, fail("hash_conflict")
	}
	h, err := parseView(p.Get("view"), v.Type)
	if err != nil {
		return nil, err
	}
	if err := s.externalFree(h.ExternalID, v.ID); err != nil {
		return nil, err
	}
	s.storeView(v, h, p.Get("view"))
	return result{"view": s.viewJSON(v)}, nil
}

// views.publish: set a user's App Home tab.
func (s *Server) viewsPublish(p params) (result, error) {
	user := p.Get("user_id")
	if _, ok := s.users[user]; !ok {
		return nil, fail("user_not_found")
	}
	h, err := parseView(p.Get("view"), "home")
	if err != nil {
		return nil, err
	}
	var v *View
	for _, id := range s.viewOrder {
		if x := s.views[id]; x.User == user && x.Type == "home" {
			v = x
		}
	}
	if v == nil {
		v = &View{ID: s.newID("V"), User: user}
	} else if hash := p.Get("hash"); hash != "" && hash != v.Hash {
		return nil, fail("hash_conflict")
	}
	s.storeView(v, h, p.Get("view"))
	return result{"view": s.viewJSON(v)}, nil
}

// externalFree checks that no other view uses an external_id. Caller holds mu.
func (s *Server) externalFree(ext, self string) error {
	if ext == "" {
		return nil
	}
	for _, x := range s.views {
		if x.ExternalID == ext && x.ID != self {
			return fail("duplicate_external_id")
		}
	}
	return nil
}

// storeView records the app's view and gives it a new hash. Caller holds mu.
func (s *Server) storeView(v *View, h viewHead, raw string) *View {
	if _, ok := s.views[v.ID]; !ok {
		s.viewOrder = append(s.viewOrder, v.ID)
		s.views[v.ID] = v
	}
	v.Type, v.CallbackID, v.ExternalID, v.PrivateMetadata = h.Type, h.CallbackID, h.ExternalID, h.PrivateMetadata
	v.NotifyOnClose, v.ClearOnClose = h.NotifyOnClose, h.ClearOnClose
	v.Title = ""
	if h.Title != nil {
		v.Title = h.Title.Text
	}
	v.JSON = json.RawMessage(raw)
	v.Hash = fmt.Sprintf("%d.%s", s.now().Unix(), s.newID("H"))
	v.Errors = nil
	return v
}

// viewJSON is the view object Slack returns and puts in payloads.
func (s *Server) viewJSON(v *View) map[string]any {
	out := map[string]any{}
	_ = json.Unmarshal(v.JSON, &out)
	out["id"] = v.ID
	out["team_id"] = s.opts.TeamID
	out["type"] = v.Type
	out["hash"] = v.Hash
	out["app_id"] = s.opts.AppID
	out["bot_id"] = s.opts.BotID
	out["app_installed_team_id"] = s.opts.TeamID
	out["root_view_id"] = v.ID
	out["previous_view_id"] = nil
	out["external_id"] = v.ExternalID
	out["callback_id"] = v.CallbackID
	out["private_metadata"] = v.PrivateMetadata
	if _, ok := out["blocks"]; !ok {
		out["blocks"] = []any{}
	}
	out["state"] = map[string]any{"values": map[string]any{}}
	return out
}
