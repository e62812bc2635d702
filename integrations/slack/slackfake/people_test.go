package slackfake_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
)

// inner parses a built event with slack-go, as an app would.
func inner(t *testing.T, r *http.Request) slackevents.EventsAPIInnerEvent {
	t.Helper()
	ev, err := slackevents.ParseEvent(body(t, r), slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("X-Slack-Signature") == "" || r.URL.Path != slackfake.EventsPath {
		t.Fatalf("not a signed event request: %s %v", r.URL, r.Header)
	}
	return ev.InnerEvent
}

func TestReactionAdded_StoresTheReactionAndBuildsTheEvent(t *testing.T) {
	e := setup(t, slackfake.Options{AppURL: "http://opsbot.test"})
	ctx := context.Background()
	e.srv.AddChannel(slackfake.Channel{Name: "inc-3", Members: []string{e.srv.BotUserID(), e.alice.ID, e.bob.ID}})
	m, err := e.srv.PostAs(e.bob.ID, "#inc-3", "deploy 42 went out at 09:12")
	if err != nil {
		t.Fatal(err)
	}
	req, err := e.srv.ReactionAdded(secret, e.alice.ID, "inc-3", m.TS, "pushpin")
	if err != nil {
		t.Fatal(err)
	}
	ra, ok := inner(t, req).Data.(*slackevents.ReactionAddedEvent)
	if !ok || ra.User != e.alice.ID || ra.Reaction != "pushpin" || ra.ItemUser != e.bob.ID ||
		ra.Item.Type != "message" || ra.Item.Channel != m.Channel || ra.Item.Timestamp != m.TS {
		t.Fatalf("reaction_added = %+v", ra)
	}
	// The app reads the marked message back, reaction included.
	h, err := e.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: m.Channel, Latest: m.TS, Oldest: m.TS, Inclusive: true, Limit: 1})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].User != e.bob.ID || len(h.Messages[0].Reactions) != 1 ||
		h.Messages[0].Reactions[0].Name != "pushpin" || h.Messages[0].Reactions[0].Users[0] != e.alice.ID {
		t.Fatalf("history = %+v %v", h, err)
	}
	if _, err := e.srv.ReactionAdded(secret, e.alice.ID, "inc-3", m.TS, ":pushpin:"); err == nil {
		t.Fatal("the same person reacted twice with the same emoji")
	}
	if err := e.srv.AddReaction(e.bob.ID, "inc-3", m.TS, "pushpin"); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Messages("inc-3")[0].Reactions; len(got) != 1 || len(got[0].Users) != 2 {
		t.Fatalf("reactions = %+v", got)
	}
	for name, try := range map[string]func() error{
		"unknown message": func() error { return e.srv.AddReaction(e.alice.ID, "inc-3", "1.000001", "pushpin") },
		"unknown channel": func() error { return e.srv.AddReaction(e.alice.ID, "nope", m.TS, "pushpin") },
		"unknown user":    func() error { return e.srv.AddReaction("U404", "inc-3", m.TS, "pushpin") },
		"empty name":      func() error { return e.srv.AddReaction(e.alice.ID, "inc-3", m.TS, "::") },
	} {
		if try() == nil {
			t.Errorf("%s: reacted", name)
		}
	}
}

func TestPostReplyAs_ThreadsAndMessageEvents(t *testing.T) {
	e := setup(t, slackfake.Options{AppURL: "http://opsbot.test"})
	ctx := context.Background()
	e.srv.AddChannel(slackfake.Channel{Name: "inc-4", Members: []string{e.srv.BotUserID(), e.alice.ID, e.bob.ID}})
	parent, _ := e.srv.PostAs(e.alice.ID, "inc-4", "what changed?")
	r1, err := e.srv.PostReplyAs(e.bob.ID, "inc-4", parent.TS, "the cache config")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := e.srv.PostReplyAs(e.alice.ID, "inc-4", r1.TS, "<@U0BOT0001> note that") // a reply's ts means its thread
	if err != nil {
		t.Fatal(err)
	}
	if r1.ThreadTS != parent.TS || r2.ThreadTS != parent.TS {
		t.Fatalf("replies in threads %s, %s; want %s", r1.ThreadTS, r2.ThreadTS, parent.TS)
	}
	msgs, _, _, err := e.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: parent.Channel, Timestamp: parent.TS})
	if err != nil || len(msgs) != 3 || msgs[0].ReplyCount != 2 || msgs[2].Text != r2.Text {
		t.Fatalf("replies = %+v %v", msgs, err)
	}
	h, _ := e.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: parent.Channel})
	if len(h.Messages) != 1 {
		t.Fatalf("history shows %d messages; replies belong in the thread only", len(h.Messages))
	}
	if _, err := e.srv.PostReplyAs(e.bob.ID, "inc-4", "1.000001", "lost"); err == nil {
		t.Fatal("replied under a message that does not exist")
	}

	req, err := e.srv.MessageEvent(secret, r1)
	if err != nil {
		t.Fatal(err)
	}
	me, ok := inner(t, req).Data.(*slackevents.MessageEvent)
	if !ok || me.User != e.bob.ID || me.Text != r1.Text || me.TimeStamp != r1.TS || me.ThreadTimeStamp != parent.TS ||
		me.ChannelType != "channel" || me.Channel != parent.Channel {
		t.Fatalf("message event = %+v", me)
	}
	req, err = e.srv.MentionEvent(secret, r2)
	if err != nil {
		t.Fatal(err)
	}
	am, ok := inner(t, req).Data.(*slackevents.AppMentionEvent)
	if !ok || am.User != e.alice.ID || am.ThreadTimeStamp != parent.TS || am.TimeStamp != r2.TS {
		t.Fatalf("app_mention = %+v", am)
	}
	top, _ := e.srv.PostAs(e.bob.ID, "inc-4", "plain")
	req, _ = e.srv.MessageEvent(secret, top)
	if me, _ := inner(t, req).Data.(*slackevents.MessageEvent); me == nil || me.ThreadTimeStamp != "" {
		t.Fatalf("top-level message event = %+v", me)
	}
	if _, err := e.srv.MessageEvent(secret, slackfake.Message{Channel: parent.Channel, TS: "1.000001"}); err == nil {
		t.Fatal("built an event for a message that was never posted")
	}
}

func TestCloseView_NotifiesOnlyWhenAsked(t *testing.T) {
	var got []slack.InteractionCallback
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cb, err := slack.InteractionCallbackParse(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = append(got, cb)
	}))
	t.Cleanup(app.Close)
	e := setup(t, slackfake.Options{AppURL: app.URL})
	ctx := context.Background()
	open := func(callback string, notify, clearAll bool) string {
		t.Helper()
		req, _ := e.srv.SlashCommand(secret, e.alice.ID, "", "/ops", "")
		cmd, _ := slack.SlashCommandParse(req)
		v, err := e.api.OpenViewContext(ctx, cmd.TriggerID, slack.ModalViewRequest{Type: slack.VTModal, CallbackID: callback,
			Title: slack.NewTextBlockObject("plain_text", callback, false, false), NotifyOnClose: notify, ClearOnClose: clearAll})
		if err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	isOpen := func(id string) bool { v, _ := e.srv.View(id); return v.Open }

	quiet := open("quiet", false, false)
	req, err := e.srv.CloseView(secret, e.alice.ID, quiet)
	if err != nil || req != nil || isOpen(quiet) {
		t.Fatalf("closing a modal without notify_on_close: request %v, err %v, open %v", req, err, isOpen(quiet))
	}
	if _, err := e.srv.CloseView(secret, e.alice.ID, quiet); err == nil {
		t.Fatal("closed a modal twice")
	}

	first := open("first", false, false)
	loud := open("loud", true, false)
	if _, err := e.srv.CloseView(secret, e.bob.ID, loud); err == nil {
		t.Fatal("Bob closed Alice's modal")
	}
	req, err = e.srv.CloseView(secret, e.alice.ID, loud)
	if err != nil || req == nil {
		t.Fatalf("close with notify_on_close: %v %v", req, err)
	}
	if st, err := e.srv.Deliver(ctx, app.Client(), req); err != nil || st != http.StatusOK {
		t.Fatalf("deliver view_closed: %d %v", st, err)
	}
	if len(got) != 1 || got[0].Type != slack.InteractionTypeViewClosed || got[0].View.ID != loud ||
		got[0].View.CallbackID != "loud" || got[0].User.ID != e.alice.ID || got[0].IsCleared {
		t.Fatalf("view_closed = %+v", got)
	}
	if isOpen(loud) || !isOpen(first) {
		t.Fatal("closing one modal should leave the one under it open")
	}

	stack := open("clear", true, true)
	req, err = e.srv.CloseView(secret, e.alice.ID, stack)
	if err != nil || req == nil {
		t.Fatal(err)
	}
	var p struct {
		Type      string `json:"type"`
		IsCleared bool   `json:"is_cleared"`
	}
	if b := body(t, req); json.Unmarshal([]byte(mustForm(t, b)), &p) != nil || p.Type != "view_closed" || !p.IsCleared {
		t.Fatalf("clear_on_close payload = %+v", p)
	}
	if isOpen(first) || isOpen(stack) {
		t.Fatal("clear_on_close left modals open")
	}
}

// mustForm reads the payload field of an interaction request body.
func mustForm(t *testing.T, b []byte) string {
	t.Helper()
	v, err := url.ParseQuery(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return v.Get("payload")
}
