package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

// crashAfterPost is a Notifier whose Post reaches Slack and then "dies":
// the message is out (unpinned: the process died before pins.add) but the
// caller hears an error, as after a lost reply or a killed process.
type crashAfterPost struct {
	*Client
	crashes int
}

func (c *crashAfterPost) Post(ctx context.Context, m workflows.Message, parent workflows.MessageRef) (workflows.MessageRef, error) {
	if c.crashes == 0 {
		return c.Client.Post(ctx, m, parent)
	}
	c.crashes--
	m.Pin = false
	if _, err := c.Client.Post(ctx, m, parent); err != nil {
		return workflows.MessageRef{}, err
	}
	return workflows.MessageRef{}, errors.New("connection reset (simulated death after chat.postMessage)")
}

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// queued is a message as the outbox holds it: through Send, which gives
// unkeyed messages their delivery ID.
func queued(t *testing.T, db *store.DB, m workflows.Message) workflows.Job {
	t.Helper()
	if err := workflows.Send(context.Background(), db, m, t0); err != nil {
		t.Fatal(err)
	}
	jobs, err := db.Claim(context.Background(), t0, "test", lease, 10)
	if err != nil || len(jobs) == 0 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	for _, j := range jobs {
		if j.Kind == workflows.JobMessage {
			return j
		}
	}
	t.Fatalf("no message job among %+v", jobs)
	return workflows.Job{}
}

const lease = 2 * time.Minute

// Each kind of message, posted by a job that dies right after Slack took
// it and then runs again, is in Slack once; a pinned one is pinned once.
// Before messages carried their delivery ID in metadata, the second run
// posted again (6 duplicates in 22 crash points).
func TestDeliver_RunAgainAfterPostIsNotPostedTwice(t *testing.T) {
	cases := []struct {
		name string
		msg  workflows.Message
	}{
		{"unkeyed DM", workflows.Message{User: "alice@example.com", Text: "your server is ready"}},
		{"unkeyed channel message", workflows.Message{Channel: "#ops", Text: "srv-1 was stopped"}},
		{"keyed pinned summary", workflows.Message{Key: "summary:inc-1", Channel: "#ops", Title: "inc-1", Pin: true,
			Actions: []workflows.Action{{ID: "incident.ack", Label: "Acknowledge", Value: "inc-1"}}}},
		{"keyed DM", workflows.Message{Key: "lease:srv-1", User: "alice@example.com", Text: "srv-1 is running"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := setup(t, slackfake.Options{}, Options{})
			ops := e.fake.AddChannel(slackfake.Channel{Name: "ops", Members: []string{e.fake.BotUserID()}})
			db := openStore(t)
			j := queued(t, db, c.msg)
			n := &crashAfterPost{Client: e.c, crashes: 1}
			deliver := workflows.Deliver(db, n, e.clock)
			ctx := context.Background()
			if err := deliver(ctx, j); err == nil {
				t.Fatal("the first run did not see its crash")
			}
			j.Attempts++
			if err := deliver(ctx, j); err != nil {
				t.Fatalf("run after the crash: %v", err)
			}
			channel := ops.ID
			if c.msg.User != "" {
				channel = e.fake.DMs(e.alice.ID)[0].Channel
			}
			msgs := e.fake.Messages(channel)
			if len(msgs) != 1 {
				t.Fatalf("%d messages in Slack, want 1: %+v", len(msgs), msgs)
			}
			if c.msg.Pin && (!msgs[0].Pinned || len(e.fake.Pins(channel)) != 1) {
				t.Fatalf("the summary is not pinned once after the crash: pinned=%v pins=%d", msgs[0].Pinned, len(e.fake.Pins(channel)))
			}
			if c.msg.Key != "" {
				// Its ref was recorded, so the next version edits it.
				if err := db.Done(ctx, j, t0); err != nil {
					t.Fatal(err)
				}
				c.msg.Text = "v2"
				j2 := queued(t, db, c.msg)
				if err := deliver(ctx, j2); err != nil {
					t.Fatal(err)
				}
				if msgs := e.fake.Messages(channel); len(msgs) != 1 || msgs[0].Edited == nil {
					t.Fatalf("the next version was not an edit: %+v", msgs)
				}
			}
		})
	}
}

// A keyed message whose first post was not recorded (the process died
// after chat.postMessage), and whose job was then replaced by a newer
// version (its attempts start again at 0), is found and edited, not
// posted again: the first attempt's mark, committed before it posted,
// says to look.
func TestDeliver_ReplacedKeyedJobFindsTheUnrecordedPost(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ops := e.fake.AddChannel(slackfake.Channel{Name: "ops", Members: []string{e.fake.BotUserID()}})
	db := openStore(t)
	ctx := context.Background()
	m := workflows.Message{Key: "approval:apr-1", Channel: "#ops", Title: "approval needed"}
	j := queued(t, db, m)
	if err := workflows.Deliver(db, &crashAfterPost{Client: e.c, crashes: 1}, e.clock)(workflows.JobAttempt(ctx, j), j); err == nil {
		t.Fatal("the first run did not see its crash")
	}
	if err := db.Retry(ctx, j, t0, "connection reset"); err != nil {
		t.Fatal(err)
	}
	m.Title = "approved" // the newer version replaces the waiting job
	j2 := queued(t, db, m)
	if j2.Attempts != 0 {
		t.Fatalf("attempts = %d", j2.Attempts)
	}
	if err := workflows.Deliver(db, e.c, e.clock)(workflows.JobAttempt(ctx, j2), j2); err != nil {
		t.Fatal(err)
	}
	msgs := e.fake.Messages(ops.ID)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "approved") {
		t.Fatalf("messages = %+v", msgs)
	}
	if n := len(e.fake.CallsTo("conversations.history")); n != 1 {
		t.Fatalf("conversations.history called %d times, want 1 (the replaced job's look)", n)
	}
}

// A message's first attempt posts without looking for an earlier post of
// itself: no conversations.history call (Tier 3), which in a storm held
// every channel's set-up back. That holds for a keyed message whose first
// run a rate limit put back for its slot (nothing reached Slack), and for
// the next version of a keyed message (an edit). Only a run after an
// attempt that may have posted looks (TestDeliver_RunAgainAfterPostIsNotPostedTwice).
func TestDeliver_FirstAttemptMakesNoHistoryCall(t *testing.T) {
	e := setup(t, slackfake.Options{RateLimits: true}, Options{})
	ops := e.fake.AddChannel(slackfake.Channel{Name: "ops", Members: []string{e.fake.BotUserID()}})
	db := openStore(t)
	ctx := context.Background()
	deliver := workflows.Deliver(db, e.c, e.clock)
	run := func(j workflows.Job) error { return deliver(workflows.JobAttempt(ctx, j), j) }
	for _, m := range []workflows.Message{
		{Key: "summary:inc-1", Channel: "#ops", Title: "inc-1", Pin: true},
		{Channel: "#ops", Text: "srv-1 was stopped"},
		{Channel: "#ops", Text: "srv-2 was stopped"},
		{Key: "lease:srv-1", User: "alice@example.com", Text: "srv-1 is running"},
	} {
		j := queued(t, db, m)
		if err := run(j); err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
		if err := db.Done(ctx, j, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// chat.postMessage is paced per channel (a burst of three, then one
	// a second): the fourth post to #ops in the same second is put back for its slot, before
	// it reaches Slack, and runs there without looking.
	m := workflows.Message{Key: "checklist:inc-1", Channel: "#ops", Text: "checklist"}
	j := queued(t, db, m)
	at, deferred := workflows.DeferredUntil(run(j))
	if !deferred {
		t.Fatal("the second post to #ops within its pace was not put back for its slot")
	}
	e.clock.Set(at)
	j.Deferred, j.Slot, j.RunAt = true, "chat.postMessage/"+ops.ID, at
	if err := run(j); err != nil {
		t.Fatalf("at its slot: %v", err)
	}
	if err := db.Done(ctx, j, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// The next version of a keyed message is an edit, without a look.
	e.clock.Advance(time.Minute)
	j = queued(t, db, workflows.Message{Key: "summary:inc-1", Channel: "#ops", Title: "inc-1 (acknowledged)", Pin: true})
	if err := run(j); err != nil {
		t.Fatal(err)
	}
	if n := len(e.fake.CallsTo("conversations.history")); n != 0 {
		t.Fatalf("conversations.history called %d times on first attempts, want 0", n)
	}
	if msgs := e.fake.Messages(ops.ID); len(msgs) != 4 {
		t.Fatalf("%d messages in #ops, want 4: %+v", len(msgs), msgs)
	}
}

// Only the bot's own messages count: another app's message with opsbot's
// metadata does not stop opsbot from posting.
func TestFindPosted_IgnoresOtherAuthors(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ops := e.fake.AddChannel(slackfake.Channel{Name: "ops", Members: []string{e.fake.BotUserID(), e.alice.ID}})
	ctx := context.Background()
	m := workflows.Message{ID: "m-1", Channel: ops.ID, Text: "hello"}
	if _, err := e.fake.PostAs(e.alice.ID, ops.ID, "spoof"); err != nil {
		t.Fatal(err)
	}
	if _, found, err := e.c.FindPosted(ctx, m, workflows.MessageRef{}); err != nil || found {
		t.Fatalf("found = %v, %v before anything was posted", found, err)
	}
	ref, err := e.c.Post(ctx, m, workflows.MessageRef{})
	if err != nil {
		t.Fatal(err)
	}
	got, found, err := e.c.FindPosted(ctx, m, workflows.MessageRef{})
	if err != nil || !found || got != ref {
		t.Fatalf("FindPosted = %+v %v %v, want %+v", got, found, err, ref)
	}
	// A reply in a thread is looked for in the thread.
	r := workflows.Message{ID: "m-2", Channel: ops.ID, Text: "reply"}
	rref, err := e.c.Post(ctx, r, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got, found, err := e.c.FindPosted(ctx, r, ref); err != nil || !found || got != rref {
		t.Fatalf("thread reply: %+v %v %v", got, found, err)
	}
	if _, found, _ := e.c.FindPosted(ctx, workflows.Message{ID: "m-3", Channel: ops.ID}, ref); found {
		t.Fatal("found a message never posted")
	}
}

// The fake, like Slack, stores metadata as posted and returns it from
// history and replies only with include_all_metadata; a malformed one is
// refused with Slack's error codes.
func TestFake_MetadataOnlyWhenAsked(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ops := e.fake.AddChannel(slackfake.Channel{Name: "ops", Members: []string{e.fake.BotUserID()}})
	ctx := context.Background()
	api := slackapi.New(e.fake.Token(), slackapi.OptionAPIURL(e.fake.APIURL()))
	meta := slackapi.SlackMetadata{EventType: "opsbot_message", EventPayload: map[string]any{"id": "m-9"}}
	_, ts, err := api.PostMessageContext(ctx, ops.ID, slackapi.MsgOptionText("hi", false), slackapi.MsgOptionMetadata(meta))
	if err != nil {
		t.Fatal(err)
	}
	for _, all := range []bool{false, true} {
		h, err := api.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{ChannelID: ops.ID, IncludeAllMetadata: all})
		if err != nil || len(h.Messages) != 1 {
			t.Fatal(h, err)
		}
		got := h.Messages[0].Metadata
		if all && (got.EventType != "opsbot_message" || got.EventPayload["id"] != "m-9") {
			t.Fatalf("with include_all_metadata: %+v", got)
		}
		if !all && got.EventType != "" {
			t.Fatalf("metadata returned without include_all_metadata: %+v", got)
		}
		r, _, _, err := api.GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{ChannelID: ops.ID, Timestamp: ts, IncludeAllMetadata: all})
		if err != nil || len(r) != 1 || (r[0].Metadata.EventType != "") != all {
			t.Fatalf("replies (include_all_metadata=%v): %+v %v", all, r, err)
		}
	}
	for raw, code := range map[string]string{
		`{"event_type":`:                        "invalid_metadata_format",
		`{"event_payload":{"id":"x"}}`:          "invalid_metadata_schema",
		`{"event_type":"t","event_payload":[]}`: "invalid_metadata_schema",
		`{"event_type":"t"}`:                    "invalid_metadata_schema",
	} {
		resp, err := http.PostForm(e.fake.APIURL()+"chat.postMessage", url.Values{
			"token": {e.fake.Token()}, "channel": {ops.ID}, "text": {"hi"}, "metadata": {raw}})
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || out.OK || out.Error != code {
			t.Errorf("metadata %s: ok=%v error=%q, want %s", raw, out.OK, out.Error, code)
		}
	}
	if n := len(e.fake.Messages(ops.ID)); n != 1 {
		t.Fatalf("%d messages after refused posts, want 1", n)
	}
}
