package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/store/storetest"
	"github.com/opsbot/opsbot/workflows"
)

// TestExtension_StoppedWithinTheLease_ApprovedExtends attacks the seam
// between parking and approvals: a server stopped within its lease may be
// extended (self-service does it), so an extension beyond policy that an
// approver approves must extend it too, not be voided at the click as if
// the server could no longer be extended.
func TestExtension_StoppedWithinTheLease_ApprovedExtends(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.advance(time.Hour)
	_, view := h.showServer(dev, r.ID)
	if _, ok := h.press(dev, view, r.ID+" stop"); !ok {
		t.Fatal("no Stop button")
	}
	h.drain()
	if got := h.request(r.ID); !got.Parked() {
		t.Fatalf("after Stop: %s", got.State)
	}
	mustContain(t, "extend", h.ops(dev, "lease extend "+r.ID+" 8d still needed"), "needs an approver")
	h.drain()
	msgs := h.channelMessages("platform-approvals")
	h.click(lead, msgs[len(msgs)-1], workflows.ActApprove, "apr-1")
	mustContain(t, "approve", h.lastResponse(), "You approved "+r.ID)
	h.drain()
	got := h.request(r.ID)
	if want := r.LeaseEnd.Add(8 * 24 * time.Hour); !got.LeaseEnd.Equal(want) {
		t.Fatalf("lease ends %s after the approved extension, want %s", got.LeaseEnd, want)
	}
	if got.State != workflows.StateStopped {
		t.Errorf("state %s: an extension must not start the server", got.State)
	}
}

// TestApprove_AnotherTeamsApproverAndAnAdminAreRefused: an approver of
// team data (and an admin, who is in no team) clicks Approve and Deny on
// team platform's approval; neither vote counts and nothing moves.
func TestApprove_AnotherTeamsApproverAndAnAdminAreRefused(t *testing.T) {
	h := newEditedHarness(t, func(cfg string) string {
		return strings.Replace(cfg, "    approvers: [U0LEAD]\n", "    approvers: [U0LEAD, sre@example.com]\n", 1)
	})
	h.ops(dev, "server request build-box for 2d")
	h.drain()
	approval := h.channelMessages("platform-approvals")[0]
	for _, who := range []string{sre, admin} {
		for _, act := range []string{workflows.ActApprove, workflows.ActDeny} {
			h.click(who, approval, act, "apr-1")
			if act == workflows.ActApprove {
				mustContain(t, who+" approves", h.lastResponse(), "Only team platform's approvers")
			}
		}
		// Deny opens the form for anyone; its submission is refused.
		forms := 0
		for _, v := range h.slack.Views(who) {
			if v.Type == "modal" && v.Open {
				forms++
				h.send(h.slack.ViewSubmission(testSecret, who, v.ID, map[string]map[string]slackfake.InputValue{
					"reason": {"reason": {Value: "not yours to deny"}},
				}))
			}
		}
		if forms != 1 {
			t.Errorf("%s: %d deny forms, want 1", who, forms)
		}
	}
	h.drain()
	if r := h.request("srv-1"); r.State != workflows.StatePending {
		t.Fatalf("state %s after other people's clicks", r.State)
	}
	var votes []workflows.Decision
	if err := h.app.DB.View(t.Context(), func(tx workflows.Tx) (err error) {
		votes, err = tx.Decisions("apr-1")
		return err
	}); err != nil || len(votes) != 0 {
		t.Fatalf("%d votes recorded (%v)", len(votes), err)
	}
	if n := len(h.ec2.Instances()); n != 0 {
		t.Fatalf("%d instances", n)
	}
}

// TestLeaseButtons_OtherTeamAndStrangerChangeNothing forges the lease
// buttons of dev's server (Extend, Release, Start again) as a member of
// another team, as a user absent from the config and as a same-team
// member who is not an approver: each is refused and the server, its
// lease, its instance and the ledger stay as they were.
func TestLeaseButtons_OtherTeamAndStrangerChangeNothing(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	committed := h.committed("platform")
	ext := workflows.ExtendValue(r, "1d")
	for _, who := range []string{analyst, stranger, dev2} {
		for _, c := range []struct{ action, value string }{
			{workflows.ActLeaseExtend, ext},
			{workflows.ActLeaseRelease, r.ID},
			{workflows.ActStartAgain, r.ID},
		} {
			h.forge(who, c.action, c.value)
			h.drain()
			got := h.lastResponse()
			if !strings.Contains(got, "not yours") && !strings.Contains(got, "not in any team") && !strings.Contains(got, "owner") {
				t.Errorf("%s pressed %s: answer %q", who, c.action, got)
			}
		}
	}
	got := h.request(r.ID)
	if got.State != workflows.StateRunning || !got.LeaseEnd.Equal(r.LeaseEnd) || got.Extensions != 0 {
		t.Fatalf("after forged clicks: %s, ends %s, %d extensions", got.State, got.LeaseEnd, got.Extensions)
	}
	if n := len(h.ec2.CallsOf("TerminateInstances")) + len(h.ec2.CallsOf("StopInstances")); n != 0 {
		t.Fatalf("%d EC2 stop/terminate calls", n)
	}
	if h.committed("platform") != committed {
		t.Fatalf("committed %s, was %s", h.committed("platform"), committed)
	}
}

// TestHugeReason_AskedOnceAndShownCut: a reason far past Slack's block
// limits is kept, the approval message is still posted (cut, not refused
// by Slack with invalid_blocks, which would retry forever) and the
// approver can decide.
func TestHugeReason_AskedOnceAndShownCut(t *testing.T) {
	h := newHarness(t)
	reason := strings.Repeat("why ", 3000)
	mustContain(t, "reply", h.ops(dev, "server request build-box for 1d "+reason), "waiting for approval")
	h.drain()
	msgs := h.channelMessages("platform-approvals")
	if len(msgs) != 1 {
		t.Fatalf("%d approval messages, want 1", len(msgs))
	}
	h.click(lead, msgs[0], workflows.ActApprove, "apr-1")
	mustContain(t, "approve", h.lastResponse(), "You approved srv-1")
	h.settle()
	if r := h.request("srv-1"); r.State != workflows.StateRunning {
		t.Fatalf("state %s", r.State)
	}
}

// TestOverBudget_AFractionOfACentOverSaysACent: a budget that denies
// overruns, a request whose estimate is three tenths of a cent more than
// the budget. It is refused (money is counted in millionths), and the
// refusal must not say it is "$0.00 over": an overrun is shown rounded up
// to the cent.
func TestOverBudget_AFractionOfACentOverSaysACent(t *testing.T) {
	probe := newEditedHarness(t, tightData("100"))
	probe.ops(analyst, "server request test-small for 26h")
	est := probe.request("srv-1").Estimate
	if est%10_000 < 3_000 {
		t.Skipf("estimate %d millionths leaves no fraction of a cent to attack", est)
	}
	budget := est - 3_000 // three tenths of a cent short
	h := newEditedHarness(t, tightData(fmt.Sprintf("%.6f", budget.Dollars())))
	reply := h.ops(analyst, "server request test-small for 26h")
	mustContain(t, "refusal", reply, "srv-1 was refused", "$0.01 over its budget")
	if strings.Contains(reply, "$0.00 over") {
		t.Errorf("a refusal for being over budget says it is $0.00 over:\n%s", reply)
	}
	if r := h.request("srv-1"); r.State != workflows.StateDenied {
		t.Fatalf("state %s", r.State)
	}
}

// TestBudget_ConcurrentExtensions_NeverOverTheBudget: team data's budget
// denies overruns; two of its servers each get a self-service extension
// at the same instant, each fitting what remains but not both. The
// approvals path has its own concurrency test; this attacks Extend, on
// both engines.
func TestBudget_ConcurrentExtensions_NeverOverTheBudget(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			var dsn []string
			if engine == "postgres" {
				dsn = append(dsn, storetest.FreshPostgres(t))
			}
			h := newEditedHarness(t, func(cfg string) string {
				return strings.Replace(cfg, "    monthly_budget_usd: 20\n", "    monthly_budget_usd: 1.5\n", 1)
			}, dsn...)
			h.ops(analyst, "server request test-small for 1d")
			h.ops(analyst, "server request test-small for 1d")
			h.settle()
			a, b := h.request("srv-1"), h.request("srv-2")
			if a.State != workflows.StateRunning || b.State != workflows.StateRunning {
				t.Fatalf("not running: %s %s", a.State, b.State)
			}
			budget := workflows.USD(1.5)
			one := a.HourlyRate.For(12)
			left := budget - h.committed("data")
			if one > left || 2*one <= left {
				t.Fatalf("setup: an extension costs %s, %s left: one must fit, two must not", one, left)
			}
			var wg sync.WaitGroup
			for _, id := range []string{"srv-1", "srv-2"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, err := h.slack.SlashCommand(testSecret, analyst, "general", "/ops", "lease extend "+id+" 12h")
					if err != nil {
						t.Error(err)
						return
					}
					replica{h.app, h.srv}.deliver(t, h, req)
				}()
			}
			wg.Wait()
			h.app.Bot.Wait()
			h.drain()
			if got := h.committed("data"); got > budget {
				t.Fatalf("committed %s, over the %s budget", got, budget)
			}
			extended := 0
			for _, id := range []string{"srv-1", "srv-2"} {
				if r := h.request(id); r.Extensions > 0 {
					extended++
				}
			}
			if extended != 1 {
				t.Fatalf("%d extensions took effect, want 1", extended)
			}
		})
	}
}

// TestExtend_InGrace_CommitsTheMinutesPastTheEnd: a lease extended after
// its end, in the grace before the stop, starts its new lease from now;
// the minutes between the old end and now are billed to the lease (its
// cost so far counts them), so they must be committed too: the ledger of
// the lease equals its estimate, and what it cost by the end is not more
// than what was committed.
func TestExtend_InGrace_CommitsTheMinutesPastTheEnd(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	h.advanceTo(r.LeaseEnd.Add(20 * time.Minute))
	if got := h.request(r.ID); got.State != workflows.StateRunning || !got.EndingAt.IsZero() {
		t.Fatalf("in grace: %s, ending %s", got.State, got.EndingAt)
	}
	mustContain(t, "extend", h.ops(dev, "lease extend "+r.ID+" 1d"), "extended")
	h.drain()
	got := h.request(r.ID)
	if got.Estimate != got.HourlyRate.For(got.LeaseEnd.Sub(got.LeaseStart).Hours()) {
		t.Fatalf("estimate %s does not cover %s → %s", got.Estimate, got.LeaseStart, got.LeaseEnd)
	}
	if c := h.committed("platform"); c != got.Estimate {
		t.Errorf("committed %s, the lease's estimate is %s", c, got.Estimate)
	}
	h.advanceTo(got.LeaseEnd.Add(-time.Minute))
	if cost, c := h.request(r.ID).CostSoFar(got.LeaseEnd), h.committed("platform"); cost > c {
		t.Errorf("the lease costs %s by its end, %s was committed", cost, c)
	}
}

// TestEstimate_HourlyRateIsShownPreciselyEnough: the hourly rate beside an
// estimate must explain it. Rounded to the cent, test-small's $0.023/h
// read "$0.02/h" beside a 26-hour estimate of $0.60 ($0.02 × 26 is
// $0.52), and build-box's $0.351/h read "$0.35/h" beside $9.12.
func TestEstimate_HourlyRateIsShownPreciselyEnough(t *testing.T) {
	h := newHarness(t)
	mustContain(t, "test-small", h.ops(dev, "server request test-small for 26h"), "$0.60 ($0.023/h)")
	mustContain(t, "build-box", h.ops(dev, "server request build-box for 26h"), "$9.12 ($0.351/h)")
	h.drain()
	mustContain(t, "approval", messageText(h.channelMessages("platform-approvals")[0]), "$9.12 ($0.351/h)")
}

// TestBudget_MonthTurnsInTheTeamsZone: team data (New York, a budget that
// denies overruns) fills November. At 03:00 UTC on 1 December it is still
// November in New York: a request is refused against November's budget;
// after midnight in New York it fits December's.
func TestBudget_MonthTurnsInTheTeamsZone(t *testing.T) {
	h := newEditedHarness(t, func(cfg string) string {
		return strings.Replace(cfg, "    monthly_budget_usd: 20\n", "    monthly_budget_usd: 1.5\n", 1)
	})
	h.advanceTo(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	for range 2 {
		mustContain(t, "request", h.ops(analyst, "server request test-small for 1d"), "approved")
	}
	h.settle()
	h.advanceTo(time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC))
	mustContain(t, "late on 30 November in New York", h.ops(analyst, "server request test-small for 1d"),
		"was refused", "over its budget for 2026-11")
	h.advanceTo(time.Date(2026, 12, 1, 5, 30, 0, 0, time.UTC))
	mustContain(t, "early on 1 December in New York", h.ops(analyst, "server request test-small for 1d"), "approved")
	h.settle()
	mustContain(t, "budget", h.ops(analyst, "budget"), "2026-12")
}

// TestExtensionApprovedInGrace_CommitsTheMinutesPastTheEnd: the approval
// path of TestExtend_InGrace_CommitsTheMinutesPastTheEnd. An extension
// beyond policy asked before the end and approved after it, in the grace,
// runs from the click: the minutes since the old end are committed too.
func TestExtensionApprovedInGrace_CommitsTheMinutesPastTheEnd(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	mustContain(t, "extend", h.ops(dev, "lease extend "+r.ID+" 8d"), "needs an approver")
	h.drain()
	h.advanceTo(r.LeaseEnd.Add(20 * time.Minute))
	h.forge(lead, workflows.ActApprove, "apr-1")
	mustContain(t, "approve", h.lastResponse(), "You approved "+r.ID)
	h.drain()
	got := h.request(r.ID)
	if want := h.clock.Now().Add(8 * 24 * time.Hour); !got.LeaseEnd.Equal(want) {
		t.Fatalf("lease ends %s, want %s", got.LeaseEnd, want)
	}
	if c := h.committed("platform"); c != got.Estimate {
		t.Errorf("committed %s, the lease's estimate is %s", c, got.Estimate)
	}
}

// TestStartAgain_DoubleClickAsksOnce: the owner double-clicks "Start
// again" on the message about a stopped server (two clicks, two signed
// requests, not a replay). One new request is made and one server
// launched, not two.
func TestStartAgain_DoubleClickAsksOnce(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 1d")
	h.advanceTo(r.LeaseEnd.Add(31 * time.Minute))
	h.advance(time.Minute)
	if got := h.request(r.ID); got.State != workflows.StateStopped {
		t.Fatalf("state %s, want stopped", got.State)
	}
	stopped := dmContaining(t, h, dev, r.ID+"'s lease ended")
	h.click(dev, stopped, workflows.ActStartAgain, r.ID)
	mustContain(t, "first click", h.lastResponse(), "srv-2 approved")
	h.click(dev, stopped, workflows.ActStartAgain, r.ID)
	mustContain(t, "second click", h.lastResponse(), r.ID+" was started again already: srv-2 is")
	h.settle()
	if n := len(h.requests()); n != 2 {
		t.Errorf("%d requests after a double click on Start again, want 2 (srv-1 and one new)", n)
	}
	if n := len(h.ec2.CallsOf("RunInstances")); n != 2 {
		t.Errorf("%d launches, want 2 (srv-1 and one new)", n)
	}
}

// TestStartAgain_ConcurrentClicksAskOnce is TestStartAgain_DoubleClickAsksOnce
// with both clicks arriving at the same instant, on both engines: the
// check and the new request are one transaction.
func TestStartAgain_ConcurrentClicksAskOnce(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			var dsn []string
			if engine == "postgres" {
				dsn = append(dsn, storetest.FreshPostgres(t))
			}
			h := newHarness(t, dsn...)
			r := h.launched("test-small for 1d")
			h.advanceTo(r.LeaseEnd.Add(31 * time.Minute))
			h.advance(time.Minute)
			stopped := dmContaining(t, h, dev, r.ID+"'s lease ended")
			var wg sync.WaitGroup
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, err := h.slack.BlockAction(testSecret, slackfake.Click{User: dev, Channel: stopped.Channel, MessageTS: stopped.TS, ActionID: workflows.ActStartAgain, Value: r.ID})
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
			if n := len(h.requests()); n != 2 {
				t.Errorf("%d requests after three clicks at once, want 2", n)
			}
			if n := len(h.ec2.CallsOf("RunInstances")); n != 2 {
				t.Errorf("%d launches, want 2", n)
			}
		})
	}
}

// TestRequestForm_BadInputShownOnTheFieldsAndNothingStored submits the
// request form (/ops server request with no arguments) with bad values,
// the template forged past the select: each is answered on the form and
// stores nothing; the corrected submission of the same form goes through.
func TestRequestForm_BadInputShownOnTheFieldsAndNothingStored(t *testing.T) {
	h := newHarness(t)
	h.ops(dev, "server request")
	var form slackfake.View
	for _, v := range h.slack.Views(dev) {
		if v.Type == "modal" {
			form = v
		}
	}
	if form.ID == "" {
		t.Fatal("no request form opened")
	}
	submit := func(template, duration, reason string) map[string]string {
		t.Helper()
		h.send(h.slack.ViewSubmission(testSecret, dev, form.ID, map[string]map[string]slackfake.InputValue{
			"template": {"template": {Type: "static_select", Value: template}},
			"duration": {"duration": {Value: duration}},
			"reason":   {"reason": {Value: reason}},
		}))
		for _, v := range h.slack.Views(dev) {
			if v.ID == form.ID {
				return v.Errors
			}
		}
		return nil
	}
	for _, c := range []struct{ template, duration, want string }{
		{"test-small", "-1d", "not a positive duration"},
		{"test-small", "2x", "is not a duration"},
		{"test-small", "999d", "too long"},
		{"test-small", "8d", "longer than the longest lease"},
		{"nope", "1d", `no server template "nope"`},
	} {
		errs := submit(c.template, c.duration, "bad")
		var all string
		for _, e := range errs {
			all += e + "\n"
		}
		if !strings.Contains(all, c.want) {
			t.Errorf("%s for %s: field errors %v, want %q", c.template, c.duration, errs, c.want)
		}
	}
	h.drain()
	if n := len(h.requests()); n != 0 {
		t.Fatalf("%d requests stored from refused forms", n)
	}
	submit("test-small", "1d", "ok now")
	h.settle()
	if n := len(h.requests()); n != 1 {
		t.Fatalf("%d requests after the corrected form, want 1", n)
	}
}

// TestApproveClick_ReplayedLaterIsRefused: an approver's signed Approve
// click on a two-approval request, captured and sent again byte for byte:
// at once it records no second vote; six minutes later (past Slack's
// five-minute window, the signature still valid for its own timestamp) it
// is refused with 401 and changes nothing.
func TestApproveClick_ReplayedLaterIsRefused(t *testing.T) {
	h := newHarness(t)
	mustContain(t, "request", h.ops(dev, "server request huge for 4d"), "2 approval")
	h.drain()
	approval := h.channelMessages("platform-approvals")[0]
	req, err := h.slack.BlockAction(testSecret, slackfake.Click{User: lead, Channel: approval.Channel, MessageTS: approval.TS, ActionID: workflows.ActApprove, Value: "apr-1"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	resend := func() int {
		again, _ := http.NewRequest(req.Method, req.URL.String(), bytes.NewReader(body))
		again.Header = req.Header.Clone()
		return h.send(again, nil)
	}
	for range 2 {
		if status := resend(); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
	}
	h.drain()
	votes := func() int {
		var ds []workflows.Decision
		if err := h.app.DB.View(t.Context(), func(tx workflows.Tx) (err error) {
			ds, err = tx.Decisions("apr-1")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}
	if n := votes(); n != 1 {
		t.Fatalf("%d votes after a click and its replay, want 1", n)
	}
	h.advance(6 * time.Minute)
	if status := resend(); status != http.StatusUnauthorized {
		t.Fatalf("a replay six minutes later: status %d, want 401", status)
	}
	h.drain()
	if n, r := votes(), h.request("srv-1"); n != 1 || r.State != workflows.StatePending {
		t.Fatalf("after the late replay: %d votes, %s", n, r.State)
	}
}

// TestTemplateRemovedFromConfig_LeaseStillEndsAndCanBeReleased: a config
// reload renames the template a running server was launched from. Its
// lease must still be warned about and ended (under the team's policy),
// and its owner must still be able to release it; before, the server was
// skipped by the scheduler and refused every release, and so ran on for
// good, unbilled to any lease.
func TestTemplateRemovedFromConfig_LeaseStillEndsAndCanBeReleased(t *testing.T) {
	h := newHarness(t)
	a := h.launched("test-small for 1d")
	b := h.launched("test-small for 2d")
	h.edit = func(cfg string) string {
		return strings.Replace(cfg, "  - name: test-small\n", "  - name: test-tiny\n", 1)
	}
	h.restart()
	mustContain(t, "extend", h.ops(dev, "lease extend "+a.ID+" 1d"), "no longer in the config")
	h.advanceTo(a.LeaseEnd.Add(-time.Hour))
	dmContaining(t, h, dev, a.ID+"'s lease ends in 1h")
	h.advanceTo(a.LeaseEnd.Add(31 * time.Minute))
	h.advance(time.Minute)
	if got := h.request(a.ID); got.State != workflows.StateStopped {
		t.Fatalf("%s is %s after its lease and grace, want stopped", a.ID, got.State)
	}
	mustContain(t, "release", h.ops(dev, "lease release "+b.ID), b.ID)
	h.drain()
	if got := h.request(b.ID); got.State != workflows.StateTerminated {
		t.Fatalf("%s is %s after a release, want terminated", b.ID, got.State)
	}
}
