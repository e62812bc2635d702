package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// leaseTables are the tables that say what opsbot believes about servers
// and money. Dry run must leave them as they were; the audit log, the
// outbox and the "sent" keys record the reports and may grow.
var leaseTables = []string{"requests", "extensions", "approvals", "decisions", "ledger"}

// dump reads every row of the lease tables, one line per row, so two
// dumps compare with ==, leaving out the scheduler's due times. Rows that mention one of skip (a request ID) are
// left out.
func (h *harness) dump(skip ...string) string {
	h.t.Helper()
	db, err := sql.Open("sqlite", "file:"+h.db+"?mode=ro")
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	for _, table := range leaseTables {
		rows, err := db.QueryContext(context.Background(), "SELECT * FROM "+table+" ORDER BY 1")
		if err != nil {
			h.t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
	row:
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				h.t.Fatalf("dump %s: %v", table, err)
			}
			line := table + ":"
			for i, v := range vals {
				if cols[i] == "next_due_at" {
					continue // when the scheduler looks next, not what opsbot believes
				}
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				line += fmt.Sprintf(" %s=%v", cols[i], v)
			}
			for _, s := range skip {
				if strings.Contains(line, "="+s+" ") || strings.HasSuffix(line, "="+s) {
					continue row
				}
			}
			b.WriteString(line + "\n")
		}
		if err := rows.Close(); err != nil {
			h.t.Fatal(err)
		}
	}
	return b.String()
}

// TestDryRun_WholeLeaseChangesNoRecord runs two leases launched for real
// (one under a stop policy, one under terminate) through a restart into
// dry run, their warnings, their ends, ticks after the ends,
// reconciliation and a release, comparing the lease tables after every
// step. Before, the stop policy recorded "stopped" while EC2 ran on (and
// reconciliation flipped it back), and the terminate policy closed the
// lease and gave its budget back while the instance kept running.
func TestDryRun_WholeLeaseChangesNoRecord(t *testing.T) {
	h := newHarness(t)
	stopper := h.launched("test-small for 2d") // platform: stop, 30m grace
	h.ops(analyst, "server request test-small for 1d")
	h.settle()
	terminator := h.request("srv-2") // data: terminate, no grace
	if stopper.State != workflows.StateRunning || terminator.State != workflows.StateRunning {
		t.Fatalf("not running: %s %s", stopper.State, terminator.State)
	}

	h.dry = true
	h.restart()
	before := h.dump()
	same := func(step string) {
		t.Helper()
		if got := h.dump(); got != before {
			t.Fatalf("%s changed the records:\nbefore:\n%s\nafter:\n%s", step, before, got)
		}
		for _, id := range []string{stopper.Instance.ID, terminator.Instance.ID} {
			if in, _ := h.ec2.Instance(id); in.State != ec2fake.Running {
				t.Fatalf("%s: %s is %s in EC2", step, id, in.State)
			}
		}
	}

	// The warning still goes out, marked dry run.
	h.advance(stopper.LeaseEnd.Sub(h.clock.Now()) - 24*time.Hour)
	warn := h.dms(dev)[len(h.dms(dev))-1]
	mustContain(t, "warning", messageText(warn), "lease ends in 1d", "Dry run")
	same("the 24h warning")

	// srv-2's lease ends: terminate is checked, reported once, not made.
	h.advance(terminator.LeaseEnd.Sub(h.clock.Now()) + time.Minute)
	same("the end of the terminate lease")
	terms := h.ec2.CallsOf("TerminateInstances")
	if len(terms) != 1 || !terms[0].DryRun {
		t.Fatalf("TerminateInstances calls %+v, want one dry run", terms)
	}
	anaDMs := len(h.dms(analyst))
	mustContain(t, "terminate report", messageText(h.dms(analyst)[anaDMs-1]), "Dry run: srv-2 would have been terminated", terminator.Instance.ID, "stays running")

	// srv-1's lease ends, and its grace: the stop is checked, not made.
	h.advance(stopper.LeaseEnd.Add(30*time.Minute).Sub(h.clock.Now()) + time.Minute)
	same("the end of the stop lease")
	stops := h.ec2.CallsOf("StopInstances")
	if len(stops) != 1 || !stops[0].DryRun {
		t.Fatalf("StopInstances calls %+v, want one dry run", stops)
	}
	devDMs := len(h.dms(dev))
	mustContain(t, "stop report", messageText(h.dms(dev)[devDMs-1]), "Dry run: srv-1 would have been stopped", "stays running")

	// Ticks after the end neither repeat the report nor ask EC2 again,
	// and reconciliation finds nothing to flip.
	for i := 0; i < 5; i++ {
		h.advance(time.Minute)
		if _, err := h.app.Servers.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		h.drain()
	}
	same("ticks and reconciliation after the ends")
	if len(h.dms(dev)) != devDMs || len(h.dms(analyst)) != anaDMs {
		t.Fatalf("the report repeated: %d/%d DMs, want %d/%d", len(h.dms(dev)), len(h.dms(analyst)), devDMs, anaDMs)
	}
	if n, m := len(h.ec2.CallsOf("StopInstances")), len(h.ec2.CallsOf("TerminateInstances")); n != 1 || m != 1 {
		t.Fatalf("EC2 asked again: %d stops, %d terminations", n, m)
	}
	// A restart does not repeat it either.
	h.restart()
	h.advance(time.Minute)
	if len(h.dms(dev)) != devDMs {
		t.Fatal("the report repeated after a restart")
	}

	// A release is checked and reported, and gives nothing back.
	mustContain(t, "release reply", h.ops(dev, "lease release srv-1"), "Dry run: srv-1 would be given back")
	h.drain()
	same("a release")
	mustContain(t, "release report", messageText(h.dms(dev)[len(h.dms(dev))-1]), "Dry run: srv-1 would have been terminated")

	// A dry-run launch records its own request, closed at once with its
	// budget given back in full; nothing else changes.
	committed := h.committed("platform")
	mustContain(t, "dry launch", h.ops(dev, "server request test-small for 1d"), "srv-3")
	h.settle()
	if got := h.dump("srv-3"); got != before {
		t.Fatalf("a dry-run launch changed other records:\nbefore:\n%s\nafter:\n%s", before, got)
	}
	if r := h.request("srv-3"); r.State != workflows.StateTerminated || !strings.Contains(r.StateReason, "dry run") {
		t.Fatalf("dry-run request is %s (%s)", r.State, r.StateReason)
	}
	if got := h.committed("platform"); got != committed {
		t.Fatalf("committed %s after a dry-run launch, was %s", got, committed)
	}
	if n := len(h.ec2.Instances()); n != 2 {
		t.Fatalf("%d instances, want the 2 launched before dry run", n)
	}
}

// TestDryRun_RunbookEndpointNotCalled: dry run makes no outside change,
// yet a runbook's endpoint was called for real (a restart made). Now the
// run is asked through its form and recorded, and ends "not called (dry
// run)" with no request to the endpoint.
func TestDryRun_RunbookEndpointNotCalled(t *testing.T) {
	ep := &rbEndpoint{}
	es := httptest.NewServer(ep)
	defer es.Close()
	t.Setenv("OPSBOT_TEST_RB_SECRET", rbSecret)
	h := newUnbootedHarness(t)
	h.edit = runbooksConfig(es.URL)
	h.dry = true
	h.boot()
	h.ops(dev, "run restart-service")
	v := h.runbookModal(dev)
	req, err := h.slack.ViewSubmission(testSecret, dev, v.ID, map[string]map[string]slackfake.InputValue{
		"service": {"service": {Type: "static_select", Value: "api"}}})
	h.send(req, err)
	h.drain()
	h.advance(time.Minute)
	if len(ep.calls) != 0 {
		t.Fatalf("dry run called the runbook's endpoint %d times", len(ep.calls))
	}
	var seen bool
	for _, m := range h.dms(dev) {
		seen = seen || strings.Contains(messageText(m), "run-1: restart-service not called (dry run)")
	}
	if !seen {
		t.Error("the asker was not told the run was not called")
	}
}
