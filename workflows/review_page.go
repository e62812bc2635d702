package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Job kinds of the alert review's Notion page.
const (
	// JobReviewPage writes a review's page, once per review; payload: a
	// reviewPageJob.
	JobReviewPage = "review.page"
	// JobReviewPageLine adds one decision (or Done) to the page, once per
	// decision; payload: a reviewLineJob.
	JobReviewPageLine = "review.page.line"
)

// PageCatchUp is how long a review's page (or a line of it) is retried
// while Notion fails, without counting the failures: a Notion outage of
// up to this long ends with the page written. After it, failures count
// and the job is given up after the runner's attempts.
const PageCatchUp = 48 * time.Hour

// reviewPageJob is JobReviewPage's payload: the review, and its page as
// it was when the review was posted (the figures are not kept anywhere
// else).
type reviewPageJob struct {
	Review string
	Page   ReviewPage
}

// reviewLineJob is JobReviewPageLine's payload: one decision about an
// item, or its work marked done.
type reviewLineJob struct {
	Review   string
	N        int
	Decision ReviewDecision `json:",omitempty"`
	Done     bool           `json:",omitempty"`
	By       Person
	At       time.Time
}

// reviewPageDB is the database reviews get a page in, or "" when they get
// none.
func (s *Incidents) reviewPageDB() string {
	if s.Pages == nil {
		return ""
	}
	return s.reviewPolicy().NotionDatabase
}

// queueReviewPage queues the review's page in the transaction that posts
// the review: keyed by the review, so it is written once.
func (s *Incidents) queueReviewPage(tx Tx, rev *AlertReview, team *Team, d *Digest, a Agenda, st *Stats, now time.Time) error {
	if s.reviewPageDB() == "" {
		return nil
	}
	b, err := json.Marshal(reviewPageJob{Review: rev.ID, Page: reviewPage(rev, team, d, a, st)})
	if err != nil {
		return fmt.Errorf("encode the page of review %s: %w", rev.ID, err)
	}
	return tx.Enqueue(Job{Kind: JobReviewPage, Key: JobReviewPage + ":" + rev.ID, Payload: string(b), RunAt: now})
}

// queueReviewLine queues one decision's line on the review's page, in the
// decision's transaction, keyed by the item, the decision and its time:
// one line per decision made, however often its job is run.
func (s *Incidents) queueReviewLine(tx Tx, it *ReviewItem, l reviewLineJob, now time.Time) error {
	if s.reviewPageDB() == "" {
		return nil
	}
	l.Review, l.N = it.ReviewID, it.N
	what := string(l.Decision)
	if l.Done {
		what = "done"
	}
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode the page line of %s: %w", it.ID(), err)
	}
	return tx.Enqueue(Job{Kind: JobReviewPageLine, Key: fmt.Sprintf("%s:%s:%s:%d", JobReviewPageLine, it.ID(), what, l.At.UnixNano()),
		Payload: string(b), RunAt: now})
}

// loadReview reads a review, its items and its team.
func (s *Incidents) loadReview(ctx context.Context, id string) (*AlertReview, []*ReviewItem, *Team, error) {
	var rev *AlertReview
	var items []*ReviewItem
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		if rev, err = tx.Review(id); err != nil {
			return err
		}
		items, err = tx.ReviewItems(id)
		return err
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("load review %s: %w", id, err)
	}
	team, ok := s.Catalog.Team(rev.Team)
	if !ok {
		team = &Team{Name: rev.Team}
	}
	return rev, items, team, nil
}

// writeReviewPage writes the review's page: the body queued with it, and
// the decisions recorded by now (those made while Notion was down
// included). The writer finds a page written before by the review's ID,
// so a retry or a restart never makes a second one.
func (s *Incidents) writeReviewPage(ctx context.Context, j Job) error {
	var p reviewPageJob
	if err := json.Unmarshal([]byte(j.Payload), &p); err != nil {
		return Permanent(fmt.Errorf("decode review page job: %w", err))
	}
	db := s.reviewPageDB()
	if db == "" {
		return nil // no longer configured
	}
	rev, items, team, err := s.loadReview(ctx, p.Review)
	if err != nil {
		return err
	}
	page := p.Page
	names := s.names(ctx)
	for _, it := range items {
		if it.Decision != "" {
			_, text := reviewLine(it, team, reviewLineJob{Decision: it.Decision, By: it.DecidedBy, At: it.DecidedAt}, names)
			page.Body = append(page.Body, DocBlock{Kind: DocBullet, Text: text})
		}
	}
	if _, err := s.Pages.WriteReviewPage(ctx, db, page); err != nil {
		return s.catchUp(rev.PostedAt, fmt.Errorf("write the page of review %s: %w", rev.ID, err))
	}
	return nil
}

// writeReviewLine adds one decision to the review's page, unless a line
// for it is there already (the page was written after it, or a run
// before this one added it).
func (s *Incidents) writeReviewLine(ctx context.Context, j Job) error {
	var l reviewLineJob
	if err := json.Unmarshal([]byte(j.Payload), &l); err != nil {
		return Permanent(fmt.Errorf("decode review page line job: %w", err))
	}
	db := s.reviewPageDB()
	if db == "" {
		return nil
	}
	rev, items, team, err := s.loadReview(ctx, l.Review)
	if err != nil {
		return err
	}
	if l.N < 1 || l.N > len(items) {
		return Permanent(fmt.Errorf("review %s has no item %d", rev.ID, l.N))
	}
	prefix, text := reviewLine(items[l.N-1], team, l, s.names(ctx))
	err = s.Pages.AppendReviewLine(ctx, db, rev.ID, prefix, DocBlock{Kind: DocBullet, Text: text})
	if err != nil {
		return s.catchUp(l.At, fmt.Errorf("add %s to the page of review %s: %w", prefix, rev.ID, err))
	}
	return nil
}

// catchUp is PageRetry on the incidents' clock.
func (s *Incidents) catchUp(since time.Time, err error) error {
	return PageRetry(s.Clock.Now(), since, err)
}

// PageRetry turns a failed review page write into a wait that does not
// count as an attempt while since (when the page or line was asked for)
// is within PageCatchUp: Notion down for a while, or the page not
// written yet, ends with the page written. The wait grows with the time
// since (a quarter of it, from a minute to an hour). A refusal no retry
// can fix is returned as it is.
func PageRetry(now, since time.Time, err error) error {
	if IsPermanent(err) {
		return err
	}
	age := now.Sub(since)
	if since.IsZero() || age > PageCatchUp {
		return err
	}
	if errors.Is(err, ErrNoReviewPage) {
		return Defer(now.Add(time.Minute), err)
	}
	return Defer(now.Add(min(max(age/4, time.Minute), time.Hour)), err)
}
