package costs

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/opsbot/opsbot/workflows"
)

// Job kinds of the costs workflow.
const (
	JobRefresh = "costs.refresh" // payload: the UTC date of the refresh, "2006-01-02"
	JobReview  = "costs.review"  // payload: the month reviewed, "2006-01"
)

// Service is the costs workflow.
type Service struct {
	Store    workflows.Store
	Clock    workflows.Clock
	Catalog  *workflows.Catalog
	Policy   *Policy
	Explorer Explorer // nil: no Cost Explorer, opsbot's own figures only
	Log      *slog.Logger
	// Wake, when set, is nudged after a transaction queues jobs.
	Wake func()
	// Picture draws the review's chart as a PNG; nil: no chart.
	Picture func(c Chart, title string) ([]byte, error)
	// Pages writes the review's page when costs.review names a Notion
	// database; nil without Notion.
	Pages workflows.ReviewPages

	calls atomic.Int64
}

// IdleServer is one idle opsbot server as the review shows it, with
// the Stop, Release and Keep buttons.
type IdleServer struct {
	ID    string // "srv-42"
	Team  string
	Owner string // Slack ID or email; "" for a server handed to its team
	// Tell is who is asked to choose: the owner, or the team's approvers
	// for a server handed over when its owner left.
	Tell    []string
	Summary string // "c6i.2xlarge, CPU at most 3% since Mon 30 Nov"
	Actions []workflows.Action
}

// Calls is how many Cost Explorer requests this process made.
func (s *Service) Calls() int64 { return s.calls.Load() }

// Handlers are the costs workflow's job handlers.
func (s *Service) Handlers() map[string]workflows.JobHandler {
	return map[string]workflows.JobHandler{JobRefresh: s.refreshJob, JobReview: s.reviewJob, JobPage: s.pageJobRun}
}

func (s *Service) update(ctx context.Context, fn func(workflows.Tx) error) error {
	err := s.Store.Update(ctx, fn)
	if err == nil && s.Wake != nil {
		s.Wake()
	}
	return err
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// TickReport says what one tick did.
type TickReport struct {
	Refreshes, Alerts, Reviews int
}

// Tick queues the day's refresh when it is due, sends the budget alerts
// a team's month has crossed, and queues the month's review when its
// time has come. Each is a function of now and of what was recorded, so
// a restart, a second replica or a clock jump never does one twice.
func (s *Service) Tick(ctx context.Context) (TickReport, error) {
	var rep TickReport
	if s.Policy == nil {
		return rep, nil
	}
	n, err := s.queueRefresh(ctx)
	if err != nil {
		return rep, err
	}
	rep.Refreshes = n
	if rep.Alerts, err = s.budgetAlerts(ctx); err != nil {
		return rep, err
	}
	rep.Reviews, err = s.queueReview(ctx)
	return rep, err
}

func monthKey(prefix string, parts ...string) string {
	k := "costs:" + prefix
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

var _ = fmt.Sprintf
