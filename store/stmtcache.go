package store

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"modernc.org/sqlite"
)

// A prepared-statement cache for SQLite connections.
//
// The store runs its statements as text (tx.ExecContext, QueryContext);
// modernc.org/sqlite then parses and plans each one afresh and throws
// the plan away after one run: a third of a tick went to sqlite3_prepare.
// Each SQLite connection now keeps the statements it prepared, by their
// text, and runs them again. It sits under database/sql, in the driver
// connection, so it needs no change to the statements and is right with
// transactions by construction: a transaction runs on one connection,
// and so do the statements it prepared.
//
// Why not *sql.Stmt prepared on the DB, and tx.StmtContext: on SQLite the
// writer pool has one connection, which an open transaction holds, so
// preparing a statement not yet prepared (DB.PrepareContext) would wait
// for that connection forever. A cache inside the connection never waits.
//
// PostgreSQL needs none of this: pgx's database/sql driver already
// prepares each statement once per connection and reuses it (its default
// QueryExecModeCacheStatement, 512 statements per connection).
//
// What bites with modernc.org/sqlite (v1.62):
//   - a driver statement keeps one SQLite statement handle; running it
//     again while rows of its last run are still open on the same
//     connection would reset them under the reader. A statement in use
//     is therefore never handed out again: that run gets a statement of
//     its own, closed after it, as without the cache;
//   - a connection wrapper that only embeds driver.Conn hides the
//     driver's context-aware methods, and database/sql then falls back to
//     the context-free ones (sqlite.NewConnector's documentation): every
//     optional interface the driver connection implements is forwarded;
//   - an evicted statement whose rows are still open is closed when they
//     are, never under them.
//
// The cache is bounded (stmtCacheSize statements per connection, least
// recently used evicted; text with a ';' — scripts, migrations — is not
// cached) and is closed with its connection, so DB.Close, or database/sql
// dropping a bad connection, finalizes every statement.

// stmtCacheSize is how many statements each SQLite connection keeps. The
// store has a few hundred distinct statements (IN lists of different
// lengths are different texts); the tick's and the intake's are a few
// dozen.
const stmtCacheSize = 256

// openSQLiteDB opens a database/sql pool of SQLite connections, each
// with its own statement cache.
func openSQLiteDB(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(&cachingConnector{inner: c, size: stmtCacheSize}), nil
}

// cachingConnector makes connections with a statement cache.
type cachingConnector struct {
	inner driver.Connector
	size  int
}

func (c *cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	// The wrapper calls the context-aware forms; a driver without them
	// is not one this cache was written for.
	if _, ok := conn.(connFull); !ok {
		conn.Close()
		return nil, fmt.Errorf("statement cache: driver connection %T lacks a context-aware method", conn)
	}
	return &cachingConn{conn: conn.(connFull), size: c.size, byText: map[string]*list.Element{}, lru: list.New()}, nil
}

func (c *cachingConnector) Driver() driver.Driver { return c.inner.Driver() }

// connFull is what the cache needs of the driver's connection: what
// modernc.org/sqlite's implements.
type connFull interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type stmtFull interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// cachedStmt is a prepared statement of one connection.
type cachedStmt struct {
	text    string
	stmt    stmtFull
	busy    bool // rows of a run are open
	evicted bool // close it once its rows are
}

// cachingConn is a driver connection with its statements cached.
// database/sql never uses one connection from two goroutines at once
// (it holds the connection's lock around each call, Rows.Close
// included); the mutex makes that independent of its internals.
type cachingConn struct {
	conn connFull
	size int

	mu     sync.Mutex
	byText map[string]*list.Element // of *cachedStmt
	lru    *list.List               // front: most recently used
	closed bool
}

var (
	_ connFull                              = (*cachingConn)(nil)
	_ driver.Connector                      = (*cachingConnector)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*cachedRows)(nil)
)

// take returns the cached statement for text, prepared if need be and
// marked busy; nil when text is not cached or its statement is in use
// (the caller then runs text without the cache).
func (c *cachingConn) take(ctx context.Context, text string) (*cachedStmt, error) {
	if strings.Contains(text, ";") {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, driver.ErrBadConn
	}
	if el, ok := c.byText[text]; ok {
		cs := el.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(el)
		cs.busy = true
		return cs, nil
	}
	s, err := c.conn.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	sf, ok := s.(stmtFull)
	if !ok {
		s.Close()
		return nil, nil
	}
	cs := &cachedStmt{text: text, stmt: sf, busy: true}
	c.byText[text] = c.lru.PushFront(cs)
	var errs []error
	for c.lru.Len() > c.size {
		old := c.lru.Back()
		ev := old.Value.(*cachedStmt)
		c.lru.Remove(old)
		delete(c.byText, ev.text)
		if ev.busy {
			ev.evicted = true // closed by release
			continue
		}
		errs = append(errs, ev.stmt.Close())
	}
	if err := errors.Join(errs...); err != nil {
		cs.busy = false
		return nil, fmt.Errorf("close an evicted statement: %w", err)
	}
	return cs, nil
}

// release marks cs free again, or closes it if it was evicted meanwhile.
func (c *cachingConn) release(cs *cachedStmt) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs.busy = false
	if cs.evicted {
		return cs.stmt.Close()
	}
	return nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.conn.ExecContext(ctx, query, args)
	}
	res, err := cs.stmt.ExecContext(ctx, args)
	if rerr := c.release(cs); err == nil && rerr != nil {
		return nil, rerr
	}
	return res, err
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.conn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		c.release(cs)
		return nil, err
	}
	return &cachedRows{Rows: rows, release: func() error { return c.release(cs) }}, nil
}

// Close finalizes every cached statement, then closes the connection.
// No rows are open: database/sql closes them before their connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	var errs []error
	for el := c.lru.Front(); el != nil; el = el.Next() {
		errs = append(errs, el.Value.(*cachedStmt).stmt.Close())
	}
	c.lru.Init()
	clear(c.byText)
	c.closed = true
	c.mu.Unlock()
	errs = append(errs, c.conn.Close())
	return errors.Join(errs...)
}

// The rest is the driver's own.

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }
func (c *cachingConn) Begin() (driver.Tx, error)                 { return c.conn.Begin() }
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.conn.BeginTx(ctx, opts)
}
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.conn.PrepareContext(ctx, query)
}
func (c *cachingConn) Ping(ctx context.Context) error         { return c.conn.Ping(ctx) }
func (c *cachingConn) ResetSession(ctx context.Context) error { return c.conn.ResetSession(ctx) }
func (c *cachingConn) IsValid() bool                          { return c.conn.IsValid() }

// cachedRows gives its statement back when closed, and forwards the
// column type methods modernc.org/sqlite's rows have.
type cachedRows struct {
	driver.Rows
	release func() error
	done    bool
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if !r.done {
		r.done = true
		if rerr := r.release(); err == nil {
			err = rerr
		}
	}
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
