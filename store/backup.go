package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Backups. Two formats hold the same thing, opsbot's tables at one
// instant with a manifest (schema version, rows per table):
//
//   - FormatSQLite, a SQLite database file made by VACUUM INTO from a
//     running SQLite store: consistent (one read snapshot), online (the
//     writer is never held up), openable by any SQLite tool. The manifest
//     is in its table opsbot_backup.
//   - FormatArchive, gzip-compressed JSON lines (backup_archive.go), made
//     from either engine in one read snapshot: the export of a PostgreSQL
//     store, and the portable form of any.
//
// Restore reads either into either engine (restore.go), so a SQLite
// backup restored into PostgreSQL is the migration path between them.

// The backup formats.
const (
	FormatSQLite  = "sqlite"
	FormatArchive = "archive"
)

// Manifest describes a backup: what wrote it, when, from which schema,
// and how many rows of each table it holds.
type Manifest struct {
	Format        string           `json:"format"` // FormatSQLite or FormatArchive
	SchemaVersion int64            `json:"schema_version"`
	Engine        string           `json:"engine"` // the engine backed up: sqlite or postgres
	CreatedAt     time.Time        `json:"created_at"`
	Opsbot        string           `json:"opsbot,omitempty"` // the version of opsbot that made it
	Tables        map[string]int64 `json:"tables"`
}

// Rows is the number of rows in all tables.
func (m Manifest) Rows() int64 {
	var n int64
	for _, c := range m.Tables {
		n += c
	}
	return n
}

// BackupInfo is what the caller tells a backup about itself.
type BackupInfo struct {
	Opsbot string    // version of the running opsbot
	Now    time.Time // when it is made (the one clock)
}

// notBackedUp are tables that describe the running processes, not the
// data: which replica leads the scheduler, and the Slack rate buckets.
// A restore starts them empty.
var notBackedUp = map[string]bool{"leader_leases": true, "rate_limits": true}

// caches are tables whose rows are remembered answers (prices, names)
// or process state: a database holding only these counts as empty for a
// restore, and loses nothing by being replaced.
var caches = map[string]bool{"leader_leases": true, "rate_limits": true, "prices": true, "names": true}

// schemaTable is a table the migrations create, and the version that
// creates it.
type schemaTable struct {
	name    string
	version int64
}

var createTable = regexp.MustCompile(`(?i)^CREATE TABLE\s+(?:IF NOT EXISTS\s+)?([a-z_][a-z0-9_]*)`)

// schemaTables lists the tables the migrations create, in the order they
// create them (referenced tables before the tables that refer to them).
func schemaTables() []schemaTable {
	var out []schemaTable
	for _, m := range migrations {
		for _, s := range m.stmts {
			if sm := createTable.FindStringSubmatch(s); sm != nil {
				out = append(out, schemaTable{name: sm[1], version: m.version})
			}
		}
	}
	return out
}

// backupTables are the tables a backup of schema version v holds.
func backupTables(v int64) []string {
	var out []string
	for _, t := range schemaTables() {
		if t.version <= v && !notBackedUp[t.name] {
			out = append(out, t.name)
		}
	}
	return out
}

// isSchemaTable reports whether name is a table opsbot's migrations
// make. Table names are put into SQL only after this check.
func isSchemaTable(name string) bool {
	for _, t := range schemaTables() {
		if t.name == name {
			return true
		}
	}
	return false
}

// Engine names the database behind db: "sqlite" or "postgres".
func (db *DB) Engine() string {
	if db.dialect == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

// File is a SQLite store's file: "" in memory and on PostgreSQL.
func (db *DB) File() string { return db.path }

// BackupFile writes a backup of db to path, which must not exist yet: a
// SQLite database file (FormatSQLite, SQLite stores only) or an archive
// (FormatArchive, any store). The file appears under its name only once
// complete.
func (db *DB) BackupFile(ctx context.Context, path, format string, info BackupInfo) (Manifest, error) {
	if _, err := os.Stat(path); err == nil {
		return Manifest{}, fmt.Errorf("back up to %s: the file exists; name a new one", path)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	partial, err := os.CreateTemp(dir, "."+base+".partial-*")
	if err != nil {
		return Manifest{}, fmt.Errorf("back up to %s: %w", path, err)
	}
	tmp := partial.Name()
	defer os.Remove(tmp) // a no-op once renamed
	var m Manifest
	switch format {
	case FormatSQLite:
		partial.Close()
		os.Remove(tmp) // VACUUM INTO makes the file itself
		m, err = db.vacuumInto(ctx, tmp, info)
	case FormatArchive:
		m, err = db.WriteArchive(ctx, partial, info)
		if cerr := partial.Sync(); err == nil {
			err = cerr
		}
		if cerr := partial.Close(); err == nil {
			err = cerr
		}
	default:
		partial.Close()
		err = fmt.Errorf("unknown format %q (sqlite or archive)", format)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("back up to %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return Manifest{}, fmt.Errorf("back up to %s: %w", path, err)
	}
	return m, nil
}

// vacuumInto copies a SQLite store into a new file at path with VACUUM
// INTO, which reads one snapshot (WAL mode: writers go on meanwhile), and
// then records the manifest in the copy.
func (db *DB) vacuumInto(ctx context.Context, path string, info BackupInfo) (Manifest, error) {
	if db.dialect != dialectSQLite {
		return Manifest{}, errors.New("the sqlite format backs up a SQLite store; use the archive format for PostgreSQL")
	}
	if db.path == "" {
		return Manifest{}, errors.New("an in-memory store cannot be copied to a file")
	}
	// Its own connection, not the query_only readers, not the writer.
	src, err := sql.Open("sqlite", "file:"+escapeURIPath(db.path)+"?"+sqlitePragmas)
	if err != nil {
		return Manifest{}, err
	}
	defer src.Close()
	if _, err := src.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return Manifest{}, fmt.Errorf("vacuum into: %w", err)
	}
	cp, err := sql.Open("sqlite", "file:"+escapeURIPath(path)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return Manifest{}, err
	}
	defer cp.Close()
	// One file, no -wal beside it.
	if _, err := cp.ExecContext(ctx, "PRAGMA journal_mode=DELETE"); err != nil {
		return Manifest{}, fmt.Errorf("set the copy's journal mode: %w", err)
	}
	m := Manifest{Format: FormatSQLite, Engine: "sqlite", CreatedAt: info.Now.UTC(), Opsbot: info.Opsbot}
	if m.SchemaVersion, err = schemaVersion(ctx, cp); err != nil {
		return Manifest{}, err
	}
	if m.Tables, err = countTables(ctx, cp, backupTables(m.SchemaVersion)); err != nil {
		return Manifest{}, err
	}
	// The process tables are emptied in the copy: a restore starts them
	// afresh (see notBackedUp).
	for t := range notBackedUp {
		if _, err := cp.ExecContext(ctx, "DELETE FROM "+t); err != nil && !isNoTable(err) {
			return Manifest{}, fmt.Errorf("empty %s in the copy: %w", t, err)
		}
	}
	js, err := json.Marshal(m)
	if err != nil {
		return Manifest{}, err
	}
	if _, err := cp.ExecContext(ctx, "CREATE TABLE opsbot_backup (manifest TEXT NOT NULL)"); err != nil {
		return Manifest{}, fmt.Errorf("record the manifest: %w", err)
	}
	if _, err := cp.ExecContext(ctx, "INSERT INTO opsbot_backup (manifest) VALUES (?)", string(js)); err != nil {
		return Manifest{}, fmt.Errorf("record the manifest: %w", err)
	}
	return m, cp.Close()
}

func isNoTable(err error) bool {
	return err != nil && regexp.MustCompile(`no such table`).MatchString(err.Error())
}

// queryer is a pool or a transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// schemaVersion is the highest migration recorded in q's database.
func schemaVersion(ctx context.Context, q queryer) (int64, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	if !v.Valid {
		return 0, errors.New("read the schema version: no migration recorded")
	}
	return v.Int64, nil
}

// countTables counts the rows of each table (names from the schema only).
func countTables(ctx context.Context, q queryer, tables []string) (map[string]int64, error) {
	out := make(map[string]int64, len(tables))
	for _, t := range tables {
		if !isSchemaTable(t) {
			return nil, fmt.Errorf("count rows: %q is not an opsbot table", t)
		}
		var n int64
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("count rows of %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}
