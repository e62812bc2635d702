// Package backups is where opsbot's backups go and when: a destination
// (a directory, or an S3 prefix in integrations/s3backup), the names of
// scheduled backups, which slot of the schedule is due, and pruning to
// the newest N. What a backup holds is the store's business
// (store.BackupFile, store.Restore).
package backups

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Dest is where backups are kept: a directory or an S3 prefix.
type Dest interface {
	// Put stores the local file at path under name.
	Put(ctx context.Context, name, path string) error
	// Get copies the backup called name to the local file at path.
	Get(ctx context.Context, name, path string) error
	// List names the objects in the destination (not only backups).
	List(ctx context.Context) ([]string, error)
	// Delete removes name; a missing one is no error.
	Delete(ctx context.Context, name string) error
	// String is the destination as a user writes it.
	String() string
}

// Dir is a local directory of backups.
type Dir string

var _ Dest = Dir("")

func (d Dir) String() string { return string(d) }

// Put copies path into the directory, under a temporary name first, so a
// backup is only ever seen whole.
func (d Dir) Put(ctx context.Context, name, path string) error {
	if err := os.MkdirAll(string(d), 0o750); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	dst := filepath.Join(string(d), name)
	if err := copyFile(path, dst+".partial"); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	if err := os.Rename(dst+".partial", dst); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

func (d Dir) Get(ctx context.Context, name, path string) error {
	if err := copyFile(filepath.Join(string(d), name), path); err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	return nil
}

func (d Dir) List(ctx context.Context) ([]string, error) {
	es, err := os.ReadDir(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d, err)
	}
	var out []string
	for _, e := range es {
		if e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (d Dir) Delete(ctx context.Context, name string) error {
	err := os.Remove(filepath.Join(string(d), name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Extension is the file name ending of a backup in format ("sqlite" or
// "archive").
func Extension(format string) string {
	if format == "archive" {
		return ".jsonl.gz"
	}
	return ".db"
}

// Name is the name of the backup taken for the slot at, in format:
// opsbot-20261202T030000Z.db. One name per slot: a backup of a slot run
// again (a retry, a second replica) replaces itself, never adds one.
func Name(at time.Time, format string) string {
	return "opsbot-" + at.UTC().Format("20060102T150405Z") + Extension(format)
}

var nameRE = regexp.MustCompile(`^opsbot-(\d{8}T\d{6}Z)\.(db|jsonl\.gz)$`)

// IsName reports whether name is one Name makes: only such files are
// ever pruned.
func IsName(name string) bool { return nameRE.MatchString(name) }

// Latest is the newest backup among names, "" if none.
func Latest(names []string) string {
	var bs []string
	for _, n := range names {
		if IsName(n) {
			bs = append(bs, n)
		}
	}
	if len(bs) == 0 {
		return ""
	}
	sortByTime(bs)
	return bs[len(bs)-1]
}

func sortByTime(names []string) {
	sort.Slice(names, func(i, j int) bool {
		a, b := nameRE.FindStringSubmatch(names[i])[1], nameRE.FindStringSubmatch(names[j])[1]
		if a != b {
			return a < b
		}
		return names[i] < names[j]
	})
}

// ToPrune are the backups to delete to keep the newest keep: only names
// opsbot makes (IsName), oldest first. Other files are left alone.
func ToPrune(names []string, keep int) []string {
	var bs []string
	for _, n := range names {
		if IsName(n) {
			bs = append(bs, n)
		}
	}
	if keep < 1 || len(bs) <= keep {
		return nil
	}
	sortByTime(bs)
	return bs[:len(bs)-keep]
}

// Prune deletes all but the newest keep backups in d and returns what
// it deleted.
func Prune(ctx context.Context, d Dest, keep int) ([]string, error) {
	names, err := d.List(ctx)
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, n := range ToPrune(names, keep) {
		if err := d.Delete(ctx, n); err != nil {
			return gone, err
		}
		gone = append(gone, n)
	}
	return gone, nil
}

// Schedule is when backups fall due (robfig/cron's Schedule).
type Schedule interface{ Next(time.Time) time.Time }

// DueSlot is the slot to back up at now: the latest time of s at or
// before now that comes after last (the last slot backed up, or when
// backups began to be watched). Slots missed while opsbot was down make
// one backup, of the latest; none due gives false.
func DueSlot(s Schedule, last, now time.Time) (time.Time, bool) {
	slot := s.Next(last)
	if slot.IsZero() || slot.After(now) {
		return time.Time{}, false
	}
	for range 1_000_000 {
		n := s.Next(slot)
		if n.IsZero() || n.After(now) {
			break
		}
		slot = n
	}
	return slot, true
}

// Split reads a backup location: an s3://bucket/prefix URL (s3 true) or
// a local path. For a local path, dir is set when it names a directory
// (ends in / or is one), else file is the exact file.
func Split(loc string) (s3 bool, bucket, prefix, dir, file string, err error) {
	if rest, ok := strings.CutPrefix(loc, "s3://"); ok {
		bucket, prefix, _ = strings.Cut(rest, "/")
		if bucket == "" {
			return false, "", "", "", "", fmt.Errorf("%q: name a bucket, as in s3://my-bucket/opsbot/", loc)
		}
		return true, bucket, prefix, "", "", nil
	}
	if loc == "" {
		return false, "", "", "", "", errors.New("name a file, a directory or an s3://bucket/prefix")
	}
	if strings.HasSuffix(loc, "/") {
		return false, "", "", loc, "", nil
	}
	if st, err := os.Stat(loc); err == nil && st.IsDir() {
		return false, "", "", loc, "", nil
	}
	return false, "", "", "", loc, nil
}
