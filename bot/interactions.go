package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/slack-go/slack"

	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/workflows"
)

func (b *Bot) serveInteraction(w http.ResponseWriter, r *http.Request) {
	if !b.verifiedForm(w, r) {
		return
	}
	ic, err := slack.InteractionCallbackParse(r)
	if err != nil {
		http.Error(w, "malformed interaction payload", http.StatusBadRequest)
		return
	}
	switch ic.Type {
	case slack.InteractionTypeViewSubmission:
		// Slack reads the answer to a submission from the HTTP response:
		// errors to show on fields, or nothing to close the modal.
		writeJSONOrEmpty(w, b.Submission(r.Context(), ic))
	case slack.InteractionTypeBlockActions:
		w.WriteHeader(http.StatusOK)
		b.background("click", func(ctx context.Context) {
			if reply := b.Click(ctx, ic); reply != nil {
				b.postResponse(ctx, ic.ResponseURL, *reply)
			}
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
	b.Log.Info("button", "action", act.ActionID, "value", act.Value, "user", ic.User.ID)
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
			b.Log.Error("open deny form", "err", err)
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
	case workflows.ActLeaseRelease:
		r, err := b.Servers.Release(ctx, actor, act.Value)
		if err != nil {
			reply = b.failure(err, UsageRelease)
			break
		}
		reply = textReply(fmt.Sprintf("%s is being given back: its instance will be terminated and the unused budget returned.", r.ID))
	default:
		if r, ok := b.incidentClick(ctx, actor, slackout.BaseActionID(act.ActionID), act.Value); ok {
			return &r
		}
		b.Log.Warn("unknown button", "action", act.ActionID)
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
	body, ok := b.verified(w, r)
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
	if err := b.Event(r.Context(), env); err != nil {
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
// transport brought it: Slack retries events it thinks were lost.
func (b *Bot) Event(ctx context.Context, env EventEnvelope) error {
	if env.Type != "event_callback" {
		return nil
	}
	key := "slack-event:" + env.EventID
	first, err := workflows.FirstTime(ctx, b.Store, key, b.Clock.Now())
	if err != nil || !first {
		return err
	}
	kind := eventType(env.Event)
	b.Log.Info("event", "id", env.EventID, "event", kind)
	h, ok := b.eventHandlers()[kind]
	if !ok {
		return nil
	}
	if err := h(ctx, env.Event); err != nil {
		// Let Slack's retry of this event be handled, not dropped.
		if ferr := b.Store.Update(ctx, func(tx workflows.Tx) error { return tx.Forget(key) }); ferr != nil {
			b.Log.Error("forget failed event", "id", env.EventID, "err", ferr)
		}
		return err
	}
	return nil
}

// eventHandlers maps inner event types to their handlers.
func (b *Bot) eventHandlers() map[string]func(ctx context.Context, raw json.RawMessage) error {
	return map[string]func(ctx context.Context, raw json.RawMessage) error{
		"reaction_added":  b.reactionAdded,
		"message":         b.message,
		"app_home_opened": b.homeOpened,
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
