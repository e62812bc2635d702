package workflows

import "time"

// CostTx holds the spend Cost Explorer reported, cached by view: one
// view is one grouping of GetCostAndUsage (by account and service, by
// team tag and service, ...). Days are UTC dates "2006-01-02", as Cost
// Explorer reports them. The costs workflow (workflows/costs) owns it.
type CostTx interface {
	// ReplaceCosts replaces view's lines for the days in [from, to) with
	// lines, and records that view was refreshed at at, through to.
	ReplaceCosts(view, from, to string, lines []CostLine, at time.Time) error
	// Costs lists view's lines for the days in [from, to), ordered by
	// day, then keys.
	Costs(view, from, to string) ([]CostLine, error)
	// CostRefresh says when view was last refreshed and the day after the
	// newest day it covered; zero and "" when never.
	CostRefresh(view string) (at time.Time, through string, err error)
}

// CostLine is the cost of one day (or month) for a pair of group keys.
type CostLine struct {
	Day       string // "2006-01-02"
	Key1      string // e.g. an account ID, or a tag value ("" untagged)
	Key2      string // e.g. a service name
	Amount    Money
	Estimated bool // Cost Explorer's data is not final yet
}
