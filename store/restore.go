package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/opsbot/opsbot/workflows"
	"go.opentelemetry.io/otel/trace/noop"
)

// ErrNotEmpty is returned by Restore when the target database already
// holds opsbot data and Replace was not asked for.
var ErrNotEmpty = errors.New("the database is not empty")

// RestoreOptions say how Restore treats the target.
type RestoreOptions struct {
	// Replace deletes what the target database holds first. Without it a
	// database holding opsbot data is refused.
	Replace bool
}

// Backup is an opened backup file, either format.
type Backup struct {
	Path string
	src  rowSource
	f    *os.File
	sdb  *sql.DB // a SQLite backup, opened read-only
	done bool    // rows read once (an archive streams)
}

// OpenBackup opens the backup at path and checks what can be checked
// without reading it all: its format, that it is whole (a SQLite file's
// integrity_check), and its schema version, which must not be newer
// than this opsbot's.
func OpenBackup(ctx context.Context, path string) (*Backup, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open backup: %w", err)
	}
	var magic [16]byte
	n, _ := io.ReadFull(f, magic[:])
	b := &Backup{Path: path}
	switch {
	case n == 16 && string(magic[:]) == "SQLite format 3\x00":
		f.Close()
		if err := b.openSQLite(ctx); err != nil {
			b.Close()
			return nil, fmt.Errorf("backup %s: %w", path, err)
		}
	case n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		a, err := openArchive(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("backup %s: %w", path, err)
		}
		b.f, b.src = f, a
	default:
		f.Close()
		return nil, fmt.Errorf("backup %s: not an opsbot backup (neither a SQLite file nor an opsbot archive)", path)
	}
	m := b.src.manifest()
	if m.SchemaVersion > latestVersion() {
		b.Close()
		return nil, fmt.Errorf("backup %s is from a newer opsbot: schema version %d, this opsbot knows up to %d; restore it with that opsbot or a newer one",
			path, m.SchemaVersion, latestVersion())
	}
	if m.SchemaVersion < 1 {
		b.Close()
		return nil, fmt.Errorf("backup %s: no schema version in its manifest: damaged", path)
	}
	return b, nil
}

func (b *Backup) openSQLite(ctx context.Context) error {
	db, err := sql.Open("sqlite", "file:"+escapeURIPath(b.Path)+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	b.sdb = db
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check(1)").Scan(&res); err != nil {
		return fmt.Errorf("the file is damaged: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("the file is damaged: integrity_check says %q", res)
	}
	s := &sqlSource{q: db, dialect: dialectSQLite}
	var js string
	err = db.QueryRowContext(ctx, "SELECT manifest FROM opsbot_backup").Scan(&js)
	switch {
	case err == nil:
		if err := json.Unmarshal([]byte(js), &s.m); err != nil {
			return fmt.Errorf("read its manifest: %w", err)
		}
	case isNoTable(err):
		// A copy of an opsbot database, not made by opsbot backup (a
		// stopped opsbot's file): the counts are the file's own.
		if err := s.load(ctx); err != nil {
			return err
		}
		s.m.Format, s.m.Engine = FormatSQLite, "sqlite"
	default:
		return fmt.Errorf("read its manifest: %w", err)
	}
	b.src = s
	return nil
}

// Manifest is what the backup says it holds.
func (b *Backup) Manifest() Manifest { return b.src.manifest() }

// Close releases the file.
func (b *Backup) Close() error {
	var errs []error
	if b.f != nil {
		errs = append(errs, b.f.Close())
	}
	if b.sdb != nil {
		errs = append(errs, b.sdb.Close())
	}
	return errors.Join(errs...)
}

// Check reads the whole backup without writing anything: every row, the
// counts against the manifest, the archive's checksum.
func (b *Backup) Check(ctx context.Context) error {
	if b.done {
		return errors.New("check backup: already read")
	}
	b.done = b.f != nil
	return b.src.eachTable(ctx, func(_ string, _ []string, next func() ([]any, error)) error {
		for {
			if _, err := next(); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
		}
	})
}

// Restored is what Restore did.
type Restored struct {
	Manifest
	// Mended counts the text values PostgreSQL could not hold (bytes that
	// are not UTF-8, NUL), which SQLite keeps: each bad byte became
	// U+FFFD and each NUL was dropped.
	Mended int64
}

// Restore loads the backup at path into the database dsn names: a new
// one, or one with no opsbot data in it (caches aside), unless
// opts.Replace. The tables are created at the backup's schema version,
// the rows loaded in one transaction, then the later migrations applied
// and, on PostgreSQL, the ID sequences set past every restored ID. The
// backup is read through once before anything is written: a damaged or
// truncated one changes nothing.
func Restore(ctx context.Context, dsn, path string, opts RestoreOptions) (Restored, error) {
	check, err := OpenBackup(ctx, path)
	if err != nil {
		return Restored{}, err
	}
	err = check.Check(ctx)
	check.Close()
	if err != nil {
		return Restored{}, fmt.Errorf("backup %s: %w", path, err)
	}
	b, err := OpenBackup(ctx, path)
	if err != nil {
		return Restored{}, err
	}
	defer b.Close()
	m := b.Manifest()

	db, err := openUnmigrated(ctx, dsn)
	if err != nil {
		return Restored{}, err
	}
	defer db.Close()
	held, err := db.opsbotData(ctx)
	if err != nil {
		return Restored{}, err
	}
	if len(held) > 0 && !opts.Replace {
		return Restored{}, fmt.Errorf("restore into %s: %w: it holds %s; restore into an empty database, or pass --replace to delete what it holds first",
			redactDSN(dsn), ErrNotEmpty, strings.Join(held, ", "))
	}
	if err := db.dropSchema(ctx); err != nil {
		return Restored{}, err
	}
	db.migrateTo = m.SchemaVersion
	if err := db.migrate(ctx); err != nil {
		return Restored{}, fmt.Errorf("restore: create the schema at version %d: %w", m.SchemaVersion, err)
	}
	mended, err := db.load(ctx, b.src)
	if err != nil {
		return Restored{}, fmt.Errorf("restore %s: %w", path, err)
	}
	db.migrateTo = 0
	if err := db.migrate(ctx); err != nil {
		return Restored{}, fmt.Errorf("restore: migrate from version %d: %w", m.SchemaVersion, err)
	}
	if err := db.syncSequences(ctx); err != nil {
		return Restored{}, err
	}
	return Restored{Manifest: m, Mended: mended}, nil
}

// openUnmigrated connects without migrating.
func openUnmigrated(ctx context.Context, dsn string) (*DB, error) {
	db := &DB{clock: workflows.SystemClock{}, tracer: noop.NewTracerProvider().Tracer("")}
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == ":memory:" {
			return nil, errors.New("restore: into a file or PostgreSQL, not sqlite::memory:")
		}
		if err := db.openSQLite(path); err != nil {
			return nil, err
		}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		if err := db.openPostgres(ctx, dsn); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("restore: OPSBOT_DB must be sqlite:PATH or a postgres:// URL, got %q", redactDSN(dsn))
	}
	return db, nil
}

// existingTables lists the tables of the store's schema (the current
// schema on PostgreSQL).
func (db *DB) existingTables(ctx context.Context) (map[string]bool, error) {
	q := "SELECT name FROM sqlite_master WHERE type = 'table'"
	if db.dialect == dialectPostgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	}
	rows, err := db.write.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		out[n] = true
	}
	return out, rows.Err()
}

// opsbotData names the tables holding rows other than caches, with
// their counts ("12 requests").
func (db *DB) opsbotData(ctx context.Context) ([]string, error) {
	have, err := db.existingTables(ctx)
	if err != nil {
		return nil, err
	}
	var held []string
	for _, t := range schemaTables() {
		if !have[t.name] || caches[t.name] {
			continue
		}
		var n int64
		if err := db.write.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t.name).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t.name, err)
		}
		switch {
		case n > 0 && t.name == "counters":
			held = append(held, "IDs already taken")
		case n > 0:
			held = append(held, fmt.Sprintf("%d rows in %s", n, t.name))
		}
	}
	if db.dialect == dialectPostgres {
		// IDs handed out from a sequence are data too.
		for _, name := range sortedKeys(pgSequences) {
			seq := pgSequences[name]
			var exists, called bool
			if err := db.write.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", seq).Scan(&exists); err != nil {
				return nil, fmt.Errorf("look for sequence %s: %w", seq, err)
			}
			if !exists {
				continue
			}
			if err := db.write.QueryRowContext(ctx, "SELECT is_called FROM "+seq).Scan(&called); err != nil {
				return nil, fmt.Errorf("read sequence %s: %w", seq, err)
			}
			if called {
				held = append(held, "IDs taken from "+seq)
			}
		}
	}
	return held, nil
}

// dropSchema deletes opsbot's tables (and, on PostgreSQL, its sequences)
// from the store's schema, in one transaction. Nothing else is touched.
func (db *DB) dropSchema(ctx context.Context) error {
	have, err := db.existingTables(ctx)
	if err != nil {
		return err
	}
	prefix := ""
	if db.dialect == dialectPostgres {
		var schema string
		if err := db.write.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		prefix = quoteIdent(schema) + "."
	}
	ts := schemaTables()
	return db.inTx(ctx, db.write, nil, func(t *sql.Tx) error {
		for i := len(ts) - 1; i >= 0; i-- {
			if !have[ts[i].name] {
				continue
			}
			if _, err := t.ExecContext(ctx, "DROP TABLE "+prefix+ts[i].name); err != nil {
				return fmt.Errorf("restore: drop %s: %w", ts[i].name, err)
			}
		}
		if have["schema_migrations"] {
			if _, err := t.ExecContext(ctx, "DROP TABLE "+prefix+"schema_migrations"); err != nil {
				return fmt.Errorf("restore: drop schema_migrations: %w", err)
			}
		}
		if db.dialect == dialectPostgres {
			for _, name := range sortedKeys(pgSequences) {
				if _, err := t.ExecContext(ctx, "DROP SEQUENCE IF EXISTS "+prefix+pgSequences[name]); err != nil {
					return fmt.Errorf("restore: drop sequence %s: %w", pgSequences[name], err)
				}
			}
		}
		return nil
	})
}

// load copies every table of src into the store in one transaction.
func (db *DB) load(ctx context.Context, src rowSource) (mended int64, err error) {
	m := src.manifest()
	return mended, db.inTx(ctx, db.write, nil, func(t *sql.Tx) error {
		return src.eachTable(ctx, func(table string, cols []string, next func() ([]any, error)) error {
			if !isSchemaTable(table) {
				return fmt.Errorf("%q is not an opsbot table", table)
			}
			if err := db.checkColumns(ctx, t, table, cols); err != nil {
				return err
			}
			per := max(1, 900/max(len(cols), 1))
			batch := make([]any, 0, per*len(cols))
			var n int64
			flush := func(rows int) error {
				if rows == 0 {
					return nil
				}
				one := "(" + placeholders(len(cols)) + ")"
				q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
					strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
				if _, err := t.ExecContext(ctx, db.q(q), batch...); err != nil {
					return fmt.Errorf("insert into %s: %w", table, err)
				}
				batch = batch[:0]
				return nil
			}
			rows := 0
			for {
				row, err := next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				if db.dialect == dialectPostgres {
					for i, v := range row {
						if str, ok := v.(string); ok && (!utf8.ValidString(str) || strings.IndexByte(str, 0) >= 0) {
							row[i] = strings.ReplaceAll(strings.ToValidUTF8(str, "\uFFFD"), "\x00", "")
							mended++
						}
					}
				}
				batch = append(batch, row...)
				rows++
				n++
				if rows == per {
					if err := flush(rows); err != nil {
						return err
					}
					rows = 0
				}
			}
			if err := flush(rows); err != nil {
				return err
			}
			if want := m.Tables[table]; n != want {
				return fmt.Errorf("table %s: %d rows read, the manifest says %d", table, n, want)
			}
			return nil
		})
	})
}

// checkColumns makes sure every column the backup names is one of the
// table's: column names are put into SQL only after this check.
func (db *DB) checkColumns(ctx context.Context, t *sql.Tx, table string, cols []string) error {
	rows, err := t.QueryContext(ctx, "SELECT * FROM "+table+" WHERE 1 = 0")
	if err != nil {
		return fmt.Errorf("read the columns of %s: %w", table, err)
	}
	have, err := rows.Columns()
	rows.Close()
	if err != nil {
		return fmt.Errorf("read the columns of %s: %w", table, err)
	}
	known := map[string]bool{}
	for _, c := range have {
		known[c] = true
	}
	if len(cols) == 0 {
		return fmt.Errorf("table %s: no columns in the backup: damaged", table)
	}
	for _, c := range cols {
		if !known[c] {
			return fmt.Errorf("table %s: the backup has a column %q this schema version lacks: damaged", table, c)
		}
	}
	return nil
}

// syncSequences sets each PostgreSQL sequence to its restored counter,
// so the next ID follows the last restored one.
func (db *DB) syncSequences(ctx context.Context) error {
	if db.dialect != dialectPostgres {
		return nil
	}
	for _, name := range sortedKeys(pgSequences) {
		var n int64
		err := db.write.QueryRowContext(ctx, "SELECT COALESCE(MAX(n), 0) FROM counters WHERE name = $1", name).Scan(&n)
		if err != nil {
			return fmt.Errorf("restore: read counter %s: %w", name, err)
		}
		if n == 0 {
			continue
		}
		if _, err := db.write.ExecContext(ctx, "SELECT setval($1, $2)", pgSequences[name], n); err != nil {
			return fmt.Errorf("restore: set sequence %s: %w", pgSequences[name], err)
		}
	}
	return nil
}

// Counts counts the rows of every table a backup holds, and checks the
// database's integrity (SQLite's integrity_check; PostgreSQL checks its
// own pages as it reads).
func (db *DB) Counts(ctx context.Context) (map[string]int64, error) {
	if db.dialect == dialectSQLite {
		var res string
		if err := db.read.QueryRowContext(ctx, "PRAGMA integrity_check(1)").Scan(&res); err != nil {
			return nil, fmt.Errorf("integrity check: %w", err)
		}
		if res != "ok" {
			return nil, fmt.Errorf("integrity check: %s", res)
		}
	}
	v, err := schemaVersion(ctx, db.read)
	if err != nil {
		return nil, err
	}
	return countTables(ctx, db.read, backupTables(v))
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
