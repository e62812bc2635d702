package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// withIncidents creates bare incidents with these IDs.
func withIncidents(tx workflows.Tx, ids ...string) error {
	for _, id := range ids {
		if err := tx.CreateIncident(&workflows.Incident{ID: id, Status: workflows.StatusInvestigating, CreatedAt: t0}); err != nil {
			return err
		}
	}
	return nil
}

func TestTimeline_OrderedByTimeThenInsertion(t *testing.T) {
	forEachDB(t, testTimeline_OrderedByTimeThenInsertion)
}

func testTimeline_OrderedByTimeThenInsertion(t *testing.T, db *DB) {
	e := func(at time.Time, kind workflows.TimelineKind, text string) workflows.TimelineEntry {
		return workflows.TimelineEntry{IncidentID: "inc-1", At: at, Kind: kind, Actor: "U1", Text: text}
	}
	// Recorded out of time order, as PagerDuty log entries arrive late.
	in := []workflows.TimelineEntry{
		e(t0.Add(time.Minute), workflows.TLStatus, "b"),
		e(t0, workflows.TLDeclared, "a"),
		e(t0.Add(time.Minute), workflows.TLRole, "c"),
		{IncidentID: "inc-1", At: t0.Add(30 * time.Second), Kind: workflows.TLPagerDuty, Actor: "PagerDuty",
			Text: "acknowledged by Ada", Source: "pagerduty", ExternalID: "R1"},
		e(t0.Add(time.Minute), workflows.TLUpdate, "d ✓ \"quoted\""),
		{IncidentID: "inc-2", At: t0, Kind: workflows.TLNote, Text: "other incident"},
	}
	update(t, db, func(tx workflows.Tx) error {
		if err := withIncidents(tx, "inc-1", "inc-2"); err != nil {
			return err
		}
		for _, x := range in {
			if ok, err := tx.AddTimeline(x); err != nil || !ok {
				return fmt.Errorf("AddTimeline(%s) = %v, %v; want true", x.Text, ok, err)
			}
		}
		return nil
	})
	want := []workflows.TimelineEntry{in[1], in[3], in[0], in[2], in[4]}
	view(t, db, func(tx workflows.Tx) error {
		got, err := tx.Timeline("inc-1")
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("timeline =\n%+v\nwant\n%+v", got, want)
		}
		none, err2 := tx.Timeline("inc-9")
		if len(none) != 0 {
			t.Errorf("timeline of an unknown incident = %v, want none", none)
		}
		if err == nil {
			err = err2
		}
		return err
	})
}

func TestAddTimeline_ExternalEntriesRecordedOnce(t *testing.T) {
	forEachDB(t, testAddTimeline_ExternalEntriesRecordedOnce)
}

func testAddTimeline_ExternalEntriesRecordedOnce(t *testing.T, db *DB) {
	pd := func(incident, source, ext, text string) workflows.TimelineEntry {
		return workflows.TimelineEntry{IncidentID: incident, At: t0, Kind: workflows.TLPagerDuty, Text: text, Source: source, ExternalID: ext}
	}
	update(t, db, func(tx workflows.Tx) error { return withIncidents(tx, "inc-1", "inc-2") })
	for _, tc := range []struct {
		e    workflows.TimelineEntry
		want bool
	}{
		{pd("inc-1", "pagerduty", "R1", "first"), true},
		{pd("inc-1", "pagerduty", "R1", "first again, maybe reworded"), false},
		{pd("inc-1", "slack", "R1", "same ID from another source"), true},
		{pd("inc-2", "pagerduty", "R1", "same ID on another incident"), true},
		{pd("inc-1", "pagerduty", "R2", "next"), true},
		{pd("inc-1", "", "", "made here"), true},
		{pd("inc-1", "", "", "made here"), true}, // no ExternalID: never de-duplicated
		{pd("inc-1", "opsbot", "", "sourced but no ID"), true},
		{pd("inc-1", "opsbot", "", "sourced but no ID"), true},
	} {
		// Each in its own transaction, like webhook deliveries.
		update(t, db, func(tx workflows.Tx) error {
			ok, err := tx.AddTimeline(tc.e)
			if err == nil && ok != tc.want {
				t.Errorf("AddTimeline(%s) = %v, want %v", tc.e.Text, ok, tc.want)
			}
			return err
		})
	}
	view(t, db, func(tx workflows.Tx) error {
		got, err := tx.Timeline("inc-1")
		var texts []string
		for _, e := range got {
			texts = append(texts, e.Text)
		}
		want := []string{"first", "same ID from another source", "next", "made here", "made here", "sourced but no ID", "sourced but no ID"}
		if !reflect.DeepEqual(texts, want) {
			t.Errorf("timeline texts = %q, want %q", texts, want)
		}
		return err
	})
}

func TestAddTimeline_UnknownIncidentFailsTheUpdate(t *testing.T) {
	forEachDB(t, testAddTimeline_UnknownIncidentFailsTheUpdate)
}

func testAddTimeline_UnknownIncidentFailsTheUpdate(t *testing.T, db *DB) {
	err := db.Update(context.Background(), func(tx workflows.Tx) error {
		_, err := tx.AddTimeline(workflows.TimelineEntry{IncidentID: "inc-404", At: t0, Kind: workflows.TLNote, Text: "x"})
		return err
	})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "foreign key") {
		t.Fatalf("Update adding to an unknown incident = %v, want a foreign key error", err)
	}
	if n := count(t, db, "timeline"); n != 0 {
		t.Fatalf("timeline has %d rows, want 0", n)
	}
}

func TestTimeline_250Entries(t *testing.T) { forEachDB(t, testTimeline_250Entries) }

func testTimeline_250Entries(t *testing.T, db *DB) {
	var want []workflows.TimelineEntry
	for i := 0; i < 250; i++ {
		want = append(want, workflows.TimelineEntry{
			IncidentID: "inc-1",
			At:         t0.Add(time.Duration(i) * time.Second),
			Kind:       workflows.TLPinned,
			Actor:      fmt.Sprintf("U%03d", i%7),
			Text:       fmt.Sprintf("message %d: %s", i, strings.Repeat("x", i)),
			Source:     "slack",
			ExternalID: fmt.Sprintf("C1/1700000000.%06d", i),
		})
	}
	update(t, db, func(tx workflows.Tx) error {
		if err := withIncidents(tx, "inc-1"); err != nil {
			return err
		}
		// Written newest first, read back oldest first.
		for i := len(want) - 1; i >= 0; i-- {
			if ok, err := tx.AddTimeline(want[i]); err != nil || !ok {
				return fmt.Errorf("entry %d: %v, %v", i, ok, err)
			}
		}
		return nil
	})
	// Replaying them all records nothing new.
	update(t, db, func(tx workflows.Tx) error {
		for i, e := range want {
			ok, err := tx.AddTimeline(e)
			if err != nil {
				return err
			}
			if ok {
				t.Errorf("replayed entry %d recorded again", i)
			}
		}
		return nil
	})
	view(t, db, func(tx workflows.Tx) error {
		got, err := tx.Timeline("inc-1")
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("timeline of %d entries differs from the %d written", len(got), len(want))
		}
		return err
	})
}
