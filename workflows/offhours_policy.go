package workflows

import (
	"context"
	"time"

	"github.com/opsbot/opsbot/workflows/offhours"
)

// IdlePolicy says when an opsbot server counts as idle: its CPU stayed
// under CPUBelow percent (every datapoint) for For. Checks run every
// CheckEvery; Off turns the check off.
type IdlePolicy struct {
	Off        bool
	CPUBelow   float64
	For        time.Duration
	CheckEvery time.Duration
}

// Defaults of the idle check.
const (
	DefaultIdleCPUBelow   = 5.0
	DefaultIdleFor        = 24 * time.Hour
	DefaultIdleCheckEvery = time.Hour
)

// DefaultIdlePolicy is the idle check when the config says nothing.
func DefaultIdlePolicy() IdlePolicy {
	return IdlePolicy{CPUBelow: DefaultIdleCPUBelow, For: DefaultIdleFor, CheckEvery: DefaultIdleCheckEvery}
}

// OffHoursFor is the off-hours schedule of a team's server from tpl, in
// the team's zone, or nil when none applies.
func (c *Catalog) OffHoursFor(team *Team, tpl *Template) *offhours.Schedule {
	if c == nil || team == nil || tpl == nil || tpl.NoOffHours {
		return nil
	}
	name := team.OffHours
	if tpl.OffHours != "" {
		name = tpl.OffHours
	}
	s, ok := c.OffHours[name]
	if name == "" || !ok {
		return nil
	}
	in := *s
	in.Zone = team.zone()
	return &in
}

// LocalClock says the time of day of at in the team's zone: "20:00 CET".
func (t *Team) LocalClock(at time.Time) string { return at.In(t.zone()).Format("15:04 MST") }

// CPUSource reads servers' CPU utilisation. The AWS integration
// implements it with CloudWatch GetMetricData.
type CPUSource interface {
	// CPU returns the CPUUtilization datapoints (the Maximum of each
	// period, in percent) of the instances ids in region of account
	// (config accounts:, "" the default credentials) over [from, to), by
	// instance ID; an instance with no data is left out. Metrics live in
	// the instance's own account: it is read with that account's
	// credentials.
	CPU(ctx context.Context, account, region string, ids []string, from, to time.Time, period time.Duration) (map[string][]CPUPoint, error)
}

// CPUPoint is one datapoint.
type CPUPoint struct {
	At      time.Time
	Percent float64
}
