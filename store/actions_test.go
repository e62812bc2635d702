package store

import (
	"errors"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestActions_SaveListAndDone(t *testing.T) { forEachDB(t, testActions_SaveListAndDone) }

func testActions_SaveListAndDone(t *testing.T, db *DB) {
	update(t, db, func(tx workflows.Tx) error {
		if err := tx.CreateIncident(&workflows.Incident{ID: "inc-1", Title: "t", Severity: workflows.Sev2, Status: workflows.StatusResolved, Team: "platform", CreatedAt: t0}); err != nil {
			return err
		}
		for _, a := range []*workflows.ActionItem{
			{ID: "act-1", IncidentID: "inc-1", Text: "Add an index", Owner: workflows.Person{SlackID: "U0DEV", Email: "dev@example.com"}, Due: t0.Add(72 * time.Hour), CreatedBy: "U0DEV", CreatedAt: t0},
			{ID: "act-2", IncidentID: "inc-1", Text: "Alert on p99", CreatedBy: "U0DEV", CreatedAt: t0.Add(time.Minute)},
		} {
			if err := tx.SaveAction(a); err != nil {
				return err
			}
		}
		a, err := tx.Action("act-2")
		if err != nil {
			return err
		}
		a.DoneAt = t0.Add(time.Hour)
		return tx.SaveAction(a)
	})
	view(t, db, func(tx workflows.Tx) error {
		all, err := tx.Actions("inc-1")
		if err != nil {
			return err
		}
		open, err := tx.Actions("")
		if err != nil {
			return err
		}
		if len(all) != 2 || len(open) != 1 || open[0].ID != "act-1" || !open[0].Due.Equal(t0.Add(72*time.Hour)) || open[0].Owner.Email != "dev@example.com" {
			t.Errorf("all %+v, open %+v", all, open)
		}
		if !all[1].Done() {
			t.Errorf("act-2 not done: %+v", all[1])
		}
		if _, err := tx.Action("act-9"); !errors.Is(err, workflows.ErrNotFound) {
			t.Errorf("Action(act-9) = %v, want ErrNotFound", err)
		}
		return nil
	})
}
