package slackfake_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
)

func TestInvite_OneBadUserKeepsAllOutUnlessForced(t *testing.T) {
	e := setup(t, slackfake.Options{})
	ctx := context.Background()
	ch, err := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.InviteUsersToConversationContext(ctx, ch.ID, e.alice.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.api.InviteUsersToConversationContext(ctx, ch.ID, e.alice.ID, e.bob.ID)
	var se slack.SlackErrorResponse
	if !errorsAs(err, &se) || se.Err != "already_in_channel" || len(se.Errors) != 1 ||
		se.Errors[0].ConversationsInviteResponseError == nil || se.Errors[0].ConversationsInviteResponseError.User != e.alice.ID {
		t.Fatalf("err = %#v", err)
	}
	if c, _ := e.srv.Channel(ch.ID); slices.Contains(c.Members, e.bob.ID) {
		t.Fatal("bob was added although the call failed")
	}
	_, err = e.api.ForceInviteUsersToConversationContext(ctx, ch.ID, e.alice.ID, e.bob.ID, e.srv.BotUserID())
	if !errorsAs(err, &se) || len(se.Errors) != 2 {
		t.Fatalf("forced: %#v", err)
	}
	if c, _ := e.srv.Channel(ch.ID); !slices.Contains(c.Members, e.bob.ID) {
		t.Fatal("force did not add bob")
	}
}

func errorsAs(err error, se *slack.SlackErrorResponse) bool {
	if err == nil {
		return false
	}
	v, ok := err.(slack.SlackErrorResponse)
	*se = v
	return ok
}

func TestSocketMode_ConnectionsOpenTakesOnlyTheAppToken(t *testing.T) {
	e := setup(t, slackfake.Options{})
	ctx := context.Background()
	asBot := slack.New("", slack.OptionAPIURL(e.srv.APIURL()), slack.OptionAppLevelToken(e.srv.Token()))
	if _, _, err := asBot.StartSocketModeContext(ctx); slackErr(err) != "not_allowed_token_type" {
		t.Fatalf("bot token: %v", err)
	}
	app := slack.New("", slack.OptionAPIURL(e.srv.APIURL()), slack.OptionAppLevelToken(e.srv.AppToken()))
	if _, err := app.AuthTestContext(ctx); slackErr(err) != "not_authed" {
		t.Fatalf("app client without bot token: %v", err)
	}
	_, u, err := app.StartSocketModeContext(ctx)
	if err != nil || !strings.HasPrefix(u, "ws://") {
		t.Fatalf("url %q, err %v", u, err)
	}
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var hello map[string]any
	if err := ws.ReadJSON(&hello); err != nil || hello["type"] != "hello" {
		t.Fatalf("hello = %v, %v", hello, err)
	}
	if _, _, err := websocket.DefaultDialer.DialContext(ctx, u, nil); err == nil {
		t.Fatal("a connection URL worked twice")
	}
	id, err := e.srv.SocketEvent(map[string]any{"type": "app_home_opened", "user": e.alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		EnvelopeID string          `json:"envelope_id"`
		Type       string          `json:"type"`
		Payload    json.RawMessage `json:"payload"`
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.ReadJSON(&env); err != nil || env.EnvelopeID != id || env.Type != "events_api" || !strings.Contains(string(env.Payload), "event_callback") {
		t.Fatalf("envelope = %+v, %v", env, err)
	}
	if err := ws.WriteJSON(map[string]any{"envelope_id": id}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, _ := e.srv.SocketEnvelope(id); got.Acked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ack not recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
