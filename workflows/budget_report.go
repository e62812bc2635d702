package workflows

import (
	"context"
	"fmt"
)

// Budgets sums every team's month as of now, in one read: the figures
// /metrics shows (budget, committed, spent, reserved per team).
func (s *Servers) Budgets(ctx context.Context) ([]BudgetSummary, error) {
	now := s.Clock.Now()
	var out []BudgetSummary
	err := s.Store.View(ctx, func(tx Tx) error {
		out = out[:0]
		for _, t := range s.Catalog.Teams {
			b, err := budgetOf(tx, t, now)
			if err != nil {
				return err
			}
			out = append(out, b)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sum budgets: %w", err)
	}
	return out, nil
}
