package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// BenchmarkBackup10k backs up and restores a store holding 10,000 server
// requests with their history (a launch spec each, two audit rows and a
// ledger entry per request, the usual shape), and reports the backup's
// size and the time of each step. docs/operations.md quotes it:
//
//	go test ./store -run '^$' -bench Backup10k -benchtime 1x
//	OPSBOT_TEST_POSTGRES=postgres://... go test ./store -run '^$' -bench Backup10k/postgres -benchtime 1x
func BenchmarkBackup10k(b *testing.B) {
	forEachEngineB(b, func(b *testing.B, db *DB) {
		ctx := context.Background()
		seedRequests(b, db, 10_000)
		formats := []string{FormatArchive}
		if db.dialect == dialectSQLite {
			formats = append(formats, FormatSQLite)
		}
		for _, format := range formats {
			b.Run(format, func(b *testing.B) {
				for b.Loop() {
					p := filepath.Join(b.TempDir(), "backup")
					began := time.Now()
					m, err := db.BackupFile(ctx, p, format, BackupInfo{Now: t0})
					if err != nil {
						b.Fatal(err)
					}
					took := time.Since(began)
					st, _ := os.Stat(p)
					dsn := "sqlite:" + filepath.Join(b.TempDir(), "restored.db")
					began = time.Now()
					if _, err := Restore(ctx, dsn, p, RestoreOptions{}); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(st.Size())/(1<<20), "MB")
					b.ReportMetric(took.Seconds(), "backup-s")
					b.ReportMetric(time.Since(began).Seconds(), "restore-to-sqlite-s")
					b.ReportMetric(float64(m.Rows()), "rows")
				}
			})
		}
	})
}

func seedRequests(b *testing.B, db *DB, n int) {
	b.Helper()
	spec := &workflows.LaunchSpec{}
	for start := 0; start < n; start += 500 {
		err := db.Update(context.Background(), func(tx workflows.Tx) error {
			for i := start; i < min(start+500, n); i++ {
				id, err := tx.NextID("srv")
				if err != nil {
					return err
				}
				at := t0.Add(time.Duration(i) * time.Minute)
				r := &workflows.ServerRequest{ID: id, Owner: workflows.Person{SlackID: fmt.Sprintf("U%05d", i%300), Email: fmt.Sprintf("dev%d@example.com", i%300)},
					Team: "platform", Template: "test-small", Reason: "load test of the billing service", State: workflows.StateTerminated,
					Duration: 48 * time.Hour, HourlyRate: 2080, Estimate: 99840, Spec: spec, ClientToken: "opsbot-" + id,
					Instance:   workflows.Instance{ID: fmt.Sprintf("i-%017x", i), Region: "us-east-1"},
					LeaseStart: at, LeaseEnd: at.Add(48 * time.Hour), CreatedAt: at, UpdatedAt: at.Add(48 * time.Hour)}
				if err := tx.CreateRequest(r); err != nil {
					return err
				}
				for _, act := range []string{"request.create", "ec2.launch"} {
					if err := tx.Audit(workflows.AuditEntry{At: at, Actor: r.Owner.SlackID, Action: act, Subject: id, Reason: r.Reason}); err != nil {
						return err
					}
				}
				if err := tx.AddLedger(workflows.LedgerEntry{Team: "platform", Month: at.Format("2006-01"), RequestID: id, Kind: workflows.LedgerCommit, Amount: 99840, At: at}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
