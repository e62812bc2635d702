package store

import (
	"bufio"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// The archive format: gzip-compressed JSON, one value a line.
//
//	{"opsbot_backup":1,"manifest":{...}}         the manifest, counts included
//	{"table":"requests","columns":["id",...]}    a table begins
//	["srv-1","platform",...]                     one row per line, in column order
//	...
//	{"end":true,"rows":N}                        every row written
//
// A value is a JSON string (valid UTF-8 text), an integer, null, or an
// object: {"x":"base64"} for text that is not UTF-8 (SQLite keeps it) and
// {"r":1.5} for a real number. gzip's checksum and length catch a
// damaged or truncated file; the counts and the end line catch one cut
// between two lines.

const archiveVersion = 1

type archiveHeader struct {
	OpsbotBackup int      `json:"opsbot_backup"`
	Manifest     Manifest `json:"manifest"`
}

type archiveLine struct {
	Table   string   `json:"table,omitempty"`
	Columns []string `json:"columns,omitempty"`
	End     bool     `json:"end,omitempty"`
	Rows    int64    `json:"rows,omitempty"`
}

// WriteArchive writes every table of db, from one read snapshot, to w as
// an archive. The snapshot is a read transaction: writers go on.
func (db *DB) WriteArchive(ctx context.Context, w io.Writer, info BackupInfo) (Manifest, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect == dialectPostgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	t, err := db.read.BeginTx(ctx, opts)
	if err != nil {
		return Manifest{}, fmt.Errorf("begin the backup's snapshot: %w", err)
	}
	defer t.Rollback()
	src := &sqlSource{q: t, dialect: db.dialect}
	if err := src.load(ctx); err != nil {
		return Manifest{}, err
	}
	m := src.m
	m.Format, m.Engine, m.CreatedAt, m.Opsbot = FormatArchive, db.Engine(), info.Now.UTC(), info.Opsbot
	zw := gzip.NewWriter(w)
	bw := bufio.NewWriterSize(zw, 64<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(archiveHeader{OpsbotBackup: archiveVersion, Manifest: m}); err != nil {
		return Manifest{}, err
	}
	var total int64
	err = src.eachTable(ctx, func(table string, cols []string, next func() ([]any, error)) error {
		if err := enc.Encode(archiveLine{Table: table, Columns: cols}); err != nil {
			return err
		}
		for {
			row, err := next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			for i, v := range row {
				row[i] = encodeValue(v)
			}
			if err := enc.Encode(row); err != nil {
				return fmt.Errorf("write a row of %s: %w", table, err)
			}
			total++
		}
	})
	if err != nil {
		return Manifest{}, err
	}
	if err := enc.Encode(archiveLine{End: true, Rows: total}); err != nil {
		return Manifest{}, err
	}
	if err := bw.Flush(); err != nil {
		return Manifest{}, err
	}
	if err := zw.Close(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

func encodeValue(v any) any {
	switch x := v.(type) {
	case string:
		if utf8.ValidString(x) {
			return x
		}
		return map[string][]byte{"x": []byte(x)}
	case []byte:
		return map[string][]byte{"x": x}
	case float64:
		return map[string]float64{"r": x}
	case float32:
		return map[string]float64{"r": float64(x)}
	case int32:
		return int64(x)
	case bool:
		return boolInt(x)
	}
	return v // int64, nil
}

func decodeValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, string:
		return x, nil
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("value %s is not an integer", x)
		}
		return n, nil
	case map[string]any:
		if s, ok := x["x"].(string); ok && len(x) == 1 {
			var b []byte
			if err := json.Unmarshal(strconv.AppendQuote(nil, s), &b); err != nil {
				return nil, fmt.Errorf("bad text value: %w", err)
			}
			return string(b), nil
		}
		if n, ok := x["r"].(json.Number); ok && len(x) == 1 {
			return n.Float64()
		}
	}
	return nil, fmt.Errorf("unexpected value %v", v)
}

// rowSource is a backup being read (or a store being backed up): its
// manifest, then its tables in order.
type rowSource interface {
	manifest() Manifest
	// eachTable calls fn for each table, in schema order; fn reads the
	// table's rows by calling next until it returns io.EOF.
	eachTable(ctx context.Context, fn func(table string, cols []string, next func() ([]any, error)) error) error
}

// sqlSource reads opsbot's tables from a SQL snapshot: a store being
// backed up, or a SQLite backup file being restored.
type sqlSource struct {
	q       queryer
	dialect dialect
	m       Manifest
}

// load reads the schema version and the counts.
func (s *sqlSource) load(ctx context.Context) error {
	v, err := schemaVersion(ctx, s.q)
	if err != nil {
		return err
	}
	s.m.SchemaVersion = v
	if v > latestVersion() {
		return nil // the caller refuses it; the tables may not be known
	}
	s.m.Tables, err = countTables(ctx, s.q, backupTables(v))
	if err != nil {
		return err
	}
	if s.dialect == dialectPostgres {
		counters, err := s.counters(ctx)
		if err != nil {
			return err
		}
		s.m.Tables["counters"] = int64(len(counters))
	}
	return nil
}

func (s *sqlSource) manifest() Manifest { return s.m }

func (s *sqlSource) eachTable(ctx context.Context, fn func(string, []string, func() ([]any, error)) error) error {
	for _, table := range backupTables(s.m.SchemaVersion) {
		if s.dialect == dialectPostgres && table == "counters" {
			counters, err := s.counters(ctx)
			if err != nil {
				return err
			}
			i := 0
			err = fn(table, []string{"name", "n"}, func() ([]any, error) {
				if i == len(counters) {
					return nil, io.EOF
				}
				i++
				return []any{counters[i-1].name, counters[i-1].n}, nil
			})
			if err != nil {
				return err
			}
			continue
		}
		if err := s.table(ctx, table, fn); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqlSource) table(ctx context.Context, table string, fn func(string, []string, func() ([]any, error)) error) error {
	rows, err := s.q.QueryContext(ctx, "SELECT * FROM "+table)
	if err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	var n int64
	err = fn(table, cols, func() ([]any, error) {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("read %s: %w", table, err)
			}
			if want := s.m.Tables[table]; n != want {
				return nil, fmt.Errorf("read %s: %d rows, the manifest says %d", table, n, want)
			}
			return nil, io.EOF
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		n++
		return vals, nil
	})
	if err != nil {
		return err
	}
	return rows.Close()
}

type counter struct {
	name string
	n    int64
}

// counters are the counters table as PostgreSQL's sequences leave it:
// there the numbers opsbot takes often come from sequences
// (pgSequences), so each counter is raised to its sequence's last value.
// A restore sets the sequences from these rows, and a SQLite store
// counts on from them: no ID is handed out twice after a restore.
func (s *sqlSource) counters(ctx context.Context) ([]counter, error) {
	rows, err := s.q.QueryContext(ctx, "SELECT name, n FROM counters ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	defer rows.Close()
	byName := map[string]int64{}
	var out []counter
	for rows.Next() {
		var c counter
		if err := rows.Scan(&c.name, &c.n); err != nil {
			return nil, fmt.Errorf("read counters: %w", err)
		}
		byName[c.name] = c.n
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	rows.Close()
	for _, name := range sortedKeys(pgSequences) {
		seq := pgSequences[name]
		var exists bool
		if err := s.q.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", seq).Scan(&exists); err != nil {
			return nil, fmt.Errorf("read sequence %s: %w", seq, err)
		}
		if !exists {
			continue
		}
		var last int64
		var called bool
		err := s.q.QueryRowContext(ctx, "SELECT last_value, is_called FROM "+seq).Scan(&last, &called)
		if err != nil {
			return nil, fmt.Errorf("read sequence %s: %w", seq, err)
		}
		if !called {
			last--
		}
		cur, ok := byName[name]
		switch {
		case !ok && last > 0:
			out = append(out, counter{name: name, n: last})
		case ok && last > cur:
			for i := range out {
				if out[i].name == name {
					out[i].n = last
				}
			}
		}
	}
	return out, nil
}

// archiveSource reads an archive.
type archiveSource struct {
	dec *json.Decoder
	m   Manifest
	zr  *gzip.Reader
}

func openArchive(r io.Reader) (*archiveSource, error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("not an opsbot archive: %w", err)
	}
	dec := json.NewDecoder(zr)
	dec.UseNumber()
	var h archiveHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("read the archive's manifest: %w", archiveErr(err))
	}
	if h.OpsbotBackup == 0 {
		return nil, errors.New("not an opsbot archive: no manifest on its first line")
	}
	if h.OpsbotBackup > archiveVersion {
		return nil, fmt.Errorf("the archive is format %d; this opsbot reads format %d: use a newer opsbot", h.OpsbotBackup, archiveVersion)
	}
	return &archiveSource{dec: dec, m: h.Manifest, zr: zr}, nil
}

func (a *archiveSource) manifest() Manifest { return a.m }

// archiveErr names what a gzip or JSON error means for a backup file.
func archiveErr(err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("the file ends early: truncated (%w)", err)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		return fmt.Errorf("the file is damaged (%w)", err)
	}
	return fmt.Errorf("the file is damaged: %w", err)
}

func (a *archiveSource) eachTable(ctx context.Context, fn func(string, []string, func() ([]any, error)) error) error {
	want := backupTables(a.m.SchemaVersion)
	var total int64
	var pending *archiveLine // a table line read ahead
	for _, table := range want {
		var l archiveLine
		if pending != nil {
			l, pending = *pending, nil
		} else if err := a.dec.Decode(&l); err != nil {
			return fmt.Errorf("read table %s: %w", table, archiveErr(err))
		}
		if l.Table != table {
			return fmt.Errorf("the archive has %q where table %s should begin: damaged", l.Table, table)
		}
		var n int64
		err := fn(table, l.Columns, func() ([]any, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var raw json.RawMessage
			if err := a.dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("read a row of %s: %w", table, archiveErr(err))
			}
			if len(raw) > 0 && raw[0] == '{' {
				var next archiveLine
				if err := json.Unmarshal(raw, &next); err != nil {
					return nil, fmt.Errorf("read %s: %w", table, err)
				}
				if got := a.m.Tables[table]; n != got {
					return nil, fmt.Errorf("table %s has %d rows, the manifest says %d: damaged or truncated", table, n, got)
				}
				pending = &next
				return nil, io.EOF
			}
			dec := json.NewDecoder(bytesReader(raw))
			dec.UseNumber()
			var row []any
			if err := dec.Decode(&row); err != nil {
				return nil, fmt.Errorf("read a row of %s: %w", table, err)
			}
			if len(row) != len(l.Columns) {
				return nil, fmt.Errorf("a row of %s has %d values for %d columns: damaged", table, len(row), len(l.Columns))
			}
			for i, v := range row {
				d, err := decodeValue(v)
				if err != nil {
					return nil, fmt.Errorf("read %s.%s: %w", table, l.Columns[i], err)
				}
				row[i] = d
			}
			n++
			return row, nil
		})
		if err != nil {
			return err
		}
		total += n
	}
	var end archiveLine
	if pending != nil {
		end = *pending
	} else if err := a.dec.Decode(&end); err != nil {
		return fmt.Errorf("read the archive's end: %w", archiveErr(err))
	}
	if !end.End || end.Rows != total {
		return fmt.Errorf("the archive's end says %d rows, %d were read: damaged", end.Rows, total)
	}
	// Drain to gzip's trailer, which checks the checksum and length.
	if _, err := io.Copy(io.Discard, a.dec.Buffered()); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, a.zr); err != nil {
		return fmt.Errorf("read the archive's end: %w", archiveErr(err))
	}
	return nil
}
