package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/slack-go/slack"

	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/offboard"
)

func (b *Bot) serveInteraction(w http.ResponseWriter, r *http.Request) {
	body, sig, ok := b.readVerified(w, r)
	if !ok {
		return
	}
	ic, err := slack.InteractionCallbackParse(formRequest(string(body)))
	if err != nil {
		http.Error(w, "malformed interaction payload", http.StatusBadRequest)
		return
	}
	if ic.Type != slack.InteractionTypeViewSubmission && ic.Type != slack.InteractionTypeBlockActions {
		w.WriteHeader(http.StatusOK) // nothing opsbot acts on (a modal closed, say)
		return
	}
	rec, ok := b.takeInSigned(w, r, kindInteraction, body, sig)
	if !ok {
		return
	}
	switch ic.Type {
	case slack.InteractionTypeViewSubmission:
		// Slack reads the answer to a submission from the HTTP response:
		// errors to show on fields, or nothing to close the modal.
		var resp *slack.ViewSubmissionResponse
		b.handled(r.Context(), rec, func(ctx context.Context) { resp = b.Submission(ctx, ic) })
		writeJSONOrEmpty(w, resp)
	case slack.InteractionTypeBlockActions:
		w.WriteHeader(http.StatusOK)
		b.background(r.Context(), "click", func(ctx context.Context) {
			b.handled(ctx, rec, func(ctx context.Context) {
				if reply := b.Click(ctx, ic); reply != nil {
					b.postResponse(ctx, ic.ResponseURL, *reply)
				}
			})
		})
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// Click handles a button. It returns the private answer for the person
// who clicked, or nil when the click opened a modal instead.
func (b *Bot) Click(ctx context.Context, ic slack.InteractionCallback) *workflows.Reply {
	if len(ic.ActionCallback.BlockActions) == 0 {
		return nil
	}
	act := ic.ActionCallback.BlockActions[0]
	actor := b.person(ctx, ic.User.ID)
	b.Log.InfoContext(ctx, "button", "action", act.ActionID, "value", act.Value, "user", ic.User.ID)
	var reply workflows.Reply
	switch slackout.BaseActionID(act.ActionID) {
	case workflows.ActApprove:
		res, err := b.Servers.Decide(ctx, actor, act.Value, true, "")
		if err != nil {
			reply = b.failure(err, UsageApprovals)
			break
		}
		if res.Approval.State == workflows.ApprovalExpired {
			reply = textReply(fmt.Sprintf("%s could no longer take effect and was closed: %s.", res.Request.ID, res.Approval.Note))
		} else if res.Waiting > 0 {
			reply = textReply(fmt.Sprintf("You approved %s; it needs %d more approval(s).", res.Request.ID, res.Waiting))
		} else {
			reply = textReply(fmt.Sprintf("You approved %s.", res.Request.ID))
		}
	case workflows.ActDeny:
		if err := b.openDenyModal(ctx, ic.TriggerID, act.Value); err != nil {
			b.Log.ErrorContext(ctx, "open deny form", "err", err)
			reply = textReply("Could not open the form to deny " + act.Value + "; please try again.")
			break
		}
		return nil
	case workflows.ActLeaseExtend:
		id, d, drawnFor, err := workflows.ParseExtendValue(act.Value)
		if err != nil {
			reply = b.failure(err, UsageExtend)
			break
		}
		res, err := b.Servers.ExtendFrom(ctx, actor, id, d, "extended from Slack button", drawnFor)
		if err != nil {
			reply = b.failure(err, UsageExtend)
			break
		}
		reply = extendReply(b.Servers.Catalog, res, d)
	case workflows.ActStartAgain:
		res, err := b.Servers.StartAgain(ctx, actor, act.Value)
		if err != nil {
			reply = b.failure(err, UsageRequest)
			break
		}
		if res.Request.State == workflows.StateStopped {
			reply = startedReply(b.Servers.Catalog, res.Request)
			break
		}
		reply = requestReply(b.Servers.Catalog, res)
	case workflows.ActServerStop, workflows.ActServerRelease, workflows.ActServerKeep:
		reply = b.choiceClick(ctx, actor, slackout.BaseActionID(act.ActionID), act.Value)
	case offboard.ActKeyDelete:
		reply = b.keyClick(ctx, actor, act.Value)
	case workflows.ActLeaseRelease:
		r, err := b.Servers.Release(ctx, actor, act.Value)
		if err != nil {
			reply = b.failure(err, UsageRelease)
			break
		}
		reply = releaseReply(b.Servers, r)
	default:
		if r, ok := b.runbookClick(ctx, actor, slackout.BaseActionID(act.ActionID), act.Value, ic.TriggerID); ok {
			if empty(r) {
				return nil
			}
			return &r
		}
		if r, ok := b.actionClick(ctx, actor, slackout.BaseActionID(act.ActionID), act.Value); ok {
			return &r
		}
		if r, ok := b.incidentClick(ctx, actor, slackout.BaseActionID(act.ActionID), act.Value); ok {
			return &r
		}
		if r, ok := b.reviewClick(ctx, actor, slackout.BaseActionID(act.ActionID), act.Value); ok {
			return &r
		}
		b.Log.WarnContext(ctx, "unknown button", "action", act.ActionID)
		return nil
	}
	return &reply
}

func writeJSONOrEmpty(w http.ResponseWriter, v *slack.ViewSubmissionResponse) {
	if v == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, v)
}

func (b *Bot) serveEvent(w http.ResponseWriter, r *http.Request) {
	body, key, ok := b.verified(w, r)
	if !ok {
		return
	}
	var env EventEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	if env.Type == "url_verification" {
		writeJSON(w, map[string]string{"challenge": env.Challenge})
		return
	}
	// Handled before the answer: a failure gets 503 and Slack's retry is
	// handled, since nothing was recorded.
	if err := b.Event(workflows.WithIntake(r.Context(), b.Clock.Now(), key), env); err != nil {
		b.Log.Error("handle event", "id", env.EventID, "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// EventEnvelope is the outer shape of an Events API request.
type EventEnvelope struct {
	Type      string          `json:"type"`
	Challenge string          `json:"challenge,omitempty"`
	EventID   string          `json:"event_id"`
	EventTime int64           `json:"event_time"`
	Event     json.RawMessage `json:"event"`
}

// Event handles an Events API callback once per event_id, whatever
// transport brought it: Slack retries events it thinks were lost. The
// event_id is recorded in the transaction of the event's effect (with
// the intake ctx may carry), so a crash before it leaves the event to
// Slack's retry (or the outbox's, for Socket Mode) and one after it makes
// the retry a replay. A handler that fails records nothing.
func (b *Bot) Event(ctx context.Context, env EventEnvelope) error {
	if env.Type != "event_callback" {
		return nil
	}
	key := "slack-event:" + env.EventID
	seen, err := workflows.Seen(ctx, b.Store, key)
	if err != nil || seen {
		return err
	}
	kind := eventType(env.Event)
	b.Log.InfoContext(ctx, "event", "id", env.EventID, "event", kind)
	h, ok := b.eventHandlers()[kind]
	if !ok {
		return nil
	}
	outer := ctx
	ctx = workflows.WithIntake(ctx, b.Clock.Now(), key)
	if err := h(ctx, env.Event); err != nil {
		if errors.Is(err, workflows.ErrReplayed) {
			return nil
		}
		return err
	}
	if err := workflows.FinishIntake(ctx, b.Store); err != nil {
		return err
	}
	return workflows.FinishIntake(outer, b.Store)
}

// eventHandlers maps inner event types to their handlers.
func (b *Bot) eventHandlers() map[string]func(ctx context.Context, raw json.RawMessage) error {
	return map[string]func(ctx context.Context, raw json.RawMessage) error{
		"reaction_added":  b.reactionAdded,
		"message":         b.message,
		"app_home_opened": b.homeOpened,
		"user_change":     b.userChanged,
	}
}

func eventType(raw json.RawMessage) string {
	var e struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(raw, &e)
	return e.Type
}

// homeOpened refreshes the Home tab of the person who opened it.
func (b *Bot) homeOpened(ctx context.Context, raw json.RawMessage) error {
	var ev struct {
		User string `json:"user"`
		Tab  string `json:"tab"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil || ev.User == "" || (ev.Tab != "" && ev.Tab != "home") {
		return nil
	}
	return workflows.RequestHome(ctx, b.Store, b.Clock.Now(), ev.User)
}
