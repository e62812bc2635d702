package runbooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// A run its endpoint accepted (202) waits for the final callback until
// its deadline: AcceptedAt + the runbook's callback_timeout (default an
// hour, at most six). Past it, the run is timed out: its message says so,
// the asker gets a direct message once, it is audited
// (runbook.timed_out), and a callback that comes later is refused (409)
// and changes nothing.
//
// The tick finds accepted runs through a due time stored with each
// (workflows.DueKindRunbook, an index like the leases'): every save of an
// accepted run makes it due at once, the tick stores its deadline, and a
// start of opsbot (which may bring a new callback_timeout) makes every
// accepted run due again. Whether a run is timed out is decided from
// (now, the stored run, the config) in the transaction that acts: the
// stored time only says when to look.

// Deadline is when r, accepted by its endpoint, is timed out without a
// final callback (rb nil: its runbook is gone from config, the default
// applies).
func Deadline(r *Run, rb *Runbook) time.Time {
	from := r.AcceptedAt
	if from.IsZero() {
		from = r.UpdatedAt
	}
	return from.Add(rb.CallbackWait())
}

// TimedOut reports whether r is to be timed out at now.
func TimedOut(r *Run, rb *Runbook, now time.Time) bool {
	return r.State == StateAccepted && !now.Before(Deadline(r, rb))
}

// Tick times out the accepted runs whose deadline has passed, and says
// how many it timed out. Each run is one transaction: a crash between two
// leaves the rest due for the next tick.
func (s *Service) Tick(ctx context.Context) (int, error) {
	var ids []string
	if err := s.view(ctx, func(tx Tx) (err error) {
		ids, err = tx.DueSubjects(workflows.DueKindRunbook, s.Clock.Now())
		return err
	}); err != nil {
		return 0, fmt.Errorf("load runbook runs due a look: %w", err)
	}
	n := 0
	var errs []error
	for _, id := range ids {
		timedOut := false
		err := s.update(ctx, func(tx Tx) error {
			timedOut = false
			now := s.Clock.Now()
			r, err := tx.RunbookRun(id)
			if err != nil {
				return err
			}
			if r.State != StateAccepted {
				return tx.SetDue(workflows.DueKindRunbook, id, time.Time{})
			}
			rb, _ := s.Runbook(r.Runbook)
			if !TimedOut(r, rb, now) {
				return tx.SetDue(workflows.DueKindRunbook, id, Deadline(r, rb))
			}
			timedOut = true
			return s.timeOut(tx, rb, r, now)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("time out %s: %w", id, err))
			continue
		}
		if timedOut {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// timeOut records that r's endpoint never sent its final callback.
func (s *Service) timeOut(tx Tx, rb *Runbook, r *Run, now time.Time) error {
	wait := rb.CallbackWait()
	result := fmt.Sprintf("No final report from its endpoint within %s of accepting it; opsbot stopped waiting at %s. It may still be running or have finished: check before running it again.",
		workflows.FormatDuration(wait), localTime(s.Catalog, r, Deadline(r, rb)))
	if err := workflows.EnqueueMessage(tx, timeoutMessage(s.Catalog, rb, r, now), now); err != nil {
		return err
	}
	return s.finish(tx, rb, r, StateTimedOut, result, now)
}
