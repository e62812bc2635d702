package workflows

import "time"

// LedgerKind says why money moved.
type LedgerKind string

// Ledger entry kinds. Commits are positive, releases negative.
const (
	LedgerCommit  LedgerKind = "commit"  // a lease approved
	LedgerExtend  LedgerKind = "extend"  // a lease extended
	LedgerRelease LedgerKind = "release" // an unused part given back
)

// LedgerEntry is one movement of committed spend for a team's month.
type LedgerEntry struct {
	Team      string
	Month     string // "2006-01" in the team's time zone
	RequestID string
	Kind      LedgerKind
	Amount    Money
	At        time.Time
}

// BudgetSummary is a team's month at a glance.
type BudgetSummary struct {
	Team      string
	Month     string
	Budget    Money
	Committed Money // approved leases and extensions, less releases
	Spent     Money // what servers actually cost so far this month
	Pending   Money // waiting for approval, not committed
}

// Remaining is what can still be committed this month.
func (b BudgetSummary) Remaining() Money { return b.Budget - b.Committed }

// Committed sums the entries of one month.
func Committed(entries []LedgerEntry) Money {
	var sum Money
	for _, e := range entries {
		sum += e.Amount
	}
	return sum
}

// Refunds splits a refund across the months whose commitments it gives
// back, newest commitment first, so no month goes below what was committed
// in it for the request.
func Refunds(entries []LedgerEntry, refund Money) []LedgerEntry {
	byMonth := map[string]Money{}
	var months []string
	for _, e := range entries {
		if _, ok := byMonth[e.Month]; !ok {
			months = append(months, e.Month)
		}
		byMonth[e.Month] += e.Amount
	}
	var out []LedgerEntry
	for i := len(months) - 1; i >= 0 && refund > 0; i-- {
		m := months[i]
		give := min(byMonth[m], refund)
		if give <= 0 {
			continue
		}
		out = append(out, LedgerEntry{Month: m, Kind: LedgerRelease, Amount: -give})
		refund -= give
	}
	return out
}
