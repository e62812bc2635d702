// Package costs is opsbot's money that matches the bill: actual spend
// from Cost Explorer cached in the store and refreshed daily, each team's
// month (committed, estimated so far, actual) with drift and budget
// alerts, /ops costs, and the monthly cost review.
//
// It is a sub-package of workflows: it uses the kernel's Store and Tx,
// clock, outbox and people, and imports no adapter. Cost Explorer is an
// Explorer, implemented by integrations/aws.
package costs

import (
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Metrics Cost Explorer can report; the policy picks one.
const (
	MetricUnblended = "UnblendedCost"
	MetricAmortized = "AmortizedCost"
)

// Defaults of the costs section.
const (
	DefaultTeamTag      = "team"
	DefaultDriftPercent = 25
	// DefaultRefreshHour is the UTC hour of the daily refresh: Cost
	// Explorer's data for yesterday is mostly in by then.
	DefaultRefreshHour = 6
	// ReviewGrace is how late a month's review may still be posted
	// (opsbot down on the day): after that the month is skipped.
	ReviewGrace = 7 * 24 * time.Hour
	// ChartMonths is how many months the review's chart shows, and how
	// far back the cache is filled.
	ChartMonths = 6
	// SettleDays: during the first days of a month Cost Explorer still
	// revises last month, so the daily refresh covers it too.
	SettleDays = 5
	// MaxRefreshAttempts bounds the tries of one day's refresh, so an
	// outage costs a few calls, not a runner's ten.
	MaxRefreshAttempts = 3
)

// DefaultThresholds are the budget alerts' percentages.
var DefaultThresholds = []int{50, 80, 100}

// Policy is the config's costs section, validated.
type Policy struct {
	// CostExplorer turns actual spend on; off, every figure is opsbot's
	// own (the ledger and the estimates).
	CostExplorer bool
	// PayerAccount names the account (config accounts:) Cost Explorer is
	// called in: the management account sees every linked account. ""
	// is the default credentials.
	PayerAccount string
	Metric       string // MetricUnblended (default) or MetricAmortized
	// TeamTag is the cost-allocation tag whose value is a team's name.
	TeamTag string
	// Tags are other cost-allocation tags the review breaks down by.
	Tags []string
	// DriftPercent flags a team's month whose actual spend on opsbot's
	// servers differs from opsbot's estimate by more than this.
	DriftPercent int
	// Thresholds are the budget alerts, in percent of the monthly budget.
	Thresholds []int
	// RefreshHour is the UTC hour from which the day's refresh is made.
	RefreshHour int
	// Review is the monthly cost review; nil: none.
	Review *ReviewPolicy
}

// ReviewPolicy says when and where the monthly cost review is posted.
type ReviewPolicy struct {
	Channel string // the review channel (ID or name)
	// Schedule gives the candidate times in Location; the review is held
	// at the first of them in each month (with "0 9 * * 1-5", the first
	// working day at 09:00).
	Schedule workflows.CronSchedule
	Location *time.Location
	// TeamParts posts each team's part in the team's approvals channel.
	TeamParts bool
	// NotionDatabase, when set, is the database each month's review gets
	// a page in.
	NotionDatabase string
}

// metric is the metric asked of Cost Explorer.
func (p *Policy) metric() string {
	if p.Metric == "" {
		return MetricUnblended
	}
	return p.Metric
}

func (p *Policy) teamTag() string {
	if p.TeamTag == "" {
		return DefaultTeamTag
	}
	return p.TeamTag
}

func (p *Policy) thresholds() []int {
	if len(p.Thresholds) == 0 {
		return DefaultThresholds
	}
	return p.Thresholds
}

func (p *Policy) drift() int {
	if p.DriftPercent <= 0 {
		return DefaultDriftPercent
	}
	return p.DriftPercent
}

// Group is one GroupBy of GetCostAndUsage: a DIMENSION (SERVICE,
// LINKED_ACCOUNT) or a TAG (by its key).
type Group struct {
	Type string // "DIMENSION" or "TAG"
	Key  string
}

// The dimensions opsbot groups by.
var (
	ByAccount = Group{"DIMENSION", "LINKED_ACCOUNT"}
	ByService = Group{"DIMENSION", "SERVICE"}
)

// ByTag groups by a cost-allocation tag.
func ByTag(key string) Group { return Group{"TAG", key} }

// View is one cached grouping: Cost Explorer allows at most two GroupBy
// per call, so each view is one call (and its pages).
type View struct {
	Name    string
	GroupBy [2]Group
}

// The views' names.
const (
	ViewAccountService = "account_service" // LINKED_ACCOUNT × SERVICE
	ViewTeamService    = "team_service"    // TAG team × SERVICE
	ViewOpsbotService  = "opsbot_service"  // TAG opsbot:team × SERVICE: opsbot's servers
)

// TagView names the view of an extra cost-allocation tag.
func TagView(tag string) string { return "tag:" + tag }

// Views lists what one refresh asks Cost Explorer: 3 views, and one per
// extra tag.
func (p *Policy) Views() []View {
	vs := []View{
		{ViewAccountService, [2]Group{ByAccount, ByService}},
		{ViewTeamService, [2]Group{ByTag(p.teamTag()), ByService}},
		{ViewOpsbotService, [2]Group{ByTag(workflows.TagTeam), ByService}},
	}
	for _, t := range p.Tags {
		vs = append(vs, View{TagView(t), [2]Group{ByTag(t), ByService}})
	}
	return vs
}
