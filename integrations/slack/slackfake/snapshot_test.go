package slackfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
)

// activity fills a workspace through slack-go and the person helpers:
// a channel with members, topic, a message with blocks that is edited,
// reacted to and pinned, a thread, a DM, an ephemeral message and a
// modal. It returns the channel.
func activity(t *testing.T, e *env) (channel, parentTS, respURL string) {
	t.Helper()
	ctx := context.Background()
	ch, err := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-7-checkout"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.InviteUsersToConversationContext(ctx, ch.ID, e.alice.ID, e.bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.SetTopicOfConversationContext(ctx, ch.ID, "sev2 · investigating"); err != nil {
		t.Fatal(err)
	}
	blocks := slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*Checkout* slow", false, false), nil, nil))
	_, ts, err := e.api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("Checkout slow", false), blocks)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if _, _, _, err := e.api.UpdateMessageContext(ctx, ch.ID, ts, slack.MsgOptionText("Checkout slow (edited)", false), blocks); err != nil {
		t.Fatal(err)
	}
	ref := slack.NewRefToMessage(ch.ID, ts)
	if err := e.api.AddPinContext(ctx, ch.ID, ref); err != nil {
		t.Fatal(err)
	}
	if err := e.api.AddReactionContext(ctx, "eyes", ref); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.AddReaction(e.alice.ID, ch.ID, ts, ":eyes:"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.AddReaction(e.bob.ID, ch.ID, ts, "pushpin"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("bot reply", false), slack.MsgOptionTS(ts)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.PostReplyAs(e.alice.ID, ch.ID, ts, "rolled back"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.PostAs(e.bob.ID, ch.ID, "errors dropping"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.api.PostMessageContext(ctx, e.alice.ID, slack.MsgOptionText("your lease ends soon", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.PostEphemeralContext(ctx, ch.ID, e.bob.ID, slack.MsgOptionText("only Bob", false)); err != nil {
		t.Fatal(err)
	}
	req, err := e.srv.SlashCommand(secret, e.alice.ID, ch.ID, "/incident", "")
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := slack.SlashCommandParse(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.OpenViewContext(ctx, cmd.TriggerID, slack.ModalViewRequest{Type: slack.VTModal,
		Title: slack.NewTextBlockObject("plain_text", "Declare", false, false), CallbackID: "declare", PrivateMetadata: "m"}); err != nil {
		t.Fatal(err)
	}
	return ch.ID, ts, cmd.ResponseURL
}

func TestSnapshot_RestoreShowsTheSameWorkspaceThroughSlackGo(t *testing.T) {
	e := setup(t, slackfake.Options{AppURL: "http://opsbot.test"})
	ctx := context.Background()
	channel, parent, respURL := activity(t, e)
	snap, err := e.srv.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	// A fresh fake on the same clock, restored.
	srv := slackfake.Start(slackfake.Options{Clock: e.clock.Now})
	t.Cleanup(srv.Close)
	if err := srv.Restore(snap); err != nil {
		t.Fatal(err)
	}
	api := slack.New(srv.Token(), slack.OptionAPIURL(srv.APIURL()))
	again, err := srv.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snap, again) {
		t.Errorf("snapshot after restore differs:\n%s\nvs\n%s", snap, again)
	}

	read := func(a *slack.Client) (hist, replies []slack.Message, info *slack.Channel, pins []slack.Item) {
		t.Helper()
		h, err := a.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: channel})
		if err != nil {
			t.Fatal(err)
		}
		r, _, _, err := a.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: channel, Timestamp: parent})
		if err != nil {
			t.Fatal(err)
		}
		info, err = a.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channel})
		if err != nil {
			t.Fatal(err)
		}
		pins, _, err = a.ListPinsContext(ctx, channel)
		if err != nil {
			t.Fatal(err)
		}
		return h.Messages, r, info, pins
	}
	h1, r1, i1, p1 := read(e.api)
	h2, r2, i2, p2 := read(api)
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, c := range []struct {
		what      string
		was, back any
	}{{"history", h1, h2}, {"replies", r1, r2}, {"channel", i1, i2}, {"pins", p1, p2}} {
		if js(c.was) != js(c.back) {
			t.Errorf("%s after restore:\n%s\nwant\n%s", c.what, js(c.back), js(c.was))
		}
	}
	if len(h2) != 2 || len(r2) != 3 || i2.Topic.Value != "sev2 · investigating" || i2.NumMembers != 3 || len(p2) != 1 {
		t.Fatalf("restored: %d top-level, %d in thread, topic %q, %d members, %d pins", len(h2), len(r2), i2.Topic.Value, i2.NumMembers, len(p2))
	}
	top := h2[1] // newest first: the edited, pinned parent
	if top.Text != "Checkout slow (edited)" || top.Edited == nil || len(top.Blocks.BlockSet) != 1 ||
		top.ReplyCount != 2 || len(top.Reactions) != 2 || top.Reactions[0].Count != 2 || top.Reactions[1].Name != "pushpin" {
		t.Fatalf("restored parent = %+v", top)
	}
	u, err := api.GetUserByEmailContext(ctx, "alice@example.com")
	if err != nil || u.ID != e.alice.ID || u.RealName != "Alice A" {
		t.Fatalf("user after restore = %+v %v", u, err)
	}
	if dm := srv.DMs(e.alice.ID); len(dm) != 1 || dm[0].Text != "your lease ends soon" {
		t.Fatalf("DMs after restore = %+v", dm)
	}
	if eph := srv.Ephemerals(e.bob.ID); len(eph) != 1 || eph[0].Text != "only Bob" || eph[0].Blocks != nil {
		t.Fatalf("ephemerals after restore = %+v", eph)
	}
	if vs := srv.Views(e.alice.ID); len(vs) != 1 || !vs[0].Open || vs[0].CallbackID != "declare" || vs[0].PrivateMetadata != "m" {
		t.Fatalf("views after restore = %+v", vs)
	}

	// The command's response_url still answers on the restored fake.
	id := respURL[strings.Index(respURL, "/response/"):]
	resp, err := http.Post(srv.URL()+id, "application/json", strings.NewReader(`{"text":"declared"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("response_url after restore: HTTP %d", resp.StatusCode)
	}

	// New IDs and timestamps continue after the saved ones.
	var oldTS, oldIDs []string
	for _, c := range srv.Channels() {
		oldIDs = append(oldIDs, c.ID)
		for _, m := range srv.Messages(c.ID) {
			oldTS = append(oldTS, m.TS)
		}
	}
	for _, v := range srv.Views(e.alice.ID) {
		oldIDs = append(oldIDs, v.ID)
	}
	ch, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-8"})
	if err != nil {
		t.Fatal(err)
	}
	carol := srv.AddUser(slackfake.User{Name: "carol", Email: "carol@example.com"})
	if slices.Contains(oldIDs, ch.ID) || slices.Contains(oldIDs, carol.ID) || carol.ID == e.alice.ID || carol.ID == e.bob.ID {
		t.Fatalf("new IDs %s, %s repeat old ones %v", ch.ID, carol.ID, oldIDs)
	}
	_, ts, err := api.PostMessageContext(ctx, channel, slack.MsgOptionText("after restart", false))
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range oldTS {
		if ts <= old {
			t.Fatalf("new ts %s not after saved %s (clock stood still)", ts, old)
		}
	}
}

func TestRestore_RefusesBadSnapshotsAndChangesNothing(t *testing.T) {
	e := setup(t, slackfake.Options{AppURL: "http://opsbot.test"})
	activity(t, e)
	before, _ := e.srv.Snapshot()
	for name, bad := range map[string]string{
		"not JSON":          "{",
		"other version":     `{"version":99}`,
		"repeated user":     `{"version":1,"users":[{"ID":"U1"},{"ID":"U1"}]}`,
		"orphan message":    `{"version":1,"messages":{"C404":[{"TS":"1.000001"}]}}`,
		"view with no JSON": `{"version":1,"views":[{"ID":"V1"}]}`,
	} {
		if err := e.srv.Restore([]byte(bad)); err == nil {
			t.Errorf("%s: restored", name)
		}
	}
	if after, _ := e.srv.Snapshot(); !bytes.Equal(before, after) {
		t.Fatal("a refused restore changed the workspace")
	}
}
