package bot

import (
	"github.com/opsbot/opsbot/workflows"
)

// The alert review and the incident figures (issue 11).
const (
	IncStats  IncidentKind = "stats"
	IncReview IncidentKind = "review"

	UsageStats  = "/incident stats [TEAM] [30d]"
	UsageReview = "/incident review [TEAM]"
)

// parseStats reads `stats [TEAM] [WINDOW]`, in either order: a word like
// 30d, 2w or 90 is the window (1 to 180 days), any other word the team.
func parseStats(c IncidentCommand, rest []string) (IncidentCommand, error) {
	c.Kind = IncStats
	if len(rest) > 2 {
		return c, usageErr(UsageStats, "Name at most a team and a window.")
	}
	for _, w := range rest {
		if looksLikeWindow(w) {
			n, ok := workflows.ParseDays(w)
			if !ok || c.Days != 0 {
				return c, usageErr(UsageStats, "%q is not a window: give days like 30d (1 to %d days) or weeks like 2w, once.", w, workflows.StatsMaxDays)
			}
			c.Days = n
			continue
		}
		if c.Team != "" {
			return c, usageErr(UsageStats, "Name one team.")
		}
		c.Team = w
	}
	return c, nil
}

// looksLikeWindow reports whether a word was meant as a window (it starts
// with a digit), so "40x" or "9999d" is refused, not taken for a team.
func looksLikeWindow(w string) bool {
	return w != "" && w[0] >= '0' && w[0] <= '9'
}

// parseReview reads `review [TEAM]`.
func parseReview(c IncidentCommand, rest []string) (IncidentCommand, error) {
	c.Kind = IncReview
	if len(rest) > 1 {
		return c, usageErr(UsageReview, "Name at most one team.")
	}
	if len(rest) == 1 {
		c.Team = rest[0]
	}
	return c, nil
}
