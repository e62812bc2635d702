package main

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/store/storetest"
	"github.com/opsbot/opsbot/workflows"
)

// tightData gives team data (over_budget: deny) a budget of budget
// dollars, both leads as approvers, and an auto-approve ceiling of $0.10,
// so a 26-hour test-small ($0.60) waits for an approver.
func tightData(budget string) func(string) string {
	return func(cfg string) string {
		cfg = strings.Replace(cfg, "approvers: [U0LEAD]\n    monthly_budget_usd: 20", "approvers: [U0LEAD, lead2@example.com]\n    monthly_budget_usd: "+budget, 1)
		return strings.Replace(cfg, "financial: {auto_approve_below_usd: 5, over_budget: deny}", "financial: {auto_approve_below_usd: 0.1, over_budget: deny}", 1)
	}
}

// The report: a $1.50 budget that denies overruns, three $0.60 requests,
// the approver approves every one he is shown. Before reservations all
// three launched ($1.79 committed). Now the open requests hold their
// estimates, so the third is refused when it is made, with the numbers,
// and at most two launch.
func TestBudget_OpenRequestsReserve_ThirdOfThreeRefusedWithNumbers(t *testing.T) {
	h := newEditedHarness(t, tightData("1.5"))
	for _, want := range []string{"srv-1 is waiting for approval", "srv-2 is waiting for approval"} {
		mustContain(t, "request", h.ops(analyst, "server request test-small for 26h"), want)
	}
	third := h.ops(analyst, "server request test-small for 26h")
	mustContain(t, "third request", third, "srv-3 was refused", "$0.30 over its budget for 2026-11",
		"budget $1.50, $0.00 committed, $1.20 reserved by 2 open requests, this request $0.60", "denies requests over budget")
	mustContain(t, "budget", h.ops(analyst, "budget"), "Reserved by open requests", "$1.20 (2)", "Remaining", "$0.30")

	// The approver approves everything in the channel.
	h.drain()
	for _, m := range h.channelMessages("data-approvals") {
		for _, id := range []string{"apr-1", "apr-2", "apr-3"} {
			if strings.Contains(messageText(m), id) {
				h.click(lead, m, workflows.ActApprove, id)
			}
		}
	}
	h.settle()
	if n := len(h.ec2.Instances()); n != 2 {
		t.Fatalf("%d instances launched, want 2", n)
	}
	if got := h.committed("data"); got > workflows.USD(1.5) {
		t.Fatalf("committed %s, over the $1.50 budget", got)
	}
	if r := h.request("srv-3"); r.State != workflows.StateDenied {
		t.Fatalf("srv-3 is %s", r.State)
	}
	// Approved, the reservations became commitments: nothing is held twice.
	mustContain(t, "budget after", h.ops(analyst, "budget"), "$0.00 (0)", "$1.20")
}

// A decision re-checks the budget in the transaction that records it.
// Reservations made under a bigger budget (here: the config is reloaded
// with a smaller one) cannot all be approved: the click that would go
// over is refused with the numbers and records nothing; open requests keep
// their place in line; budget given back lets the next one through.
func TestBudget_DecisionRechecksTheBudget_RefusedWithNumbers(t *testing.T) {
	h := newEditedHarness(t, tightData("1.5"))
	h.ops(analyst, "server request test-small for 26h first")
	h.ops(analyst, "server request test-small for 26h second")
	h.drain()
	h.edit = tightData("1")
	h.restart()
	msgs := h.channelMessages("data-approvals")

	// srv-1 came first and holds its $0.60: srv-2 does not fit beside it.
	h.click(lead, msgs[1], workflows.ActApprove, "apr-2")
	mustContain(t, "out of turn", h.lastResponse(), "Approving srv-2 would take team data $0.20 over its budget for 2026-11",
		"budget $1.00, $0.00 committed, $0.60 reserved by 1 open request, this request $0.60", "Nothing was approved", "apr-2 stays open")
	h.click(lead, msgs[0], workflows.ActApprove, "apr-1")
	mustContain(t, "first", h.lastResponse(), "You approved srv-1")
	h.click(lead2, msgs[1], workflows.ActApprove, "apr-2")
	mustContain(t, "over", h.lastResponse(), "Approving srv-2 would take team data $0.20 over",
		"budget $1.00, $0.60 committed, nothing reserved by open requests, this request $0.60")
	h.settle()
	if n := len(h.ec2.Instances()); n != 1 {
		t.Fatalf("%d instances, want 1", n)
	}
	if got := h.committed("data"); got != h.request("srv-1").Estimate {
		t.Fatalf("committed %s, want srv-1's %s", got, h.request("srv-1").Estimate)
	}
	if r := h.request("srv-2"); r.State != workflows.StatePending {
		t.Fatalf("srv-2 is %s after refused clicks", r.State)
	}
	var votes []workflows.Decision
	if err := h.app.DB.View(t.Context(), func(tx workflows.Tx) (err error) {
		votes, err = tx.Decisions("apr-2")
		return err
	}); err != nil || len(votes) != 0 {
		t.Fatalf("refused clicks recorded %d votes (%v)", len(votes), err)
	}

	// srv-1 given back: its unused budget returns and srv-2 fits.
	h.ops(analyst, "lease release srv-1")
	h.settle()
	h.click(lead2, msgs[1], workflows.ActApprove, "apr-2")
	mustContain(t, "after release", h.lastResponse(), "You approved srv-2")
	h.settle()
	if r := h.request("srv-2"); r.State != workflows.StateRunning {
		t.Fatalf("srv-2 is %s", r.State)
	}
}

// Two approvers approve two open requests at the same instant, on a
// budget with room for one: one commits, the other is refused, on either
// engine.
func TestBudget_ConcurrentApprovals_NeverOverTheBudget(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			var dsn []string
			if engine == "postgres" {
				dsn = append(dsn, storetest.FreshPostgres(t))
			}
			h := newEditedHarness(t, tightData("1.5"), dsn...)
			h.ops(analyst, "server request test-small for 26h")
			h.ops(analyst, "server request test-small for 26h")
			h.drain()
			h.edit = tightData("1")
			h.restart()
			msgs := h.channelMessages("data-approvals")
			var wg sync.WaitGroup
			for _, c := range []struct{ who, id string }{{lead, "apr-1"}, {lead2, "apr-2"}, {lead2, "apr-1"}, {lead, "apr-2"}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m := msgs[0]
					if c.id == "apr-2" {
						m = msgs[1]
					}
					req, err := h.slack.BlockAction(testSecret, slackfake.Click{User: c.who, Channel: m.Channel, MessageTS: m.TS, ActionID: workflows.ActApprove, Value: c.id})
					if err != nil {
						t.Error(err)
						return
					}
					replica{h.app, h.srv}.deliver(t, h, req)
				}()
			}
			wg.Wait()
			h.app.Bot.Wait()
			h.settle()
			if n := len(h.ec2.CallsOf("RunInstances")); n != 1 {
				t.Fatalf("%d launches, want 1", n)
			}
			if got := h.committed("data"); got > workflows.USD(1) {
				t.Fatalf("committed %s over the $1.00 budget", got)
			}
		})
	}
}

// The estimate is the whole lease: after an extension it covers the new
// end, so "so far of estimated" compares like with like.
func TestEstimate_FollowsExtensions(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	h.ops(dev, "lease extend srv-1 2d")
	h.drain()
	got := h.request("srv-1")
	if want := got.HourlyRate.For(72); got.Estimate != want {
		t.Fatalf("estimate %s after extending to 3d, want %s (was %s)", got.Estimate, want, r.Estimate)
	}
	// An approved extension moves it too.
	h.ops(dev, "lease extend srv-1 5d")
	h.drain()
	approvals := h.channelMessages("platform-approvals")
	h.click(lead, approvals[len(approvals)-1], workflows.ActApprove, "apr-1")
	h.drain()
	got = h.request("srv-1")
	if want := got.HourlyRate.For(8 * 24); got.Estimate != want {
		t.Fatalf("estimate %s after an approved extension to 8d, want %s", got.Estimate, want)
	}
	h.advance(6 * 24 * time.Hour)
	dms := h.dms(dev)
	mustContain(t, "lease DM", messageText(dms[0]), "of "+got.Estimate.String()+" estimated")
	if cost := got.CostSoFar(h.clock.Now()); cost > got.Estimate {
		t.Errorf("cost so far %s is over the estimate %s", cost, got.Estimate)
	}
}

// buttonValue returns the value of the first button with actionID in m.
func buttonValue(t *testing.T, m slackfake.Message, actionID string) string {
	t.Helper()
	var blocks []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		for _, e := range b.Elements {
			if strings.HasPrefix(e.ActionID, actionID) {
				return e.Value
			}
		}
	}
	t.Fatalf("no %s button in %s", actionID, messageText(m))
	return ""
}

// A double click on "Extend 1 day", or a click replayed, extends once and
// commits once: the button carries the lease end it was drawn for.
func TestExtendButton_DoubleClickExtendsOnce(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	dm := h.dms(dev)[0]
	value := buttonValue(t, dm, workflows.ActLeaseExtend)
	committed := h.committed("platform")

	h.click(dev, dm, workflows.ActLeaseExtend, value)
	mustContain(t, "first click", h.lastResponse(), "srv-1 extended by 1d")
	h.click(dev, dm, workflows.ActLeaseExtend, value)
	mustContain(t, "second click", h.lastResponse(), "srv-1's lease changed since this button was drawn",
		"now ends Tue 24 Nov 10:00 CET, not Mon 23 Nov 10:00 CET", "Nothing was changed")
	h.drain()
	got := h.request("srv-1")
	if !got.LeaseEnd.Equal(r.LeaseEnd.Add(24 * time.Hour)) {
		t.Fatalf("lease end %s, want one day more than %s", got.LeaseEnd, r.LeaseEnd)
	}
	var exts []workflows.Extension
	if err := h.app.DB.View(t.Context(), func(tx workflows.Tx) (err error) {
		exts, err = tx.Extensions("srv-1")
		return err
	}); err != nil || len(exts) != 1 {
		t.Fatalf("%d extensions recorded (%v), want 1", len(exts), err)
	}
	if extra := h.committed("platform") - committed; extra != r.HourlyRate.For(24) {
		t.Fatalf("committed %s more, want one day (%s)", extra, r.HourlyRate.For(24))
	}
	// The edited message carries a button bound to the new end.
	if v := buttonValue(t, h.dms(dev)[0], workflows.ActLeaseExtend); v == value {
		t.Fatalf("the message still carries the old button %q", v)
	}
}

// A request still waiting for approvers can be withdrawn with `lease
// release`: its approval is closed and its reservation freed at once,
// instead of holding the team's budget until the approval expires.
func TestBudget_WithdrawnRequestFreesItsReservation(t *testing.T) {
	h := newEditedHarness(t, tightData("1.5"))
	h.ops(analyst, "server request test-small for 26h")
	h.ops(analyst, "server request test-small for 26h")
	mustContain(t, "full", h.ops(analyst, "server request test-small for 26h"), "srv-3 was refused")

	mustContain(t, "withdraw", h.ops(analyst, "lease release srv-1"), "srv-1 was withdrawn", "budget it reserved is free again")
	h.drain()
	if r := h.request("srv-1"); r.State != workflows.StateWithdrawn {
		t.Fatalf("srv-1 is %s", r.State)
	}
	mustContain(t, "budget", h.ops(analyst, "budget"), "$0.60 (1)")
	mustContain(t, "approval message", messageText(h.channelMessages("data-approvals")[0]), "srv-1: closed", "withdrawn")
	// A click from a stale copy of the message (the buttons are gone from
	// the edited one) decides nothing.
	if _, err := h.app.Servers.Decide(t.Context(), workflows.Person{SlackID: lead, Email: "lead@example.com"}, "apr-1", true, ""); workflows.ErrorCode(err) != workflows.EConflict {
		t.Fatalf("approving a withdrawn request: %v, want a conflict", err)
	}
	mustContain(t, "room again", h.ops(analyst, "server request test-small for 26h"), "srv-4 is waiting for approval")
	if got := h.committed("data"); got != 0 {
		t.Fatalf("committed %s", got)
	}
}

// An extension waiting for approvers reserves its cost, and the approving
// vote re-checks it like a launch: over a deny budget it is refused with
// the numbers and the lease does not move.
func TestBudget_ExtensionApprovalRechecksTheBudget(t *testing.T) {
	budget := func(dollars string) func(string) string {
		return func(cfg string) string {
			cfg = tightData(dollars)(cfg)
			return strings.Replace(cfg, "financial: {auto_approve_below_usd: 0.1, over_budget: deny}", "financial: {auto_approve_below_usd: 1, over_budget: deny}", 1)
		}
	}
	h := newEditedHarness(t, budget("6"))
	h.ops(analyst, "server request test-small for 1d")
	h.settle()
	// Longer than max_lease (7d): an approver decides; $4.41 is reserved.
	mustContain(t, "extend", h.ops(analyst, "lease extend srv-1 8d"), "needs an approver")
	mustContain(t, "reserved", h.ops(analyst, "budget"), "$4.41 (1)")
	end := h.request("srv-1").LeaseEnd
	h.drain()
	h.edit = budget("4")
	h.restart()
	msgs := h.channelMessages("data-approvals")
	h.click(lead, msgs[len(msgs)-1], workflows.ActApprove, "apr-1")
	mustContain(t, "click", h.lastResponse(), "Approving extending srv-1 by 8d would take team data $0.97 over its budget",
		"budget $4.00, $0.55 committed, nothing reserved by open requests, this extension $4.41", "Nothing was approved")
	h.drain()
	if r := h.request("srv-1"); !r.LeaseEnd.Equal(end) {
		t.Fatalf("the lease moved to %s", r.LeaseEnd)
	}
}
