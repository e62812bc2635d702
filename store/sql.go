package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// dialect names the SQL engine behind a DB. Only placeholders differ
// between the engines the store is written for.
type dialect int

const (
	dialectSQLite   dialect = iota // ? placeholders
	dialectPostgres                // $1, $2, ... placeholders
)

// rebind turns the ? placeholders of a statement into the dialect's form.
// Question marks inside single-quoted literals are left alone.
func rebind(d dialect, query string) string {
	if d != dialectPostgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// placeholders returns "?, ?, ?" for n values, for IN lists.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// tx is a workflows.Tx over one SQL transaction. The workflows interfaces
// carry no context, so the transaction's own is kept for every statement.
type tx struct {
	ctx context.Context
	tx  *sql.Tx
	db  *DB
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, t.db.q(query), args...)
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(t.ctx, t.db.q(query), args...)
}

func (t *tx) queryRow(query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(t.ctx, t.db.q(query), args...)
}

// nextSeq returns the next number of a named sequence: on SQLite a row
// of the counters table (its one writer makes the numbers gapless); on
// PostgreSQL a sequence, for the names that have one (see pgSequences).
func nextSeq(ctx context.Context, db *DB, t *sql.Tx, name string) (int64, error) {
	var n int64
	if seq, ok := pgSequences[name]; ok && db.dialect == dialectPostgres {
		if err := t.QueryRowContext(ctx, "SELECT nextval($1)", seq).Scan(&n); err != nil {
			return 0, fmt.Errorf("next number of %s: %w", name, err)
		}
		return n, nil
	}
	err := t.QueryRowContext(ctx, db.q(`INSERT INTO counters (name, n) VALUES (?, 1)
		ON CONFLICT (name) DO UPDATE SET n = counters.n + 1
		RETURNING n`), name).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("next number of %s: %w", name, err)
	}
	return n, nil
}

// Internal sequences for row IDs. The '#' keeps them apart from the
// prefixes of human IDs that NextID serves.
const (
	seqJobs       = "#jobs"
	seqAudit      = "#audit"
	seqExtensions = "#extensions"
	seqDecisions  = "#decisions"
	seqLedger     = "#ledger"
	seqTimeline   = "#timeline"
)

// unixNanos stores a time as Unix nanoseconds, UTC; the zero time is 0.
//
// Unix nanoseconds in an int64 hold 1678 to 2262: a time beyond is kept
// at that end, never wrapped around (a due date typed as 9999-12-31
// stays far ahead; t.UnixNano() made it 1816, due at once).
func unixNanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minNanos):
		return math.MinInt64
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// The times unixNanos holds.
var (
	minNanos = time.Unix(0, math.MinInt64)
	maxNanos = time.Unix(0, math.MaxInt64)
)

// fromNanos reads a time stored by unixNanos; 0 is the zero time.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// emailKey is how emails are compared: case-insensitively, like
// workflows.Person.Is.
func emailKey(email string) string { return strings.ToLower(email) }

// boolInt stores a bool as 0 or 1, which both engines keep in a BIGINT.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// personJSON is the stored form of a Person inside JSON columns, with
// names that do not follow the Go field names.
type personJSON struct {
	SlackID string `json:"slack_id,omitempty"`
	Email   string `json:"email,omitempty"`
}

// peopleText stores a list of people as JSON; an empty list is "".
func peopleText(ps []workflows.Person) (string, error) {
	if len(ps) == 0 {
		return "", nil
	}
	out := make([]personJSON, len(ps))
	for i, p := range ps {
		out[i] = personJSON{SlackID: p.SlackID, Email: p.Email}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode people: %w", err)
	}
	return string(b), nil
}

func peopleFromText(s string) ([]workflows.Person, error) {
	if s == "" {
		return nil, nil
	}
	var in []personJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("decode people: %w", err)
	}
	out := make([]workflows.Person, len(in))
	for i, p := range in {
		out[i] = workflows.Person{SlackID: p.SlackID, Email: p.Email}
	}
	return out, nil
}

// tagsText stores tags as a JSON object; no tags is "".
func tagsText(tags map[string]string) (string, error) {
	if len(tags) == 0 {
		return "", nil
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return "", fmt.Errorf("encode tags: %w", err)
	}
	return string(b), nil
}

func tagsFromText(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var tags map[string]string
	if err := json.Unmarshal([]byte(s), &tags); err != nil {
		return nil, fmt.Errorf("decode tags: %w", err)
	}
	return tags, nil
}
