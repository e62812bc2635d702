package slack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

func TestCreateChannel_RetryFindsOwnChannel(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ctx := context.Background()
	ref, err := e.c.CreateChannel(ctx, "inc-7-db-down", false)
	if err != nil {
		t.Fatal(err)
	}
	ch, ok := e.fake.Channel("inc-7-db-down")
	if !ok || ch.ID != ref.Channel || ch.Creator != e.fake.BotUserID() {
		t.Fatalf("ref %+v, channel %+v", ref, ch)
	}
	// A retried job creates it again: the bot's own channel comes back.
	again, err := e.c.CreateChannel(ctx, "inc-7-db-down", false)
	if err != nil || again != ref {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	if n := len(e.fake.Channels()); n != 1 {
		t.Fatalf("%d channels", n)
	}
	if got := e.fake.CallsTo("conversations.create"); len(got) != 2 || got[1].Error != "name_taken" {
		t.Fatalf("create calls: %+v", got)
	}
	// auth.test is asked once, however often the bot's ID is needed.
	if _, err := e.c.CreateChannel(ctx, "inc-7-db-down", false); err != nil {
		t.Fatal(err)
	}
	if n := len(e.fake.CallsTo("auth.test")); n != 1 {
		t.Fatalf("auth.test called %d times", n)
	}
}

func TestCreateChannel_NameHeldBySomeoneElse(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ctx := context.Background()
	e.fake.AddChannel(slackfake.Channel{Name: "inc-8", Creator: e.alice.ID, Members: []string{e.alice.ID}})
	e.fake.AddChannel(slackfake.Channel{Name: "inc-9", Creator: e.fake.BotUserID(), Archived: true})
	for _, name := range []string{"inc-8", "inc-9"} {
		_, err := e.c.CreateChannel(ctx, name, false)
		if !errors.Is(err, workflows.ErrNameTaken) || !isPermanent(t, err) {
			t.Fatalf("%s: err = %v", name, err)
		}
	}
	if _, err := e.c.CreateChannel(ctx, "Bad Name!", false); SlackError(err) != "invalid_name_specials" {
		t.Fatalf("bad name: %v", err)
	}
}

func TestInvite_ResolvesEmailsAndSkipsMembers(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ctx := context.Background()
	carol := e.fake.AddUser(slackfake.User{Name: "carol", Email: "carol@example.com"})
	ref, err := e.c.CreateChannel(ctx, "inc-10", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Invite(ctx, ref.Channel, []string{e.alice.ID}); err != nil {
		t.Fatal(err)
	}
	missing, err := e.c.Invite(ctx, ref.Channel, []string{
		e.alice.ID,              // already in: not an error, and does not keep others out
		"Bob@Example.com",       // by email
		e.fake.BotUserID(),      // the bot itself
		"nobody@example.com",    // no such user
		carol.ID, "U0NOSUCHONE", // by ID; an ID Slack does not know
		"not a reference",
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"nobody@example.com", "not a reference", "U0NOSUCHONE"}; !sameSet(missing, want) {
		t.Fatalf("missing = %v, want %v", missing, want)
	}
	ch, _ := e.fake.Channel(ref.Channel)
	for _, id := range []string{e.alice.ID, e.bob.ID, carol.ID} {
		if !slices.Contains(ch.Members, id) {
			t.Fatalf("%s not in %v", id, ch.Members)
		}
	}
}

func TestInvite_BatchesOfAThousand(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ctx := context.Background()
	var ids []string
	for i := range 1001 {
		ids = append(ids, e.fake.AddUser(slackfake.User{Name: fmt.Sprintf("u%d", i)}).ID)
	}
	ref, err := e.c.CreateChannel(ctx, "all-hands", false)
	if err != nil {
		t.Fatal(err)
	}
	if missing, err := e.c.Invite(ctx, ref.Channel, ids); err != nil || len(missing) > 0 {
		t.Fatalf("missing %v, err %v", missing, err)
	}
	calls := e.fake.CallsTo("conversations.invite")
	if len(calls) != 2 || len(strings.Split(calls[0].Params.Get("users"), ",")) != 1000 || calls[1].Params.Get("users") != ids[1000] {
		t.Fatalf("%d invite calls", len(calls))
	}
	if ch, _ := e.fake.Channel(ref.Channel); len(ch.Members) != 1002 {
		t.Fatalf("%d members", len(ch.Members))
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
