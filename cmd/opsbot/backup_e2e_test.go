package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/s3backup/s3fake"
	"github.com/opsbot/opsbot/internal/backups"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/store/storetest"
	"github.com/opsbot/opsbot/workflows"
)

// populate makes h's opsbot hold some of everything: a running lease with
// its ledger entries, a request waiting for approval, an incident with
// its channel and timeline, and a server request whose launch job is
// still queued. It returns that request's ID.
func populate(t *testing.T, h *harness) string {
	t.Helper()
	h.launched("test-small for 1d")
	h.ops(dev, "server request build-box for 1d load test")
	h.drain()
	inc, ch := h.openIncident("Database down")
	h.incidentCmd(oncall, ch.ID, "update failing over to the replica")
	h.drain()
	if len(h.timeline(inc.ID)) < 2 {
		t.Fatalf("incident timeline: %v", h.timeline(inc.ID))
	}
	h.ops(dev, "server request test-small for 2d")
	all := h.requests()
	pending := all[len(all)-1]
	if pending.State != workflows.StateApproved {
		t.Fatalf("the last request should wait for its launch job: %+v", pending)
	}
	return pending.ID
}

// snapshot is what a restore must bring back, as JSON: every request
// (lease, state, costs), every incident and its timeline.
func snapshot(t *testing.T, db *store.DB) string {
	t.Helper()
	var out struct {
		Requests  []*workflows.ServerRequest
		Incidents []*workflows.Incident
		Timelines [][]workflows.TimelineEntry
	}
	err := db.View(context.Background(), func(tx workflows.Tx) (err error) {
		if out.Requests, err = tx.Requests(workflows.RequestFilter{}); err != nil {
			return err
		}
		if out.Incidents, err = tx.Incidents(workflows.IncidentFilter{}); err != nil {
			return err
		}
		for _, i := range out.Incidents {
			tl, err := tx.Timeline(i.ID)
			if err != nil {
				return err
			}
			out.Timelines = append(out.Timelines, tl)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(out, "", " ")
	return string(b)
}

func counts(t *testing.T, db *store.DB) map[string]int64 {
	t.Helper()
	c, err := db.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	delete(c, "counters") // PostgreSQL keeps its IDs in sequences
	return c
}

func cli(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), args, &out, &errb, mapEnv(env)); err != nil {
		t.Fatalf("opsbot %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// TestBackup_RoundTrips: a populated opsbot, backed up while it runs,
// restored by `opsbot restore` into a fresh database, and a new opsbot
// started on it has every request, lease, incident, timeline entry and
// queued job; the queued launch then runs once, and new IDs follow the
// restored ones. SQLite to SQLite (through S3), PostgreSQL to
// PostgreSQL (an archive), SQLite to PostgreSQL (the migration path).
func TestBackup_RoundTrips(t *testing.T) {
	cases := []struct {
		name     string
		from, to func(t *testing.T) string
		via      string // "s3" or "file"
	}{
		{"sqlite_to_sqlite_via_s3", nil, func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "restored.db") }, "s3"},
		{"postgres_to_postgres", func(t *testing.T) string { return storetest.FreshPostgres(t) }, func(t *testing.T) string { return storetest.FreshPostgres(t) }, "file"},
		{"sqlite_to_postgres", nil, func(t *testing.T) string { return storetest.FreshPostgres(t) }, "file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h *harness
			if c.from != nil {
				h = newHarness(t, c.from(t))
			} else {
				h = newHarness(t)
			}
			dst := c.to(t) // skips before any work when PostgreSQL is not here
			srcDSN := h.dsn
			if srcDSN == "" {
				srcDSN = "sqlite:" + h.db
			}
			queued := populate(t, h)
			wantSnap, wantCounts := snapshot(t, h.app.DB), counts(t, h.app.DB)
			if wantCounts["jobs"] == 0 || wantCounts["ledger"] == 0 || wantCounts["timeline"] == 0 || wantCounts["approvals"] == 0 {
				t.Fatalf("populate left something out: %v", wantCounts)
			}
			instances := len(h.ec2.Instances())

			env := map[string]string{"OPSBOT_DB": srcDSN}
			from := filepath.Join(t.TempDir(), "opsbot.backup")
			if c.via == "s3" {
				fake := s3fake.New("backups")
				srv := fake.Server()
				t.Cleanup(srv.Close)
				t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
				t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
				t.Setenv("AWS_REGION", "us-east-1")
				t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
				from = "s3://backups/opsbot/"
				out := cli(t, env, "backup", "--to", from)
				mustContain(t, "backup output", out, "s3://backups/opsbot/opsbot-", ".db")
				if keys := fake.Keys("backups"); len(keys) != 1 {
					t.Fatalf("bucket holds %v", keys)
				}
			} else {
				cli(t, env, "backup", "--to", from)
			}
			// Backed up while opsbot runs: the running App is untouched.
			out := cli(t, nil, "backup", "verify", "--from", from)
			mustContain(t, "verify output", out, "ok: restored into a scratch database", "requests", "jobs")
			out = cli(t, map[string]string{"OPSBOT_DB": dst}, "restore", "--from", from)
			mustContain(t, "restore output", out, "restored ")

			h.dsn = dst
			h.restart()
			if got := snapshot(t, h.app.DB); got != wantSnap {
				t.Fatalf("restored state differs:\n got %s\nwant %s", got, wantSnap)
			}
			if got := counts(t, h.app.DB); !equalCounts(got, wantCounts) {
				t.Fatalf("restored rows %v, want %v", got, wantCounts)
			}
			// The queued launch runs, once.
			h.settle()
			h.drain()
			if got := len(h.ec2.Instances()); got != instances+1 {
				t.Fatalf("%d instances after the restored job ran, want %d", got, instances+1)
			}
			if r := h.request(queued); r.State != workflows.StateRunning {
				t.Fatalf("%s is %s after its restored launch job ran", queued, r.State)
			}
			// New IDs follow the restored ones.
			h.ops(dev, "server request test-small for 1d")
			all := h.requests()
			seen := map[string]bool{}
			for _, r := range all {
				if seen[r.ID] {
					t.Fatalf("ID %s handed out twice", r.ID)
				}
				seen[r.ID] = true
			}
			if len(all) != 4 {
				t.Fatalf("%d requests after one more, want 4", len(all))
			}
		})
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		// sent and audit grow with the restart itself (start-up records).
		if b[k] != v && k != "sent" && k != "audit" {
			return false
		}
	}
	return true
}

// TestRestore_CLIRefusesNonEmpty: `opsbot restore` into the database
// opsbot runs on says so and changes nothing.
func TestRestore_CLIRefusesNonEmpty(t *testing.T) {
	h := newHarness(t)
	h.launched("test-small for 1d")
	env := map[string]string{"OPSBOT_DB": "sqlite:" + h.db}
	from := filepath.Join(t.TempDir(), "b.db")
	cli(t, env, "backup", "--to", from)
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"restore", "--from", from}, &out, &errb, mapEnv(env))
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("restore into a live database: %v", err)
	}
	if len(h.requests()) != 1 {
		t.Fatal("the refused restore changed the database")
	}
	err = run(context.Background(), []string{"restore"}, &out, &errb, mapEnv(env))
	if code, ok := err.(exitCode); !ok || code != 2 || !strings.Contains(errb.String(), "usage:") {
		t.Fatalf("restore without --from: %v %q", err, errb.String())
	}
}

// TestBackup_ScheduledOncePerSlotAndPruned: two replicas on one
// database, both ticking past the 03:00 slot, take one backup of it; a
// slot missed while down makes one backup, of the latest; keep: 2
// prunes the oldest and never a file opsbot did not make.
func TestBackup_ScheduledOncePerSlotAndPruned(t *testing.T) {
	dir := t.TempDir()
	h := newEditedHarness(t, func(s string) string {
		return s + "\nbackup:\n  schedule: \"0 3 * * *\"\n  to: " + dir + "\n  keep: 2\n"
	})
	h.launched("test-small for 1d")
	app2, _ := h.bootApp()
	other := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(other, []byte("not a backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	tickBoth := func() {
		t.Helper()
		var wg sync.WaitGroup
		for _, a := range []*App{h.app, app2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := a.Backups.tick(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		h.app.Backups.wait()
		app2.Backups.wait()
	}
	names := func() []string {
		es, _ := os.ReadDir(dir)
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	tickBoth() // start is 2026-03-02 09:00 UTC or so: nothing due yet
	if n := names(); len(n) != 1 {
		t.Fatalf("a backup before its slot: %v", n)
	}
	at := func(day int) time.Time {
		return time.Date(start.Year(), start.Month(), start.Day()+day, 3, 0, 0, 0, time.UTC)
	}
	h.clock.Set(at(1).Add(time.Minute))
	tickBoth()
	tickBoth()
	want := backups.Name(at(1), "sqlite")
	if n := names(); len(n) != 2 || !slices.Contains(n, want) {
		t.Fatalf("after the first slot: %v, want %s once", n, want)
	}
	// Down for three days: one backup, of the latest slot.
	h.clock.Set(at(4).Add(2 * time.Hour))
	tickBoth()
	if n := names(); len(n) != 3 || !slices.Contains(n, backups.Name(at(4), "sqlite")) {
		t.Fatalf("after a gap: %v", n)
	}
	h.clock.Set(at(5).Add(time.Minute))
	tickBoth()
	n := names()
	if len(n) != 3 || slices.Contains(n, want) || !slices.Contains(n, "notes.txt") {
		t.Fatalf("keep 2: %v", n)
	}
	// The newest is a backup that restores.
	out := cli(t, nil, "backup", "verify", "--from", filepath.Join(dir, backups.Name(at(5), "sqlite")))
	mustContain(t, "verify", out, "ok:")
}
