package journal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"
)

const (
	segmentExt = ".journal"
	tmpExt     = ".tmp"
)

// segmentName matches the files newSegment makes: creation time, process
// ID, a random part; named or not yet.
var segmentName = regexp.MustCompile(`^[0-9]{20}-[0-9]+-[0-9a-f]{8}\.(journal|tmp)$`)

// newSegment creates a segment, locked before it takes its name: a
// process looking for dead processes' segments never sees it unlocked.
func (j *Journal) newSegment() (*segment, error) {
	name := fmt.Sprintf("%020d-%d-%08x", time.Now().UnixNano(), os.Getpid(), rand.Uint32())
	tmp := filepath.Join(j.dir, name+tmpExt)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create intake journal file: %w", err)
	}
	if ok, err := lock(f); !ok {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("lock intake journal file %s: %w", tmp, err)
	}
	path := filepath.Join(j.dir, name+segmentExt)
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("name intake journal file %s: %w", path, err)
	}
	return &segment{f: f, path: path}, nil
}

// adopt takes the segments nobody holds into j.full, oldest first, and
// removes the unnamed files of processes that died creating one.
func (j *Journal) adopt() error {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return fmt.Errorf("read intake journal %s: %w", j.dir, err)
	}
	held := map[string]bool{}
	if j.cur != nil {
		held[j.cur.path] = true
	}
	for _, s := range j.full {
		held[s.path] = true
	}
	var names []string
	for _, e := range entries {
		// Only files named as this package names them: anything else an
		// operator put here is left alone.
		if e.Type().IsRegular() && segmentName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(j.dir, name)
		ext := filepath.Ext(name)
		if held[path] {
			continue
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) { // else moved or named since the listing
				j.opts.Log.Error("intake journal: cannot open a file a stopped process may have left; it is not recorded", "file", path, "error", err)
			}
			continue
		}
		ok, err := lock(f)
		if err != nil || !ok {
			f.Close()
			if err != nil {
				j.opts.Log.Error("intake journal: cannot lock a file a stopped process may have left; it is not recorded", "file", path, "error", err)
			}
			continue // its process is alive
		}
		if _, err := os.Stat(path); err != nil {
			f.Close() // moved by its owner between the open and the lock
			continue
		}
		if ext == tmpExt {
			// Never named, so never appended to.
			os.Remove(path)
			f.Close()
			continue
		}
		j.full = append(j.full, &segment{f: f, path: path, first: time.Now()})
		j.opts.Log.Info("intake journal: recording a file a stopped process left", "file", path)
	}
	return nil
}
