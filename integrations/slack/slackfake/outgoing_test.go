package slackfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

const secret = "8f742231b10e8888abcd99yyyzzz85a5"

// body reads a built request's body and puts it back.
func body(t *testing.T, r *http.Request) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

func TestSignatureMatchesSlacksPublishedExample(t *testing.T) {
	// From Slack's "Verifying requests from Slack" guide.
	b := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	got := slackfake.Signature(secret, 1531420618, []byte(b))
	if want := "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"; got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
}

func TestSlashCommandSignedAndParsedBySlackGo(t *testing.T) {
	// slack-go's verifier checks the timestamp against the wall clock, so
	// this test signs with the system clock.
	srv := slackfake.Start(slackfake.Options{Clock: workflows.SystemClock{}.Now, AppURL: "http://opsbot.test"})
	t.Cleanup(srv.Close)
	alice := srv.AddUser(slackfake.User{Name: "alice", Email: "alice@example.com"})
	srv.AddChannel(slackfake.Channel{Name: "ops", Members: []string{alice.ID}})
	req, err := srv.SlashCommand(secret, alice.ID, "#ops", "/ops", "server request gpu-large for 2d <!channel>")
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.String() != "http://opsbot.test/slack/commands" {
		t.Fatalf("url = %s", req.URL)
	}
	b := body(t, req)
	sv, err := slack.NewSecretsVerifier(req.Header, secret)
	if err != nil {
		t.Fatal(err)
	}
	sv.Write(b)
	if err := sv.Ensure(); err != nil {
		t.Fatalf("signature rejected: %v", err)
	}
	wrong, _ := slack.NewSecretsVerifier(req.Header, "other-secret")
	wrong.Write(b)
	if wrong.Ensure() == nil {
		t.Fatal("signature accepted with the wrong secret")
	}
	cmd, err := slack.SlashCommandParse(req)
	if err != nil {
		t.Fatal(err)
	}
	ops, _ := srv.Channel("ops")
	if cmd.UserID != alice.ID || cmd.UserName != "alice" || cmd.ChannelID != ops.ID || cmd.ChannelName != "ops" ||
		cmd.Command != "/ops" || cmd.Text != "server request gpu-large for 2d <!channel>" ||
		cmd.TeamID != srv.TeamID() || cmd.APIAppID == "" || cmd.TriggerID == "" || cmd.ResponseURL == "" {
		t.Fatalf("parsed = %+v", cmd)
	}
	if _, err := srv.SlashCommand(secret, "U0NOBODY", "#ops", "/ops", ""); err == nil {
		t.Fatal("command from unknown user built")
	}
}

func TestTriggerOpensModalOnceWithinThreeSeconds(t *testing.T) {
	e := setup(t, slackfake.Options{AppURL: "http://opsbot.test"})
	ctx := context.Background()
	modal := slack.ModalViewRequest{
		Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Request server", false, false),
		CallbackID: "server.request", PrivateMetadata: "C1",
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewInputBlock("reason", slack.NewTextBlockObject("plain_text", "Reason", false, false), nil,
			slack.NewPlainTextInputBlockElement(nil, "reason"))}},
	}
	trig := func() string {
		req, err := e.srv.SlashCommand(secret, e.alice.ID, "", "/ops", "server request")
		if err != nil {
			t.Fatal(err)
		}
		cmd, _ := slack.SlashCommandParse(req)
		return cmd.TriggerID
	}
	tid := trig()
	v, err := e.api.OpenViewContext(ctx, tid, modal)
	if err != nil {
		t.Fatal(err)
	}
	if v.ID == "" || v.CallbackID != "server.request" || v.PrivateMetadata != "C1" || v.Hash == "" {
		t.Fatalf("view = %+v", v.View)
	}
	if _, err := e.api.OpenViewContext(ctx, tid, modal); slackErr(err) != "invalid_trigger_id" {
		t.Fatalf("reused trigger: %v", err)
	}
	late := trig()
	e.clock.Advance(3*time.Second + time.Millisecond)
	if _, err := e.api.OpenViewContext(ctx, late, modal); slackErr(err) != "expired_trigger_id" {
		t.Fatalf("late trigger: %v", err)
	}
	modal.Title = slack.NewTextBlockObject("plain_text", "Updated", false, false)
	if _, err := e.api.UpdateViewContext(ctx, modal, "", "stale-hash", v.ID); slackErr(err) != "hash_conflict" {
		t.Fatalf("stale hash: %v", err)
	}
	if _, err := e.api.UpdateViewContext(ctx, modal, "", v.Hash, v.ID); err != nil {
		t.Fatal(err)
	}
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*Your servers*", false, false), nil, nil)}}}
	if _, err := e.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: e.alice.ID, View: home}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: e.alice.ID, View: home}); err != nil {
		t.Fatal(err)
	}
	views := e.srv.Views(e.alice.ID)
	if len(views) != 2 || views[0].Title != "Updated" || !views[0].Open || views[1].Type != "home" {
		t.Fatalf("views = %+v", views)
	}
}

func TestBlockActionAndResponseURL(t *testing.T) {
	e := setup(t, slackfake.Options{AppURL: "http://opsbot.test"})
	ctx := context.Background()
	ch, _ := e.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "approvals"})
	_, _ = e.api.InviteUsersToConversationContext(ctx, ch.ID, e.alice.ID)
	approve := slack.NewButtonBlockElement("approval.approve", "apr-3", slack.NewTextBlockObject("plain_text", "Approve", false, false))
	approve.Style = slack.StylePrimary
	deny := slack.NewButtonBlockElement("approval.deny", "apr-3", slack.NewTextBlockObject("plain_text", "Deny", false, false))
	_, ts, err := e.api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("approve?", false),
		slack.MsgOptionBlocks(slack.NewActionBlock("decide", approve, deny)))
	if err != nil {
		t.Fatal(err)
	}
	req, err := e.srv.BlockAction(secret, slackfake.Click{User: e.alice.ID, Channel: ch.ID, MessageTS: ts, ActionID: "approval.approve"})
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, req)
	ts0 := strconv.FormatInt(e.clock.Now().Unix(), 10)
	if req.Header.Get("X-Slack-Request-Timestamp") != ts0 || req.Header.Get("X-Slack-Signature") != slackfake.Signature(secret, e.clock.Now().Unix(), b) {
		t.Fatalf("headers = %v", req.Header)
	}
	cb, err := slack.InteractionCallbackParse(req)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Type != slack.InteractionTypeBlockActions || cb.User.ID != e.alice.ID || cb.Channel.ID != ch.ID ||
		cb.Message.Timestamp != ts || cb.Container.MessageTs != ts || cb.Container.ChannelID != ch.ID || cb.TriggerID == "" {
		t.Fatalf("callback = %+v", cb)
	}
	acts := cb.ActionCallback.BlockActions
	if len(acts) != 1 || acts[0].ActionID != "approval.approve" || acts[0].Value != "apr-3" || acts[0].BlockID != "decide" || acts[0].Text.Text != "Approve" {
		t.Fatalf("actions = %+v", acts)
	}
	if _, err := e.srv.BlockAction(secret, slackfake.Click{User: e.alice.ID, Channel: ch.ID, MessageTS: ts, ActionID: "lease.extend"}); err == nil {
		t.Fatal("click on a button that is not there was built")
	}

	// The app answers through response_url: first privately, then by
	// replacing the original message.
	post := func(v any) int {
		js, _ := json.Marshal(v)
		resp, err := http.Post(cb.ResponseURL, "application/json", bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post(slack.Msg{Text: "You approved apr-3 (1 of 2)."}); st != http.StatusOK {
		t.Fatalf("status %d", st)
	}
	if st := post(slack.Msg{Text: "Approved by alice", ReplaceOriginal: true}); st != http.StatusOK {
		t.Fatalf("status %d", st)
	}
	if eph := e.srv.Ephemerals(e.alice.ID); len(eph) != 1 || eph[0].Text != "You approved apr-3 (1 of 2)." {
		t.Fatalf("ephemerals = %+v", eph)
	}
	if m := e.srv.Messages(ch.ID); len(m) != 1 || m[0].Text != "Approved by alice" || m[0].Blocks != nil {
		t.Fatalf("message after replace = %+v", m)
	}
	rs := e.srv.Responses()
	if len(rs) != 2 || rs[0].ResponseType != "ephemeral" || !rs[1].ReplaceOriginal || rs[1].MessageTS != ts {
		t.Fatalf("responses = %+v", rs)
	}
	for range 3 {
		post(slack.Msg{Text: "again"})
	}
	if st := post(slack.Msg{Text: "sixth"}); st != http.StatusNotFound {
		t.Fatalf("sixth use: status %d, want 404", st)
	}
}

func TestViewSubmissionDeliveredAndAnswered(t *testing.T) {
	var got slack.InteractionCallback
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if got, err = slack.InteractionCallbackParse(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if got.View.State.Values["dur"]["dur"].Value == "forever" {
			_ = json.NewEncoder(w).Encode(slack.NewErrorsViewSubmissionResponse(map[string]string{"dur": "Try 4h or 2d"}))
		}
	}))
	t.Cleanup(app.Close)
	e := setup(t, slackfake.Options{AppURL: app.URL})
	ctx := context.Background()
	req, _ := e.srv.SlashCommand(secret, e.alice.ID, "", "/ops", "")
	cmd, _ := slack.SlashCommandParse(req)
	v, err := e.api.OpenViewContext(ctx, cmd.TriggerID, slack.ModalViewRequest{
		Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Request", false, false), CallbackID: "req",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("dur", slack.NewTextBlockObject("plain_text", "For how long", false, false), nil,
				slack.NewPlainTextInputBlockElement(nil, "dur")),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	submit := func(dur string) {
		t.Helper()
		req, err := e.srv.ViewSubmission(secret, e.alice.ID, v.ID, map[string]map[string]slackfake.InputValue{
			"dur":      {"dur": {Value: dur}},
			"template": {"pick": {Type: "static_select", Value: "gpu-large"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if st, err := e.srv.Deliver(ctx, app.Client(), req); err != nil || st != http.StatusOK {
			t.Fatalf("deliver: %d %v", st, err)
		}
	}
	submit("forever")
	if got.Type != slack.InteractionTypeViewSubmission || got.View.CallbackID != "req" ||
		got.View.State.Values["template"]["pick"].SelectedOption.Value != "gpu-large" {
		t.Fatalf("callback = %+v", got)
	}
	if view, _ := e.srv.View(v.ID); !view.Open || view.Errors["dur"] != "Try 4h or 2d" {
		t.Fatalf("after errors answer: %+v", view)
	}
	submit("2d")
	if view, _ := e.srv.View(v.ID); view.Open {
		t.Fatal("modal still open after an empty 200 answer")
	}
}

// Errors keyed by a block_id that is no input block of the view are the
// app's mistake: Slack cannot show them on a field.
func TestViewSubmissionErrorsMustNameInputBlocks(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(slack.NewErrorsViewSubmissionResponse(map[string]string{"nowhere": "Wrong"}))
	}))
	t.Cleanup(app.Close)
	e := setup(t, slackfake.Options{AppURL: app.URL})
	ctx := context.Background()
	req, _ := e.srv.SlashCommand(secret, e.alice.ID, "", "/ops", "")
	cmd, _ := slack.SlashCommandParse(req)
	v, err := e.api.OpenViewContext(ctx, cmd.TriggerID, slack.ModalViewRequest{
		Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Request", false, false), CallbackID: "req",
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject("plain_text", "Hi", false, false), nil, nil)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := e.srv.ViewSubmission(secret, e.alice.ID, v.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Deliver(ctx, app.Client(), sub); err == nil || !strings.Contains(err.Error(), `error on "nowhere"`) {
		t.Fatalf("deliver: %v", err)
	}
}

func TestEventsAreSignedEnvelopes(t *testing.T) {
	e := setup(t, slackfake.Options{AppURL: "http://opsbot.test"})
	e.srv.AddChannel(slackfake.Channel{Name: "ops", Members: []string{e.srv.BotUserID(), e.alice.ID}})
	req, err := e.srv.AppMention(secret, e.alice.ID, "#ops", "<@U0BOT0001> help")
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, req)
	if req.URL.Path != slackfake.EventsPath || req.Header.Get("X-Slack-Signature") != slackfake.Signature(secret, e.clock.Now().Unix(), b) {
		t.Fatalf("request = %s %v", req.URL, req.Header)
	}
	ev, err := slackevents.ParseEvent(b, slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatal(err)
	}
	cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent)
	if ev.Type != slackevents.CallbackEvent || !ok || cb.EventID == "" {
		t.Fatalf("event = %+v", ev)
	}
	m, ok := ev.InnerEvent.Data.(*slackevents.AppMentionEvent)
	if !ok || m.User != e.alice.ID || m.Text != "<@U0BOT0001> help" {
		t.Fatalf("inner = %+v", ev.InnerEvent)
	}
	req2, _ := e.srv.AppHomeOpened(secret, e.alice.ID)
	ev2, err := slackevents.ParseEvent(body(t, req2), slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := ev2.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); !ok || h.User != e.alice.ID || h.Tab != "home" {
		t.Fatalf("home event = %+v", ev2.InnerEvent)
	}
	if ev2.Data.(*slackevents.EventsAPICallbackEvent).EventID == cb.EventID {
		t.Fatal("event IDs repeat")
	}
}

// TestModalLimitsRefused: views.open refuses, with invalid_arguments and
// a pointer to the place, what Slack's view and Block Kit references
// limit: submit and close 24 characters, a static select's 100 options,
// an option's text (75) and value (150), an input's label (2,000) and a
// placeholder (150). Option groups of 100 each are accepted.
func TestModalLimitsRefused(t *testing.T) {
	e := setup(t, slackfake.Options{AppURL: "http://opsbot.test"})
	ctx := context.Background()
	plain := func(s string) *slack.TextBlockObject { return slack.NewTextBlockObject("plain_text", s, false, false) }
	opts := func(n int, text, value string) []*slack.OptionBlockObject {
		var out []*slack.OptionBlockObject
		for i := range n {
			out = append(out, slack.NewOptionBlockObject(fmt.Sprintf("%s%d", value, i), plain(text), nil))
		}
		return out
	}
	form := func(label string, sel *slack.SelectBlockElement) slack.ModalViewRequest {
		return slack.ModalViewRequest{Type: slack.VTModal, Title: plain("Pick"), Submit: plain("Go"), Close: plain("Cancel"),
			Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewInputBlock("pick", plain(label), nil, sel)}}}
	}
	sel := func(o []*slack.OptionBlockObject) *slack.SelectBlockElement {
		return slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose"), "pick", o...)
	}
	open := func(v slack.ModalViewRequest) error {
		req, err := e.srv.SlashCommand(secret, e.alice.ID, "", "/ops", "x")
		if err != nil {
			t.Fatal(err)
		}
		cmd, _ := slack.SlashCommandParse(req)
		_, err = e.api.OpenViewContext(ctx, cmd.TriggerID, v)
		return err
	}
	longSubmit := form("Server", sel(opts(3, "a", "v")))
	longSubmit.Submit = plain(strings.Repeat("s", 25))
	longClose := form("Server", sel(opts(3, "a", "v")))
	longClose.Close = plain(strings.Repeat("c", 25))
	longPlaceholder := sel(opts(3, "a", "v"))
	longPlaceholder.Placeholder = plain(strings.Repeat("p", 151))
	bad := map[string]slack.ModalViewRequest{
		"submit":       longSubmit,
		"close":        longClose,
		"101 options":  form("Server", sel(opts(101, "a", "v"))),
		"option text":  form("Server", sel(opts(1, strings.Repeat("t", 76), "v"))),
		"option value": form("Server", sel(opts(1, "a", strings.Repeat("v", 150)))),
		"label":        form(strings.Repeat("l", 2001), sel(opts(1, "a", "v"))),
		"placeholder":  form("Server", longPlaceholder),
	}
	for name, v := range bad {
		if err := open(v); slackErr(err) != "invalid_arguments" {
			t.Errorf("%s: err = %v, want invalid_arguments", name, err)
		}
	}
	var groups []*slack.OptionGroupBlockObject
	for g := range 3 {
		groups = append(groups, slack.NewOptionGroupBlockElement(plain(fmt.Sprint(g)), opts(100, "a", fmt.Sprintf("g%d-", g))...))
	}
	grouped := slack.NewOptionsGroupSelectBlockElement(slack.OptTypeStatic, plain("Choose"), "pick", groups...)
	if err := open(form("Server", grouped)); err != nil {
		t.Errorf("3 groups of 100 options: %v", err)
	}
	if err := open(form(strings.Repeat("l", 2000), sel(opts(100, strings.Repeat("t", 75), strings.Repeat("v", 147))))); err != nil {
		t.Errorf("at the limits: %v", err)
	}
}

// TestTyped_AsSlackSendsACommandsText: what a person types reaches the
// app escaped, with emails, links, people and channels as references.
func TestTyped_AsSlackSendsACommandsText(t *testing.T) {
	e := setup(t, slackfake.Options{})
	ch := e.srv.AddChannel(slackfake.Channel{Name: "ops"})
	got := e.srv.Typed("p95 > 2s & rising on shop.example.com, see https://status.example.com/x?a=1&b=2 ask @alice or bob@example.com in #ops")
	want := "p95 &gt; 2s &amp; rising on shop.example.com, see <https://status.example.com/x?a=1&amp;b=2> ask <@" + e.alice.ID + "|alice> or <mailto:bob@example.com|bob@example.com> in <#" + ch.ID + "|ops>"
	if got != want {
		t.Fatalf("Typed:\n got %s\nwant %s", got, want)
	}
	if got := e.srv.Typed("checkout.example.com is down"); got != "<http://checkout.example.com|checkout.example.com> is down" {
		t.Fatalf("a bare domain: %s", got)
	}
}
