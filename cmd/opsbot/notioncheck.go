package main

import (
	"context"
	"sync"
	"time"

	"github.com/opsbot/opsbot/integrations/notion"
)

// notionCheckEvery bounds how often /readyz asks Notion about the
// post-mortem database (Notion allows about three requests a second).
const notionCheckEvery = 5 * time.Minute

// notionCheck remembers the last check of the post-mortem database, for
// the log at start and /readyz's detail.
type notionCheck struct {
	mu    sync.Mutex
	at    time.Time
	setup notion.Setup
	err   error
}

// checkNotion checks the Notion database now and logs what it found: a
// set-up problem is named at start, not at the first post-mortem.
func (a *App) checkNotion(ctx context.Context) (notion.Setup, error) {
	setup, err := a.Notion.CheckSetup(ctx)
	a.notionCheck.mu.Lock()
	a.notionCheck.at, a.notionCheck.setup, a.notionCheck.err = a.Clock.Now(), setup, err
	a.notionCheck.mu.Unlock()
	switch {
	case err != nil:
		a.Log.WarnContext(ctx, "notion: cannot check the post-mortem database", "err", err)
	case !setup.OK():
		a.Log.ErrorContext(ctx, "notion: the post-mortem database is not set up; post-mortems wait until it is", "problems", setup.String())
	case len(setup.Skipped) > 0:
		a.Log.WarnContext(ctx, "notion: the post-mortem database lacks optional properties", "detail", setup.String())
	}
	return setup, err
}

// notionDetail is the line /readyz adds about Notion: the last check, made
// again when it is older than notionCheckEvery.
func (a *App) notionDetail(ctx context.Context) string {
	a.notionCheck.mu.Lock()
	fresh := !a.notionCheck.at.IsZero() && a.Clock.Now().Sub(a.notionCheck.at) < notionCheckEvery
	setup, err := a.notionCheck.setup, a.notionCheck.err
	a.notionCheck.mu.Unlock()
	if !fresh {
		setup, err = a.checkNotion(ctx)
	}
	if err != nil {
		return "notion: not checked (" + err.Error() + ")"
	}
	return "notion: " + setup.String()
}
