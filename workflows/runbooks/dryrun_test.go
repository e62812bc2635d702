package runbooks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// TestDryRun_TheEndpointIsNeverCalled: with OPSBOT_DRY_RUN opsbot makes
// no outside change, but a runbook's endpoint (a restart, a promotion)
// was called for real. Now a run is asked, approved and recorded as
// usual, and instead of the call it ends as dry_run: nothing is posted
// to the endpoint, the asker reads that it was not called, and the audit
// log says so. A callback for it is refused like one for any finished
// run.
func TestDryRun_TheEndpointIsNeverCalled(t *testing.T) {
	w := newWorld(t)
	w.svc.DryRun = true
	ctx := context.Background()
	r := start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "view:V1")
	p := start(t, w, dev, "promote-build", map[string]string{"build": "b-1"}, "view:V2")
	if _, err := w.svc.Decide(ctx, lead, p.ID, true); err != nil {
		t.Fatal(err)
	}
	w.drain()
	if n := len(w.caller.calls); n != 0 {
		t.Fatalf("dry run called the endpoint %d times", n)
	}
	ms := w.messages()
	for _, id := range []string{r.ID, p.ID} {
		got := w.run(id)
		if got.State != runbooks.StateDryRun || got.Attempts != 0 || !got.State.Final() {
			t.Errorf("%s: %+v", id, got)
		}
		m := byKey(t, ms, "run:"+id)
		if !strings.Contains(m.Title, "not called (dry run)") || !strings.Contains(m.Text, "was not called") {
			t.Errorf("%s's message: %s / %s", id, m.Title, m.Text)
		}
	}
	golden(t, "run_dry_run", byKey(t, ms, "run:"+r.ID))
	log := strings.Join(w.audit(), "\n")
	if !strings.Contains(log, "opsbot runbook.dry_run run-1 restart-service") || strings.Contains(log, "runbook.done") {
		t.Errorf("audit log:\n%s", log)
	}
	// A replayed job calls nothing either.
	if err := w.svc.Handlers()[runbooks.JobCall](ctx, workflows.Job{Kind: runbooks.JobCall, Payload: r.ID}); err != nil || len(w.caller.calls) != 0 {
		t.Fatalf("replayed job: %v, %d calls", err, len(w.caller.calls))
	}
}
