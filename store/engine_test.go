package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/opsbot/opsbot/store/storetest"
	"github.com/opsbot/opsbot/workflows"
)

// pgEnv names the PostgreSQL database the tests may use, as a URL such as
// postgres://opsbot:opsbot@127.0.0.1:5432/opsbot_test?sslmode=disable.
// Each test gets a schema of its own in it, dropped when the test ends.
const pgEnv = storetest.PostgresEnv

// engine is a database the tests run against.
type engine struct {
	name string
	// fresh returns the DSN of a new, empty database, removed when tb
	// ends. It skips tb when the engine is not available here.
	fresh func(tb testing.TB) string
}

// engines are every engine the store supports: SQLite always runs,
// PostgreSQL when OPSBOT_TEST_POSTGRES is set.
var engines = []engine{
	{name: "sqlite", fresh: func(tb testing.TB) string {
		return "sqlite:" + filepath.Join(tb.TempDir(), "opsbot.db")
	}},
	{name: "postgres", fresh: freshPostgres},
}

// forEachEngine runs f as one subtest per engine.
func forEachEngine(t *testing.T, f func(t *testing.T, e engine)) {
	t.Helper()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { f(t, e) })
	}
}

// forEachDB runs f as one subtest per engine, each on a fresh store.
func forEachDB(t *testing.T, f func(t *testing.T, db *DB)) {
	t.Helper()
	forEachEngine(t, func(t *testing.T, e engine) { f(t, e.open(t)) })
}

// open opens a fresh store of this engine, closed when tb ends.
func (e engine) open(tb testing.TB) *DB { return openDSN(tb, e.fresh(tb)) }

// openDSN opens the store at dsn with the test clock, closed when tb
// ends. Opening one DSN twice gives two handles on one database, as two
// replicas have.
func openDSN(tb testing.TB, dsn string) *DB {
	tb.Helper()
	db, err := Open(context.Background(), dsn, WithClock(workflows.NewManualClock(t0)))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// mustOpen opens a fresh SQLite store, for tests of SQLite alone.
func mustOpen(tb testing.TB) *DB { return engines[0].open(tb) }

// freshPostgres is storetest.FreshPostgres: a scratch schema per test.
func freshPostgres(tb testing.TB) string { return storetest.FreshPostgres(tb) }
