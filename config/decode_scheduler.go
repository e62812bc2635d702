package config

import "gopkg.in/yaml.v3"

// decodeScheduler reads `scheduler: {tick, reconcile}`. Both are optional
// (DefaultTick, DefaultReconcile) and must be positive durations.
func decodeScheduler(d *decoder, n *yaml.Node, b *build) {
	m := d.mapping("scheduler", n, "tick", "reconcile")
	b.cfg.Scheduler = SchedulerConfig{
		Tick:      m.duration("tick", DefaultTick),
		Reconcile: m.duration("reconcile", DefaultReconcile),
	}
}
