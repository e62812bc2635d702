package slackfake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Deliver sends a request built by this fake to the app, as Slack would,
// and applies the app's immediate answer the way Slack does: a slash
// command's body is shown as a response (ephemeral unless it says
// in_channel); a view_submission's response_action closes, updates or
// flags errors on the modal. It returns the app's HTTP status.
func (s *Server) Deliver(ctx context.Context, client *http.Client, req *http.Request) (int, error) {
	if req.GetBody == nil {
		return 0, fmt.Errorf("deliver: request body cannot be replayed")
	}
	rb, err := req.GetBody()
	if err != nil {
		return 0, fmt.Errorf("deliver: read request body: %w", err)
	}
	sent, err := io.ReadAll(rb)
	if err != nil {
		return 0, fmt.Errorf("deliver: read request body: %w", err)
	}
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("deliver to %s: %w", req.URL.Path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read app answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	form, err := url.ParseQuery(string(sent))
	if err != nil {
		return resp.StatusCode, nil // events are JSON and need no follow-up
	}
	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch req.URL.Path {
	case CommandsPath:
		return resp.StatusCode, s.commandAnswer(form.Get("response_url"), ctype, answer)
	case InteractionsPath:
		return resp.StatusCode, s.interactionAnswer(form.Get("payload"), answer)
	}
	return resp.StatusCode, nil
}

// commandAnswer shows a slash command's synchronous answer.
func (s *Server) commandAnswer(respURL, ctype string, answer []byte) error {
	if len(strings.TrimSpace(string(answer))) == 0 {
		return nil
	}
	var b responseBody
	if ctype == "application/json" {
		if err := json.Unmarshal(answer, &b); err != nil {
			return fmt.Errorf("app answered the command with bad JSON: %w", err)
		}
	} else {
		b.Text = string(answer)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := strings.TrimPrefix(respURL, s.opts.BaseURL+"/response/")
	ru, ok := s.respURLs[id]
	if !ok {
		return fmt.Errorf("unknown response_url %q", respURL)
	}
	if code := s.applyResponse(ru.origin, b, ""); code != "" {
		return fmt.Errorf("app's command answer refused: %s", code)
	}
	return nil
}

// interactionAnswer applies a view_submission's response_action.
func (s *Server) interactionAnswer(payload string, answer []byte) error {
	var p struct {
		Type string `json:"type"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		View struct {
			ID string `json:"id"`
		} `json:"view"`
	}
	if err := json.Unmarshal([]byte(payload), &p); err != nil || p.Type != "view_submission" {
		return nil
	}
	var a struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
		View           json.RawMessage   `json:"view"`
	}
	if len(strings.TrimSpace(string(answer))) > 0 {
		if err := json.Unmarshal(answer, &a); err != nil {
			return fmt.Errorf("app answered view_submission with bad JSON: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[p.View.ID]
	if !ok {
		return fmt.Errorf("unknown view %q", p.View.ID)
	}
	switch a.ResponseAction {
	case "", "clear":
		for _, x := range s.views {
			if x.User == p.User.ID && x.Type == "modal" && (a.ResponseAction == "clear" || x.ID == v.ID) {
				x.Open = false
			}
		}
	case "errors":
		// Slack shows each error under the input block whose block_id
		// keys it; a key that names no input block of the view is an
		// error of the app's (Slack shows the person a generic failure).
		inputs := map[string]bool{}
		var vb struct {
			Blocks []struct {
				Type    string `json:"type"`
				BlockID string `json:"block_id"`
			} `json:"blocks"`
		}
		_ = json.Unmarshal(v.JSON, &vb)
		for _, b := range vb.Blocks {
			if b.Type == "input" {
				inputs[b.BlockID] = true
			}
		}
		for k := range a.Errors {
			if !inputs[k] {
				return fmt.Errorf("app answered view_submission with an error on %q, which is no input block of view %s", k, v.ID)
			}
		}
		v.Errors = a.Errors
	case "update", "push":
		h, err := parseView(string(a.View), "modal")
		if err != nil {
			return fmt.Errorf("app's %s view refused: %w", a.ResponseAction, err)
		}
		target := v
		if a.ResponseAction == "push" {
			target = &View{ID: s.newID("V"), User: p.User.ID, Open: true}
		}
		s.storeView(target, h, string(a.View))
	default:
		return fmt.Errorf("unknown response_action %q", a.ResponseAction)
	}
	return nil
}
