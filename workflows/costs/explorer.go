package costs

import (
	"context"
	"errors"
)

// Query is one GetCostAndUsage: the cost of [Start, End) (UTC dates,
// End exclusive), daily or monthly, grouped by two keys.
type Query struct {
	Start, End string
	Monthly    bool
	Metric     string
	GroupBy    [2]Group
}

// Line is one group of one day (or month) in an answer. Tag values come
// without their "key$" prefix; "" is untagged.
type Line struct {
	Day       string
	Keys      [2]string
	Amount    float64 // dollars, as Cost Explorer reports them
	Estimated bool
}

// Answer is what Cost Explorer said to one Query, all pages read.
type Answer struct {
	Lines []Line
	// Accounts names the linked accounts Cost Explorer knows (ID →
	// its description), when grouped by LINKED_ACCOUNT.
	Accounts map[string]string
	// Calls counts the requests made (one per page), for the figures.
	Calls int
}

// Explorer asks Cost Explorer. integrations/aws implements it with
// aws-sdk-go-v2's costexplorer client.
type Explorer interface {
	CostAndUsage(ctx context.Context, q Query) (Answer, error)
}

// Errors an Explorer wraps, so the workflow can tell people what to do.
var (
	// ErrAccessDenied: the identity may not call Cost Explorer (IAM), or
	// Cost Explorer is not enabled for the account.
	ErrAccessDenied = errors.New("cost explorer: access denied")
	// ErrDataUnavailable: Cost Explorer has no data for the period yet.
	ErrDataUnavailable = errors.New("cost explorer: data unavailable")
	// ErrLimitExceeded: throttled, after the SDK's retries.
	ErrLimitExceeded = errors.New("cost explorer: limit exceeded")
)

// IAMActions are what opsbot's identity in the payer account needs.
const IAMActions = "ce:GetCostAndUsage"
