package store

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestMigrate_ReopenIsIdempotentAndKeepsData(t *testing.T) {
	forEachEngine(t, testMigrate_ReopenIsIdempotentAndKeepsData)
}

func testMigrate_ReopenIsIdempotentAndKeepsData(t *testing.T, e engine) {
	ctx := context.Background()
	dsn := e.fresh(t)
	db, err := Open(ctx, dsn, WithClock(workflows.NewManualClock(t0)))
	if err != nil {
		t.Fatal(err)
	}
	update(t, db, func(tx workflows.Tx) error { return tx.CreateRequest(sampleRequest("srv-1")) })
	db.Close()

	for i := 0; i < 2; i++ {
		db, err = Open(ctx, dsn, WithClock(workflows.NewManualClock(t0.Add(time.Hour))))
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		if n := count(t, db, "schema_migrations"); n != len(migrations) {
			t.Fatalf("schema_migrations has %d rows, want %d", n, len(migrations))
		}
		view(t, db, func(tx workflows.Tx) error { _, err := tx.Request("srv-1"); return err })
		db.Close()
	}
}

func TestMigrate_RecordsVersionsWithTheClock(t *testing.T) {
	forEachDB(t, testMigrate_RecordsVersionsWithTheClock)
}

func testMigrate_RecordsVersionsWithTheClock(t *testing.T, db *DB) {
	rows, err := db.read.Query("SELECT version, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var v int64
	for rows.Next() {
		var got, at int64
		if err := rows.Scan(&got, &at); err != nil {
			t.Fatal(err)
		}
		v++
		if got != v || fromNanos(at) != t0 {
			t.Errorf("row %d = version %d applied %v, want version %d applied %v", v, got, fromNanos(at), v, t0)
		}
	}
	if v != latestVersion() || v < 2 {
		t.Fatalf("%d versions recorded, want %d", v, latestVersion())
	}
}

func TestMigrate_RefusesNewerDatabase(t *testing.T) {
	forEachEngine(t, testMigrate_RefusesNewerDatabase)
}

func testMigrate_RefusesNewerDatabase(t *testing.T, e engine) {
	ctx := context.Background()
	dsn := e.fresh(t)
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	future := latestVersion() + 1
	if _, err := db.write.Exec(db.q("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)"), future); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), "newer opsbot") {
		t.Fatalf("Open of a newer database = %v, want an error saying a newer opsbot migrated it", err)
	}
}

func TestLoadMigrations_ChecksNames(t *testing.T) {
	ok := fstest.MapFS{
		"migrations/0002_b.sql": {Data: []byte("CREATE TABLE b (x TEXT);")},
		"migrations/0001_a.sql": {Data: []byte("-- a; comment\nCREATE TABLE a (x TEXT DEFAULT 'a;b');\nCREATE INDEX a_x ON a (x);")},
	}
	ms, err := loadMigrations(ok)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].version != 1 || len(ms[0].stmts) != 2 || !strings.Contains(ms[0].stmts[0], "'a;b'") {
		t.Fatalf("migrations = %+v", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"migrations/0001_a.sql": {Data: []byte("SELECT 1;")}, "migrations/0003_c.sql": {Data: []byte("SELECT 1;")}},
		"bad name":  {"migrations/first.sql": {Data: []byte("SELECT 1;")}},
		"no ending": {"migrations/0001_a.sql": {Data: []byte("SELECT 1")}},
		"repeat":    {"migrations/0001_a.sql": {Data: []byte("SELECT 1;")}, "migrations/001_b.sql": {Data: []byte("SELECT 1;")}},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: loadMigrations accepted it", name)
		}
	}
}
