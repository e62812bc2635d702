package runbooks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/audit"
)

// `/ops audit run-N`: a run's entries, for its team's approvers and the
// admins; a run of an admin outside the runbook's teams belongs to no
// team, and only admins read it.
func TestAuditByRun(t *testing.T) {
	w := newWorld(t)
	start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "")
	start(t, w, admin, "rotate-keys", nil, "")
	w.drain()
	svc := &audit.Service{Store: w.db, Log: w.db, Catalog: w.cat, Clock: w.clock}
	read := func(p workflows.Person, subject string) (*audit.Page, error) {
		return svc.Read(context.Background(), p, audit.Query{Subject: subject})
	}
	page, err := read(lead, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range page.Entries {
		if e.Subject != "run-1" {
			t.Errorf("entry about %s in run-1's log", e.Subject)
		}
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); got != "runbook.done runbook.run" {
		t.Fatalf("run-1's log: %s", got)
	}
	for _, c := range []struct {
		p       workflows.Person
		subject string
		want    string
	}{
		{lead, "run-2", "run-2 belongs to no team"},
		{ana, "run-1", "shown to opsbot's admins and to teams' approvers"},
		{lead, "run-99", `There is no server, approval, incident or runbook run "run-99"`},
	} {
		if _, err := read(c.p, c.subject); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s reads %s: %v, want %q", c.p.SlackID, c.subject, err, c.want)
		}
	}
	if page, err := read(admin, "run-2"); err != nil || len(page.Entries) != 2 {
		t.Fatalf("admin reads run-2: %v", err)
	}
}
