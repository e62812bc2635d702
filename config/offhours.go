package config

import (
	"sort"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/offhours"
)

// decodeOffHours reads `off_hours:`, the named schedules teams and
// templates refer to:
//
//	off_hours:
//	  office:
//	    stop: "20:00"            # evening stop, in the team's time_zone
//	    start: "08:00"           # morning start
//	    days: [mon, tue, wed, thu, fri]   # working days (default)
//	    warn_before: 30m         # owner told before the stop, with "Keep running tonight"
//	    holidays: ["2026-12-24", "2026-12-25"]   # no stop, no start
//
// A team uses one with `off_hours: office`; a template with its own
// `off_hours: NAME` overrides the team's, `off_hours: none` opts out.
func decodeOffHours(d *decoder, n *yaml.Node, b *build) {
	b.cfg.Catalog.OffHours = map[string]*offhours.Schedule{}
	if isNull(n) {
		return
	}
	ps, ok := d.pairs("off_hours", n)
	if !ok {
		return
	}
	for _, p := range ps {
		path := field("off_hours", p.key)
		if p.key == "none" || p.key == "" {
			d.problem(path, p.v, "%q cannot name a schedule: \"none\" means no schedule", p.key)
			continue
		}
		b.cfg.Catalog.OffHours[p.key] = decodeSchedule(d, path, p.key, p.v)
	}
}

func decodeSchedule(d *decoder, p, name string, n *yaml.Node) *offhours.Schedule {
	m := d.mapping(p, n, "stop", "start", "days", "warn_before", "holidays")
	m.require("stop", "start")
	s := &offhours.Schedule{Name: name, Holidays: map[string]bool{}, WarnBefore: m.duration("warn_before", 30*time.Minute)}
	clock := func(key string) time.Duration {
		sn := m.scalar(key)
		if sn == nil {
			return 0
		}
		c, err := offhours.ParseClock(sn.Value)
		if err != nil {
			d.problem(m.at(key), sn, "%v", err)
		}
		return c
	}
	s.Stop, s.Start = clock("stop"), clock("start")
	if m.has("stop") && m.has("start") && s.Stop <= s.Start {
		d.problemAt(m.at("stop"), m.line("stop"), "must be later in the day than start: servers stop in the evening and start in the morning")
	}
	days := []string{"mon", "tue", "wed", "thu", "fri"}
	if m.has("days") {
		days = nil
		for _, it := range m.list("days") {
			days = append(days, it.s)
		}
	}
	var err error
	if s.Days, err = offhours.ParseDays(days); err != nil {
		d.problemAt(m.at("days"), m.line("days"), "%v", err)
	}
	if s.Days == [7]bool{} {
		d.problemAt(m.at("days"), m.line("days"), "list at least one working day")
	}
	if s.WarnBefore < 0 || s.WarnBefore > 12*time.Hour {
		d.problemAt(m.at("warn_before"), m.line("warn_before"), "must be between 0s and 12h")
	}
	for _, it := range m.list("holidays") {
		if _, err := time.Parse("2006-01-02", it.s); err != nil {
			d.problem(it.path, it.n, "%q is not a date like 2026-12-25", it.s)
			continue
		}
		s.Holidays[it.s] = true
	}
	return s
}

// linkOffHours checks that the schedules teams and templates name exist.
func linkOffHours(d *decoder, b *build) {
	known := make([]string, 0, len(b.cfg.Catalog.OffHours))
	for k := range b.cfg.Catalog.OffHours {
		known = append(known, k)
	}
	sort.Strings(known)
	check := func(r ref) bool {
		if r.name == "" || r.name == "none" {
			return true
		}
		if _, ok := b.cfg.Catalog.OffHours[r.name]; !ok {
			d.problemAt(r.at.path, r.at.line, "there is no off-hours schedule %q under off_hours (known: %v)", r.name, known)
			return false
		}
		return true
	}
	for _, td := range b.teams {
		if td.offHours.name != "none" && check(td.offHours) {
			td.t.OffHours = td.offHours.name
		}
	}
	for _, td := range b.templates {
		if td.offHours.name == "none" {
			td.t.NoOffHours = true
		} else if check(td.offHours) {
			td.t.OffHours = td.offHours.name
		}
	}
}

// decodeIdle reads `idle:`, when an opsbot server counts as idle:
//
//	idle:
//	  cpu_below: 5      # percent; every CPUUtilization datapoint under it
//	  for: 24h          # for this long
//	  check_every: 1h   # how often CloudWatch is asked
//	  enabled: true
func decodeIdle(d *decoder, n *yaml.Node, b *build) {
	pol := workflows.DefaultIdlePolicy()
	defer func() { b.cfg.Catalog.Idle = pol }()
	if isNull(n) {
		return
	}
	m := d.mapping("idle", n, "cpu_below", "for", "check_every", "enabled")
	pol.Off = !m.boolean("enabled", true)
	if f, ok := m.float("cpu_below"); ok {
		if f <= 0 || f > 100 {
			d.problemAt(m.at("cpu_below"), m.line("cpu_below"), "must be a percentage above 0 and at most 100")
		} else {
			pol.CPUBelow = f
		}
	}
	if pol.For = m.duration("for", workflows.DefaultIdleFor); pol.For < time.Hour || pol.For > 14*24*time.Hour {
		d.problemAt(m.at("for"), m.line("for"), "must be between 1h and 14d (CloudWatch keeps 5-minute datapoints for 63 days, but a lease is shorter)")
		pol.For = workflows.DefaultIdleFor
	}
	if pol.CheckEvery = m.duration("check_every", workflows.DefaultIdleCheckEvery); pol.CheckEvery < 5*time.Minute || pol.CheckEvery > 24*time.Hour {
		d.problemAt(m.at("check_every"), m.line("check_every"), "must be between 5m and 24h")
		pol.CheckEvery = workflows.DefaultIdleCheckEvery
	}
}
