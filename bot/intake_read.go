package bot

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/slack-go/slack"

	"github.com/opsbot/opsbot/workflows"
)

// A slash command whose handling only reads (`/ops servers`, help, a
// usage error...) changes nothing: its answer is all it does. It needs
// no backstop, since there is no effect to finish after a death, and no
// second write to mark it handled: it is handled first, then taken in
// by one group-committed write that records its signature as seen, and
// answered only once that write has committed.
//
//   - A replay, or a second delivery handled at the same time, finds the
//     signature recorded (earlier in the same batch, or in an earlier
//     one) and gets 200 with nothing in it: one delivery answers.
//   - A death before the commit leaves nothing and answered nothing:
//     Slack shows the person an error, and nothing had changed.
//   - A death after the commit, before the answer: nothing had changed
//     and nothing was acknowledged; a replay is refused.
//
// A read that takes longer than AckWithin (a slow Slack look-up of the
// person's email) cannot keep Slack waiting: it is then taken in as any
// other command is, with its backstop, acknowledged, and its reply
// posted to response_url once it is recorded as handled (if opsbot dies
// before, the backstop answers after the restart; if the record fails,
// the backstop answers rather than a second post).
//
// The handling runs under WithIntake all the same: were a command taken
// for a read ever to write, its Handled key would go in that write, so
// two deliveries could not both keep an effect, and it is logged as an
// error (TestReadCommands_ChangeNothing keeps the list honest).

// readOnly reports whether handling cmd only reads: an /ops command of
// a kind that never changes state, a mistyped command (a usage reply),
// help, or a command opsbot does not know. Decided by the parsed
// command, which the signed body fixes: every delivery of one request
// takes the same path.
func readOnly(cmd slack.SlashCommand) bool {
	switch strings.TrimPrefix(cmd.Command, "/") {
	case "ops":
		c, err := ParseOps(cmd.Text)
		if err != nil {
			return true
		}
		switch c.Kind {
		case OpsHelp, OpsServers, OpsBudget, OpsApprovals, OpsServer, OpsCosts, OpsAudit:
			return true
		case OpsRun:
			return c.Rest == "" // the list; with a name it opens a form
		}
		return false
	case "incident":
		c, err := ParseIncident(cmd.Text)
		return err != nil || c.Kind == IncHelp
	}
	return true
}

// answerRead handles and answers a verified command that only reads
// (readOnly), taking it in with one write (see above).
func (b *Bot) answerRead(w http.ResponseWriter, r *http.Request, cmd slack.SlashCommand, body []byte, sig string) {
	ctx := r.Context()
	rec := intakeRecord{Transport: viaHTTP, Kind: kindCommand, Body: string(body), Handled: "slack-handled:" + sig, At: b.Clock.Now()}
	seen := []string{"slack-request:" + sig}
	reply, ok, late := b.handleRead(ctx, cmd, rec)
	if !ok {
		fresh, err := b.takeIn(ctx, seen, rec)
		late <- err == nil && fresh
		if b.tookIn(w, r, fresh, err) {
			b.writeWorking(w)
		}
		return
	}
	fresh, err := b.takeInArrival(ctx, workflows.Arrival{At: rec.At, Seen: seen})
	if b.tookIn(w, r, fresh, err) {
		b.writeReply(w, reply)
	}
}

// handleRead handles a command that only reads, waiting for its reply up
// to AckWithin (ok). When the read is slower, the caller takes the command
// in with its backstop and sends on late whether that take-in was fresh:
// only then does the read, once done, record the command as handled and
// answer through response_url.
func (b *Bot) handleRead(ctx context.Context, cmd slack.SlashCommand, rec intakeRecord) (reply workflows.Reply, ok bool, late chan<- bool) {
	taken := make(chan bool, 1)
	var readCtx context.Context // the handling's, with its intake
	reply, ok = b.withinOr(ctx, cmd.Command, func(ctx context.Context) workflows.Reply {
		readCtx = workflows.WithIntake(ctx, rec.At, rec.Handled)
		reply := b.Command(readCtx, cmd)
		if _, _, unmarked := workflows.UnfinishedIntake(readCtx); !unmarked {
			b.Log.ErrorContext(readCtx, "a slash command handled as a read changed state", "command", cmd.Command, "text", cmd.Text)
		}
		return reply
	}, func(_ context.Context, reply workflows.Reply) {
		if <-taken && b.finish(readCtx, rec) {
			b.postResponse(readCtx, cmd.ResponseURL, reply)
		}
	})
	return reply, ok, taken
}

// envelopeRead is answerRead for Socket Mode: a command that only reads
// is handled first, then taken in by one write with no backstop (its
// envelope, trigger and, for the record, nothing else), and its reply
// goes in the ack once that write has committed. A re-delivered
// envelope finds its keys recorded and is acknowledged with nothing;
// when the write fails the envelope is left unacknowledged, and Slack
// sends it again. A read slower than AckWithin is taken in as any other
// command, with its backstop, acknowledged as being worked on, and
// answered through response_url once recorded as handled.
func (b *Bot) envelopeRead(ctx context.Context, ack acker, envelopeID string, cmd slack.SlashCommand, keys []string, rec intakeRecord, log *slog.Logger) {
	reply, ok, late := b.handleRead(ctx, cmd, rec)
	var fresh bool
	var err error
	if ok {
		fresh, err = b.takeInArrival(ctx, workflows.Arrival{At: rec.At, Seen: keys})
	} else {
		fresh, err = b.takeIn(ctx, keys, rec)
		late <- err == nil && fresh
	}
	switch {
	case err != nil:
		log.ErrorContext(ctx, "take in Socket Mode envelope; leaving it unacknowledged for Slack to re-send", "err", err)
	case !fresh:
		log.InfoContext(ctx, "ignored re-delivered Socket Mode envelope")
		b.sendAck(ctx, ack, envelopeID, nil)
	case !ok:
		b.ackWorking(ctx, ack, envelopeID)
	default:
		b.ackReply(ctx, ack, envelopeID, cmd.ResponseURL, cmd.Command, reply)
	}
}
