package workflows

import (
	"fmt"
	"math"
	"strings"
)

// Money is an amount in US dollars, counted in millionths of a dollar so
// that hourly prices like $0.0104 add up without rounding drift.
type Money int64

// Dollar is one US dollar.
const Dollar Money = 1_000_000

// USD converts a dollar amount given as a float (from YAML or a price
// list) to Money, rounding to the nearest millionth.
func USD(f float64) Money { return Money(math.Round(f * float64(Dollar))) }

// Dollars returns the amount as a float, for display and metrics only.
func (m Money) Dollars() float64 { return float64(m) / float64(Dollar) }

// String formats the amount as dollars and cents, e.g. "$1,234.57" or
// "-$3.20".
func (m Money) String() string {
	sign := ""
	if m < 0 {
		sign = "-"
		m = -m
	}
	cents := (int64(m) + 5_000) / 10_000
	if cents == 0 {
		sign = "" // less than half a cent below zero: no "-$0.00"
	}
	whole, frac := cents/100, cents%100
	return fmt.Sprintf("%s$%s.%02d", sign, groupThousands(whole), frac)
}

// Rate formats an hourly price to the hundredth of a cent, with at least
// two decimals: "$0.023", "$0.351", "$1.36". Rounded to the cent, small
// rates lie about the estimates they explain ($0.0229 is not $0.02).
func (m Money) Rate() string {
	const tick, cent = Dollar / 10_000, Dollar / 100
	if m < 0 {
		return m.String()
	}
	r := (m + tick/2) / tick * tick
	frac := strings.TrimRight(fmt.Sprintf("%02d", r%cent/tick), "0")
	return (r - r%cent).String() + frac
}

// CentsUp rounds a positive amount up to the next whole cent: an overrun
// of a fraction of a cent is a cent over, never "$0.00" over.
func (m Money) CentsUp() Money {
	const cent = Dollar / 100
	if m <= 0 || m%cent == 0 {
		return m
	}
	return m - m%cent + cent
}

// Hours returns the cost of d at an hourly rate m, rounded to the nearest
// millionth of a dollar.
func (m Money) For(hours float64) Money { return Money(math.Round(float64(m) * hours)) }

func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
