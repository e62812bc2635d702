// Package journal takes arrivals in (PagerDuty events, on SQLite) by
// appending them to a file beside the database, and moves them into the
// store's job queue in large batches behind the answer.
//
// Why: on SQLite one writer commits every transaction, and a commit
// costs a fixed few hundred microseconds (the statements, the log
// write) however few rows it holds. A webhook answered only once its
// event was committed waits for that writer, behind the job runner's
// transactions too, and intake runs at the writer's pace. Appended to a
// file, the event is as durable as a commit is on opsbot's SQLite
// (WAL with synchronous=NORMAL: the write is in the kernel's hands when
// the call returns; it survives the process dying, and like the commit
// it may be lost if the machine loses power before the kernel writes
// it out). One write(2) costs a few microseconds, the commit it
// replaces a few hundred, on the one writer every request shares.
//
// What a move does: it reads a closed segment file, records its
// arrivals in the store by the store's own intake transaction (each
// event's key de-duplicates it there, as before), and only then
// deletes the file. A crash anywhere in between leaves the file, and
// the next move or the next start records it again; the keys make that
// second recording change nothing. So every arrival needs a key.
//
// Several processes may share one SQLite file (and so one journal
// directory): each appends to segments of its own, holding a lock on
// each (flock), and a process that finds a segment nobody holds (its
// writer died) moves it. Where such locks do not exist, Open refuses
// and opsbot takes arrivals in by transactions, as on PostgreSQL.
package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Options configure a Journal.
type Options struct {
	// Store records moved arrivals, a batch per transaction.
	Store workflows.IntakeStore
	Log   *slog.Logger
	// Moved, when set, is called after each batch recorded in the store,
	// with its size (to wake the job runner, and for metrics).
	Moved func(arrivals int)
	// Stamp, when set, is called with an arrival's own context and its
	// job before the job is appended (its trace; see
	// workflows.GroupCommit.Stamp).
	Stamp func(ctx context.Context, j *workflows.Job)
	// Hold is how long arrivals may wait in the file while more keep
	// coming (default 1 s). The CPU goes to answering first: while
	// arrivals come (Busy), they are moved only once the oldest waiting
	// has waited Hold; once intake is quiet, at once.
	Hold time.Duration
	// MaxBatch bounds the arrivals in one store transaction (default 512).
	MaxBatch int
	// MaxWaiting bounds the arrivals appended and not yet recorded
	// (default 100,000, about 120 MB of PagerDuty events). Past it, Take
	// waits for a move, so that a flood beyond what the database can take
	// in is slowed to its pace (and PagerDuty, answered late or not at
	// all, delivers again) rather than filling the disk.
	MaxWaiting int
}

// Journal is an append-only intake file with a mover behind it. Take
// appends; Run moves in the background; Move moves now.
type Journal struct {
	opts Options
	dir  string

	lastArrival atomic.Int64 // UnixNano, by the wall clock
	waiting     atomic.Int64 // arrivals appended and not yet moved

	fmu    sync.Mutex // the segment appended to, and those closed
	cur    *segment
	full   []*segment
	closed bool
	// isClosed is closed, read without fmu by Take.
	isClosed atomic.Bool

	moveMu sync.Mutex // one move at a time
	kick   chan struct{}
}

// segment is one file of records, locked while this process holds it.
type segment struct {
	f       *os.File
	path    string
	size    int64
	n       int       // arrivals appended by this process
	first   time.Time // when the first of them was appended, or it was adopted
	adopted bool      // another process's, whose writer died
}

// ErrUnsupported is returned by Open where file locks are missing.
var ErrUnsupported = errors.New("intake journal: file locks are not supported on this system")

// Open opens (creating it) the journal in dir and moves into the store
// what segments nobody holds: those of a process that died, this one's
// last run included. It returns once they are recorded.
func Open(ctx context.Context, dir string, opts Options) (*Journal, error) {
	if !supported {
		return nil, ErrUnsupported
	}
	if opts.Store == nil {
		return nil, errors.New("intake journal: no store")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Hold <= 0 {
		opts.Hold = time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.MaxWaiting <= 0 {
		opts.MaxWaiting = 100_000
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create intake journal %s: %w", dir, err)
	}
	j := &Journal{opts: opts, dir: dir, kick: make(chan struct{}, 1)}
	if err := j.adopt(); err != nil {
		return nil, err
	}
	cur, err := j.newSegment()
	if err != nil {
		j.closeAll()
		return nil, err
	}
	j.cur = cur
	if _, err := j.Move(ctx); err != nil {
		j.closeAll()
		return nil, fmt.Errorf("intake journal %s: record what the last run left: %w", dir, err)
	}
	return j, nil
}

// Dir is where the journal's files are.
func (j *Journal) Dir() string { return j.dir }

// Take appends a to the journal and returns once the append returned:
// from then on a survives this process dying. a must name at least one
// key (see the package comment). ctx bounds the wait, not the append.
func (j *Journal) Take(ctx context.Context, a workflows.Arrival) error {
	switch {
	case len(a.Seen) == 0:
		return errors.New("intake journal: an arrival needs a key, or a second move would record it twice")
	case a.Cancel != "":
		// A move recorded again (after a crash, or a later batch's
		// failure) would cancel a second time, perhaps a job queued since.
		return errors.New("intake journal: an arrival that cancels a job cannot be recorded twice harmlessly; take it in by a transaction")
	case j.isClosed.Load():
		return errors.New("take in: the intake journal is closed")
	}
	j.lastArrival.Store(time.Now().UnixNano())
	for j.Waiting() >= j.opts.MaxWaiting {
		j.wake()
		if err := sleep(ctx, time.Millisecond); err != nil {
			return fmt.Errorf("take in: the intake journal holds %d arrivals not yet recorded: %w", j.Waiting(), err)
		}
		if j.isClosed.Load() {
			return errors.New("take in: the intake journal is closed")
		}
	}
	if j.opts.Stamp != nil && a.Job != nil {
		job := *a.Job
		j.opts.Stamp(ctx, &job)
		a.Job = &job
	}
	rec := appendRecord(make([]byte, 0, sizeHint(a)), a)
	if len(rec)-headerLen > maxRecord {
		// readRecords would take it for a torn tail and drop it.
		return fmt.Errorf("take in: an arrival of %d bytes is over the journal's %d", len(rec)-headerLen, maxRecord)
	}
	if err := j.append(rec, 1); err != nil {
		return err
	}
	j.wake()
	return nil
}

// wake tells Run there is something to move.
func (j *Journal) wake() {
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// busyWithin is how recent an arrival must be for Busy.
const busyWithin = 20 * time.Millisecond

// Busy reports whether arrivals are coming in now (one within 20 ms).
func (j *Journal) Busy() bool {
	return time.Since(time.Unix(0, j.lastArrival.Load())) < busyWithin
}

// Waiting is how many arrivals this process appended that are not yet
// in the store.
func (j *Journal) Waiting() int { return int(j.waiting.Load()) }

func (j *Journal) append(buf []byte, n int) error {
	j.fmu.Lock()
	defer j.fmu.Unlock()
	if j.closed {
		return errors.New("take in: the intake journal is closed")
	}
	s := j.cur
	if s == nil {
		return errors.New("take in: the intake journal has no file to append to")
	}
	if _, err := s.f.Write(buf); err != nil {
		// A part written (a full disk) would hide every later record
		// behind it: cut it off, or leave the file for a new one.
		if terr := s.f.Truncate(s.size); terr != nil {
			j.opts.Log.Error("intake journal: could not cut off a failed append; starting a new file",
				"file", s.path, "error", terr)
			if next, nerr := j.newSegment(); nerr == nil {
				if s.n > 0 {
					j.full = append(j.full, s)
				} else {
					s.f.Close()
					os.Remove(s.path)
				}
				j.cur = next
			}
		}
		return fmt.Errorf("take in: append to %s: %w", s.path, err)
	}
	if s.n == 0 {
		s.first = time.Now()
	}
	s.size += int64(len(buf))
	s.n += n
	j.waiting.Add(int64(n))
	return nil
}

// Run moves what is appended into the store until ctx ends, then moves
// what is left: at once when intake is quiet, and while arrivals keep
// coming once the oldest has waited Options.Hold. Every minute it also
// looks for segments left by a process that died.
func (j *Journal) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second) // tries again after an error
	defer tick.Stop()
	lastAdopt := time.Now()
	var failed time.Time // when the last move failed
	for {
		select {
		case <-ctx.Done():
			_, err := j.Move(context.WithoutCancel(ctx))
			return err
		case <-j.kick:
		case <-tick.C:
		}
		if wait := retryAfter - time.Since(failed); wait > 0 {
			// A failed move is tried again a second later, not at every
			// arrival: each try reads its file again.
			if sleep(ctx, wait) != nil {
				continue
			}
		}
		for j.Busy() && j.Oldest() < j.opts.Hold && j.Waiting() < j.opts.MaxWaiting && ctx.Err() == nil {
			sleep(ctx, busyWithin)
		}
		if time.Since(lastAdopt) > time.Minute {
			lastAdopt = time.Now()
			j.fmu.Lock()
			err := j.adopt()
			j.fmu.Unlock()
			if err != nil {
				j.opts.Log.Warn("intake journal: looking for files left by other processes", "error", err)
			}
		}
		failed = time.Time{}
		if _, err := j.Move(ctx); err != nil && ctx.Err() == nil {
			failed = time.Now()
			j.opts.Log.Warn("intake journal: moving arrivals into the store; will try again", "error", err)
		}
	}
}

// retryAfter is how long Run waits after a failed move.
const retryAfter = time.Second

// Oldest is how long the oldest arrival this process holds, not yet
// recorded in the store, has waited (0 when none): a second or so while
// events pour in; more means moves fail (the log says why).
func (j *Journal) Oldest() time.Duration {
	j.fmu.Lock()
	defer j.fmu.Unlock()
	for _, s := range j.full {
		return time.Since(s.first)
	}
	if j.cur == nil || j.cur.n == 0 {
		return 0
	}
	return time.Since(j.cur.first)
}

// sleep waits d, or until ctx ends (its error).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Move records in the store everything appended before it was called,
// and says how many arrivals it recorded. A segment is deleted only
// once all of its arrivals are recorded; on an error it stays, and the
// next Move records it again (its keys make the second time a no-op).
func (j *Journal) Move(ctx context.Context) (int, error) {
	j.moveMu.Lock()
	defer j.moveMu.Unlock()
	moved := 0
	for rotated := false; ; rotated = true {
		j.fmu.Lock()
		segs := append([]*segment(nil), j.full...)
		j.fmu.Unlock()
		for _, s := range segs {
			n, err := j.moveSegment(ctx, s)
			moved += n
			if err != nil {
				// The segments after it wait their turn, and no new one
				// is started while it fails: appends go on into the
				// current file.
				return moved, err
			}
			j.fmu.Lock()
			if len(j.full) > 0 && j.full[0] == s {
				j.full = j.full[1:]
			}
			j.fmu.Unlock()
		}
		if rotated || !j.rotate() {
			return moved, nil
		}
	}
}

// rotate closes the current segment for moving, if anything was
// appended to it, and starts a new one (none once the journal is
// closed). It reports whether there is a segment to move.
func (j *Journal) rotate() bool {
	j.fmu.Lock()
	defer j.fmu.Unlock()
	if j.cur == nil || j.cur.n == 0 {
		return false
	}
	if j.closed {
		j.full = append(j.full, j.cur)
		j.cur = nil
		return true
	}
	next, err := j.newSegment()
	if err != nil {
		j.opts.Log.Error("intake journal: could not start a new file; appending to the old one", "error", err)
		return false
	}
	j.full = append(j.full, j.cur)
	j.cur = next
	return true
}

func (j *Journal) moveSegment(ctx context.Context, s *segment) (int, error) {
	data, err := os.ReadFile(s.path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", s.path, err)
	}
	arrivals, torn, unreadable := readRecords(data)
	if torn > 0 {
		j.opts.Log.Warn("intake journal: a file ends in a record cut short (the machine stopped while it was written); the arrivals before it are recorded",
			"file", s.path, "arrivals", len(arrivals), "bytes_lost", torn)
	}
	var refused []workflows.Arrival
	for start := 0; start < len(arrivals); start += j.opts.MaxBatch {
		batch := arrivals[start:min(start+j.opts.MaxBatch, len(arrivals))]
		bad, err := j.record(ctx, batch)
		if err != nil {
			return start, fmt.Errorf("record %d arrivals from %s: %w", len(batch), s.path, err)
		}
		refused = append(refused, bad...)
	}
	if len(refused) > 0 {
		// The store took the others and refused these alone: arrivals it
		// may never take (or a database that failed just then). They go
		// back into the journal, to be tried again at the next move,
		// rather than holding up every arrival after them.
		var buf []byte
		for _, a := range refused {
			buf = appendRecord(buf, a)
		}
		if err := j.append(buf, len(refused)); err != nil {
			// The whole file stays, and is recorded again later (what
			// was recorded from it is then found recorded).
			return len(arrivals) - len(refused), fmt.Errorf("keep %d arrivals the database refused: %w", len(refused), err)
		}
		j.opts.Log.Warn("intake journal: the database refuses some arrivals alone; they are kept to be tried again, the others are recorded",
			"file", s.path, "refused", len(refused), "recorded", len(arrivals)-len(refused))
	}
	if unreadable != nil {
		// Not a torn write (its CRC held) but a record this binary
		// cannot read: the arrivals before it are recorded, and the
		// file is kept aside for whoever can read the rest.
		aside := strings.TrimSuffix(s.path, segmentExt) + ".unread"
		j.opts.Log.Error("intake journal: a file holds a record this binary cannot read; the arrivals before it are recorded and the file is kept aside",
			"file", aside, "recorded", len(arrivals), "error", unreadable)
		if err := os.Rename(s.path, aside); err != nil {
			return len(arrivals), fmt.Errorf("set %s aside: %w", s.path, err)
		}
	} else if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		// Recorded all the same: left behind, it is recorded again at
		// the next start, which changes nothing.
		j.opts.Log.Warn("intake journal: could not remove a file after recording it", "file", s.path, "error", err)
	}
	j.release(s)
	return len(arrivals), nil
}

// record records batch in one transaction; if the store refuses it,
// each arrival alone, as the group commit does. It returns the arrivals
// the store refused alone, or an error when it took none of them (the
// database is down, or refuses writes: try again later).
func (j *Journal) record(ctx context.Context, batch []workflows.Arrival) (refused []workflows.Arrival, err error) {
	if _, err = j.opts.Store.TakeIn(ctx, batch); err == nil {
		j.moved(len(batch))
		return nil, nil
	}
	if len(batch) == 1 || ctx.Err() != nil {
		return nil, err
	}
	took := 0
	for _, a := range batch {
		if _, aerr := j.opts.Store.TakeIn(ctx, []workflows.Arrival{a}); aerr != nil {
			refused = append(refused, a)
			if took == 0 && len(refused) == downAfter {
				return nil, err // none taken: the database is down
			}
			continue
		}
		took++
	}
	if took == 0 {
		return nil, err
	}
	j.moved(took)
	return refused, nil
}

// downAfter is how many arrivals refused alone, with none taken, say
// the database is down rather than the arrivals bad.
const downAfter = 8

func (j *Journal) moved(n int) {
	if j.opts.Moved != nil {
		j.opts.Moved(n)
	}
}

// release closes a moved segment (ending its lock) and takes its
// arrivals off the count waiting.
func (j *Journal) release(s *segment) {
	s.f.Close()
	j.waiting.Add(-int64(s.n))
}

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
		j.full = append(j.full, &segment{f: f, path: path, adopted: true, first: time.Now()})
		j.opts.Log.Info("intake journal: recording a file a stopped process left", "file", path)
	}
	return nil
}

// Close moves what is left into the store and closes the journal;
// Take fails from then on. An empty journal leaves no file behind.
func (j *Journal) Close(ctx context.Context) error {
	j.fmu.Lock()
	was := j.closed
	j.closed = true // an append under way finishes first: it holds fmu
	j.isClosed.Store(true)
	j.fmu.Unlock()
	if was {
		return nil
	}
	_, err := j.Move(ctx)
	j.closeAll()
	return err
}

func (j *Journal) closeAll() {
	j.moveMu.Lock() // not under a Move
	defer j.moveMu.Unlock()
	j.fmu.Lock()
	defer j.fmu.Unlock()
	j.closed = true
	j.isClosed.Store(true)
	if j.cur != nil {
		if j.cur.n == 0 {
			os.Remove(j.cur.path)
		}
		j.cur.f.Close()
		j.cur = nil
	}
	for _, s := range j.full {
		s.f.Close()
	}
	j.full = nil
}
