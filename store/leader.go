package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// HoldLease makes holder the holder of the lease called name until
// until, if the lease is free, has expired at now, or is holder's
// already (a renewal). It reports whether holder holds it now. The check
// and the take are one statement, so two replicas campaigning at once
// never both win.
func (db *DB) HoldLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	var got string
	err := db.writeTx(ctx, "lease", sql.LevelReadCommitted, func(t *sql.Tx) error {
		err := t.QueryRowContext(ctx, db.q(`INSERT INTO leader_leases (name, holder, expires_at, since) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
				since = CASE WHEN leader_leases.holder = excluded.holder THEN leader_leases.since ELSE excluded.since END
			WHERE leader_leases.holder = excluded.holder OR leader_leases.expires_at <= ?
			RETURNING holder`), name, holder, unixNanos(until), unixNanos(now), unixNanos(now)).Scan(&got)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // another holder's lease runs
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("hold lease %s for %s: %w", name, holder, err)
	}
	return got == holder, nil
}

// ReleaseLease gives the lease called name up, if holder holds it, so
// another replica takes it over at its next try rather than at expiry.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	err := db.writeTx(ctx, "lease", sql.LevelReadCommitted, func(t *sql.Tx) error {
		_, err := t.ExecContext(ctx, db.q(`DELETE FROM leader_leases WHERE name = ? AND holder = ?`), name, holder)
		return err
	})
	if err != nil {
		return fmt.Errorf("release lease %s of %s: %w", name, holder, err)
	}
	return nil
}
