package slackfake_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type env struct {
	srv   *slackfake.Server
	clock *workflows.ManualClock
	api   *slack.Client
	alice slackfake.User
	bob   slackfake.User
}

func setup(t *testing.T, opts slackfake.Options) *env {
	t.Helper()
	clock := workflows.NewManualClock(t0)
	opts.Clock = clock.Now
	srv := slackfake.Start(opts)
	t.Cleanup(srv.Close)
	e := &env{srv: srv, clock: clock, api: slack.New(srv.Token(), slack.OptionAPIURL(srv.APIURL()))}
	e.alice = srv.AddUser(slackfake.User{Name: "alice", RealName: "Alice A", Email: "alice@example.com"})
	e.bob = srv.AddUser(slackfake.User{Name: "bob", RealName: "Bob B", Email: "Bob@Example.com"})
	return e
}

func slackErr(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

func TestPostUpdateThreadAndHistory(t *testing.T) {
	e := setup(t, slackfake.Options{})
	ctx := context.Background()
	ch, err := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "ops-approvals"})
	if err != nil {
		t.Fatal(err)
	}
	blocks := slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*hi*", false, false), nil, nil))
	gotCh, ts, err := e.api.PostMessageContext(ctx, "#ops-approvals", slack.MsgOptionText("hi", false), blocks)
	if err != nil {
		t.Fatal(err)
	}
	if gotCh != ch.ID {
		t.Fatalf("posted to %s, want %s", gotCh, ch.ID)
	}
	e.clock.Advance(time.Second)
	_, rts, err := e.api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("reply", false), slack.MsgOptionTS(ts))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.api.UpdateMessageContext(ctx, ch.ID, ts, slack.MsgOptionText("edited", false)); err != nil {
		t.Fatal(err)
	}
	msgs := e.srv.Messages("ops-approvals")
	if len(msgs) != 2 || msgs[0].Text != "edited" || msgs[0].Edited == nil || msgs[0].Replies != 1 {
		t.Fatalf("messages = %+v", msgs)
	}
	if string(msgs[0].Blocks) == "" {
		t.Fatal("chat.update without blocks dropped the blocks")
	}
	if msgs[1].ThreadTS != ts || msgs[1].TS != rts {
		t.Fatalf("reply = %+v, want thread %s", msgs[1], ts)
	}
	hist, err := e.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: ch.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Messages) != 1 || hist.Messages[0].ReplyCount != 1 || len(hist.Messages[0].Blocks.BlockSet) != 1 {
		t.Fatalf("history = %+v", hist.Messages)
	}
	replies, _, _, err := e.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: ch.ID, Timestamp: ts})
	if err != nil {
		t.Fatal(err)
	}
	if len(replies) != 2 || replies[1].Text != "reply" {
		t.Fatalf("replies = %+v", replies)
	}
	link, err := e.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: ch.ID, Ts: rts})
	if err != nil {
		t.Fatal(err)
	}
	if want := e.srv.URL() + "/archives/" + ch.ID + "/p"; len(link) < len(want) || link[:len(want)] != want {
		t.Fatalf("permalink = %s", link)
	}
	if _, _, err := e.api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("x", false), slack.MsgOptionTS("1.000001")); slackErr(err) != "thread_not_found" {
		t.Fatalf("unknown thread: err = %v", err)
	}
	if _, _, err := e.api.PostMessageContext(ctx, ch.ID); slackErr(err) != "no_text" {
		t.Fatalf("empty message: err = %v", err)
	}
	if _, _, err := e.api.DeleteMessageContext(ctx, ch.ID, rts); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Messages(ch.ID); len(got) != 1 || got[0].Replies != 0 {
		t.Fatalf("after delete: %+v", got)
	}
}

func TestPostRefusedWhereBotIsNotMember(t *testing.T) {
	e := setup(t, slackfake.Options{})
	e.srv.AddChannel(slackfake.Channel{Name: "general", Members: []string{e.alice.ID}})
	e.srv.AddChannel(slackfake.Channel{Name: "secret", IsPrivate: true, Members: []string{e.alice.ID}})
	ctx := context.Background()
	if _, _, err := e.api.PostMessageContext(ctx, "#general", slack.MsgOptionText("x", false)); slackErr(err) != "not_in_channel" {
		t.Fatalf("public, not member: %v", err)
	}
	if _, _, err := e.api.PostMessageContext(ctx, "#secret", slack.MsgOptionText("x", false)); slackErr(err) != "channel_not_found" {
		t.Fatalf("private, not member: %v", err)
	}
}

func TestInvalidBlocksRefused(t *testing.T) {
	e := setup(t, slackfake.Options{})
	ctx := context.Background()
	ch, _ := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "x"})
	var fields []*slack.TextBlockObject
	for range 11 {
		fields = append(fields, slack.NewTextBlockObject("mrkdwn", "f", false, false))
	}
	_, _, err := e.api.PostMessageContext(ctx, ch.ID, slack.MsgOptionBlocks(slack.NewSectionBlock(nil, fields, nil)))
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "invalid_blocks" || len(se.ResponseMetadata.Messages) == 0 {
		t.Fatalf("11 fields: err = %#v", err)
	}
}

func TestDMViaConversationsOpen(t *testing.T) {
	e := setup(t, slackfake.Options{})
	ctx := context.Background()
	im, _, _, err := e.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{e.alice.ID}})
	if err != nil {
		t.Fatal(err)
	}
	again, noOp, already, err := e.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{e.alice.ID}})
	if err != nil || again.ID != im.ID || !noOp || !already {
		t.Fatalf("reopen: %v %v %v %v", again, noOp, already, err)
	}
	if _, _, err := e.api.PostMessageContext(ctx, im.ID, slack.MsgOptionText("psst", false)); err != nil {
		t.Fatal(err)
	}
	dms := e.srv.DMs(e.alice.ID)
	if len(dms) != 1 || dms[0].Text != "psst" {
		t.Fatalf("DMs = %+v", dms)
	}
	if len(e.srv.DMs(e.bob.ID)) != 0 {
		t.Fatal("bob got alice's DM")
	}
	if _, _, _, err := e.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U0NOPE"}}); slackErr(err) != "user_not_found" {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestUsers(t *testing.T) {
	e := setup(t, slackfake.Options{})
	ctx := context.Background()
	u, err := e.api.GetUserByEmailContext(ctx, "bob@example.com")
	if err != nil || u.ID != e.bob.ID || u.Profile.Email != "Bob@Example.com" || u.RealName != "Bob B" {
		t.Fatalf("lookup bob: %+v %v", u, err)
	}
	if _, err := e.api.GetUserByEmailContext(ctx, "carol@example.com"); slackErr(err) != "users_not_found" {
		t.Fatalf("unknown email: %v", err)
	}
	info, err := e.api.GetUserInfoContext(ctx, e.alice.ID)
	if err != nil || info.Name != "alice" || info.Profile.Email != "alice@example.com" {
		t.Fatalf("users.info: %+v %v", info, err)
	}
	all, err := e.api.GetUsersContext(ctx, slack.GetUsersOptionLimit(2))
	if err != nil || len(all) != 3 {
		t.Fatalf("users.list over pages: %d users, %v", len(all), err)
	}
}

func TestCreateChannelNameRules(t *testing.T) {
	e := setup(t, slackfake.Options{})
	ctx := context.Background()
	long := ""
	for range 81 {
		long += "a"
	}
	cases := []struct{ name, err string }{
		{"inc-7-db-down", ""},
		{"inc_8", ""},
		{"inc-7-db-down", "name_taken"},
		{"", "invalid_name_required"},
		{"Inc-9", "invalid_name_specials"},
		{"inc 9", "invalid_name_specials"},
		{"inc.9", "invalid_name_specials"},
		{"#inc9", "invalid_name_specials"},
		{"--__", "invalid_name_punctuation"},
		{long, "invalid_name_maxlength"},
		{long[:80], ""},
	}
	for _, c := range cases {
		ch, err := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: c.name, IsPrivate: c.name == "inc_8"})
		if got := slackErr(err); got != c.err {
			t.Errorf("create %q: error %q, want %q (%v)", c.name, got, c.err, err)
			continue
		}
		if c.err == "" && (ch.Name != c.name || ch.Creator != e.srv.BotUserID()) {
			t.Errorf("create %q: got %+v", c.name, ch)
		}
	}
	if ch, ok := e.srv.Channel("#inc_8"); !ok || !ch.IsPrivate {
		t.Fatalf("inc_8 = %+v %v", ch, ok)
	}
	all, err := e.api.GetAllConversationsContext(ctx, slack.GetConversationsOptionTypes([]string{"public_channel"}), slack.GetConversationsOptionLimit(1))
	if err != nil || len(all) != 2 {
		t.Fatalf("public channels over pages = %d, %v", len(all), err)
	}
}

func TestInviteTopicPurposeInfo(t *testing.T) {
	e := setup(t, slackfake.Options{})
	ctx := context.Background()
	ch, _ := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-1"})
	if _, err := e.api.InviteUsersToConversationContext(ctx, ch.ID, e.alice.ID, e.bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.InviteUsersToConversationContext(ctx, ch.ID, e.alice.ID); err == nil {
		t.Fatal("second invite of alice succeeded")
	}
	if _, err := e.api.SetTopicOfConversationContext(ctx, ch.ID, "sev1: db down"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.SetPurposeOfConversationContext(ctx, ch.ID, "incident inc-1"); err != nil {
		t.Fatal(err)
	}
	info, err := e.api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: ch.ID})
	if err != nil {
		t.Fatal(err)
	}
	if info.Topic.Value != "sev1: db down" || info.Purpose.Value != "incident inc-1" || len(info.Members) != 0 && len(info.Members) != 3 || info.NumMembers != 3 {
		t.Fatalf("info = %+v", info)
	}
}

func TestPinsAndReactions(t *testing.T) {
	e := setup(t, slackfake.Options{})
	ctx := context.Background()
	ch, _ := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-2"})
	_, ts, _ := e.api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("status", false))
	ref := slack.NewRefToMessage(ch.ID, ts)
	if err := e.api.AddPinContext(ctx, ch.ID, ref); err != nil {
		t.Fatal(err)
	}
	if err := e.api.AddPinContext(ctx, ch.ID, ref); slackErr(err) != "already_pinned" {
		t.Fatalf("second pin: %v", err)
	}
	items, _, err := e.api.ListPinsContext(ctx, ch.ID)
	if err != nil || len(items) != 1 || items[0].Message == nil || items[0].Message.Timestamp != ts {
		t.Fatalf("pins.list = %+v %v", items, err)
	}
	if pins := e.srv.Pins("inc-2"); len(pins) != 1 || pins[0].TS != ts {
		t.Fatalf("Pins = %+v", pins)
	}
	if err := e.api.AddReactionContext(ctx, "eyes", ref); err != nil {
		t.Fatal(err)
	}
	if err := e.api.AddReactionContext(ctx, "eyes", ref); slackErr(err) != "already_reacted" {
		t.Fatalf("second reaction: %v", err)
	}
	if m := e.srv.Messages(ch.ID)[0]; len(m.Reactions) != 1 || m.Reactions[0].Name != "eyes" {
		t.Fatalf("reactions = %+v", m.Reactions)
	}
}

func TestAuth(t *testing.T) {
	e := setup(t, slackfake.Options{})
	ctx := context.Background()
	who, err := e.api.AuthTestContext(ctx)
	if err != nil || who.UserID != e.srv.BotUserID() || who.TeamID != e.srv.TeamID() {
		t.Fatalf("auth.test = %+v %v", who, err)
	}
	bad := slack.New("xoxb-wrong", slack.OptionAPIURL(e.srv.APIURL()))
	if _, err := bad.AuthTestContext(ctx); slackErr(err) != "invalid_auth" {
		t.Fatalf("wrong token: %v", err)
	}
	if _, _, err := bad.PostMessageContext(ctx, "x", slack.MsgOptionText("x", false)); slackErr(err) != "invalid_auth" {
		t.Fatalf("wrong token post: %v", err)
	}
	none := slack.New("", slack.OptionAPIURL(e.srv.APIURL()))
	if _, err := none.AuthTestContext(ctx); slackErr(err) != "not_authed" {
		t.Fatalf("no token: %v", err)
	}
	if len(e.srv.Messages("x")) != 0 {
		t.Fatal("unauthenticated call changed state")
	}
}

func TestEphemeral(t *testing.T) {
	e := setup(t, slackfake.Options{})
	ctx := context.Background()
	ch, _ := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "ops"})
	if _, err := e.api.PostEphemeralContext(ctx, ch.ID, e.alice.ID, slack.MsgOptionText("only you", false)); slackErr(err) != "user_not_in_channel" {
		t.Fatalf("not in channel: %v", err)
	}
	_, _ = e.api.InviteUsersToConversationContext(ctx, ch.ID, e.alice.ID)
	if _, err := e.api.PostEphemeralContext(ctx, ch.ID, e.alice.ID, slack.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Ephemerals(e.alice.ID); len(got) != 1 || got[0].Text != "only you" {
		t.Fatalf("ephemerals = %+v", got)
	}
	if len(e.srv.Messages(ch.ID)) != 0 || len(e.srv.Ephemerals(e.bob.ID)) != 0 {
		t.Fatal("ephemeral leaked")
	}
}
