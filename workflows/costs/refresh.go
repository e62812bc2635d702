package costs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

const dayLayout = "2006-01-02"

// civil is the UTC midnight of t's UTC date.
func civil(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// RefreshWindow is what the day's refresh at now asks for, daily: from
// the first of this month (of last month during its first SettleDays
// days, while Cost Explorer still revises it) to today, exclusive, since
// Cost Explorer is about a day behind. Months before from and within
// ChartMonths are filled once, monthly (Backfill).
func RefreshWindow(now time.Time) (from, to string) {
	today := civil(now)
	start := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	if today.Day() <= SettleDays {
		start = start.AddDate(0, -1, 0)
	}
	return start.Format(dayLayout), today.Format(dayLayout)
}

// Backfill lists the months (first days) before from that the chart
// needs: the ChartMonths months up to this month.
func Backfill(now time.Time, from string) []string {
	today := civil(now)
	first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -ChartMonths, 0)
	var out []string
	for m := first; m.Format(dayLayout) < from; m = m.AddDate(0, 1, 0) {
		out = append(out, m.Format(dayLayout))
	}
	return out
}

// refreshDue is the UTC date whose refresh is due at now, or "" before
// the refresh hour.
func (s *Service) refreshDue(now time.Time) string {
	if !s.Policy.CostExplorer || s.Explorer == nil {
		return ""
	}
	if now.UTC().Hour() < s.Policy.RefreshHour {
		return ""
	}
	return now.UTC().Format(dayLayout)
}

// queueRefresh queues the day's refresh once: the mark and the job are
// one transaction.
func (s *Service) queueRefresh(ctx context.Context) (int, error) {
	day := s.refreshDue(s.Clock.Now())
	if day == "" {
		return 0, nil
	}
	queued := 0
	err := s.update(ctx, func(tx workflows.Tx) error {
		now := s.Clock.Now()
		fresh, err := tx.MarkSent(monthKey("refresh", day), now)
		if err != nil || !fresh {
			return err
		}
		queued = 1
		return tx.Enqueue(workflows.Job{Kind: JobRefresh, Key: JobRefresh + ":" + day, Payload: day, RunAt: now})
	})
	if err != nil {
		return 0, fmt.Errorf("queue the cost refresh of %s: %w", day, err)
	}
	return queued, nil
}

// refreshJob asks Cost Explorer for each view and caches the answers.
// Errors are reported once to the review channel with what to do; a
// refresh that keeps failing gives up after MaxRefreshAttempts (the
// next day's refresh tries again).
func (s *Service) refreshJob(ctx context.Context, j workflows.Job) error {
	err := s.Refresh(ctx)
	if err == nil {
		return s.afterRefresh(ctx)
	}
	final := errors.Is(err, ErrAccessDenied) || errors.Is(err, ErrDataUnavailable) || j.Attempts+1 >= MaxRefreshAttempts
	if final {
		if rerr := s.reportError(ctx, err); rerr != nil {
			s.log().Error("report the Cost Explorer error", "err", rerr)
		}
		return workflows.Permanent(err)
	}
	return err
}

// Refresh asks Cost Explorer for the refresh window of each view (and
// the months the chart still lacks, monthly) and replaces the cache.
func (s *Service) Refresh(ctx context.Context) error {
	if s.Explorer == nil {
		return nil
	}
	now := s.Clock.Now()
	from, to := RefreshWindow(now)
	for _, v := range s.Policy.Views() {
		var missing []string
		if err := s.Store.View(ctx, func(tx workflows.Tx) error {
			for _, m := range Backfill(now, from) {
				done, err := tx.Sent(monthKey("filled", v.Name, m[:7]))
				if err != nil {
					return err
				}
				if !done {
					missing = append(missing, m)
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("read what the cost cache holds: %w", err)
		}
		var old Answer
		if len(missing) > 0 {
			a, err := s.ask(ctx, Query{Start: missing[0], End: from, Monthly: true, Metric: s.Policy.metric(), GroupBy: v.GroupBy})
			if err != nil {
				return fmt.Errorf("fill %s from %s: %w", v.Name, missing[0], err)
			}
			old = a
		}
		cur, err := s.ask(ctx, Query{Start: from, End: to, Metric: s.Policy.metric(), GroupBy: v.GroupBy})
		if err != nil {
			return fmt.Errorf("refresh %s for %s to %s: %w", v.Name, from, to, err)
		}
		err = s.update(ctx, func(tx workflows.Tx) error {
			at := s.Clock.Now()
			if len(missing) > 0 {
				if err := tx.ReplaceCosts(v.Name, missing[0], from, lines(old), at); err != nil {
					return err
				}
				for _, m := range missing {
					if _, err := tx.MarkSent(monthKey("filled", v.Name, m[:7]), at); err != nil {
						return err
					}
				}
			}
			if err := tx.ReplaceCosts(v.Name, from, to, lines(cur), at); err != nil {
				return err
			}
			for id, name := range cur.Accounts {
				if err := tx.PutName(accountNameKey(id), name, at); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("cache %s: %w", v.Name, err)
		}
	}
	s.log().Info("cost explorer refreshed", "from", from, "to", to, "views", len(s.Policy.Views()), "calls_total", s.calls.Load())
	return nil
}

func (s *Service) ask(ctx context.Context, q Query) (Answer, error) {
	a, err := s.Explorer.CostAndUsage(ctx, q)
	s.calls.Add(int64(max(a.Calls, 1)))
	return a, err
}

func accountNameKey(id string) string { return "aws-account:" + id }

func lines(a Answer) []workflows.CostLine {
	out := make([]workflows.CostLine, 0, len(a.Lines))
	for _, l := range a.Lines {
		out = append(out, workflows.CostLine{Day: l.Day, Key1: l.Keys[0], Key2: l.Keys[1], Amount: workflows.USD(l.Amount), Estimated: l.Estimated})
	}
	return out
}

// afterRefresh clears the reported errors (a later one is reported
// again), flags the teams whose actual spend drifted, and sends the
// budget alerts the new figures cross.
func (s *Service) afterRefresh(ctx context.Context) error {
	if err := s.update(ctx, func(tx workflows.Tx) error {
		for _, k := range errorKinds {
			if err := tx.Forget(monthKey("error", k)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("clear Cost Explorer errors: %w", err)
	}
	if _, err := s.driftAlerts(ctx); err != nil {
		return err
	}
	_, err := s.budgetAlerts(ctx)
	return err
}
