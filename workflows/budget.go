package workflows

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

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
	// Reserved is held by open requests: the estimates of approvals still
	// waiting for a decision. It is not spent, but it counts against the
	// month, so approving every open request never takes the team past a
	// budget that denies overruns. A decision turns it into committed
	// spend or gives it back.
	Reserved Money
	// Open counts the approvals that hold Reserved.
	Open int
}

// Remaining is what new requests can still take this month: the budget
// less what is committed and what open requests hold.
func (b BudgetSummary) Remaining() Money { return b.Budget - b.Committed - b.Reserved }

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

// openApprovals lists the team's approvals that hold a reservation at now:
// pending and not yet past their expiry (an approval whose time is up
// holds nothing, even before the tick closes it).
func openApprovals(tx Tx, team *Team, now time.Time) ([]*Approval, error) {
	pending, err := tx.Approvals(ApprovalFilter{Team: team.Name, States: []ApprovalState{ApprovalPending}})
	if err != nil {
		return nil, fmt.Errorf("read approvals of %s: %w", team.Name, err)
	}
	out := pending[:0]
	for _, a := range pending {
		if now.Before(a.ExpiresAt) {
			out = append(out, a)
		}
	}
	return out, nil
}

// openedBefore reports whether x was opened before a: earlier, or at the
// same instant with a lower number ("apr-9" before "apr-10").
func openedBefore(x, a *Approval) bool {
	if !x.CreatedAt.Equal(a.CreatedAt) {
		return x.CreatedAt.Before(a.CreatedAt)
	}
	xn, an := idNumber(x.ID), idNumber(a.ID)
	if xn != an {
		return xn < an
	}
	return x.ID < a.ID
}

// idNumber is the number of a human ID ("apr-12" gives 12), or -1.
func idNumber(id string) int {
	_, n, ok := strings.Cut(id, "-")
	if !ok {
		return -1
	}
	v, err := strconv.Atoi(n)
	if err != nil {
		return -1
	}
	return v
}

// Overrun is how far committing cost now, on top of what is committed and
// reserved, takes the team past its budget; zero or less when it fits.
func (b BudgetSummary) Overrun(reserved, cost Money) Money {
	return b.Committed + reserved + cost - b.Budget
}

// Numbers spells out a budget check for the person refused: the budget,
// what is committed, what open requests hold, and what this one costs.
func (b BudgetSummary) Numbers(reserved Money, open int, cost Money, what string) string {
	held := "nothing reserved by open requests"
	if open > 0 {
		held = fmt.Sprintf("%s reserved by %s", reserved, plural(open, "open request"))
	}
	return fmt.Sprintf("budget %s, %s committed, %s, %s %s", b.Budget, b.Committed, held, what, cost)
}
