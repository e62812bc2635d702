package slackfake

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Slack's response_url allowance.
const (
	responseURLTTL  = 30 * time.Minute
	responseURLUses = 5
)

// Response is one answer the app gave to a command or click, through its
// response_url or in the HTTP response to the request itself, in Slack's
// message format.
type Response struct {
	URL             string // the response_url, or "" for an HTTP answer
	User            string // who triggered it
	Channel         string
	MessageTS       string // the message the click came from, if any
	ResponseType    string // "ephemeral" (default) or "in_channel"
	Text            string
	Blocks          json.RawMessage
	ReplaceOriginal bool
	DeleteOriginal  bool
	ThreadTS        string
	At              time.Time
}

// responseOrigin is what a response_url answers to.
type responseOrigin struct {
	user, channel string
	messageTS     string
	ephemeral     bool
}

type responseURL struct {
	origin  responseOrigin
	expires time.Time
	uses    int
}

// responseBody is Slack's response_url JSON.
type responseBody struct {
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal bool            `json:"replace_original"`
	DeleteOriginal  bool            `json:"delete_original"`
	ThreadTS        string          `json:"thread_ts"`
}

// newResponseURL issues a response_url. Caller holds mu.
func (s *Server) newResponseURL(o responseOrigin) string {
	id := strings.ToLower(s.newID("R")) + "/" + s.opts.TeamID
	s.respURLs[id] = &responseURL{origin: o, expires: s.now().Add(responseURLTTL)}
	return s.opts.BaseURL + "/response/" + id
}

// Responses returns every answer the app gave, oldest first.
func (s *Server) Responses() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.responses)
}

func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "invalid_payload"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ru, ok := s.respURLs[id]
	switch {
	case !ok:
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "no_service"})
		return
	case s.now().After(ru.expires):
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "expired_url"})
		return
	case ru.uses >= responseURLUses:
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "used_url"})
		return
	}
	var body responseBody
	if err := json.Unmarshal(raw, &body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "invalid_payload"})
		return
	}
	if code := s.applyResponse(ru.origin, body, s.opts.BaseURL+"/response/"+id); code != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": code})
		return
	}
	ru.uses++
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// applyResponse does what Slack does with an answer: replace or delete
// the original, post in the channel, or show the user an ephemeral
// message. It returns a Slack error code, or "". Caller holds mu.
func (s *Server) applyResponse(o responseOrigin, b responseBody, url string) string {
	var blocks json.RawMessage
	if len(b.Blocks) > 0 && string(b.Blocks) != "null" {
		bl, msgs := checkBlocks(string(b.Blocks), maxMessageBlocks)
		if msgs != nil {
			return "invalid_blocks"
		}
		blocks = bl
	}
	if !b.DeleteOriginal && b.Text == "" && blocks == nil {
		return "no_text"
	}
	rt := b.ResponseType
	if rt == "" {
		rt = "ephemeral"
	}
	now := s.now()
	source := "response_url"
	if url == "" {
		source = "http_response"
	}
	switch {
	case (b.DeleteOriginal || b.ReplaceOriginal) && o.messageTS == "":
		return "no_original"
	case o.ephemeral && (b.DeleteOriginal || b.ReplaceOriginal):
		e := s.findEphemeral(o.user, o.channel, o.messageTS)
		if e == nil {
			return "message_not_found"
		}
		e.Deleted = true
		if b.ReplaceOriginal && !b.DeleteOriginal {
			s.ephemerals[o.user] = append(s.ephemerals[o.user], Ephemeral{
				Channel: o.channel, User: o.user, TS: s.newTS(), ThreadTS: e.ThreadTS,
				Text: b.Text, Blocks: blocks, Source: source,
			})
		}
	case b.DeleteOriginal:
		m := s.findMessage(o.channel, o.messageTS)
		if m == nil {
			return "message_not_found"
		}
		s.messages[o.channel] = slices.DeleteFunc(s.messages[o.channel], func(x *Message) bool { return x == m })
	case b.ReplaceOriginal:
		m := s.findMessage(o.channel, o.messageTS)
		if m == nil {
			return "message_not_found"
		}
		m.Text, m.Blocks = b.Text, blocks
		m.Edited = &Edit{User: s.opts.BotUserID, TS: s.newTS()}
	case rt == "in_channel":
		m := &Message{Channel: o.channel, User: s.opts.BotUserID, BotID: s.opts.BotID, Text: b.Text, Blocks: blocks, TS: s.newTS()}
		if parent := s.findMessage(o.channel, b.ThreadTS); parent != nil {
			parent.ThreadTS, m.ThreadTS = parent.TS, parent.TS
			parent.Replies++
		}
		s.messages[o.channel] = append(s.messages[o.channel], m)
	default:
		s.ephemerals[o.user] = append(s.ephemerals[o.user], Ephemeral{
			Channel: o.channel, User: o.user, TS: s.newTS(), ThreadTS: b.ThreadTS,
			Text: b.Text, Blocks: blocks, Source: source,
		})
	}
	s.responses = append(s.responses, Response{
		URL: url, User: o.user, Channel: o.channel, MessageTS: o.messageTS, ResponseType: rt,
		Text: b.Text, Blocks: blocks, ReplaceOriginal: b.ReplaceOriginal, DeleteOriginal: b.DeleteOriginal,
		ThreadTS: b.ThreadTS, At: now,
	})
	return ""
}
