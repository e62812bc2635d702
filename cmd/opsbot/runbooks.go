package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/opsbot/opsbot/integrations/runbook"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// EnvRunbookCallbackURL is opsbot's callback route as runbook endpoints
// reach it (https://opsbot.example.com/runbooks/callback); sent in every
// call's body. Unset: endpoints must know it themselves.
const EnvRunbookCallbackURL = "OPSBOT_RUNBOOK_CALLBACK_URL"

// buildRunbooks sets up the runbooks of the config (nil without any):
// their secrets come from the environment variables the config names.
func (a *App) buildRunbooks(deps Deps, handlers map[string]workflows.JobHandler) (*runbooks.Service, error) {
	if len(a.Config.Runbooks) == 0 {
		return nil, nil
	}
	getenv := deps.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	secrets, err := a.Config.RunbookSecrets(getenv)
	if err != nil {
		return nil, err
	}
	cb := strings.TrimSpace(getenv(EnvRunbookCallbackURL))
	if cb != "" && !strings.HasPrefix(cb, "http://") && !strings.HasPrefix(cb, "https://") {
		return nil, fmt.Errorf("%s=%q is not an http(s) URL", EnvRunbookCallbackURL, cb)
	}
	s := &runbooks.Service{Store: a.DB, Clock: a.Clock, Catalog: a.Config.Catalog, Runbooks: a.Config.Runbooks, Secrets: secrets,
		Caller:      &runbook.Client{HTTP: a.outsideClient(deps.HTTP, "runbooks", runbooks.MaxTimeout)},
		CallbackURL: cb, DryRun: a.Servers.DryRun, Log: a.Log.With("component", "runbooks"), Wake: a.Wake}
	for k, h := range s.Handlers() {
		handlers[k] = h
	}
	return s, nil
}

// runbookRoutes adds the signed callback route when runbooks are set up.
func (a *App) runbookRoutes(mux *http.ServeMux) {
	if a.Runbooks == nil {
		return
	}
	mux.Handle("POST "+runbook.CallbackPath, &runbook.Handler{Receive: a.Runbooks, Log: a.Log.With("component", "runbooks")})
}

// runbooksTick times out the runs accepted by their endpoint whose final
// callback did not come by their deadline.
func (a *App) runbooksTick(ctx context.Context) error {
	n, err := a.Runbooks.Tick(ctx)
	a.Metrics.observeTick("runbooks", err)
	if n > 0 {
		a.Log.InfoContext(ctx, "runbook runs timed out", "runs", n)
	}
	return err
}
