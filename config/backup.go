package config

import (
	"strings"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// BackupConfig is the `backup:` section: scheduled backups, taken by the
// replica that runs the scheduler, once per slot, the oldest pruned.
//
//	backup:
//	  schedule: "0 3 * * *"        # cron (minute hour day month weekday), UTC
//	  to: s3://my-bucket/opsbot/   # or a directory: /var/backups/opsbot/
//	  keep: 14                     # the newest 14 are kept (default 7)
//	  format: sqlite               # sqlite (SQLite stores only) or archive
type BackupConfig struct {
	// Schedule is nil when the section is absent: no scheduled backups.
	Schedule cron.Schedule
	// Spec is the schedule as written.
	Spec   string
	To     string
	Keep   int
	Format string // "" (the engine's default), "sqlite" or "archive"
}

// DefaultBackupKeep is how many scheduled backups are kept when
// backup.keep is not given.
const DefaultBackupKeep = 7

func decodeBackup(d *decoder, n *yaml.Node, b *build) {
	if n == nil {
		return
	}
	m := d.mapping("backup", n, "schedule", "to", "keep", "format")
	if m.bad {
		return
	}
	m.require("schedule", "to")
	c := BackupConfig{To: m.str("to"), Keep: m.integer("keep", DefaultBackupKeep), Format: m.str("format")}
	if sn := m.scalar("schedule"); sn != nil {
		v := strings.TrimSpace(sn.Value)
		if strings.HasPrefix(v, "TZ=") || strings.HasPrefix(v, "CRON_TZ=") {
			d.problem(m.at("schedule"), sn, "leave the zone out: backup schedules are in UTC")
		} else if s, err := cron.ParseStandard(v); err != nil {
			d.problem(m.at("schedule"), sn, "%q is not a cron line like \"0 3 * * *\" (minute hour day month weekday): %v", v, err)
		} else {
			c.Schedule, c.Spec = s, v
		}
	}
	if tn := m.scalar("to"); tn != nil && strings.TrimSpace(c.To) == "" {
		d.problem(m.at("to"), tn, "name a directory or an s3://bucket/prefix")
	} else if tn != nil && strings.HasPrefix(c.To, "s3://") && strings.TrimPrefix(c.To, "s3://") == "" {
		d.problem(m.at("to"), tn, "name a bucket, as in s3://my-bucket/opsbot/")
	}
	if c.Keep < 1 {
		d.problem(m.at("keep"), m.get("keep"), "must be at least 1")
	}
	if c.Format != "" && c.Format != "sqlite" && c.Format != "archive" {
		d.problem(m.at("format"), m.get("format"), "must be sqlite or archive, not %q", c.Format)
	}
	b.cfg.Backup = c
}
