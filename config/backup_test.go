package config

import (
	"strings"
	"testing"
)

func TestBackup_Section(t *testing.T) {
	base := base + "\n"
	cfg, err := Parse([]byte(base+"backup:\n  schedule: \"0 3 * * *\"\n  to: s3://b/opsbot/\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Backup.Schedule == nil || cfg.Backup.Keep != DefaultBackupKeep || cfg.Backup.To != "s3://b/opsbot/" {
		t.Fatalf("backup = %+v", cfg.Backup)
	}
	cfg, err = Parse([]byte(base), "x.yaml")
	if err != nil || cfg.Backup.Schedule != nil {
		t.Fatalf("no section: %+v %v", cfg.Backup, err)
	}
	for _, c := range []struct{ yaml, want string }{
		{"backup:\n  schedule: \"every day\"\n  to: /b/\n", "backup.schedule"},
		{"backup:\n  schedule: \"0 3 * * *\"\n", "is required"},
		{"backup:\n  schedule: \"0 3 * * *\"\n  to: /b/\n  keep: 0\n", "backup.keep"},
		{"backup:\n  schedule: \"0 3 * * *\"\n  to: /b/\n  format: zip\n", "backup.format"},
		{"backup:\n  schedule: \"CRON_TZ=Europe/Paris 0 3 * * *\"\n  to: /b/\n", "UTC"},
		{"backup:\n  schedule: \"0 3 * * *\"\n  to: s3://\n", "name a bucket"},
	} {
		_, err := Parse([]byte(base+c.yaml), "x.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.yaml, err, c.want)
		}
	}
}
