package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
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
	mux.HandleFunc("GET /api/slack/files/{id}", s.serveFile)
	mux.HandleFunc("POST /api/slack/command", s.handle(s.command))
	mux.HandleFunc("POST /api/slack/message", s.handle(s.message))
	mux.HandleFunc("POST /api/slack/react", s.handle(s.react))
	mux.HandleFunc("POST /api/slack/click", s.handle(s.click))
	mux.HandleFunc("POST /api/slack/submit", s.handle(s.submit))
	mux.HandleFunc("POST /api/slack/close", s.handle(s.closeView))
	mux.HandleFunc("POST /api/slack/home", s.handle(s.openHome))
	mux.HandleFunc("POST /api/pagerduty/trigger", s.handle(s.pdTrigger))
	mux.HandleFunc("POST /api/pagerduty/acknowledge", s.handle(s.pdAcknowledge))
	mux.HandleFunc("POST /api/pagerduty/resolve", s.handle(s.pdResolve))
	mux.HandleFunc("POST /api/clock/advance", s.handle(s.advance))
	mux.HandleFunc("POST /api/costs/review", s.handle(s.holdCostReview))
}

// Action is one request from the page. Fields are used as each action
// needs them.
type Action struct {
	User     string                                     `json:"user"`
	Channel  string                                     `json:"channel"`
	Text     string                                     `json:"text"`
	TS       string                                     `json:"ts"`
	ThreadTS string                                     `json:"thread_ts"`
	Reaction string                                     `json:"reaction"`
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

// message posts a plain message as the user, at the top of the channel
// or in the thread under thread_ts, then delivers the events Slack sends
// for it: app_mention when it names the bot, and message (which opsbot
// counts as incident activity when any_message_resets is on).
func (s *Sandbox) message(ctx context.Context, a Action) (map[string]any, error) {
	text, toBot := s.mentions(strings.TrimSpace(a.Text))
	if text == "" {
		return nil, errors.New("nothing to send")
	}
	var m slackfake.Message
	var err error
	if a.ThreadTS != "" {
		m, err = s.slack.PostReplyAs(a.User, a.Channel, a.ThreadTS, text)
	} else {
		m, err = s.slack.PostAs(a.User, a.Channel, text)
	}
	if err != nil {
		return nil, err
	}
	if toBot {
		req, err := s.slack.MentionEvent(SigningSecret, m)
		if _, err := s.deliver(ctx, req, err); err != nil {
			return nil, err
		}
	}
	req, err := s.slack.MessageEvent(SigningSecret, m)
	_, err = s.deliver(ctx, req, err)
	return map[string]any{"ts": m.TS}, err
}

// react adds the person's emoji reaction to a message, then delivers the
// reaction_added event: with the config's timeline reaction (📌
// pushpin) that puts the message on an incident's timeline.
func (s *Sandbox) react(ctx context.Context, a Action) (map[string]any, error) {
	name := strings.Trim(strings.TrimSpace(a.Reaction), ":")
	if name == "" {
		return nil, errors.New("which reaction? none was given")
	}
	req, err := s.slack.ReactionAdded(SigningSecret, a.User, a.Channel, a.TS, name)
	_, err = s.deliver(ctx, req, err)
	return nil, err
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

// closeView is the person cancelling a modal: it closes in the fake,
// which tells opsbot (view_closed) only if the modal asked for that.
func (s *Sandbox) closeView(ctx context.Context, a Action) (map[string]any, error) {
	req, err := s.slack.CloseView(SigningSecret, a.User, a.ViewID)
	if err != nil || req == nil {
		return nil, err
	}
	_, err = s.deliver(ctx, req, nil)
	return nil, err
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

// holdCostReview holds last month's cost review now, as its schedule
// would on the first working day of the month (the sandbox plays the
// calendar as it plays the clock), and runs the jobs it queued.
func (s *Sandbox) holdCostReview(ctx context.Context, _ Action) (map[string]any, error) {
	if s.bot.HoldCostReview == nil {
		return nil, errors.New("this opsbot has no cost review")
	}
	<-s.running
	s.advancing.Lock()
	defer s.advancing.Unlock()
	said, err := s.bot.HoldCostReview(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.bot.CatchUp(ctx); err != nil {
		return nil, fmt.Errorf("run opsbot's jobs: %w", err)
	}
	return map[string]any{"said": said}, nil
}

// serveFile sends the bytes of a file shared in the fake workspace (a
// chart picture), for the page to show in its message.
func (s *Sandbox) serveFile(w http.ResponseWriter, r *http.Request) {
	f, ok := s.slack.FileData(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(f.Name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "private, max-age=86400")
	_, _ = w.Write(f.Data)
}
