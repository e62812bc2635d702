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
	"os"
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
	f     *os.File
	path  string
	size  int64
	n     int       // arrivals appended by this process
	first time.Time // when the first of them was appended, or it was adopted
}

// ErrUnsupported is returned by Open where file locks are missing.
var ErrUnsupported = errors.New("intake journal: file locks are not supported on this system")

// Open opens (creating it) the journal in dir and moves into the store
// what segments nobody holds: those of a process that died, this one's
// last run included. It returns once they are recorded, or once trying
// failed (logged: Run tries again).
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
		// opsbot starts all the same: the files stay, Run tries again,
		// and the stuck alert says so if it never can.
		j.opts.Log.Error("intake journal: could not record what the last run left; will try again", "dir", dir, "error", err)
	}
	return j, nil
}

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
