package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

	_ "modernc.org/sqlite" // the driver opsbot's store uses too
)

// snapshotter is what a fake needs for the sandbox to keep it across
// restarts: its whole state as bytes, and back. The sandbox uses it as
// soon as a fake has it; until then that fake starts empty (re-seeded)
// after a restart and the page says so.
type snapshotter interface {
	Snapshot() ([]byte, error)
	Restore([]byte) error
}

// store keeps the sandbox's own state in opsbot's SQLite file, in one
// table of its own: the clock offset and the fakes' snapshots.
type store struct{ db *sql.DB }

// openStore opens (creating) the SQLite file; fresh is true when the file
// did not exist before.
func openStore(ctx context.Context, path string) (*store, bool, error) {
	_, err := os.Stat(path)
	fresh := errors.Is(err, fs.ErrNotExist)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, false, fmt.Errorf("open sandbox state %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS sandbox_state (
		key TEXT PRIMARY KEY, value BLOB NOT NULL, saved_at TEXT NOT NULL)`); err != nil {
		db.Close()
		return nil, false, fmt.Errorf("create sandbox_state in %s: %w", path, err)
	}
	return &store{db: db}, fresh, nil
}

func (st *store) close() { st.db.Close() }

func (st *store) get(ctx context.Context, key string) ([]byte, bool, error) {
	var v []byte
	err := st.db.QueryRowContext(ctx, `SELECT value FROM sandbox_state WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read sandbox state %s: %w", key, err)
	}
	return v, true, nil
}

func (st *store) put(ctx context.Context, key string, v []byte, at time.Time) error {
	if _, err := st.db.ExecContext(ctx, `INSERT INTO sandbox_state (key, value, saved_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, saved_at = excluded.saved_at`,
		key, v, at.UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("save sandbox state %s: %w", key, err)
	}
	return nil
}

// offset is how far the sandbox clock had been pushed ahead.
func (st *store) offset(ctx context.Context) (time.Duration, error) {
	v, ok, err := st.get(ctx, "clock_offset")
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read sandbox clock offset %q: %w", v, err)
	}
	return time.Duration(n), nil
}

func (st *store) setOffset(ctx context.Context, d time.Duration, at time.Time) error {
	return st.put(ctx, "clock_offset", []byte(strconv.FormatInt(int64(d), 10)), at)
}

// fakes names the fakes for their snapshot keys.
func (s *Sandbox) fakes() map[string]any {
	return map[string]any{"slack": s.slack, "ec2": s.ec2, "pagerduty": s.pd, "notion": s.notion}
}

// save writes a snapshot of every fake that can make one.
func (s *Sandbox) save(ctx context.Context) error {
	var errs []error
	for name, f := range s.fakes() {
		sn, ok := f.(snapshotter)
		if !ok {
			continue
		}
		b, err := sn.Snapshot()
		if err == nil {
			err = s.state.put(ctx, "fake:"+name, b, s.clock.Now())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("snapshot %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// saveLoop saves the fakes every few seconds until ctx ends.
func (s *Sandbox) saveLoop(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.save(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("save fake state", "err", err)
			}
		}
	}
}

// restore brings back a fake saved by an earlier run; false when it
// cannot (no snapshot support, or nothing saved).
func (s *Sandbox) restore(ctx context.Context, name string) (bool, error) {
	sn, ok := s.fakes()[name].(snapshotter)
	if !ok {
		return false, nil
	}
	b, ok, err := s.state.get(ctx, "fake:"+name)
	if err != nil || !ok {
		return false, err
	}
	if err := sn.Restore(b); err != nil {
		return false, fmt.Errorf("restore fake %s: %w", name, err)
	}
	return true, nil
}
