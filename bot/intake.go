package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/opsbot/opsbot/workflows"
)

// Slack does not send a slash command, a click or a modal submission
// twice: once opsbot has answered (or acknowledged, answering later
// through response_url), a request whose handling dies with the process
// is lost. So each is taken in durably before it is handled: one write
// records its keys as seen (a replay is refused from then on) and its
// raw payload as a backstop job due Backstop later. The handling, inline
// as before, records its own key (Handled) with its effect and cancels
// the backstop when it is done. If the process died first, the job runs
// after a restart and handles the request from the payload; the Handled
// key makes that a no-op when the effect was already committed, so the
// request takes effect exactly once.

// JobIntake is the backstop of a Slack request taken in; payload: an
// intakeRecord as JSON.
const JobIntake = "slack.intake"

// Backstop is how long after intake a request's backstop job runs: past
// the longest an inline handling can take (a wait for a place of up to
// 30 s, then at most a minute of work), and within the time a restarted
// opsbot needs to get to it.
const Backstop = 2 * time.Minute

// Transports and kinds of requests an intakeRecord holds.
const (
	viaHTTP         = "http"   // Body is the form Slack posted
	viaSocket       = "socket" // Body is the Socket Mode envelope's payload
	kindCommand     = "command"
	kindInteraction = "interaction"
)

// intakeRecord is a Slack request as taken in: enough to handle it again.
type intakeRecord struct {
	Transport string    `json:"transport"`
	Kind      string    `json:"kind"`
	Body      string    `json:"body"`
	Handled   string    `json:"handled"` // recorded with the handling's effect
	At        time.Time `json:"at"`
}

func (rec intakeRecord) jobKey() string { return JobIntake + ":" + rec.Handled }

// takeIn records a request durably, in a write shared with other
// requests' (GroupCommit): each of seen (its signature, envelope or
// trigger) as seen, and rec as its backstop. fresh is false, and no
// backstop is queued, when one of seen was recorded before: the request
// is a replay or a re-delivery.
func (b *Bot) takeIn(ctx context.Context, seen []string, rec intakeRecord) (fresh bool, err error) {
	payload, err := json.Marshal(rec)
	if err != nil {
		return false, fmt.Errorf("encode Slack request: %w", err)
	}
	fresh, err = b.takeInArrival(ctx, workflows.Arrival{At: rec.At, Seen: seen,
		Job: &workflows.Job{Kind: JobIntake, Key: rec.jobKey(), Payload: string(payload), RunAt: rec.At.Add(Backstop)}})
	if err != nil {
		return false, fmt.Errorf("take in Slack request: %w", err)
	}
	return fresh, nil
}

// takeInArrival records a: batched with other requests' when the bot has
// a GroupCommit, alone otherwise.
func (b *Bot) takeInArrival(ctx context.Context, a workflows.Arrival) (bool, error) {
	if b.Intake != nil {
		return b.Intake.TakeIn(ctx, a)
	}
	return workflows.TakeIn(ctx, b.Store, a)
}

// handled runs fn as the handling of the request rec names: its Handled
// key is recorded in the transaction of the handling's first change, so
// the two are kept or lost together (workflows.WithIntake). Then the
// request is done: the key is recorded if the handling changed nothing,
// and the backstop is cancelled.
func (b *Bot) handled(ctx context.Context, rec intakeRecord, fn func(ctx context.Context)) {
	ctx = workflows.WithIntake(ctx, rec.At, rec.Handled)
	fn(ctx)
	b.finish(ctx, rec)
}

// finish records the request rec names as done, for a handling under
// ctx (WithIntake of rec): its Handled key when the handling changed
// nothing, and its backstop cancelled. It reports whether that was
// recorded.
func (b *Bot) finish(ctx context.Context, rec intakeRecord) bool {
	done := workflows.Arrival{At: rec.At, Cancel: rec.jobKey()}
	if key, _, unmarked := workflows.UnfinishedIntake(ctx); unmarked {
		done.Seen = []string{key}
	}
	if _, err := b.takeInArrival(context.WithoutCancel(ctx), done); err != nil {
		b.Log.ErrorContext(ctx, "record handled Slack request", "key", rec.Handled, "err", err)
		return false
	}
	return true
}

// handledReply is handled for work that answers with a reply.
func (b *Bot) handledReply(rec intakeRecord, work func(ctx context.Context) workflows.Reply) func(ctx context.Context) workflows.Reply {
	return func(ctx context.Context) (reply workflows.Reply) {
		b.handled(ctx, rec, func(ctx context.Context) { reply = work(ctx) })
		return reply
	}
}

// IntakeJob is the job handler for JobIntake: it handles a request whose
// handling did not finish (the process died), unless the handling's
// effect was committed. The answer goes through response_url; a modal
// submission's answer (errors to show on fields) cannot be shown any
// more and is logged.
func (b *Bot) IntakeJob(ctx context.Context, j workflows.Job) error {
	var rec intakeRecord
	if err := json.Unmarshal([]byte(j.Payload), &rec); err != nil || rec.Handled == "" {
		return workflows.Permanent(fmt.Errorf("decode Slack request taken in: %v", err))
	}
	seen, err := workflows.Seen(ctx, b.Store, rec.Handled)
	if err != nil {
		return fmt.Errorf("look up Slack request: %w", err)
	}
	if seen {
		return nil
	}
	log := b.Log.With("kind", rec.Kind, "transport", rec.Transport, "taken", rec.At)
	log.WarnContext(ctx, "a Slack request was taken in but not handled (did opsbot stop?); handling it now")
	switch rec.Kind {
	case kindCommand:
		cmd, err := rec.command()
		if err != nil {
			return workflows.Permanent(err)
		}
		reply := b.handledReply(rec, func(ctx context.Context) workflows.Reply { return b.Command(ctx, cmd) })(ctx)
		b.postResponse(ctx, cmd.ResponseURL, reply)
	case kindInteraction:
		ic, err := rec.interaction()
		if err != nil {
			return workflows.Permanent(err)
		}
		switch ic.Type {
		case slack.InteractionTypeViewSubmission:
			b.handled(ctx, rec, func(ctx context.Context) {
				if resp := b.Submission(ctx, ic); resp != nil && len(resp.Errors) > 0 {
					log.WarnContext(ctx, "a late modal submission was refused; its errors cannot be shown", "errors", fmt.Sprint(resp.Errors))
				}
			})
		case slack.InteractionTypeBlockActions:
			b.handled(ctx, rec, func(ctx context.Context) {
				if reply := b.Click(ctx, ic); reply != nil {
					b.postResponse(ctx, ic.ResponseURL, *reply)
				}
			})
		}
	default:
		return workflows.Permanent(fmt.Errorf("Slack request of unknown kind %q", rec.Kind))
	}
	return nil
}

// command reads back a slash command taken in.
func (rec intakeRecord) command() (slack.SlashCommand, error) {
	var cmd slack.SlashCommand
	var err error
	if rec.Transport == viaSocket {
		err = json.Unmarshal([]byte(rec.Body), &cmd)
	} else {
		cmd, err = slack.SlashCommandParse(formRequest(rec.Body))
	}
	if err != nil {
		return cmd, fmt.Errorf("read slash command taken in: %w", err)
	}
	return cmd, nil
}

// interaction reads back a click or submission taken in.
func (rec intakeRecord) interaction() (slack.InteractionCallback, error) {
	var ic slack.InteractionCallback
	var err error
	if rec.Transport == viaSocket {
		err = json.Unmarshal([]byte(rec.Body), &ic)
	} else {
		ic, err = slack.InteractionCallbackParse(formRequest(rec.Body))
	}
	if err != nil {
		return ic, fmt.Errorf("read interaction taken in: %w", err)
	}
	return ic, nil
}

// formRequest is a form POST carrying body, for slack-go's parsers.
func formRequest(body string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// takeInSigned takes in a verified form request (a command or an
// interaction) named by its signature, and reports whether to handle
// it. When not, it has answered the request itself: 503 when the store
// failed (nothing was recorded; the person can send it again), 200 to a
// replay.
func (b *Bot) takeInSigned(w http.ResponseWriter, r *http.Request, kind string, body []byte, sig string) (intakeRecord, bool) {
	rec := intakeRecord{Transport: viaHTTP, Kind: kind, Body: string(body), Handled: "slack-handled:" + sig, At: b.Clock.Now()}
	fresh, err := b.takeIn(r.Context(), []string{"slack-request:" + sig}, rec)
	if !b.tookIn(w, r, fresh, err) {
		return intakeRecord{}, false
	}
	return rec, true
}

// tookIn reports whether a request whose take-in ended with fresh and
// err is to be answered. When not, it has answered it itself: 503 when
// the store failed (nothing was recorded; the person can send it
// again), 200 to a replay, nothing when the client is gone.
func (b *Bot) tookIn(w http.ResponseWriter, r *http.Request, fresh bool, err error) bool {
	switch {
	case err != nil && r.Context().Err() != nil:
		return false // the client is gone
	case err != nil:
		b.Log.Error("take in Slack request", "path", r.URL.Path, "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return false
	case !fresh:
		b.Log.Info("ignored replayed Slack request", "path", r.URL.Path)
		w.WriteHeader(http.StatusOK)
		return false
	}
	return true
}
