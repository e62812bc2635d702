package costs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/costs"
)

func TestRefreshWindow_AtFixedInstants(t *testing.T) {
	for _, tc := range []struct {
		now            time.Time
		from, to, fill string
	}{
		{time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC), "2026-11-01", "2026-12-02", "2026-06-01..2026-10-01"},
		{time.Date(2026, 12, 10, 7, 0, 0, 0, time.UTC), "2026-12-01", "2026-12-10", "2026-06-01..2026-11-01"},
		{time.Date(2027, 1, 1, 7, 0, 0, 0, time.UTC), "2026-12-01", "2027-01-01", "2026-07-01..2026-11-01"},
		{time.Date(2026, 3, 6, 23, 59, 0, 0, time.UTC), "2026-03-01", "2026-03-06", "2025-09-01..2026-02-01"},
	} {
		from, to := costs.RefreshWindow(tc.now)
		fill := costs.Backfill(tc.now, from)
		got := fill[0] + ".." + fill[len(fill)-1]
		if from != tc.from || to != tc.to || got != tc.fill {
			t.Errorf("%v: window %s..%s, fill %s; want %s..%s, fill %s", tc.now, from, to, got, tc.from, tc.to, tc.fill)
		}
	}
}

func TestReviewSlot_FirstWorkingDay(t *testing.T) {
	p := &costs.ReviewPolicy{Schedule: cronish{}, Location: berlin}
	for m, want := range map[costs.Month]time.Time{
		"2026-12": time.Date(2026, 12, 1, 9, 0, 0, 0, berlin), // a Tuesday
		"2026-11": time.Date(2026, 11, 2, 9, 0, 0, 0, berlin), // the 1st is a Sunday
		"2026-08": time.Date(2026, 8, 3, 9, 0, 0, 0, berlin),  // Saturday the 1st
	} {
		if got := costs.ReviewSlot(p, m); !got.Equal(want) {
			t.Errorf("slot of %s = %v, want %v", m, got, want)
		}
	}
}

func TestParseMonth(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for in, want := range map[string]costs.Month{"": "2026-12", "last": "2026-11", "nov": "2026-11", "December": "2026-12", "jan": "2026-01", "2025-07": "2025-07"} {
		got, err := costs.ParseMonth(in, now, berlin)
		if err != nil || got != want {
			t.Errorf("%q = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"2027-01", "2026-13", "soon", "1999-12"} {
		if _, err := costs.ParseMonth(in, now, berlin); workflows.ErrorCode(err) != workflows.EInvalid {
			t.Errorf("%q: err %v, want invalid", in, err)
		}
	}
}

// The daily refresh is queued once per UTC day from the refresh hour,
// whatever the number of ticks, replicas or clock jumps; the first one
// fills the chart's months once, monthly.
func TestRefresh_OncePerDay_FewCalls(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC))
	if rep := w.tick(); rep.Refreshes != 0 {
		t.Fatalf("refresh before the refresh hour: %+v", rep)
	}
	w.clock.Set(time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC))
	other := w.service()
	if rep := w.tick(); rep.Refreshes != 1 {
		t.Fatalf("no refresh at 06:30: %+v", rep)
	}
	if rep, _ := other.Tick(context.Background()); rep.Refreshes != 0 {
		t.Fatalf("a second replica refreshed again: %+v", rep)
	}
	w.drain()
	views := len(w.pol.Views())
	if got := w.ce.calls(); got != 2*views {
		t.Errorf("first refresh: %d calls, want %d (each view daily and its backfill)", got, 2*views)
	}
	for i := 0; i < 5; i++ {
		w.clock.Advance(time.Hour)
		w.tick()
		w.drain()
	}
	if got := w.ce.calls(); got != 2*views {
		t.Errorf("ticks on the same day made calls: %d", got)
	}
	// A day skipped: the clock jumps two days; one refresh, no backfill.
	w.clock.Set(time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC))
	w.tick()
	w.drain()
	if got := w.ce.calls(); got != 3*views {
		t.Errorf("after the jump: %d calls, want %d", got, 3*views)
	}
	// Across the month boundary the window moves and the new month before
	// it is filled: November is now in the daily window until the 5th.
	w.clock.Set(time.Date(2027, 1, 1, 7, 0, 0, 0, time.UTC))
	w.tick()
	w.drain()
	q := w.ce.queries[len(w.ce.queries)-1]
	if q.Start != "2026-12-01" || q.End != "2027-01-01" || q.Monthly {
		t.Errorf("January 1st's refresh = %+v", q)
	}
	if n := w.svc.Calls(); n == 0 {
		t.Error("calls not counted")
	}
}

func TestShow_OnlyTheTeamsPeopleSeeItsNumbers(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC))
	w.tick()
	w.drain()
	w.commit("platform", "2026-11", "srv-1", 120*workflows.Dollar)
	ctx := context.Background()
	dev := workflows.Person{SlackID: "U0DEV"}
	ana := workflows.Person{SlackID: "U0ANA", Email: "ana@example.com"}
	stranger := workflows.Person{SlackID: "U0OUT", Email: "out@elsewhere.com"}
	admin := workflows.Person{SlackID: "U0ADMIN", Email: "admin@example.com"}

	m, err := w.svc.Show(ctx, dev, "", "last")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "show_team_last_month", m)
	if _, err := w.svc.Show(ctx, ana, "platform", ""); workflows.ErrorCode(err) != workflows.EForbidden {
		t.Errorf("another team's member: %v", err)
	}
	_, err = w.svc.Show(ctx, stranger, "platform", "")
	if workflows.ErrorCode(err) != workflows.EForbidden || strings.Contains(err.Error(), "data") {
		t.Errorf("someone absent from config: %v (must not learn the teams)", err)
	}
	if _, err := w.svc.Show(ctx, stranger, "nosuchteam", ""); workflows.ErrorCode(err) != workflows.EForbidden {
		t.Errorf("someone absent from config, unknown team: %v", err)
	}
	if _, err := w.svc.Show(ctx, dev, "all", ""); workflows.ErrorCode(err) != workflows.EForbidden {
		t.Errorf("the whole bill to a member: %v", err)
	}
	if _, err := w.svc.Show(ctx, dev, "nosuchteam", ""); workflows.ErrorCode(err) != workflows.EInvalid {
		t.Errorf("unknown team: %v", err)
	}
	if _, err := w.svc.Show(ctx, dev, "", "2027-05"); workflows.ErrorCode(err) != workflows.EInvalid {
		t.Errorf("future month: %v", err)
	}
	if m, err := w.svc.Show(ctx, admin, "data", "nov"); err != nil || !strings.Contains(m.Title, "data") {
		t.Errorf("admin: %v %v", m.Title, err)
	}
	all, err := w.svc.Show(ctx, admin, "all", "last")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "show_all_last_month", all)
	// /ops costs never calls Cost Explorer.
	before := w.ce.calls()
	for i := 0; i < 10; i++ {
		w.svc.Show(ctx, dev, "", "")
	}
	if w.ce.calls() != before {
		t.Error("/ops costs called Cost Explorer")
	}
}

func TestBudgetAlerts_OncePerThresholdPerMonth(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	w.pol.CostExplorer = false // committed only: the bill cannot move the figures here
	w.pol.Review = nil
	w.commit("platform", "2026-12", "srv-1", 260*workflows.Dollar)
	w.tick()
	w.drain()
	ms := w.messages()
	if len(ms) != 1 || !strings.Contains(ms[0].Title, "52%") || ms[0].Channel != "#platform-approvals" {
		t.Fatalf("50%% alert: %s", titles(ms))
	}
	golden(t, "budget_alert_50", ms[0])
	w.tick()
	w.drain()
	if ms := w.messages(); len(ms) != 0 {
		t.Fatalf("the same threshold again: %s", titles(ms))
	}
	// A big approval takes it past 80 and 100 at once: one alert, the
	// highest; 80 is not sent later.
	w.commit("platform", "2026-12", "srv-2", 300*workflows.Dollar)
	w.tick()
	w.tick()
	w.drain()
	ms = w.messages()
	if len(ms) != 1 || !strings.Contains(ms[0].Title, "over its December 2026 budget (112%)") {
		t.Fatalf("over budget: %s", titles(ms))
	}
	golden(t, "budget_alert_100", ms[0])
	// A new month starts afresh (Berlin's January begins at 23:00 UTC).
	w.clock.Set(time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC))
	w.commit("platform", "2027-01", "srv-3", 255*workflows.Dollar)
	w.tick()
	w.drain()
	if ms := w.messages(); len(ms) != 1 || !strings.Contains(ms[0].Title, "January 2027") {
		t.Fatalf("January: %s", titles(ms))
	}
	// data's budget is its own: nothing committed, nothing sent.
}

func TestBudgetAlerts_ActualCounts(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 20, 7, 0, 0, 0, time.UTC))
	w.tick()
	w.drain()
	ms := w.messages()
	// data: $4/day × 19 days × 1.6 = $121.60 of $200 → 60%: the 50% alert,
	// by actual spend.
	var data []workflows.Message
	for _, m := range ms {
		if m.Channel == "#data-approvals" {
			data = append(data, m)
		}
	}
	if len(data) != 1 || !strings.Contains(data[0].Text, "actual spend from Cost Explorer") {
		t.Fatalf("data's alert: %s", titles(ms))
	}
}

func TestDrift_FlaggedOnceToApprovers(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 20, 7, 0, 0, 0, time.UTC))
	// An estimate opsbot made: a lease at $0.05/h for the month so far,
	// far under the $2/day × 1.6 the bill shows for opsbot's servers.
	err := w.db.Update(context.Background(), func(tx workflows.Tx) error {
		r := &workflows.ServerRequest{ID: "srv-1", Owner: workflows.Person{SlackID: "U0DEV"}, Team: "platform", Template: "small",
			State: workflows.StateRunning, HourlyRate: workflows.USD(0.05), Duration: 30 * 24 * time.Hour,
			CreatedAt: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC),
			LeaseStart: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), LeaseEnd: time.Date(2026, 12, 30, 0, 0, 0, 0, time.UTC)}
		return tx.CreateRequest(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	w.tick()
	w.drain()
	var drift []workflows.Message
	for _, m := range w.messages() {
		if strings.Contains(m.Title, "off opsbot's estimate") {
			drift = append(drift, m)
		}
	}
	if len(drift) != 1 || drift[0].User != "U0LEAD" {
		t.Fatalf("drift messages: %s", titles(drift))
	}
	golden(t, "drift", drift[0])
	w.clock.Advance(24 * time.Hour)
	w.tick()
	w.drain()
	for _, m := range w.messages() {
		if strings.Contains(m.Title, "off opsbot's estimate") {
			t.Errorf("drift flagged twice in a month: %s", m.Title)
		}
	}
}

func TestCostExplorerError_ReportedOnceWithTheFix(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC))
	w.pol.PayerAccount = "prod"
	w.pol.Review.Schedule = nil // the review is tested on its own
	w.ce.err = fmt.Errorf("GetCostAndUsage: %w", costs.ErrAccessDenied)
	w.tick()
	w.drain()
	ms := w.messages()
	if len(ms) != 1 || ms[0].Channel != "#cost-review" || !strings.Contains(ms[0].Text, costs.IAMActions) {
		t.Fatalf("error report: %s", titles(ms))
	}
	golden(t, "error_access_denied", ms[0])
	calls := w.ce.calls()
	if calls != 1 {
		t.Errorf("access denied retried: %d calls", calls)
	}
	w.clock.Advance(24 * time.Hour)
	w.tick()
	w.drain()
	if ms := w.messages(); len(ms) != 0 {
		t.Fatalf("reported again: %s", titles(ms))
	}
	// Fixed: the next refresh works and clears the report; a later
	// failure is reported again.
	w.ce.err = nil
	w.clock.Advance(24 * time.Hour)
	w.tick()
	w.drain()
	w.messages()
	w.ce.err = errors.New("connection reset")
	w.clock.Advance(24 * time.Hour)
	w.tick()
	for i := 0; i < costs.MaxRefreshAttempts; i++ {
		w.clock.Advance(10 * time.Minute)
		w.drain()
	}
	ms = w.messages()
	if len(ms) != 1 || !strings.Contains(ms[0].Text, "did not answer") {
		t.Fatalf("after recovery, a new failure: %s", titles(ms))
	}
}

// TestPercentAndSigned_NoNegativeZero attacks the cost review's figures
// with changes too small to show: a change below half a cent or below
// half a percent reads "+$0.00" and "0%" whatever its sign, never "-$0.00"
// or "-0%".
func TestPercentAndSigned_NoNegativeZero(t *testing.T) {
	for _, c := range []struct {
		change, base workflows.Money
		pct, money   string
	}{
		{-4_000, workflows.USD(100), "0%", "+$0.00"},
		{4_000, workflows.USD(100), "0%", "+$0.00"},
		{-workflows.USD(0.3), workflows.USD(100), "0%", "-$0.30"},
		{workflows.USD(0.6), workflows.USD(100), "+1%", "+$0.60"},
		{-workflows.USD(12), workflows.USD(100), "-12%", "-$12.00"},
		{0, 0, "0%", "+$0.00"},
	} {
		if got := costs.Percent(c.change, c.base); got != c.pct {
			t.Errorf("Percent(%d, %d) = %q, want %q", c.change, c.base, got, c.pct)
		}
		if got := costs.Signed(c.change); got != c.money {
			t.Errorf("Signed(%d) = %q, want %q", c.change, got, c.money)
		}
	}
}

// TestShow_NotToSomeoneOffboarded attacks /ops costs with a member who
// was offboarded while the config still names them: someone who left no
// longer reads the team's costs (nor, as an admin, the whole bill).
func TestShow_NotToSomeoneOffboarded(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC))
	w.commit("platform", "2026-11", "srv-1", 120*workflows.Dollar)
	ctx := context.Background()
	dev := workflows.Person{SlackID: "U0DEV"}
	admin := workflows.Person{SlackID: "U0ADMIN", Email: "admin@example.com"}
	if _, err := w.svc.Show(ctx, dev, "", "last"); err != nil {
		t.Fatalf("before: %v", err)
	}
	err := w.db.Update(ctx, func(tx workflows.Tx) error {
		for _, p := range []workflows.Person{dev, admin} {
			for _, k := range workflows.OffboardKeys(p) {
				if _, err := tx.MarkSent(k, w.clock.Now()); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    workflows.Person
		team string
	}{{dev, ""}, {admin, "platform"}, {admin, "all"}} {
		if _, err := w.svc.Show(ctx, c.p, c.team, "last"); workflows.ErrorCode(err) != workflows.EForbidden || !strings.Contains(err.Error(), "offboarded") {
			t.Errorf("%s reads %q: %v", c.p, c.team, err)
		}
	}
}

// TestNoBudget_NoAlertsNoShareOfNothing attacks the costs with a team
// that has no budget (monthly_budget_usd: 0) and spends: no budget alert
// is sent (no threshold of nothing is crossed, no division by zero), and
// /ops costs shows its figures without a share of a budget. It passed
// when written: no existing test had a team without a budget.
func TestNoBudget_NoAlertsNoShareOfNothing(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	w.pol.CostExplorer = false
	w.pol.Review = nil
	w.cat.Teams[1].MonthlyBudget = 0
	w.commit("data", "2026-12", "srv-1", 260*workflows.Dollar)
	w.tick()
	w.drain()
	if ms := w.messages(); len(ms) != 0 {
		t.Fatalf("a team with no budget was alerted: %s", titles(ms))
	}
	m, err := w.svc.Show(context.Background(), workflows.Person{SlackID: "U0ANA", Email: "ana@example.com"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	text := m.Text
	for _, f := range m.Fields {
		text += "\n" + f.Label + ": " + f.Value
	}
	if strings.Contains(text, "budget used") || strings.Contains(text, "Inf") || strings.Contains(text, "NaN") || !strings.Contains(text, "$260.00") {
		t.Errorf("no-budget team's costs:\n%s", text)
	}
}
