package costs

import (
	"context"
	"fmt"

	"github.com/opsbot/opsbot/workflows"
)

// HoldReview queues last month's review now, out of its schedule (the
// sandbox's "Cost review" button). It shares the schedule's mark, so the
// month is still posted once: held again (or after the schedule held
// it), the review is worked out again and its messages, keyed by month,
// are edited in place; idle servers found since are added to its
// thread. fresh says whether this was the month's first.
func (s *Service) HoldReview(ctx context.Context) (reviewed Month, fresh bool, err error) {
	if s.Policy == nil || s.Policy.Review == nil || s.Policy.Review.Channel == "" {
		return "", false, workflows.Errorf(workflows.EConflict, "No cost review is configured (costs.review.channel).")
	}
	reviewed = MonthOf(s.Clock.Now(), s.Policy.Review.Location).Prev()
	err = s.update(ctx, func(tx workflows.Tx) error {
		now := s.Clock.Now()
		var err error
		if fresh, err = tx.MarkSent(monthKey("review", string(reviewed)), now); err != nil {
			return err
		}
		if fresh {
			if err := tx.Audit(workflows.AuditEntry{At: now, Actor: "opsbot", Action: "costs.review", Subject: string(reviewed)}); err != nil {
				return err
			}
		}
		return tx.Enqueue(workflows.Job{Kind: JobReview, Key: JobReview + ":" + string(reviewed), Payload: string(reviewed), RunAt: now})
	})
	if err != nil {
		return reviewed, false, fmt.Errorf("hold the cost review of %s: %w", reviewed, err)
	}
	return reviewed, fresh, nil
}
