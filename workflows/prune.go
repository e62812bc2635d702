package workflows

import (
	"context"
	"fmt"
	"time"
)

// IntakeKeep is how long the key of a Slack request (its signature, the
// envelope, trigger, event or view ID) is kept to refuse a replay. A
// replayed signed request is refused by its timestamp after five minutes,
// and Slack gives up re-sending an event or envelope within the hour; a
// day covers both with room to spare and keeps the table small.
const IntakeKeep = 24 * time.Hour

// IntakeKeyPrefixes are the keys bot records for each Slack request it
// takes. Other keys in the same table (reminders, warnings, PagerDuty
// events) say that something happened for good and are never pruned.
var IntakeKeyPrefixes = []string{"slack-request:", "slack-envelope:", "slack-trigger:", "slack-event:", "slack-view:", "slack-handled:"}

// PruneIntake removes the keys of Slack requests taken more than
// IntakeKeep before now, in one transaction, and says how many it
// removed. The scheduler calls it every hour.
func PruneIntake(ctx context.Context, store Store, now time.Time) (int64, error) {
	var n int64
	err := store.Update(ctx, func(tx Tx) error {
		n = 0 // a retried transaction counts again from nothing
		for _, p := range IntakeKeyPrefixes {
			k, err := tx.ForgetBefore(p, now.Add(-IntakeKeep))
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune Slack request keys: %w", err)
	}
	return n, nil
}
