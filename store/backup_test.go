package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
	"go.opentelemetry.io/otel/trace/noop"
)

// seedForBackup writes IDs, audit rows (one with text that is not
// UTF-8, which SQLite keeps), a pending job and a sent record, and
// returns the IDs it took.
func seedForBackup(t *testing.T, db *DB) []string {
	t.Helper()
	var ids []string
	err := db.Update(context.Background(), func(tx workflows.Tx) error {
		ids = ids[:0]
		for _, p := range []string{"srv", "srv", "srv", "inc", "inc", "act"} {
			id, err := tx.NextID(p)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		detail := "déjà vu"
		if db.dialect == dialectSQLite {
			detail = "bad \xff byte"
		}
		for i, id := range ids {
			if err := tx.Audit(workflows.AuditEntry{At: t0, Actor: "U1", Action: "test", Subject: id, Detail: detail + strings.Repeat("x", i)}); err != nil {
				return err
			}
		}
		if err := tx.Enqueue(workflows.Job{Kind: "backup-test", Key: "k1", Payload: "{}", RunAt: t0}); err != nil {
			return err
		}
		_, err := tx.MarkSent("warned:srv-1", t0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func nextIDs(t *testing.T, db *DB, prefixes ...string) []string {
	t.Helper()
	var out []string
	err := db.Update(context.Background(), func(tx workflows.Tx) error {
		out = out[:0]
		for _, p := range prefixes {
			id, err := tx.NextID(p)
			if err != nil {
				return err
			}
			out = append(out, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func info() BackupInfo { return BackupInfo{Opsbot: "test", Now: t0} }

// backupOf backs db up to a new file in format and returns its path.
func backupOf(t *testing.T, db *DB, format string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup."+format)
	m, err := db.BackupFile(context.Background(), path, format, info())
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if m.SchemaVersion != latestVersion() || m.Tables["audit"] != 6 || m.Tables["jobs"] != 1 {
		t.Fatalf("manifest = %+v", m)
	}
	return path
}

// TestBackup_RoundTripsEveryWay backs up each engine in each format it
// offers, restores into each engine, and checks the rows, the audit
// text byte for byte, and that IDs continue after the restored ones.
func TestBackup_RoundTripsEveryWay(t *testing.T) {
	ctx := context.Background()
	forEachEngine(t, func(t *testing.T, from engine) {
		src := from.open(t)
		seedForBackup(t, src)
		formats := []string{FormatArchive}
		if from.name == "sqlite" {
			formats = append(formats, FormatSQLite)
		} else {
			// Sequences run ahead of the counters table on PostgreSQL:
			// the backup must carry the sequences' values.
			nextIDs(t, src, "srv", "inc")
		}
		want, err := src.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantAudit := auditDetails(t, src)
		for _, format := range formats {
			path := backupOf(t, src, format)
			for _, to := range engines {
				t.Run(format+"_to_"+to.name, func(t *testing.T) {
					dsn := to.fresh(t)
					m, err := Restore(ctx, dsn, path, RestoreOptions{})
					if err != nil {
						t.Fatalf("restore: %v", err)
					}
					if m.Engine != from.name {
						t.Errorf("manifest engine = %q, want %q", m.Engine, from.name)
					}
					dst := openDSN(t, dsn)
					got, err := dst.Counts(ctx)
					if err != nil {
						t.Fatal(err)
					}
					for tb, n := range want {
						if tb != "counters" && got[tb] != n {
							t.Errorf("%s: %d rows restored, want %d", tb, got[tb], n)
						}
					}
					if a := auditDetails(t, dst); strings.Join(a, "|") != strings.Join(wantAudit, "|") && to.name == from.name {
						t.Errorf("audit details = %q, want %q", a, wantAudit)
					}
					srvNext := "srv-4"
					incNext := "inc-3"
					if from.name == "postgres" {
						srvNext, incNext = "srv-5", "inc-4"
					}
					if ids := nextIDs(t, dst, "srv", "inc"); ids[0] != srvNext || ids[1] != incNext {
						t.Errorf("IDs after restore = %v, want %s, %s", ids, srvNext, incNext)
					}
					if err := dst.Ready(ctx); err != nil {
						t.Error(err)
					}
				})
			}
		}
	})
}

func auditDetails(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.read.Query("SELECT detail FROM audit ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

// TestRestore_RefusesNonEmptyUnlessReplace: a database with opsbot data
// is left as it was; --replace empties it first.
func TestRestore_RefusesNonEmptyUnlessReplace(t *testing.T) {
	ctx := context.Background()
	src := mustOpen(t)
	seedForBackup(t, src)
	path := backupOf(t, src, FormatSQLite)
	forEachEngine(t, func(t *testing.T, e engine) {
		dsn := e.fresh(t)
		dst := openDSN(t, dsn)
		nextIDs(t, dst, "srv", "srv", "srv", "srv", "srv", "srv", "srv")
		_, err := Restore(ctx, dsn, path, RestoreOptions{})
		if !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), "--replace") || !strings.Contains(err.Error(), "IDs") {
			t.Fatalf("restore into a non-empty database: %v", err)
		}
		if ids := nextIDs(t, dst, "srv"); ids[0] != "srv-8" {
			t.Fatalf("the refused restore changed the database: next ID %s", ids[0])
		}
		if _, err := Restore(ctx, dsn, path, RestoreOptions{Replace: true}); err != nil {
			t.Fatalf("restore --replace: %v", err)
		}
		if ids := nextIDs(t, openDSN(t, dsn), "srv"); ids[0] != "srv-4" {
			t.Fatalf("after --replace the next ID is %s, want srv-4", ids[0])
		}
	})
}

// TestRestore_EmptyStoreIsNotRefused: a store opsbot only started on
// (migrated, caches) takes a restore without --replace.
func TestRestore_EmptyStoreIsNotRefused(t *testing.T) {
	ctx := context.Background()
	src := mustOpen(t)
	seedForBackup(t, src)
	path := backupOf(t, src, FormatArchive)
	dsn := engines[0].fresh(t)
	dst := openDSN(t, dsn)
	if err := dst.Update(ctx, func(tx workflows.Tx) error { return tx.PutPrice("p", 5, t0) }); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	if _, err := Restore(ctx, dsn, path, RestoreOptions{}); err != nil {
		t.Fatalf("restore into a migrated, empty store: %v", err)
	}
}

// TestRestore_RefusesDamagedBackups: truncated, corrupted, from a newer
// schema, not a backup at all: each refused with a clear error before
// the target is touched.
func TestRestore_RefusesDamagedBackups(t *testing.T) {
	ctx := context.Background()
	src := mustOpen(t)
	seedForBackup(t, src)
	arch := backupOf(t, src, FormatArchive)
	file := backupOf(t, src, FormatSQLite)
	archBytes, _ := os.ReadFile(arch)
	fileBytes, _ := os.ReadFile(file)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flip := func(b []byte, at int) []byte {
		c := bytes.Clone(b)
		c[at] ^= 0x55
		return c
	}
	// A SQLite file with the header of a page in its middle overwritten
	// (a vacuumed file has no free pages: every page is in use).
	corruptDB := bytes.Clone(fileBytes)
	page := (len(corruptDB) / 4096 / 2) * 4096
	for i := page; i < page+64; i++ {
		corruptDB[i] = 0xAB
	}
	cases := []struct {
		name, path, want string
	}{
		{"archive truncated", write("t.gz", archBytes[:len(archBytes)*2/3]), "truncated"},
		{"archive cut before its gzip trailer", write("t2.gz", archBytes[:len(archBytes)-4]), "truncated"},
		{"archive with a flipped byte", write("f.gz", flip(archBytes, len(archBytes)/2)), "damaged"},
		{"archive from a newer schema", write("n.gz", newerArchive(t)), "newer opsbot"},
		{"sqlite file truncated", write("t.db", fileBytes[:len(fileBytes)/2]), "damaged"},
		{"sqlite file corrupted", write("c.db", corruptDB), "damaged"},
		{"sqlite file from a newer schema", newerSQLite(t, file), "newer opsbot"},
		{"not a backup", write("x.txt", []byte("hello, this is not a backup")), "not an opsbot backup"},
		{"empty file", write("e", nil), "not an opsbot backup"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dsn := engines[0].fresh(t)
			_, err := Restore(ctx, dsn, c.path, RestoreOptions{})
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("restore: %v, want an error saying %q", err, c.want)
			}
			if _, err := os.Stat(strings.TrimPrefix(dsn, "sqlite:")); err == nil {
				t.Errorf("the target database was created although the backup was refused")
			}
		})
	}
}

// newerArchive is an archive whose manifest says a schema version past
// this binary's.
func newerArchive(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	json.NewEncoder(zw).Encode(archiveHeader{OpsbotBackup: 1, Manifest: Manifest{Format: FormatArchive, SchemaVersion: latestVersion() + 1}})
	json.NewEncoder(zw).Encode(archiveLine{End: true})
	zw.Close()
	return buf.Bytes()
}

// newerSQLite copies a SQLite backup and records a migration this
// binary does not have in it.
func newerSQLite(t *testing.T, file string) string {
	b, _ := os.ReadFile(file)
	p := filepath.Join(t.TempDir(), "newer.db")
	os.WriteFile(p, b, 0o600)
	db, err := sql.Open("sqlite", "file:"+p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DROP TABLE opsbot_backup"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", latestVersion()+1); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRestore_OlderBackupIsMigrated: a backup from an older schema is
// loaded at its version and the later migrations run over its rows.
func TestRestore_OlderBackupIsMigrated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := &DB{clock: workflows.NewManualClock(t0), migrateTo: 10, tracer: noop.NewTracerProvider().Tracer("")}
	if err := old.openSQLite(filepath.Join(dir, "old.db")); err != nil {
		t.Fatal(err)
	}
	if err := old.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := old.write.Exec(`INSERT INTO counters (name, n) VALUES ('srv', 9)`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	dsn := "sqlite:" + filepath.Join(dir, "new.db")
	m, err := Restore(ctx, dsn, filepath.Join(dir, "old.db"), RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.SchemaVersion != 10 {
		t.Errorf("schema version %d, want 10", m.SchemaVersion)
	}
	db := openDSN(t, dsn)
	if err := db.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if id := nextIDs(t, db, "srv")[0]; id != "srv-10" {
		t.Errorf("next ID %s, want srv-10", id)
	}
}
