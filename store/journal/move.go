package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

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
		if rotated {
			return moved, nil
		}
		if more, err := j.rotate(); err != nil || !more {
			return moved, err
		}
	}
}

// rotate closes the current segment for moving, if anything was
// appended to it, and starts a new one (none once the journal is
// closed). It reports whether there is a segment to move.
func (j *Journal) rotate() (bool, error) {
	j.fmu.Lock()
	defer j.fmu.Unlock()
	if j.cur == nil || j.cur.n == 0 {
		return false, nil
	}
	if j.closed {
		j.full = append(j.full, j.cur)
		j.cur = nil
		return true, nil
	}
	next, err := j.newSegment()
	if err != nil {
		// Appends go on into the current file; it is moved once a new
		// one can be made (it cannot be read and removed while written).
		return false, fmt.Errorf("move the current file: %w", err)
	}
	j.full = append(j.full, j.cur)
	j.cur = next
	return true, nil
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
	for start := 0; start < len(arrivals); start += j.opts.MaxBatch {
		batch := arrivals[start:min(start+j.opts.MaxBatch, len(arrivals))]
		if _, err := j.opts.Store.TakeIn(ctx, batch); err != nil {
			// Whatever the cause, the file stays and is tried again:
			// nothing answered is dropped. A database that refuses for
			// good holds the moves up, and OpsbotIntakeJournalStuck
			// pages (Oldest grows).
			return start, fmt.Errorf("record %d arrivals from %s: %w", len(batch), s.path, err)
		}
		if j.opts.Moved != nil {
			j.opts.Moved(len(batch))
		}
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

// release closes a moved segment (ending its lock) and takes its
// arrivals off the count waiting.
func (j *Journal) release(s *segment) {
	s.f.Close()
	j.waiting.Add(-int64(s.n))
}
