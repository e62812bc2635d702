package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// openCached opens a SQLite file with the statement cache, size
// statements per connection, and one connection, so every statement runs
// on the connection the test inspects.
func openCached(t *testing.T, size int) (*sql.DB, *cachingConn) {
	t.Helper()
	db, err := openSQLiteDB("file:" + escapeURIPath(filepath.Join(t.TempDir(), "c.db")) + "?" + sqliteWriteParams)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	var cc *cachingConn
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	conn.Raw(func(dc any) error { cc = dc.(*cachingConn); cc.size = size; return nil })
	conn.Close()
	return db, cc
}

func (c *cachingConn) cached() (n int, busy int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.lru.Front(); el != nil; el = el.Next() {
		if el.Value.(*cachedStmt).busy {
			busy++
		}
	}
	return c.lru.Len(), busy
}

func TestStmtCache_PreparesOnceAndReusesInAndOutOfTransactions(t *testing.T) {
	db, cc := openCached(t, 8)
	ctx := context.Background()
	const ins, sel = "INSERT INTO t (id, v) VALUES (?, ?)", "SELECT v FROM t WHERE id = ?"
	for i := range 50 {
		if _, err := db.ExecContext(ctx, ins, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		var v string
		if err := tx.QueryRowContext(ctx, sel, i).Scan(&v); err != nil || v != fmt.Sprint("v", i) {
			t.Fatalf("row %d = %q, %v", i, v, err)
		}
		// The same statement, with its last run's bindings gone.
		if _, err := tx.ExecContext(ctx, ins, 100+i, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Rolled back: the cached statements wrote nothing that stays.
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 50 {
		t.Fatalf("rows after rollback = %d, %v; want 50", n, err)
	}
	// CREATE TABLE, INSERT, SELECT v, SELECT COUNT(*): one statement each.
	if got, busy := cc.cached(); got != 4 || busy != 0 {
		t.Errorf("cached %d statements (%d busy), want 4 (0 busy)", got, busy)
	}
}

// A statement whose rows are still open is not run again under them: the
// second run gets a statement of its own.
func TestStmtCache_SameStatementWhileItsRowsAreOpen(t *testing.T) {
	db, cc := openCached(t, 8)
	ctx := context.Background()
	for i := range 5 {
		db.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (?, ?)", i, fmt.Sprint("v", i))
	}
	const sel = "SELECT id, v FROM t WHERE id >= ? ORDER BY id"
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	outer, err := tx.QueryContext(ctx, sel, 0)
	if err != nil {
		t.Fatal(err)
	}
	var seen []int
	for outer.Next() {
		var id int
		var v string
		if err := outer.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, id)
		// The same text, while outer's rows are open on this connection.
		var inner []int
		rows, err := tx.QueryContext(ctx, sel, id)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var j int
			var w string
			rows.Scan(&j, &w)
			inner = append(inner, j)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if len(inner) != 5-id || inner[0] != id {
			t.Fatalf("inner run from %d read %v", id, inner)
		}
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[0 1 2 3 4]" {
		t.Fatalf("outer run read %v, want [0 1 2 3 4]", seen)
	}
	if _, busy := cc.cached(); busy != 0 {
		t.Errorf("%d statements still busy after every rows closed", busy)
	}
}

// The cache keeps at most its size; a statement evicted while its rows
// are open is closed when they are, not under them.
func TestStmtCache_BoundedAndEvictsBusyStatementsSafely(t *testing.T) {
	db, cc := openCached(t, 4)
	ctx := context.Background()
	for i := range 3 {
		db.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (?, ?)", i, fmt.Sprint("v", i))
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	open, err := tx.QueryContext(ctx, "SELECT id FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	// Twenty other statements push the open one out.
	for i := range 20 {
		var n int
		if err := tx.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) + %d FROM t", i)).Scan(&n); err != nil || n != 3+i {
			t.Fatalf("statement %d: %d, %v", i, n, err)
		}
	}
	if n, _ := cc.cached(); n != 4 {
		t.Errorf("cached %d statements, want the bound, 4", n)
	}
	var ids []int
	for open.Next() {
		var id int
		open.Scan(&id)
		ids = append(ids, id)
	}
	if err := open.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids) != "[0 1 2]" {
		t.Fatalf("evicted statement's rows read %v, want [0 1 2]", ids)
	}
	// Prepared again on its next run.
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT id FROM t ORDER BY id").Scan(&n); err != nil || n != 0 {
		t.Fatalf("after eviction: %d, %v", n, err)
	}
}

// A cached statement follows a change of schema (SQLite prepares it
// again), and a script is run, not cached.
func TestStmtCache_SchemaChangeAndScripts(t *testing.T) {
	db, cc := openCached(t, 8)
	ctx := context.Background()
	db.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (1, 'a')")
	cols := func() int {
		rows, err := db.QueryContext(ctx, "SELECT * FROM t")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, _ := rows.Columns()
		return len(c)
	}
	if c := cols(); c != 2 {
		t.Fatalf("columns %d, want 2", c)
	}
	if _, err := db.ExecContext(ctx, "ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT ''; CREATE INDEX t_w ON t (w)"); err != nil {
		t.Fatal(err)
	}
	if c := cols(); c != 3 {
		t.Fatalf("columns after ALTER TABLE %d, want 3", c)
	}
	cc.mu.Lock()
	for text := range cc.byText {
		if strings.Contains(text, ";") {
			t.Errorf("script cached: %q", text)
		}
	}
	cc.mu.Unlock()
}

// Closing the pool finalizes every statement and closes the connection.
func TestStmtCache_ClosedWithItsConnection(t *testing.T) {
	db, cc := openCached(t, 8)
	ctx := context.Background()
	db.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (1, 'a')")
	if n, _ := cc.cached(); n == 0 {
		t.Fatal("nothing cached")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := cc.cached(); n != 0 || !cc.closed {
		t.Errorf("after Close: %d statements cached, closed %v", n, cc.closed)
	}
}

// The store's own pools use it: the statements of a transaction stay
// prepared on the writer for the next one.
func TestStmtCache_StoreWriterKeepsStatements(t *testing.T) {
	db := mustOpen(t)
	conn, err := db.write.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var ok bool
	conn.Raw(func(dc any) error { _, ok = dc.(*cachingConn); return nil })
	if !ok {
		t.Fatal("the store's SQLite writer has no statement cache")
	}
}
