package slack

import (
	"context"
	"testing"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/internal/faults"
	"github.com/opsbot/opsbot/workflows"
)

// A chat.postMessage that Slack carried out but answered 500 (or never
// answered) used to be sent again by the client's own retry, up to four
// messages for one. Now the client returns the error, and the job's retry
// finds the posted message (TestOutsideFaults in cmd/opsbot). Calls that
// are safe to repeat are still retried here.
func TestPost_UnknownOutcomeIsNotSentAgain(t *testing.T) {
	for _, kind := range []faults.Kind{faults.DoneButFailed, faults.Unavailable} {
		t.Run(string(kind), func(t *testing.T) {
			e := setup(t, slackfake.Options{}, Options{})
			ch := e.fake.AddChannel(slackfake.Channel{Name: "inc-7", Members: []string{e.fake.BotUserID()}})
			in := faults.New(faults.Plan{Rate: 1, Kinds: []faults.Kind{kind}, Methods: []string{"chat.postMessage", "users.info"}})
			e.fake.SetFaults(in)
			_, err := e.c.Post(context.Background(), workflows.Message{Channel: ch.ID, Text: "Resolved in PagerDuty"}, workflows.MessageRef{})
			if err == nil || workflows.IsPermanent(err) {
				t.Fatalf("post: %v, want an error the job retries", err)
			}
			want := map[faults.Kind]int{faults.DoneButFailed: 1, faults.Unavailable: 0}[kind]
			if n := len(e.fake.Messages(ch.ID)); n != want {
				t.Fatalf("%d messages posted for one, want %d", n, want)
			}
			// A lookup is retried in the client as before.
			e.c.UserEmail(context.Background(), e.alice.ID)
			if n := len(in.Injected()) - 1; n != e.c.opts.MaxAttempts {
				t.Fatalf("users.info tried %d times, want %d", n, e.c.opts.MaxAttempts)
			}
		})
	}
}
