package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// apiRoutes mounts the page's JSON API. Every action goes through a fake:
// Slack actions become the signed requests Slack would send to opsbot's
// routes; PagerDuty actions are made inside the fake, which sends its
// signed webhooks; the clock moves for everyone at once.
func (s *Sandbox) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/state", s.serveState)
	mux.HandleFunc("POST /api/slack/command", s.handle(s.command))
	mux.HandleFunc("POST /api/slack/message", s.handle(s.message))
	mux.HandleFunc("POST /api/slack/click", s.handle(s.click))
	mux.HandleFunc("POST /api/slack/submit", s.handle(s.submit))
	mux.HandleFunc("POST /api/slack/close", s.handle(s.closeView))
	mux.HandleFunc("POST /api/slack/home", s.handle(s.openHome))
	mux.HandleFunc("POST /api/pagerduty/trigger", s.handle(s.pdTrigger))
	mux.HandleFunc("POST /api/pagerduty/acknowledge", s.handle(s.pdAcknowledge))
	mux.HandleFunc("POST /api/pagerduty/resolve", s.handle(s.pdResolve))
	mux.HandleFunc("POST /api/clock/advance", s.handle(s.advance))
}

// Action is one request from the page. Fields are used as each action
// needs them.
type Action struct {
	User     string                                     `json:"user"`
	Channel  string                                     `json:"channel"`
	Text     string                                     `json:"text"`
	TS       string                                     `json:"ts"`
	ViewID   string                                     `json:"view_id"`
	ActionID string                                     `json:"action_id"`
	Value    string                                     `json:"value"`
	Values   map[string]map[string]slackfake.InputValue `json:"values"`
	Service  string                                     `json:"service"`
	Incident string                                     `json:"incident"`
	Duration string                                     `json:"duration"`
}

// handle decodes an Action, runs fn and answers {"ok":true,...} or
// {"ok":false,"error":...}.
func (s *Sandbox) handle(fn func(ctx context.Context, a Action) (map[string]any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var a Action
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&a); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "bad JSON: " + err.Error()})
			return
		}
		out, err := fn(r.Context(), a)
		if err != nil {
			s.log.Warn("sandbox action failed", "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": err.Error()})
			return
		}
		if out == nil {
			out = map[string]any{}
		}
		out["ok"] = true
		writeJSON(w, http.StatusOK, out)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// deliver sends a request the fake Slack built to opsbot, through the
// listener, as Slack would.
func (s *Sandbox) deliver(ctx context.Context, req *http.Request, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	status, err := s.slack.Deliver(ctx, s.client, req)
	if err != nil {
		return status, err
	}
	if status != http.StatusOK {
		return status, fmt.Errorf("opsbot answered %s with HTTP %d", req.URL.Path, status)
	}
	return status, nil
}

// command types a slash command: "/ops server request test-small".
func (s *Sandbox) command(ctx context.Context, a Action) (map[string]any, error) {
	text := strings.TrimSpace(a.Text)
	cmd, rest, _ := strings.Cut(text, " ")
	if !strings.HasPrefix(cmd, "/") {
		return nil, fmt.Errorf("%q is not a slash command", text)
	}
	req, err := s.slack.SlashCommand(SigningSecret, a.User, a.Channel, cmd, strings.TrimSpace(rest))
	status, err := s.deliver(ctx, req, err)
	return map[string]any{"status": status}, err
}

var handleRef = regexp.MustCompile(`(^|\s)@([a-z0-9._-]+)`)

// mentions turns "@dana" into Slack's "<@U0DANA001>", as the Slack
// client does when a person picks a name; @opsbot is the bot.
func (s *Sandbox) mentions(text string) (string, bool) {
	bot := false
	out := handleRef.ReplaceAllStringFunc(text, func(m string) string {
		lead, name, _ := strings.Cut(m, "@")
		if name == "opsbot" {
			bot = true
			return lead + "<@" + s.slack.BotUserID() + ">"
		}
		for _, p := range People {
			if p.Handle == name {
				return lead + "<@" + p.Slack + ">"
			}
		}
		return m
	})
	return out, bot || strings.Contains(out, "<@"+s.slack.BotUserID()+">")
}

// message posts a plain message as the user, then delivers the events
// Slack sends for it: app_mention when it names the bot, and message.
func (s *Sandbox) message(ctx context.Context, a Action) (map[string]any, error) {
	text, toBot := s.mentions(strings.TrimSpace(a.Text))
	if text == "" {
		return nil, errors.New("nothing to send")
	}
	var channel, ts string
	if toBot {
		// AppMention stores the message and builds its app_mention event.
		req, err := s.slack.AppMention(SigningSecret, a.User, a.Channel, text)
		if err != nil {
			return nil, err
		}
		var sent struct {
			Event struct{ Channel, TS string } `json:"event"`
		}
		body, _ := req.GetBody()
		if err := json.NewDecoder(body).Decode(&sent); err != nil {
			return nil, fmt.Errorf("read the mention: %w", err)
		}
		channel, ts = sent.Event.Channel, sent.Event.TS
		if _, err := s.deliver(ctx, req, nil); err != nil {
			return nil, err
		}
	} else {
		m, err := s.slack.PostAs(a.User, a.Channel, text)
		if err != nil {
			return nil, err
		}
		channel, ts = m.Channel, m.TS
	}
	ch, _ := s.slack.Channel(channel)
	kind := "channel"
	if ch.IsIM {
		kind = "im"
	}
	req, err := s.slack.Event(SigningSecret, map[string]any{"type": "message", "channel": channel, "user": a.User,
		"text": text, "ts": ts, "event_ts": ts, "channel_type": kind})
	_, err = s.deliver(ctx, req, err)
	return map[string]any{"ts": ts}, err
}

// click presses a button in a message, an ephemeral message or a view.
func (s *Sandbox) click(ctx context.Context, a Action) (map[string]any, error) {
	req, err := s.slack.BlockAction(SigningSecret, slackfake.Click{
		User: a.User, Channel: a.Channel, MessageTS: a.TS, ViewID: a.ViewID, ActionID: a.ActionID, Value: a.Value,
	})
	_, err = s.deliver(ctx, req, err)
	return nil, err
}

// submit submits a modal with what the person entered.
func (s *Sandbox) submit(ctx context.Context, a Action) (map[string]any, error) {
	req, err := s.slack.ViewSubmission(SigningSecret, a.User, a.ViewID, a.Values)
	_, err = s.deliver(ctx, req, err)
	return nil, err
}

// closeView hides a modal the person cancelled. The fake has no way to
// close one, so the page remembers it.
func (s *Sandbox) closeView(_ context.Context, a Action) (map[string]any, error) {
	s.mu.Lock()
	s.dismissed[a.ViewID] = true
	s.mu.Unlock()
	return nil, nil
}

// openHome opens the app's Home tab: Slack sends app_home_opened.
func (s *Sandbox) openHome(ctx context.Context, a Action) (map[string]any, error) {
	req, err := s.slack.AppHomeOpened(SigningSecret, a.User)
	_, err = s.deliver(ctx, req, err)
	return nil, err
}

// pdTrigger opens an incident on a service, as a monitoring tool would.
func (s *Sandbox) pdTrigger(_ context.Context, a Action) (map[string]any, error) {
	title := strings.TrimSpace(a.Text)
	if title == "" {
		title = "Checkout latency above 2s"
	}
	in, err := s.pd.Trigger(a.Service, title)
	if err != nil {
		return nil, err
	}
	return map[string]any{"incident": in.ID}, nil
}

func (s *Sandbox) pdAcknowledge(_ context.Context, a Action) (map[string]any, error) {
	return nil, s.pd.Acknowledge(a.Incident, pdUser(a.User))
}

func (s *Sandbox) pdResolve(_ context.Context, a Action) (map[string]any, error) {
	return nil, s.pd.Resolve(a.Incident, pdUser(a.User))
}

// pdUser is the PagerDuty user with the same email as a Slack user.
func pdUser(slackID string) string {
	if p, ok := personBySlack(slackID); ok {
		return p.PagerDuty
	}
	return ""
}

// advance moves the shared clock forward in steps, running opsbot's
// scheduled tasks and due jobs after each, as the scheduler would have
// while the time passed.
func (s *Sandbox) advance(ctx context.Context, a Action) (map[string]any, error) {
	d, err := workflows.ParseDuration(a.Duration)
	if err != nil || d <= 0 || d > 30*24*time.Hour {
		return nil, fmt.Errorf("advance by %q: want a duration like 1h or 1d, at most 30d", a.Duration)
	}
	<-s.running
	s.advancing.Lock()
	defer s.advancing.Unlock()
	for left := d; left > 0; left -= s.opts.Step {
		s.clock.Advance(min(left, s.opts.Step))
		if err := s.bot.CatchUp(ctx); err != nil {
			return nil, fmt.Errorf("run opsbot's schedule: %w", err)
		}
	}
	now := s.clock.Now()
	if err := s.state.setOffset(ctx, now.Sub(s.opts.Clock.Now()).Round(time.Second), now); err != nil {
		return nil, err
	}
	return map[string]any{"now": now}, nil
}
