package runbooks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// offboard marks p offboarded, as /ops offboard does, while the config
// still names them.
func (w *world) offboard(p workflows.Person) {
	w.t.Helper()
	err := w.db.Update(context.Background(), func(tx workflows.Tx) error {
		for _, k := range workflows.OffboardKeys(p) {
			if _, err := tx.MarkSent(k, w.clock.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// TestOffboarded_RunNoRunbookAndDecideNoRun attacks the offboarding
// promise ("opsbot takes no decision or action from them, even while the
// config still names them") through runbooks: an offboarded member who
// opens a runbook's form or submits it, and an offboarded approver who
// approves a run, are refused with the reason; nothing runs, the refusal
// is audited and the run still waits for another approver.
func TestOffboarded_RunNoRunbookAndDecideNoRun(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := start(t, w, dev2, "promote-build", map[string]string{"build": "b-1"}, "view:V1")
	w.drain()
	w.messages()
	w.offboard(dev)
	w.offboard(lead)
	if _, err := w.svc.Form(ctx, dev, "restart-service"); workflows.ErrorCode(err) != workflows.EForbidden || !strings.Contains(err.Error(), "offboarded") {
		t.Errorf("an offboarded member opened the form: %v", err)
	}
	if _, err := w.svc.Start(ctx, dev, "restart-service", map[string]string{"service": "api"}, "", "view:V2"); workflows.ErrorCode(err) != workflows.EForbidden || !strings.Contains(err.Error(), "offboarded") {
		t.Errorf("an offboarded member ran a runbook: %v", err)
	}
	if _, err := w.svc.Decide(ctx, lead, r.ID, true); workflows.ErrorCode(err) != workflows.EForbidden || !strings.Contains(err.Error(), "offboarded") {
		t.Errorf("an offboarded approver decided: %v", err)
	}
	w.drain()
	if len(w.caller.calls) != 0 || len(w.messages()) != 0 {
		t.Fatal("a refusal called the endpoint or told someone")
	}
	if got := w.run(r.ID); got.State != runbooks.StatePending || got.Approver != (workflows.Person{}) {
		t.Fatalf("the run changed: %+v", got)
	}
	log := strings.Join(w.audit(), "\n")
	if strings.Count(log, "runbook.refuse") != 2 || !strings.Contains(log, "runbook.decide.refuse "+r.ID) || strings.Count(log, "runbook.run") != 1 {
		t.Errorf("audit:\n%s", log)
	}
	// Another approver still decides it.
	if _, err := w.svc.Decide(ctx, lead2, r.ID, true); err != nil {
		t.Fatal(err)
	}
}

// TestOffboarded_TheirWaitingRunIsNotApproved attacks offboarding from
// the other side: a run asked for by someone who was offboarded while it
// waited for an approver must not run on their behalf (as their waiting
// server requests are withdrawn). Approve is refused with the reason;
// Deny closes it.
func TestOffboarded_TheirWaitingRunIsNotApproved(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := start(t, w, dev, "promote-build", map[string]string{"build": "b-1"}, "view:V1")
	w.drain()
	w.messages()
	w.offboard(dev)
	if _, err := w.svc.Decide(ctx, lead, r.ID, true); workflows.ErrorCode(err) != workflows.EConflict || !strings.Contains(err.Error(), "offboarded") {
		t.Errorf("approved a departed person's run: %v", err)
	}
	w.drain()
	if len(w.caller.calls) != 0 || w.run(r.ID).State != runbooks.StatePending {
		t.Fatalf("the run went ahead: %d calls, %s", len(w.caller.calls), w.run(r.ID).State)
	}
	if _, err := w.svc.Decide(ctx, lead, r.ID, false); err != nil {
		t.Fatalf("deny: %v", err)
	}
	if got := w.run(r.ID).State; got != runbooks.StateDenied {
		t.Fatalf("after deny: %s", got)
	}
}
