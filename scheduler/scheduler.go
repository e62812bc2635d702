// Package scheduler runs opsbot's periodic work with robfig/cron. Jobs are
// thin: each calls a workflow function that decides from (now, stored
// state), so the decisions are tested at fixed instants without cron.
package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Task is one periodic piece of work.
type Task struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context) error
}

// Scheduler runs tasks on their schedules, one run of a task at a time.
type Scheduler struct {
	log   *slog.Logger
	cron  *cron.Cron
	tasks []Task
	ctx   context.Context
	mu    sync.Mutex // serialises RunAll with scheduled runs
	// lead, when set, lets tasks run only on the replica it elects.
	lead *Elector
}

// Lead makes s run its tasks only while e elects this replica, so that
// of several replicas one runs the scheduler at a time. Call it before
// Run.
func (s *Scheduler) Lead(e *Elector) { s.lead = e }

// New builds a scheduler for tasks. A task never overlaps itself, and a
// panicking task is logged and runs again next time: cron's chain order
// matters here (SkipIfStillRunning outside Recover).
func New(log *slog.Logger, tasks ...Task) (*Scheduler, error) {
	cl := cronLogger{log}
	s := &Scheduler{
		log:   log,
		cron:  cron.New(cron.WithChain(cron.SkipIfStillRunning(cl), cron.Recover(cl)), cron.WithLogger(cl)),
		tasks: tasks,
		ctx:   context.Background(),
	}
	for _, t := range tasks {
		if t.Every <= 0 {
			return nil, fmt.Errorf("task %s: interval must be positive", t.Name)
		}
		t := t
		if _, err := s.cron.AddFunc(fmt.Sprintf("@every %s", t.Every), func() { s.runOne(t) }); err != nil {
			return nil, fmt.Errorf("schedule %s: %w", t.Name, err)
		}
	}
	return s, nil
}

func (s *Scheduler) runOne(t Task) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(s.ctx, max(t.Every, time.Minute))
	defer cancel()
	// A replica that is not leading campaigns before it gives up the
	// run: the leader may have died or resigned since the last campaign.
	if e := s.lead; e != nil && !e.Leading() && !e.Campaign(ctx) {
		s.log.Debug("scheduled task left to the leading replica", "task", t.Name)
		return
	}
	if err := t.Run(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("scheduled task failed", "task", t.Name, "err", err)
	}
}

// RunAll runs every task once, now (on the leading replica, when s has
// an Elector). The sandbox calls it after moving the clock so lease
// warnings and expiries show at once.
func (s *Scheduler) RunAll() {
	for _, t := range s.tasks {
		s.runOne(t)
	}
}

// Run starts the schedule and blocks until ctx ends, then waits for
// running tasks to finish.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	var campaigned chan struct{}
	if s.lead != nil {
		campaigned = make(chan struct{})
		go func() {
			defer close(campaigned)
			s.lead.campaignLoop(ctx)
		}()
	}
	s.cron.Start()
	<-ctx.Done()
	<-s.cron.Stop().Done()
	if campaigned != nil {
		// Resign once no task of ours runs: the next leader starts clean.
		<-campaigned
		s.lead.Resign(context.WithoutCancel(ctx))
	}
	return nil
}

type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
