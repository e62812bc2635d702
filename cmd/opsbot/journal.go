package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/opsbot/opsbot/store/journal"
	"github.com/opsbot/opsbot/workflows"
)

// openJournal opens the intake journal for PagerDuty events beside a
// SQLite store's file (store/journal, docs/operations.md), and records
// what a stopped run left in it. It returns nil, and intake goes by
// transactions, on PostgreSQL (replicas on other machines cannot read
// each other's files), in memory, where file locks are missing, and
// when OPSBOT_INTAKE_JOURNAL=false.
func (a *App) openJournal(ctx context.Context, moved func(int), stamp func(context.Context, *workflows.Job)) (*journal.Journal, error) {
	file := a.DB.File()
	if file == "" || a.Env.NoIntakeJournal {
		return nil, nil
	}
	j, err := journal.Open(ctx, file+"-intake", journal.Options{
		Store: a.DB, Log: a.Log.With("component", "intake-journal"), Moved: moved, Stamp: stamp,
	})
	if errors.Is(err, journal.ErrUnsupported) {
		a.Log.Info("intake journal: not on this system; PagerDuty events are taken in by transactions")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open the intake journal: %w", err)
	}
	return j, nil
}

// moveJournal records in the store what the intake journal holds (the
// runner's Before: RunDue then sees every event taken in).
func (a *App) moveJournal(ctx context.Context) error {
	if a.Journal == nil {
		return nil
	}
	_, err := a.Journal.Move(ctx)
	return err
}
