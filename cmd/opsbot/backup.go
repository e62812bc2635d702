package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opsbot/opsbot/config"
	"github.com/opsbot/opsbot/integrations/s3backup"
	"github.com/opsbot/opsbot/internal/backups"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

const backupUsage = `usage:
  opsbot backup --to FILE|DIR/|s3://BUCKET/PREFIX [--format sqlite|archive]
  opsbot backup verify --from FILE|s3://BUCKET/KEY [--scratch DSN]
  opsbot restore --from FILE|s3://BUCKET/KEY [--replace]
The database is OPSBOT_DB (default sqlite:opsbot.db).
`

// backupDeps are what tests swap: the S3 client's options and the clock.
type backupDeps struct {
	S3    s3backup.Options
	Clock workflows.Clock
}

func (d backupDeps) now() time.Time {
	if d.Clock == nil {
		return workflows.SystemClock{}.Now()
	}
	return d.Clock.Now()
}

// runBackup is `opsbot backup` and `opsbot backup verify`.
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, deps backupDeps) error {
	if len(args) > 0 && args[0] == "verify" {
		return runVerify(ctx, args[1:], stdout, stderr, getenv, deps)
	}
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	to := fs.String("to", "", "")
	format := fs.String("format", "", "")
	if err := fs.Parse(args); err != nil || *to == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, backupUsage)
		return exitCode(2)
	}
	dsn, err := dbFromEnv(getenv)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	f, err := backupFormat(*format, db)
	if err != nil {
		fmt.Fprintf(stderr, "opsbot backup: %v\n%s", err, backupUsage)
		return exitCode(2)
	}
	began := time.Now()
	res, err := takeBackup(ctx, db, *to, f, deps)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %d rows in %d tables (schema version %d, %s format) to %s: %s in %s\n",
		res.Manifest.Rows(), len(res.Manifest.Tables), res.Manifest.SchemaVersion, f, res.Where, humanBytes(res.Size),
		time.Since(began).Round(time.Millisecond))
	return nil
}

// backupFormat is the format asked for, or the engine's default: a
// SQLite file of a SQLite store, an archive of a PostgreSQL one.
func backupFormat(asked string, db *store.DB) (string, error) {
	switch asked {
	case "":
		if db.Engine() == "sqlite" {
			return store.FormatSQLite, nil
		}
		return store.FormatArchive, nil
	case store.FormatArchive:
		return asked, nil
	case store.FormatSQLite:
		if db.Engine() != "sqlite" {
			return "", fmt.Errorf("--format sqlite copies a SQLite store; a PostgreSQL store is backed up as an archive")
		}
		return asked, nil
	}
	return "", fmt.Errorf("--format %q: sqlite or archive", asked)
}

// backupTaken says where a backup went.
type backupTaken struct {
	Manifest store.Manifest
	Where    string
	Size     int64
}

// takeBackup backs db up to loc: an exact file, a directory or an S3
// prefix (both of which get a timestamped name).
func takeBackup(ctx context.Context, db *store.DB, loc, format string, deps backupDeps) (backupTaken, error) {
	isS3, bucket, prefix, dir, file, err := backups.Split(loc)
	if err != nil {
		return backupTaken{}, fmt.Errorf("backup --to: %w", err)
	}
	now := deps.now()
	info := store.BackupInfo{Opsbot: version, Now: now}
	if file != "" {
		m, err := db.BackupFile(ctx, file, format, info)
		if err != nil {
			return backupTaken{}, err
		}
		return backupTaken{Manifest: m, Where: file, Size: fileSize(file)}, nil
	}
	var dest backups.Dest = backups.Dir(dir)
	if isS3 {
		if dest, err = s3backup.New(ctx, bucket, prefix, deps.S3); err != nil {
			return backupTaken{}, err
		}
	}
	return backupTo(ctx, db, dest, backups.Name(now, format), format, info)
}

// backupTo makes the backup in a scratch directory and puts it in dest
// under name.
func backupTo(ctx context.Context, db *store.DB, dest backups.Dest, name, format string, info store.BackupInfo) (backupTaken, error) {
	tmp, err := os.MkdirTemp("", "opsbot-backup-")
	if err != nil {
		return backupTaken{}, fmt.Errorf("back up: %w", err)
	}
	defer os.RemoveAll(tmp)
	p := filepath.Join(tmp, name)
	m, err := db.BackupFile(ctx, p, format, info)
	if err != nil {
		return backupTaken{}, err
	}
	if err := dest.Put(ctx, name, p); err != nil {
		return backupTaken{}, fmt.Errorf("back up to %s: %w", dest, err)
	}
	where := dest.String()
	if !strings.HasSuffix(where, "/") {
		where += "/"
	}
	return backupTaken{Manifest: m, Where: where + name, Size: fileSize(p)}, nil
}

// fetchBackup makes the backup at loc a local file: itself, or a copy
// downloaded from S3 into a scratch directory that cleanup removes. An
// S3 key that is not a backup's own name is a prefix: its newest backup.
func fetchBackup(ctx context.Context, loc string, deps backupDeps) (path string, cleanup func(), err error) {
	isS3, bucket, key, dir, file, err := backups.Split(loc)
	if err != nil {
		return "", nil, fmt.Errorf("--from: %w", err)
	}
	if !isS3 {
		if dir != "" {
			return "", nil, fmt.Errorf("--from %s: a directory; name the backup file in it", loc)
		}
		return file, func() {}, nil
	}
	prefix, name := s3backup.SplitKey(key)
	b, err := s3backup.New(ctx, bucket, prefix, deps.S3)
	if err != nil {
		return "", nil, err
	}
	if name == "" {
		names, err := b.List(ctx)
		if err != nil {
			return "", nil, err
		}
		if name = backups.Latest(names); name == "" {
			return "", nil, fmt.Errorf("--from %s: no opsbot backup under that prefix", loc)
		}
	}
	tmp, err := os.MkdirTemp("", "opsbot-restore-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	path = filepath.Join(tmp, name)
	if err := b.Get(ctx, name, path); err != nil {
		cleanup()
		return "", nil, err
	}
	return path, cleanup, nil
}

// runRestore is `opsbot restore`.
func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, deps backupDeps) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "", "")
	replace := fs.Bool("replace", false, "")
	if err := fs.Parse(args); err != nil || *from == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, backupUsage)
		return exitCode(2)
	}
	dsn, err := dbFromEnv(getenv)
	if err != nil {
		return err
	}
	path, cleanup, err := fetchBackup(ctx, *from, deps)
	if err != nil {
		return err
	}
	defer cleanup()
	began := time.Now()
	res, err := store.Restore(ctx, dsn, path, store.RestoreOptions{Replace: *replace})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %d rows in %d tables from %s (made %s by opsbot %s from %s, schema version %d) in %s\n",
		res.Rows(), len(res.Tables), *from, res.CreatedAt.Format(time.RFC3339), orDash(res.Opsbot), res.Engine, res.SchemaVersion,
		time.Since(began).Round(time.Millisecond))
	if res.Mended > 0 {
		fmt.Fprintf(stdout, "note: %d text values held bytes PostgreSQL refuses (not UTF-8, or NUL); they were mended (U+FFFD, NUL dropped)\n", res.Mended)
	}
	return nil
}

// runVerify is `opsbot backup verify`: restore into a scratch database,
// check its integrity, count every table against the manifest.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, deps backupDeps) error {
	fs := flag.NewFlagSet("backup verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "", "")
	scratch := fs.String("scratch", "", "")
	if err := fs.Parse(args); err != nil || *from == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, backupUsage)
		return exitCode(2)
	}
	path, cleanup, err := fetchBackup(ctx, *from, deps)
	if err != nil {
		return err
	}
	defer cleanup()
	dsn := *scratch
	if dsn == "" {
		tmp, err := os.MkdirTemp("", "opsbot-verify-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dsn = "sqlite:" + filepath.Join(tmp, "scratch.db")
	}
	res, err := store.Restore(ctx, dsn, path, store.RestoreOptions{})
	if err != nil {
		return fmt.Errorf("verify %s: %w", *from, err)
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return fmt.Errorf("verify %s: open the restored copy: %w", *from, err)
	}
	defer db.Close()
	if err := db.Ready(ctx); err != nil {
		return fmt.Errorf("verify %s: %w", *from, err)
	}
	got, err := db.Counts(ctx)
	if err != nil {
		return fmt.Errorf("verify %s: %w", *from, err)
	}
	fmt.Fprintf(stdout, "%s: made %s by opsbot %s from %s, schema version %d\n", *from, res.CreatedAt.Format(time.RFC3339), orDash(res.Opsbot), res.Engine, res.SchemaVersion)
	bad := 0
	for _, t := range sortedTables(res.Tables) {
		mark := "ok"
		if got[t] != res.Tables[t] && !(t == "counters" && res.Engine == "postgres") {
			mark = "MISMATCH"
			bad++
		}
		fmt.Fprintf(stdout, "  %-20s %8d rows  %s\n", t, res.Tables[t], mark)
	}
	if bad > 0 {
		fmt.Fprintf(stdout, "FAILED: %d tables restored with other counts than the manifest's\n", bad)
		return exitCode(1)
	}
	fmt.Fprintf(stdout, "ok: restored into a scratch database, integrity checked, %d rows as the manifest says\n", res.Rows())
	return nil
}

// dbFromEnv is OPSBOT_DB's DSN: backups need no Slack token.
func dbFromEnv(getenv func(string) string) (string, error) {
	env, problems := config.LoadEnv(getenv)
	for _, p := range problems {
		if p.Path == config.EnvDB {
			return "", config.Problems{p}
		}
	}
	return env.DB.DSN(), nil
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedTables(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
