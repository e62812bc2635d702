// Package storetest gives tests a scratch PostgreSQL schema, so the store's
// tests and the end-to-end tests run on PostgreSQL as well as SQLite.
package storetest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// PostgresEnv names the variable that points tests at a scratch database.
const PostgresEnv = "OPSBOT_TEST_POSTGRES"

var admin struct {
	once sync.Once
	db   *sql.DB
	err  error
}

// FreshPostgres creates a schema of its own for tb in the database
// OPSBOT_TEST_POSTGRES names and returns a URL whose search_path is that
// schema; the schema is dropped when tb ends. It skips tb when the
// variable is unset and fails it when the database cannot be reached: CI
// that sets it must not pass silently.
func FreshPostgres(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		tb.Skipf("PostgreSQL tests skipped: set %s to a postgres:// URL of a scratch database to run them", PostgresEnv)
	}
	admin.once.Do(func() {
		admin.db, admin.err = sql.Open("pgx", base)
		if admin.err == nil {
			admin.err = admin.db.Ping()
		}
	})
	if admin.err != nil {
		tb.Fatalf("%s is set but PostgreSQL cannot be reached: %v", PostgresEnv, admin.err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "opsbot_test_" + hex.EncodeToString(rnd[:])
	if _, err := admin.db.Exec("CREATE SCHEMA " + schema); err != nil {
		tb.Fatalf("create test schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
