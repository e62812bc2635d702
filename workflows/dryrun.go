package workflows

import (
	"context"
	"fmt"
	"time"
)

// Dry run (OPSBOT_DRY_RUN=true) checks every EC2 change with EC2's DryRun
// flag and makes none. opsbot's records must then keep saying what is
// true in EC2: a lease whose end was only checked stays running, a
// released server stays in its lease, and nothing is committed or given
// back for a change that was not made. What it would have done is told
// to the owner once per lease end and action (a "sent" key), and
// written to the audit log.
//
// A dry-run launch is the one exception that records something: the
// request itself (with its ID, approval and audit trail) exists, and is
// closed at once as terminated "dry run: nothing was created", its
// commitment given back in full. See finishDryRun.

// DryRunNote is the small print on messages about changes that dry run
// will only check.
const DryRunNote = "Dry run: opsbot only checks changes with EC2 and makes none; this server's records will not change."

// dryRunEnd queues the dry-run check of ending r (at its lease end, past
// its lifetime, or on release), once for this lease end and action. It
// changes no lease record.
func (s *Servers) dryRunEnd(tx Tx, r *ServerRequest, action EndAction, why string, now time.Time) error {
	fresh, err := tx.MarkSent(fmt.Sprintf("dryrun-end:%s:%d:%s", r.ID, r.LeaseEnd.Unix(), action), now)
	if err != nil || !fresh {
		return err
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "dryrun.end", Subject: r.ID, Reason: why, Detail: string(action)}); err != nil {
		return err
	}
	return tx.Enqueue(Job{Kind: JobEnd, Key: JobEnd + ":" + r.ID, Payload: r.ID + " " + string(action), RunAt: now})
}

// reportDryRunEnd tells the owner what the end of their server would have
// done, now that EC2 has checked it, and records it in the audit log only.
func (s *Servers) reportDryRunEnd(ctx context.Context, id string, action EndAction, cause error) error {
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		r, err := tx.Request(id)
		if err != nil {
			return err
		}
		s.Log.InfoContext(ctx, "dry run: end checked, not made", "request", r.ID, "instance", r.Instance.ID, "action", action)
		if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "ec2." + string(action) + ".dryrun", Subject: r.ID, Detail: r.Instance.ID + ": " + cause.Error()}); err != nil {
			return err
		}
		verb := map[EndAction]string{EndStop: "stopped", EndTerminate: "terminated"}[action]
		return enqueueMessage(tx, s.ownerMessage(r, Message{
			Title: fmt.Sprintf("Dry run: %s would have been %s", r.ID, verb),
			Text: fmt.Sprintf("EC2 confirmed that %s could be %s, but opsbot runs in dry run, so nothing was changed: the instance runs on and %s stays %s in opsbot's records.",
				r.Instance.ID, verb, r.ID, r.State.Words()),
			Note: DryRunNote,
		}), now)
	})
}
