package config

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows"
)

// decodeReview reads `incidents.review`:
//
//	review:
//	  schedule: "0 10 * * 1"  # cron (minute hour day month weekday), in each team's zone
//	  every_weeks: 2          # hold it one week in that many
//	  window: 14d             # how far back it looks (default every_weeks weeks)
//	  critical_max: 10        # critical alerts put to a decision, the rest counted
//	  non_critical: 3         # non-critical alerts picked per meeting
//	  enabled: true           # false: no scheduled review (/incident review still works)
//	  notion_database: ID     # optional: a page per review in this Notion database
//
// Absent, the defaults hold: every other Monday at 10:00.
func decodeReview(d *decoder, p string, n *yaml.Node) *workflows.ReviewPolicy {
	pol := workflows.DefaultReviewPolicy()
	m := d.mapping(p, n, "schedule", "every_weeks", "window", "critical_max", "non_critical", "enabled", "notion_database")
	pol.Off = !m.boolean("enabled", true)
	if sn := m.scalar("schedule"); sn != nil {
		v := strings.TrimSpace(sn.Value)
		if strings.HasPrefix(v, "TZ=") || strings.HasPrefix(v, "CRON_TZ=") {
			d.problem(m.at("schedule"), sn, "leave the zone out: the review runs in each team's time_zone")
		} else if s, err := cron.ParseStandard(v); err != nil {
			d.problem(m.at("schedule"), sn, "%q is not a cron line like \"0 10 * * 1\" (minute hour day month weekday): %v", v, err)
		} else {
			pol.Schedule = s
		}
	}
	if pol.EveryWeeks = m.integer("every_weeks", workflows.DefaultReviewEveryWeeks); pol.EveryWeeks < 1 || pol.EveryWeeks > 8 {
		d.problemAt(m.at("every_weeks"), m.line("every_weeks"), "must be 1 to 8 (weeks)")
		pol.EveryWeeks = workflows.DefaultReviewEveryWeeks
	}
	if pol.Window = m.duration("window", 0); pol.Window < 0 || pol.Window > 180*24*time.Hour {
		d.problemAt(m.at("window"), m.line("window"), "must be between 1h and 180d: PagerDuty lists at most six months at once")
		pol.Window = 0
	}
	if pol.CriticalMax = m.integer("critical_max", workflows.DefaultReviewCriticalMax); pol.CriticalMax < 1 || pol.CriticalMax > 20 {
		d.problemAt(m.at("critical_max"), m.line("critical_max"), "must be 1 to 20: each is a message in the review's thread")
		pol.CriticalMax = workflows.DefaultReviewCriticalMax
	}
	if pol.NonCritical = m.integer("non_critical", workflows.DefaultReviewNonCritical); pol.NonCritical < 0 || pol.NonCritical > 10 {
		d.problemAt(m.at("non_critical"), m.line("non_critical"), "must be 0 to 10")
		pol.NonCritical = workflows.DefaultReviewNonCritical
	}
	if nn := m.scalar("notion_database"); nn != nil && nn.Value != "" {
		pol.NotionDatabase = notionID(d, m.at("notion_database"), nn)
	}
	return pol
}
