package store

import (
	"context"
	"fmt"
	"time"
)

// JobCount is how many jobs of a kind are in a state (pending, running,
// dead).
type JobCount struct {
	Kind, State string
	N           int64
}

// Gauges are the figures of the store's state /metrics shows.
type Gauges struct {
	Jobs []JobCount
	// OldestDue is the run time of the pending job that has waited
	// longest past it; zero when no job is due.
	OldestDue time.Time
	// LeasesEnding counts, by team, the leases of servers launching or
	// running that end within the window asked for.
	LeasesEnding map[string]int64
}

// Gauges reads the queue and the leases as of now, on the read pool:
// three grouped reads on indexed columns, for /metrics.
func (db *DB) Gauges(ctx context.Context, now time.Time, within time.Duration) (Gauges, error) {
	g := Gauges{LeasesEnding: map[string]int64{}}
	rows, err := db.read.QueryContext(ctx, `SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state ORDER BY kind, state`)
	if err != nil {
		return g, fmt.Errorf("count jobs: %w", err)
	}
	for rows.Next() {
		var c JobCount
		if err := rows.Scan(&c.Kind, &c.State, &c.N); err != nil {
			rows.Close()
			return g, fmt.Errorf("count jobs: %w", err)
		}
		g.Jobs = append(g.Jobs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return g, fmt.Errorf("count jobs: %w", err)
	}
	var oldest *int64
	if err := db.read.QueryRowContext(ctx, db.q(`SELECT MIN(run_at) FROM jobs WHERE state = 'pending' AND run_at <= ?`), unixNanos(now)).Scan(&oldest); err != nil {
		return g, fmt.Errorf("find the oldest due job: %w", err)
	}
	if oldest != nil {
		g.OldestDue = fromNanos(*oldest)
	}
	rows, err = db.read.QueryContext(ctx, db.q(`SELECT team, COUNT(*) FROM requests
		WHERE state IN ('provisioning', 'running') AND lease_end > ? AND lease_end <= ? GROUP BY team ORDER BY team`),
		unixNanos(now), unixNanos(now.Add(within)))
	if err != nil {
		return g, fmt.Errorf("count leases ending: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var team string
		var n int64
		if err := rows.Scan(&team, &n); err != nil {
			return g, fmt.Errorf("count leases ending: %w", err)
		}
		g.LeasesEnding[team] = n
	}
	return g, rows.Err()
}
