package store

import (
	"fmt"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

const reviewColumns = `id, team, window_start, window_end, channel, slot, requested_by, created_at, posted_at`

// CreateReview records a new alert review.
func (t *tx) CreateReview(r *workflows.AlertReview) error {
	_, err := t.exec(`INSERT INTO alert_reviews (`+reviewColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Team, unixNanos(r.Window.Start), unixNanos(r.Window.End), r.Channel, unixNanos(r.Slot), r.RequestedBy,
		unixNanos(r.CreatedAt), unixNanos(r.PostedAt))
	if err != nil {
		return fmt.Errorf("create review %s: %w", r.ID, err)
	}
	return nil
}

// SaveReview records that a review was posted.
func (t *tx) SaveReview(r *workflows.AlertReview) error {
	_, err := t.exec(`UPDATE alert_reviews SET channel = ?, posted_at = ? WHERE id = ?`, r.Channel, unixNanos(r.PostedAt), r.ID)
	if err != nil {
		return fmt.Errorf("save review %s: %w", r.ID, err)
	}
	return nil
}

// Review returns one review, or workflows.ErrNotFound.
func (t *tx) Review(id string) (*workflows.AlertReview, error) {
	rs, err := t.reviews(`WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("review %s: %w", id, workflows.ErrNotFound)
	}
	return rs[0], nil
}

// Reviews lists a team's reviews created at or after since, newest first.
func (t *tx) Reviews(team string, since time.Time) ([]*workflows.AlertReview, error) {
	return t.reviews(`WHERE team = ? AND created_at >= ? ORDER BY created_at DESC, id DESC`, team, unixNanos(since))
}

func (t *tx) reviews(where string, args ...any) ([]*workflows.AlertReview, error) {
	rows, err := t.query(`SELECT `+reviewColumns+` FROM alert_reviews `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read reviews: %w", err)
	}
	defer rows.Close()
	var out []*workflows.AlertReview
	for rows.Next() {
		r := &workflows.AlertReview{}
		var ws, we, slot, created, posted int64
		if err := rows.Scan(&r.ID, &r.Team, &ws, &we, &r.Channel, &slot, &r.RequestedBy, &created, &posted); err != nil {
			return nil, fmt.Errorf("read reviews: %w", err)
		}
		r.Window = workflows.Window{Start: fromNanos(ws), End: fromNanos(we)}
		r.Slot, r.CreatedAt, r.PostedAt = fromNanos(slot), fromNanos(created), fromNanos(posted)
		out = append(out, r)
	}
	return out, rows.Err()
}

const itemColumns = `review_id, n, group_key, label, service_name, critical, figures, decision, decided_slack, decided_email,
	decided_at, owner_slack, owner_email, due_at, done_at`

// SaveReviewItem creates or replaces one item of a review.
func (t *tx) SaveReviewItem(it *workflows.ReviewItem) error {
	_, err := t.exec(`INSERT INTO alert_review_items (`+itemColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (review_id, n) DO UPDATE SET decision = excluded.decision, decided_slack = excluded.decided_slack,
		decided_email = excluded.decided_email, decided_at = excluded.decided_at, owner_slack = excluded.owner_slack,
		owner_email = excluded.owner_email, due_at = excluded.due_at, done_at = excluded.done_at`,
		it.ReviewID, it.N, it.GroupKey, it.Label, it.ServiceName, boolInt(it.Critical), it.Figures, string(it.Decision),
		it.DecidedBy.SlackID, it.DecidedBy.Email, unixNanos(it.DecidedAt), it.Owner.SlackID, it.Owner.Email,
		unixNanos(it.Due), unixNanos(it.DoneAt))
	if err != nil {
		return fmt.Errorf("save review item %s: %w", it.ID(), err)
	}
	return nil
}

// ReviewItems lists a review's items in order.
func (t *tx) ReviewItems(reviewID string) ([]*workflows.ReviewItem, error) {
	return t.items(`WHERE review_id = ? ORDER BY n`, reviewID)
}

// FollowUps lists decided items with an owner that are not done, oldest
// due first.
func (t *tx) FollowUps() ([]*workflows.ReviewItem, error) {
	return t.items(`WHERE done_at = 0 AND due_at > 0 ORDER BY due_at, review_id, n`)
}

func (t *tx) items(where string, args ...any) ([]*workflows.ReviewItem, error) {
	rows, err := t.query(`SELECT `+itemColumns+` FROM alert_review_items `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read review items: %w", err)
	}
	defer rows.Close()
	var out []*workflows.ReviewItem
	for rows.Next() {
		it := &workflows.ReviewItem{}
		var critical, decided, due, done int64
		var decision string
		if err := rows.Scan(&it.ReviewID, &it.N, &it.GroupKey, &it.Label, &it.ServiceName, &critical, &it.Figures, &decision,
			&it.DecidedBy.SlackID, &it.DecidedBy.Email, &decided, &it.Owner.SlackID, &it.Owner.Email, &due, &done); err != nil {
			return nil, fmt.Errorf("read review items: %w", err)
		}
		it.Critical, it.Decision = critical != 0, workflows.ReviewDecision(decision)
		it.DecidedAt, it.Due, it.DoneAt = fromNanos(decided), fromNanos(due), fromNanos(done)
		out = append(out, it)
	}
	return out, rows.Err()
}
