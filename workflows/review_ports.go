package workflows

import (
	"strconv"
	"time"
)

// ReviewTx holds alert reviews: what each covered and what was decided.
type ReviewTx interface {
	CreateReview(r *AlertReview) error
	// Review returns ErrNotFound when there is none.
	Review(id string) (*AlertReview, error)
	SaveReview(r *AlertReview) error
	// Reviews lists a team's reviews created at or after since, newest first.
	Reviews(team string, since time.Time) ([]*AlertReview, error)
	// SaveReviewItem creates or replaces one item of a review.
	SaveReviewItem(it *ReviewItem) error
	// ReviewItems lists a review's items in order.
	ReviewItems(reviewID string) ([]*ReviewItem, error)
	// FollowUps lists the decided items with an owner that are not done.
	FollowUps() ([]*ReviewItem, error)
}

// AlertReview is one alert review of a team: the window it looked at,
// where it is posted, and whether it was.
type AlertReview struct {
	ID          string // "rev-3"
	Team        string
	Window      Window
	Channel     string
	Slot        time.Time // the scheduled time; zero for /incident review
	RequestedBy string    // who asked, for /incident review
	CreatedAt   time.Time
	PostedAt    time.Time // zero while gathering
}

// ReviewDecision is what the team decided about an alert.
type ReviewDecision string

// Review decisions. Keep and fine end the matter; make non-critical and
// tune have work in them, owned and reminded until done; discuss keeps the
// buttons for later.
const (
	DecideKeep        ReviewDecision = "keep"        // keep critical
	DecideNonCritical ReviewDecision = "noncritical" // make non-critical
	DecideDiscuss     ReviewDecision = "discuss"
	DecideTune        ReviewDecision = "tune" // tune or automate
	DecideFine        ReviewDecision = "fine" // a non-critical alert that is fine as it is
)

// Title is the decision as people read it.
func (d ReviewDecision) Title() string {
	switch d {
	case DecideKeep:
		return "Keep critical"
	case DecideNonCritical:
		return "Make non-critical"
	case DecideDiscuss:
		return "Discuss"
	case DecideTune:
		return "Tune or automate"
	case DecideFine:
		return "Fine as it is"
	}
	return string(d)
}

// HasWork reports whether the decision leaves something to do.
func (d ReviewDecision) HasWork() bool { return d == DecideNonCritical || d == DecideTune }

// Final reports whether the decision closes the item to other decisions.
func (d ReviewDecision) Final() bool { return d != "" && d != DecideDiscuss }

// ReviewItem is one alert a review put before the team.
type ReviewItem struct {
	ReviewID    string
	N           int
	GroupKey    string // AlertGroup.Key
	Label       string
	ServiceName string
	Critical    bool
	Figures     string // the figures as shown
	Decision    ReviewDecision
	DecidedBy   Person
	DecidedAt   time.Time
	// Owner, Due and DoneAt follow a decision with work in it.
	Owner  Person
	Due    time.Time
	DoneAt time.Time
}

// ID names the item in buttons and reminders: "rev-3.2".
func (it *ReviewItem) ID() string { return it.ReviewID + "." + strconv.Itoa(it.N) }
