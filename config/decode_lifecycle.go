package config

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows"
)

// Lifecycle defaults, used for a policy's `lifecycle:` and a template's
// own `lifecycle:` alike. When max_lease or max_lifetime is given shorter
// than a default, defaults that would not fit shrink to fit: default_lease
// becomes max_lease, warnings not shorter than max_lease are dropped,
// max_lifetime grows to max_lease. Values written out are never changed;
// they are checked.
const (
	DefaultLease         = 24 * time.Hour
	DefaultMaxLease      = 7 * 24 * time.Hour
	DefaultMaxLifetime   = 30 * 24 * time.Hour
	DefaultMaxExtensions = 2
	DefaultEndAction     = workflows.EndStop
	DefaultGrace         = time.Hour
)

// DefaultWarnBefore is when owners are warned before a lease ends.
var DefaultWarnBefore = []time.Duration{24 * time.Hour, time.Hour}

var lifecycleFields = []string{"default_lease", "max_lease", "max_lifetime", "max_extensions", "warn_before", "end_action", "grace"}

// decodeLifecycle reads a complete lifecycle block:
//
//	{default_lease: 1d, max_lease: 7d, max_lifetime: 30d, max_extensions: 2,
//	 warn_before: [24h, 1h], end_action: stop, grace: 1h}
//
// It checks default_lease ≤ max_lease ≤ max_lifetime, each warning
// shorter than max_lease, end_action stop|terminate, max_extensions ≥ 0.
// grace may be 0 (act as soon as the lease ends).
func decodeLifecycle(d *decoder, path string, n *yaml.Node) workflows.LifecyclePolicy {
	m := d.mapping(path, n, lifecycleFields...)
	l := workflows.LifecyclePolicy{
		MaxLease:      m.duration("max_lease", DefaultMaxLease),
		MaxExtensions: m.integer("max_extensions", DefaultMaxExtensions),
		EndAction:     DefaultEndAction,
		Grace:         DefaultGrace,
	}
	l.DefaultLease = m.duration("default_lease", min(DefaultLease, l.MaxLease))
	l.MaxLifetime = m.duration("max_lifetime", max(DefaultMaxLifetime, l.MaxLease))

	if m.has("default_lease") && l.DefaultLease > l.MaxLease {
		d.problemAt(m.at("default_lease"), m.line("default_lease"), "%s is longer than max_lease (%s)",
			workflows.FormatDuration(l.DefaultLease), workflows.FormatDuration(l.MaxLease))
	}
	if m.has("max_lifetime") && l.MaxLease > l.MaxLifetime {
		d.problemAt(m.at("max_lifetime"), m.line("max_lifetime"), "%s is shorter than max_lease (%s)",
			workflows.FormatDuration(l.MaxLifetime), workflows.FormatDuration(l.MaxLease))
	}
	if l.MaxExtensions < 0 {
		d.problemAt(m.at("max_extensions"), m.line("max_extensions"), "must not be negative (got %d)", l.MaxExtensions)
		l.MaxExtensions = 0
	}

	if m.has("warn_before") {
		for _, it := range m.list("warn_before") {
			w, ok := d.duration(it.path, it.n)
			if !ok {
				continue
			}
			if w >= l.MaxLease {
				d.problem(it.path, it.n, "%s is not shorter than max_lease (%s): the warning would come before the lease starts",
					workflows.FormatDuration(w), workflows.FormatDuration(l.MaxLease))
				continue
			}
			l.WarnBefore = append(l.WarnBefore, w)
		}
	} else {
		for _, w := range DefaultWarnBefore {
			if w < l.MaxLease {
				l.WarnBefore = append(l.WarnBefore, w)
			}
		}
	}

	if n := m.scalar("end_action"); n != nil {
		switch a := workflows.EndAction(n.Value); a {
		case workflows.EndStop, workflows.EndTerminate:
			l.EndAction = a
		default:
			d.problem(m.at("end_action"), n, "must be stop or terminate, not %q", n.Value)
		}
	}
	if n := m.scalar("grace"); n != nil {
		if n.Value == "0" || n.Value == "0s" || n.Value == "0m" {
			l.Grace = 0
		} else if g, ok := d.duration(m.at("grace"), n); ok {
			l.Grace = g
		}
	}
	return l
}
