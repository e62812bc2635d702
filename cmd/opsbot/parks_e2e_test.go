package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// parks returns every stop within a lease recorded for id.
func (h *harness) parks(id string) []workflows.Park {
	h.t.Helper()
	var out []workflows.Park
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) error {
		ps, err := tx.Parks("", time.Time{}, h.clock.Now().Add(365*24*time.Hour))
		for _, p := range ps {
			if p.RequestID == id {
				out = append(out, p)
			}
		}
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// clickAs sends a click on a button value user was not necessarily shown
// (a Stop now from an idle flag drawn for this server).
func (h *harness) clickAs(user, actionID, value string) {
	h.t.Helper()
	h.forge(user, actionID, value)
}

// TestSavings_ActionsStopIsRecordedAndNotBilled: a server stopped with
// the server actions' Stop button records its stop like opsbot's own
// stops (why "manual"), so its stopped hours are not in its cost so far
// and show as savings; Start closes the stop, and the hours after it are
// billed again.
func TestSavings_ActionsStopIsRecordedAndNotBilled(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	r = h.request(r.ID)
	h.advance(time.Hour)
	_, view := h.showServer(dev, r.ID)
	if _, ok := h.press(dev, view, r.ID+" stop"); !ok {
		t.Fatal("no Stop button")
	}
	h.drain()
	stoppedAt := h.clock.Now()
	if got := h.request(r.ID); got.State != workflows.StateStopped {
		t.Fatalf("after Stop: %s", got.State)
	}
	ps := h.parks(r.ID)
	if len(ps) != 1 || ps[0].Why != workflows.WhyManual || !ps[0].StartedAt.IsZero() || !ps[0].StoppedAt.Equal(stoppedAt) {
		t.Fatalf("stops after the actions' Stop: %+v", ps)
	}

	// Ten hours stopped: not billed, saved.
	h.advance(10 * time.Hour)
	ran := stoppedAt.Sub(r.LeaseStart)
	if got, want := h.request(r.ID).CostSoFar(h.clock.Now()), r.HourlyRate.For(ran.Hours()); got != want {
		t.Errorf("cost so far while stopped = %s, want %s (%s run)", got, want, ran)
	}
	var sv map[workflows.Why]workflows.Savings
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		sv, err = workflows.SavingsIn(tx, "platform", start.Add(-24*time.Hour), h.clock.Now().Add(time.Hour), h.clock.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if s := sv[workflows.WhyManual]; s.Stops != 1 || s.Hours < 9.9 || s.Hours > 10.1 {
		t.Errorf("savings of the actions' stop = %+v", s)
	}

	// Start closes the stop; the hours after it are billed.
	_, view = h.showServer(dev, r.ID)
	if _, ok := h.press(dev, view, r.ID+" start"); !ok {
		t.Fatal("no Start button on a stopped server")
	}
	h.drain()
	startedAt := h.clock.Now()
	if got := h.request(r.ID); got.State != workflows.StateRunning {
		t.Fatalf("after Start: %s", got.State)
	}
	ps = h.parks(r.ID)
	if len(ps) != 1 || !ps[0].StartedAt.Equal(startedAt) {
		t.Fatalf("stops after Start: %+v", ps)
	}
	h.advance(2 * time.Hour)
	ran += h.clock.Now().Sub(startedAt)
	if got, want := h.request(r.ID).CostSoFar(h.clock.Now()), r.HourlyRate.For(ran.Hours()); got != want {
		t.Errorf("cost so far after Start = %s, want %s (%s run)", got, want, ran)
	}
	// The budget's spent follows the same hours.
	if got := h.request(r.ID).CostSoFar(h.clock.Now()); got >= r.HourlyRate.For(h.clock.Now().Sub(r.LeaseStart).Hours()) {
		t.Errorf("cost so far %s counts the stopped hours", got)
	}
}

// TestOffHours_StopsOnTheSameEveningAndNextDays: a person's Stop now (on
// an idle flag, or on the off-hours warning) pressed shortly before the
// evening stop is not swallowed by it, nor does it swallow it: each stop
// has its own queue key. The person's stop stays a person's (recorded as
// such; the schedule does not start it in the morning), and a server the
// schedule stops on two evenings is stopped, and recorded, twice.
func TestOffHours_StopsOnTheSameEveningAndNextDays(t *testing.T) {
	h := newEditedHarness(t, offHoursConfig)
	idle := h.launched("test-small for 7d")
	warned := h.launched("test-small for 7d")
	nightly := h.launched("test-small for 7d")
	stops := func(id string) int {
		n := 0
		for _, c := range h.ec2.CallsOf("StopInstances") {
			if c.Params.Get("InstanceId.1") == h.request(id).Instance.ID {
				n++
			}
		}
		return n
	}

	h.advanceTo(berlinAt(23, 19, 30))
	var warn slackfake.Message
	for _, m := range h.dms(dev) {
		if mt := messageText(m); strings.Contains(mt, warned.ID+" stops tonight") {
			warn = m
		}
	}
	if warn.TS == "" {
		t.Fatalf("no off-hours warning for %s", warned.ID)
	}
	h.clock.Advance(15 * time.Minute)
	// 19:45: Stop now on an idle flag of one server and on the off-hours
	// warning of another; their jobs wait while the 20:00 stop is queued.
	idleChoice := workflows.ServerChoice{ID: idle.ID, Why: workflows.WhyIdle, DrawnFor: h.clock.Now().Add(-time.Hour)}
	h.clickAs(dev, workflows.ActServerStop, idleChoice.Value())
	mustContain(t, "idle stop now", h.lastResponse(), idle.ID+" is being stopped")
	h.click(dev, warn, workflows.ActServerStop, buttonValue(t, warn, workflows.ActServerStop))
	mustContain(t, "warning's stop now", h.lastResponse(), warned.ID+" is being stopped")
	h.clock.Advance(15 * time.Minute)
	h.advance(0)
	h.advance(ec2fake.DefaultDelays.Stop)
	for _, id := range []string{idle.ID, warned.ID, nightly.ID} {
		if got := h.request(id); got.State != workflows.StateStopped || stops(id) != 1 {
			t.Fatalf("%s at 20:00: %s, %d stops", id, got.State, stops(id))
		}
	}
	whys := map[string]workflows.Why{idle.ID: workflows.WhyIdle, warned.ID: workflows.WhyManual, nightly.ID: workflows.WhyOffHours}
	for id, why := range whys {
		if ps := h.parks(id); len(ps) != 1 || ps[0].Why != why {
			t.Fatalf("stops of %s: %+v, want one %s", id, ps, why)
		}
	}

	// Wed 08:00 (Tue is a holiday): only the schedule's stop is started.
	h.advanceTo(berlinAt(25, 8, 0))
	h.settle()
	for id, why := range whys {
		want := workflows.StateStopped
		if why == workflows.WhyOffHours {
			want = workflows.StateRunning
		}
		if got := h.request(id).State; got != want {
			t.Errorf("%s (%s) on Wed morning: %s, want %s", id, why, got, want)
		}
	}

	// Wed 20:00: the schedule stops it a second time, on its own key.
	h.advanceTo(berlinAt(25, 20, 0))
	h.advance(ec2fake.DefaultDelays.Stop)
	if got := h.request(nightly.ID); got.State != workflows.StateStopped || stops(nightly.ID) != 2 {
		t.Fatalf("Wed 20:00: %s, %d stops, want a second", got.State, stops(nightly.ID))
	}
	if ps := h.parks(nightly.ID); len(ps) != 2 || ps[0].StartedAt.IsZero() || !ps[1].StartedAt.IsZero() {
		t.Fatalf("stops of %s after two nights: %+v", nightly.ID, ps)
	}
}

// TestLeaseEnd_WhileStoppedWithinTheLease: a server stopped within its
// lease (the actions' Stop) is still warned before its lease ends, can
// still be extended, and at the end its lease is closed as configured:
// under a stop policy it stays stopped, its stop is closed at the end and
// its owner gets the stopped message (once); under a terminate policy it
// is terminated. Nothing passes silently.
func TestLeaseEnd_WhileStoppedWithinTheLease(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.advance(time.Hour)
	_, view := h.showServer(dev, r.ID)
	h.press(dev, view, r.ID+" stop")
	h.drain()
	if got := h.request(r.ID); !got.Parked() {
		t.Fatalf("after Stop: %s, stops %+v", got.State, got.Stops)
	}

	// 24 hours before the end: warned, though stopped.
	h.advanceTo(r.LeaseEnd.Add(-24 * time.Hour))
	warn := dmContaining(t, h, dev, r.ID+"'s lease ends in 1d")
	mustContain(t, "warning while stopped", messageText(warn), "It is stopped (since", "stopped by hand", "but its lease still ends", "it stays stopped", "Extend 1 day")
	compareGolden(t, map[string]json.RawMessage{"dm_lease_warning_stopped": warn.Blocks})

	// Extended while stopped: the lease moves, the warnings follow it.
	mustContain(t, "extend while stopped", h.ops(dev, "lease extend "+r.ID+" 1d"), "extended")
	extended := h.request(r.ID)
	if !extended.LeaseEnd.Equal(r.LeaseEnd.Add(24*time.Hour)) || extended.State != workflows.StateStopped {
		t.Fatalf("after the extension: %s, ends %s", extended.State, extended.LeaseEnd)
	}
	h.advanceTo(extended.LeaseEnd.Add(-time.Hour))
	dmContaining(t, h, dev, r.ID+"'s lease ends in 1h")
	stops, starts := len(h.ec2.CallsOf("StopInstances")), len(h.ec2.CallsOf("StartInstances"))

	// The end (plus 30m grace): the lease closes; it stays stopped.
	h.advanceTo(extended.LeaseEnd.Add(31 * time.Minute))
	h.advance(time.Minute)
	ended := h.request(r.ID)
	if ended.State != workflows.StateStopped || !ended.EndingAt.IsZero() || ended.Parked() {
		t.Fatalf("after the end: %s, ending %s, stops %+v", ended.State, ended.EndingAt, ended.Stops)
	}
	if ps := h.parks(r.ID); len(ps) != 1 || ps[0].StartedAt.IsZero() {
		t.Fatalf("the stop was not closed at the end: %+v", ps)
	}
	if n := dmsContaining(h, dev, r.ID+"'s lease ended: "+r.Instance.ID+" is stopped"); n != 1 {
		t.Fatalf("%d end messages, want 1", n)
	}
	if len(h.ec2.CallsOf("StopInstances")) != stops || len(h.ec2.CallsOf("StartInstances")) != starts {
		t.Error("the end of a stopped server's lease called EC2 to stop or start it")
	}
	// Later ticks do not repeat it.
	h.advance(2 * time.Hour)
	if n := dmsContaining(h, dev, r.ID+"'s lease ended"); n != 1 {
		t.Fatalf("%d end messages after later ticks", n)
	}
}

// TestLeaseEnd_WhileStopped_TerminatePolicy: under team data's terminate
// policy, a server stopped within its lease is terminated at the end.
func TestLeaseEnd_WhileStopped_TerminatePolicy(t *testing.T) {
	h := newHarness(t)
	h.ops(analyst, "server request test-small for 1d")
	h.settle()
	all := h.requests()
	r := all[len(all)-1]
	if r.State != workflows.StateRunning || r.Team != "data" {
		t.Fatalf("data's server: %s %s", r.Team, r.State)
	}
	h.advance(time.Hour)
	_, view := h.showServer(analyst, r.ID)
	if _, ok := h.press(analyst, view, r.ID+" stop"); !ok {
		t.Fatal("no Stop button for the owner")
	}
	h.drain()
	if got := h.request(r.ID); !got.Parked() {
		t.Fatalf("after Stop: %s", got.State)
	}
	h.advanceTo(r.LeaseEnd.Add(time.Minute))
	h.advance(time.Minute)
	got := h.request(r.ID)
	if got.State != workflows.StateTerminated || len(h.ec2.CallsOf("TerminateInstances")) != 1 {
		t.Fatalf("after the end: %s, %d terminations", got.State, len(h.ec2.CallsOf("TerminateInstances")))
	}
	if ps := h.parks(r.ID); len(ps) != 1 || ps[0].StartedAt.IsZero() {
		t.Fatalf("the stop was not closed: %+v", ps)
	}
}
