package costs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/costs"
)

func reviewsIn(ms []workflows.Message) []workflows.Message {
	var out []workflows.Message
	for _, m := range ms {
		if strings.HasPrefix(m.Key, "cost-review:") {
			out = append(out, m)
		}
	}
	return out
}

func TestReview_PostedOnceAtTheFirstWorkingDay(t *testing.T) {
	// Monday 30 November, then the clock walks into Tuesday 1 December.
	w := newWorld(t, time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC))
	w.tick()
	w.drain()
	w.messages()
	w.clock.Set(time.Date(2026, 12, 1, 7, 59, 0, 0, time.UTC)) // 08:59 in Berlin
	w.tick()
	w.drain()
	if rs := reviewsIn(w.messages()); len(rs) != 0 {
		t.Fatalf("review before its slot: %s", titles(rs))
	}
	w.clock.Set(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	replica := w.service()
	w.tick()
	replica.Tick(context.Background())
	w.drain()
	rs := reviewsIn(w.messages())
	if len(rs) != 3 || rs[0].Channel != "#cost-review" || rs[1].Channel != "#platform-approvals" || rs[2].Channel != "#data-approvals" {
		t.Fatalf("review messages: %s", titles(rs))
	}
	golden(t, "review_main", rs[0])
	golden(t, "review_team_platform", rs[1])
	// A restart (a new service on the same store) and later ticks that
	// month post nothing more; the clock moved back neither.
	again := w.service()
	for _, at := range []time.Time{time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC)} {
		w.clock.Set(at)
		again.Tick(context.Background())
		w.drain()
	}
	if rs := reviewsIn(w.messages()); len(rs) != 0 {
		t.Fatalf("posted again: %s", titles(rs))
	}
}

func TestReview_DaySkippedStillPosted_StaleSkipped(t *testing.T) {
	// opsbot was down from 30 November to 3 December: the review of
	// November is posted late, within the grace.
	w := newWorld(t, time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC))
	w.clock.Set(time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC))
	w.tick()
	w.drain()
	if rs := reviewsIn(w.messages()); len(rs) != 3 || !strings.Contains(rs[0].Title, "November 2026") {
		t.Fatalf("late review: %s", titles(rs))
	}
	// Down again from 2 January to 12 January: December's is skipped.
	w.clock.Set(time.Date(2027, 1, 12, 10, 0, 0, 0, time.UTC))
	w.tick()
	w.drain()
	if rs := reviewsIn(w.messages()); len(rs) != 0 {
		t.Fatalf("stale review posted: %s", titles(rs))
	}
}

func TestReview_FallsBackToTheLedger(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC))
	w.ce.err = costs.ErrAccessDenied
	w.commit("platform", "2026-11", "srv-1", 120*workflows.Dollar)
	w.tick()
	w.drain()
	ms := w.messages()
	rs := reviewsIn(ms)
	if len(rs) != 3 || !strings.Contains(rs[0].Text, "opsbot's own figures") {
		t.Fatalf("fallback review: %s", titles(ms))
	}
	golden(t, "review_fallback", rs[0])
	errs := 0
	for _, m := range ms {
		if strings.Contains(m.Title, "cannot read the bill") {
			errs++
		}
	}
	if errs != 1 {
		t.Errorf("error reports = %d, want 1: %s", errs, titles(ms))
	}
}

func TestReview_Chart_SixMonthsByService(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC))
	w.tick()
	w.drain()
	c, err := w.svc.ChartOf(context.Background(), "2026-11")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Months) != 6 || c.Months[0] != "2026-06" || c.Months[5] != "2026-11" {
		t.Fatalf("months = %v", c.Months)
	}
	if len(c.Series) != 3 || c.Series[0].Name != "Amazon Elastic Compute Cloud - Compute" {
		t.Fatalf("series = %+v", c.Series)
	}
	for i, v := range c.Series[0].Totals {
		if v <= 0 || (i > 0 && v <= c.Series[0].Totals[i-1]-10*workflows.Dollar) {
			t.Errorf("EC2 month %d = %s", i, v)
		}
	}
}

// An idle server handed to its team when its owner left is put to the
// team's approvers in the review, not to nobody: its owner is gone.
func TestReview_IdleServerOfADepartedOwnerAsksTheApprovers(t *testing.T) {
	w := newWorld(t, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	err := w.db.Update(context.Background(), func(tx workflows.Tx) error {
		for _, r := range []*workflows.ServerRequest{
			{ID: "srv-7", Team: "platform", Template: "small", State: workflows.StateRunning,
				HandedFrom: workflows.Person{SlackID: "U0GONE"}, HandedAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
				Instance: workflows.Instance{ID: "i-7", Type: "t3.large"}},
			{ID: "srv-8", Team: "platform", Template: "small", State: workflows.StateRunning,
				Owner: workflows.Person{SlackID: "U0DEV"}, Instance: workflows.Instance{ID: "i-8", Type: "t3.large"}},
		} {
			if err := tx.CreateRequest(r); err != nil {
				return err
			}
			if err := tx.PutIdle(workflows.IdleServer{RequestID: r.ID, Team: r.Team, Since: time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC),
				PeakCPU: 2, CheckedAt: w.clock.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w.tick()
	w.drain()
	var idle = map[string]workflows.Message{}
	for _, m := range w.messages() {
		if strings.Contains(m.Key, ":idle:") {
			idle[m.Key[strings.LastIndex(m.Key, ":")+1:]] = m
		}
	}
	handed, owned := idle["srv-7"], idle["srv-8"]
	if strings.Join(handed.Mention, ",") != "U0LEAD" || !strings.Contains(handed.Text, "owned by team platform since "+workflows.Mention("U0GONE")+" left") {
		t.Errorf("handed-over server: mention %v, text %q; want the approver asked and the hand-over said", handed.Mention, handed.Text)
	}
	if strings.Join(owned.Mention, ",") != "U0DEV" {
		t.Errorf("owned server: mention %v, want its owner", owned.Mention)
	}
}
