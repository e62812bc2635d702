package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// t0 is a fixed instant with nanoseconds, so round-trips prove nothing is
// truncated.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// update runs fn in a write transaction and fails the test on error.
func update(tb testing.TB, db *DB, fn func(workflows.Tx) error) {
	tb.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		tb.Fatalf("update: %v", err)
	}
}

// view runs fn in a read transaction and fails the test on error.
func view(tb testing.TB, db *DB, fn func(workflows.Tx) error) {
	tb.Helper()
	if err := db.View(context.Background(), fn); err != nil {
		tb.Fatalf("view: %v", err)
	}
}

// count returns the number of rows in table, read outside any workflow.
func count(tb testing.TB, db *DB, table string) int {
	tb.Helper()
	var n int
	if err := db.read.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestOpen_RejectsBadDSNs(t *testing.T) {
	ctx := context.Background()
	for dsn, want := range map[string]string{
		// Nothing listens on port 1: the error says where it tried.
		"postgres://opsbot:hunter2@127.0.0.1:1/opsbot?connect_timeout=5": "failed to connect",
		"postgresql://opsbot:hunter2@127.0.0.1:1/opsbot?sslmode=bogus":   "sslmode",
		"mysql://x": "must be sqlite:PATH",
		"sqlite:":   "needs a file path",
	} {
		_, err := Open(ctx, dsn)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want error containing %q", dsn, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error shows the password: %v", dsn, err)
		}
	}
}

func TestOpen_PathIsNotReadAsParameters(t *testing.T) {
	// A path with URI syntax in it names a file; it cannot add pragmas.
	dir := t.TempDir()
	p := filepath.Join(dir, "odd?_pragma=query_only(1)#x%41.db")
	db, err := Open(context.Background(), "sqlite:"+p)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	update(t, db, func(tx workflows.Tx) error { _, err := tx.NextID("srv"); return err })
	if m, _ := filepath.Glob(filepath.Join(dir, "odd*")); len(m) == 0 || filepath.Base(m[0]) != filepath.Base(p) {
		t.Fatalf("files in dir = %v, want %s", m, filepath.Base(p))
	}
}

func TestOpen_Memory(t *testing.T) {
	db, err := Open(context.Background(), "sqlite::memory:")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	update(t, db, func(tx workflows.Tx) error { return tx.Audit(workflows.AuditEntry{At: t0, Action: "x", Subject: "s"}) })
	got, err := db.AuditLog(context.Background(), "s")
	if err != nil || len(got) != 1 {
		t.Fatalf("audit log = %v, %v; want one entry", got, err)
	}
	if err := db.Ready(context.Background()); err != nil {
		t.Fatalf("ready: %v", err)
	}
}

func TestReady(t *testing.T) { forEachDB(t, testReady) }

func testReady(t *testing.T, db *DB) {
	if err := db.Ready(context.Background()); err != nil {
		t.Fatalf("ready: %v", err)
	}
	if _, err := db.write.Exec(db.q("DELETE FROM schema_migrations WHERE version = ?"), latestVersion()); err != nil {
		t.Fatal(err)
	}
	if err := db.Ready(context.Background()); err == nil {
		t.Fatal("ready with a migration missing, want an error")
	}
	db.Close()
	if err := db.Ready(context.Background()); err == nil {
		t.Fatal("ready on a closed store, want an error")
	}
}

func TestView_IsReadOnly(t *testing.T) { forEachDB(t, testView_IsReadOnly) }

func testView_IsReadOnly(t *testing.T, db *DB) {
	err := db.View(context.Background(), func(tx workflows.Tx) error {
		_, err := tx.NextID("srv")
		return err
	})
	if err == nil {
		t.Fatal("NextID inside View succeeded, want a read-only error")
	}
	if n := count(t, db, "counters"); n != 0 {
		t.Fatalf("counters has %d rows after a View, want 0", n)
	}
}

func TestUpdate_ErrorRollsBackEverything(t *testing.T) {
	forEachDB(t, testUpdate_ErrorRollsBackEverything)
}

func testUpdate_ErrorRollsBackEverything(t *testing.T, db *DB) {
	boom := errors.New("boom")
	err := db.Update(context.Background(), func(tx workflows.Tx) error {
		id, err := tx.NextID("srv")
		if err != nil {
			return err
		}
		if err := tx.CreateRequest(sampleRequest(id)); err != nil {
			return err
		}
		if err := tx.Enqueue(workflows.Job{Kind: "launch", Key: "launch:" + id, RunAt: t0}); err != nil {
			return err
		}
		if err := tx.Audit(workflows.AuditEntry{At: t0, Action: "request.create", Subject: id}); err != nil {
			return err
		}
		if _, err := tx.MarkSent("k", t0); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	for _, table := range []string{"requests", "jobs", "audit", "sent", "counters"} {
		if n := count(t, db, table); n != 0 {
			t.Errorf("%s has %d rows after a failed Update, want 0", table, n)
		}
	}
	// SQLite's counter gives the number back: the next request is srv-1
	// again. PostgreSQL's sequence skips it: srv-2, and never srv-1.
	want := "srv-1"
	if db.dialect == dialectPostgres {
		want = "srv-2"
	}
	update(t, db, func(tx workflows.Tx) error {
		id, err := tx.NextID("srv")
		if err == nil && id != want {
			t.Errorf("NextID after rollback = %s, want %s", id, want)
		}
		return err
	})
}

func TestUpdate_PanicRollsBack(t *testing.T) { forEachDB(t, testUpdate_PanicRollsBack) }

func testUpdate_PanicRollsBack(t *testing.T, db *DB) {
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		db.Update(context.Background(), func(tx workflows.Tx) error {
			tx.Audit(workflows.AuditEntry{At: t0, Action: "x", Subject: "s"})
			panic("handler bug")
		})
	}()
	if n := count(t, db, "audit"); n != 0 {
		t.Fatalf("audit has %d rows after a panic, want 0", n)
	}
	// The writer is free again.
	update(t, db, func(tx workflows.Tx) error { return tx.Audit(workflows.AuditEntry{At: t0, Action: "y", Subject: "s"}) })
}

func TestUpdate_CancelledContextRollsBack(t *testing.T) {
	forEachDB(t, testUpdate_CancelledContextRollsBack)
}

func testUpdate_CancelledContextRollsBack(t *testing.T, db *DB) {
	ctx, cancel := context.WithCancel(context.Background())
	err := db.Update(ctx, func(tx workflows.Tx) error {
		if err := tx.Audit(workflows.AuditEntry{At: t0, Action: "x", Subject: "s"}); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update = %v, want context.Canceled", err)
	}
	if n := count(t, db, "audit"); n != 0 {
		t.Fatalf("audit has %d rows after a cancelled Update, want 0", n)
	}
	update(t, db, func(tx workflows.Tx) error { return tx.Audit(workflows.AuditEntry{At: t0, Action: "y", Subject: "s"}) })
}

func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c = '?' AND d IN (?, ?)"
	if got := rebind(dialectSQLite, q); got != q {
		t.Errorf("sqlite rebind changed the query: %s", got)
	}
	want := "SELECT a FROM t WHERE b = $1 AND c = '?' AND d IN ($2, $3)"
	if got := rebind(dialectPostgres, q); got != want {
		t.Errorf("postgres rebind = %s, want %s", got, want)
	}
}

func TestTimes_ZeroStaysZero(t *testing.T) {
	if got := fromNanos(unixNanos(time.Time{})); !got.IsZero() {
		t.Errorf("zero time came back as %v", got)
	}
	local := t0.In(time.FixedZone("X", 3600))
	if got := fromNanos(unixNanos(local)); got != t0 {
		t.Errorf("time came back as %v, want %v", got, t0)
	}
}

func TestView_DoesNotWaitForWriterAndSeesOnlyCommitted(t *testing.T) {
	forEachDB(t, testView_DoesNotWaitForWriterAndSeesOnlyCommitted)
}

func testView_DoesNotWaitForWriterAndSeesOnlyCommitted(t *testing.T, db *DB) {
	update(t, db, func(tx workflows.Tx) error {
		if err := tx.CreateRequest(sampleRequest("srv-1")); err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() {
			done <- db.View(context.Background(), func(v workflows.Tx) error {
				if _, err := v.Request("srv-1"); !errors.Is(err, workflows.ErrNotFound) {
					return fmt.Errorf("reader saw an uncommitted request: %v", err)
				}
				return nil
			})
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			return errors.New("View waited for the open write transaction")
		}
	})
	view(t, db, func(tx workflows.Tx) error { _, err := tx.Request("srv-1"); return err })
}
