package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The schema's history, one file per version: NNNN_what.sql. A new table
// or column is a new file with the next number; a file that was released
// is never edited.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one version of the schema.
type migration struct {
	version int64
	name    string
	stmts   []string
}

// migrations are the embedded migrations, in version order.
var migrations = mustLoadMigrations(migrationFiles)

func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic(err) // the binary was built with broken migrations
	}
	return ms
}

// loadMigrations reads migrations/*.sql and checks that the versions run
// 1, 2, 3 ... with no gap or repeat.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_what.sql", base)
		}
		body, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		stmts, err := splitStatements(string(body))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, stmts: stmts})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != int64(i+1) {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// latestVersion is the schema version this binary writes.
func latestVersion() int64 { return int64(len(migrations)) }

// splitStatements cuts a migration into statements at the semicolons
// that end them, dropping -- comments. Semicolons inside '...' literals
// are kept. One statement per Exec works on every engine and driver.
func splitStatements(src string) ([]string, error) {
	var stmts []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case quoted:
			if c == '\'' {
				quoted = false
			}
		case c == '\'':
			quoted = true
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			c = '\n'
		case c == ';':
			if s := strings.TrimSpace(cur.String()); s != "" {
				stmts = append(stmts, s)
			}
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if quoted {
		return nil, fmt.Errorf("unterminated string literal")
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		return nil, fmt.Errorf("statement without a closing semicolon: %.40q", s)
	}
	return stmts, nil
}

// migrate brings the schema up to latestVersion, one transaction per
// migration, recording each in schema_migrations. It refuses a database
// that a newer opsbot has migrated further than this binary knows. The
// same migrations serve both engines; on PostgreSQL they run under the
// schema's migration lock, so replicas starting together apply each once.
func (db *DB) migrate(ctx context.Context) error {
	return db.withMigrateLock(ctx, func(conn txBeginner) error {
		return db.migrateOn(ctx, conn)
	})
}

// migrateRetryingBusy migrates, and on SQLite tries again for a while
// when the file answers SQLITE_BUSY at once. Processes opening a new
// file together race to switch it to WAL: the loser's first connection
// can get SQLITE_BUSY without the busy timeout being waited (seen about
// once in 50 starts of six processes on one fresh file). Nothing was
// applied then, so trying again is safe; the migrations themselves
// serialize on BEGIN IMMEDIATE.
func (db *DB) migrateRetryingBusy(ctx context.Context) error {
	const patience = 10 * time.Second
	start := time.Now()
	for pause := 10 * time.Millisecond; ; pause = min(2*pause, 500*time.Millisecond) {
		err := db.migrate(ctx)
		if err == nil || db.dialect == dialectPostgres || !isSQLiteBusy(err) || time.Since(start) > patience {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// isSQLiteBusy reports whether err is SQLite's SQLITE_BUSY (any of its
// extended codes).
func isSQLiteBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func (db *DB) migrateOn(ctx context.Context, conn txBeginner) error {
	var applied map[int64]bool
	err := db.inTx(ctx, conn, nil, func(t *sql.Tx) error {
		_, err := t.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    BIGINT PRIMARY KEY,
			applied_at BIGINT NOT NULL
		)`)
		if err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied, err = appliedVersions(ctx, db, t)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	latest := latestVersion()
	for v := range applied {
		if v > latest {
			return fmt.Errorf("migrate store: the database is at schema version %d but this opsbot knows versions up to %d: "+
				"it was migrated by a newer opsbot; run that version or a newer one", maxKey(applied), latest)
		}
	}
	for _, m := range migrations {
		if applied[m.version] || (db.migrateTo > 0 && m.version > db.migrateTo) {
			continue
		}
		err := db.inTx(ctx, conn, nil, func(t *sql.Tx) error {
			// Another process may have applied it since we looked (on
			// SQLite; PostgreSQL's lock keeps them out).
			var n int64
			err := t.QueryRowContext(ctx, db.q("SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), m.version).Scan(&n)
			if err != nil || n > 0 {
				return err
			}
			for _, s := range m.stmts {
				if _, err := t.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("%.60q: %w", s, err)
				}
			}
			_, err = t.ExecContext(ctx, db.q("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"),
				m.version, unixNanos(db.clock.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
	}
	return nil
}

func appliedVersions(ctx context.Context, db *DB, t *sql.Tx) (map[int64]bool, error) {
	rows, err := t.QueryContext(ctx, db.q("SELECT version FROM schema_migrations"))
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		out[v] = true
	}
	return out, rows.Err()
}

func maxKey(m map[int64]bool) int64 {
	var top int64
	for k := range m {
		top = max(top, k)
	}
	return top
}
