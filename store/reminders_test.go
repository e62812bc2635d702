package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestRecordReminder_OncePerDueTimeUnderRaces(t *testing.T) {
	forEachDB(t, testRecordReminder_OncePerDueTimeUnderRaces)
}

// Many writers race to record the same (subject, kind, due): one wins.
// Other due times and kinds are their own reminders, and LastReminders
// reports the latest due time of each kind.
func testRecordReminder_OncePerDueTimeUnderRaces(t *testing.T, db *DB) {
	var won atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.Update(context.Background(), func(tx workflows.Tx) error {
				fresh, err := tx.RecordReminder("inc-1", "update", t0, t0.Add(time.Second))
				if fresh {
					won.Add(1)
				}
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := won.Load(); n != 1 {
		t.Fatalf("%d writers recorded the same reminder, want 1", n)
	}
	update(t, db, func(tx workflows.Tx) error {
		for _, r := range []struct {
			kind string
			due  time.Time
		}{{"update", t0.Add(30 * time.Minute)}, {"meeting", t0.Add(24 * time.Hour)}} {
			if fresh, err := tx.RecordReminder("inc-1", r.kind, r.due, r.due); err != nil || !fresh {
				t.Errorf("record %s at %s: %v, %v", r.kind, r.due, fresh, err)
			}
		}
		_, err := tx.RecordReminder("inc-2", "update", t0.Add(time.Hour), t0)
		return err
	})
	view(t, db, func(tx workflows.Tx) error {
		last, err := tx.LastReminders("inc-1")
		if err != nil {
			return err
		}
		if len(last) != 2 || !last["update"].Equal(t0.Add(30*time.Minute)) || !last["meeting"].Equal(t0.Add(24*time.Hour)) {
			t.Errorf("LastReminders = %v", last)
		}
		return nil
	})
}
