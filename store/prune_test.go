package store

import (
	"context"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestPruneIntake_ForgetsOnlySlackKeysPastTheWindow(t *testing.T) {
	forEachDB(t, testPruneIntake_ForgetsOnlySlackKeysPastTheWindow)
}

func testPruneIntake_ForgetsOnlySlackKeysPastTheWindow(t *testing.T, db *DB) {
	marks := map[string]time.Time{
		"slack-request:v0=old":    t0,
		"slack-envelope:e-old":    t0.Add(time.Hour),
		"slack-event:Ev-old":      t0.Add(2 * time.Hour),
		"slack-trigger:tr-old":    t0,
		"slack-view:V-old":        t0,
		"slack-request:v0=recent": t0.Add(25 * time.Hour),
		"slack-event:Ev-edge":     t0.Add(24 * time.Hour), // exactly IntakeKeep before now: kept
		"remind:srv-1:24h":        t0,                     // a reminder went out for good
		"pd-event:Q1":             t0,
		"slack-requestx":          t0, // not a Slack request key
	}
	update(t, db, func(tx workflows.Tx) error {
		for k, at := range marks {
			if _, err := tx.MarkSent(k, at); err != nil {
				return err
			}
		}
		return nil
	})
	now := t0.Add(48 * time.Hour)
	n, err := workflows.PruneIntake(context.Background(), db, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("pruned %d keys, want 5", n)
	}
	for k := range marks {
		var fresh bool
		update(t, db, func(tx workflows.Tx) (err error) {
			fresh, err = tx.MarkSent(k, now)
			return err
		})
		wantGone := k != "slack-request:v0=recent" && k != "slack-event:Ev-edge" && k != "remind:srv-1:24h" && k != "pd-event:Q1" && k != "slack-requestx"
		if fresh != wantGone {
			t.Errorf("%s: pruned = %v, want %v", k, fresh, wantGone)
		}
	}
	// Again at the same instant: nothing more to do.
	if n, err := workflows.PruneIntake(context.Background(), db, now); err != nil || n != 0 {
		t.Fatalf("second prune: %d, %v", n, err)
	}
}

func TestForgetBefore_RefusesWildcards(t *testing.T) { forEachDB(t, testForgetBefore_RefusesWildcards) }

func testForgetBefore_RefusesWildcards(t *testing.T, db *DB) {
	update(t, db, func(tx workflows.Tx) error {
		if _, err := tx.MarkSent("remind:x", t0); err != nil {
			return err
		}
		for _, p := range []string{"", "%", "re_ind:", `a\`} {
			if _, err := tx.ForgetBefore(p, t0.Add(time.Hour)); err == nil {
				t.Errorf("ForgetBefore(%q) accepted", p)
			}
		}
		return nil
	})
}
