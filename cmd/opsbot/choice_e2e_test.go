package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// TestServerChoice_StopKeepReleaseUnderPolicy drives the Stop / Release /
// Keep buttons offered for one server: people outside the server's team
// (and its team's plain members) are refused with who may act; Keep on
// an idle flag holds for the lease and a second click changes nothing;
// Stop keeps the lease, acts once on a double click, and records the
// stop; Start again starts it in place with the new launch time EC2
// gives it; an approver releases it.
func TestServerChoice_StopKeepReleaseUnderPolicy(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	choice := workflows.ServerChoice{ID: r.ID, Why: workflows.WhyIdle, DrawnFor: h.clock.Now()}
	idle := choice.Value()
	// Any message may carry the set; the idle flag and the off-hours
	// warning have their own tests.
	if err := workflows.Send(context.Background(), h.app.DB, workflows.Message{User: dev, Title: "choose", Actions: workflows.ChoiceActions(r, choice)}, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.drain()
	dm := h.dms(dev)[len(h.dms(dev))-1]

	for _, who := range []string{stranger, analyst, dev2} {
		h.click(who, dm, workflows.ActServerStop, idle)
		mustContain(t, "stop by "+who, h.lastResponse(), "srv-1 is not yours", "owner, team platform's approvers or opsbot's admins", "Nothing was changed")
		h.click(who, dm, workflows.ActServerKeep, idle)
		mustContain(t, "keep by "+who, h.lastResponse(), "srv-1 is not yours")
		h.click(who, dm, workflows.ActServerRelease, idle)
		mustContain(t, "release by "+who, h.lastResponse(), "srv-1 is not yours")
	}
	h.drain()
	if got := h.request(r.ID); got.State != workflows.StateRunning {
		t.Fatalf("after refusals: %s", got.State)
	}

	h.click(dev, dm, workflows.ActServerKeep, idle)
	mustContain(t, "keep", h.lastResponse(), "srv-1 is kept", "not flag it as idle again during this lease")
	h.click(dev, dm, workflows.ActServerKeep, idle)
	mustContain(t, "keep again", h.lastResponse(), "kept already", "Nothing more was changed")
	var kept bool
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		kept, err = workflows.IdleKept(tx, r.ID)
		return err
	}); err != nil || !kept {
		t.Fatalf("idle kept = %v, %v", kept, err)
	}

	// The admin stops it; the owner's click a moment later is a double.
	h.click(admin, dm, workflows.ActServerStop, idle)
	mustContain(t, "stop", h.lastResponse(), "srv-1 is being stopped", "disk and lease are kept")
	h.click(dev, dm, workflows.ActServerStop, idle)
	mustContain(t, "double stop", h.lastResponse(), "being stopped already")
	h.drain()
	h.advance(ec2fake.DefaultDelays.Stop + time.Second)
	stopped := h.request(r.ID)
	if stopped.State != workflows.StateStopped || stopped.LeaseEnd != r.LeaseEnd {
		t.Fatalf("after stop: %s, lease end %s (was %s)", stopped.State, stopped.LeaseEnd, r.LeaseEnd)
	}
	if n := len(h.ec2.CallsOf("StopInstances")); n != 1 {
		t.Fatalf("StopInstances calls = %d, want 1", n)
	}
	h.click(dev, dm, workflows.ActServerStop, idle)
	mustContain(t, "stop a stopped server", h.lastResponse(), "srv-1 is stopped already")

	lease := dmContaining(t, h, dev, "was stopped (idle)")
	mustContain(t, "lease DM", messageText(lease), "was stopped (idle)", "Start again")
	compareGolden(t, map[string]json.RawMessage{"dm_lease_stopped_in_lease": lease.Blocks, "reply_choice_stopped_already": lastResponseBlocks(h)})
	h.advance(3 * time.Hour)
	h.click(dev, lease, workflows.ActStartAgain, r.ID)
	mustContain(t, "start", h.lastResponse(), "srv-1 is being started")
	h.click(dev, lease, workflows.ActStartAgain, r.ID)
	mustContain(t, "double start", h.lastResponse(), "being started already")
	h.settle()
	started := h.request(r.ID)
	if started.State != workflows.StateRunning || !started.Instance.LaunchTime.After(r.Instance.LaunchTime) {
		t.Fatalf("after start: %s launched %s (was %s)", started.State, started.Instance.LaunchTime, r.Instance.LaunchTime)
	}
	if len(h.requests()) != 1 {
		t.Fatalf("start in the lease made a new request")
	}
	var parks []workflows.Park
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		parks, err = tx.Parks("platform", start, start.AddDate(0, 1, 0))
		return err
	}); err != nil || len(parks) != 1 {
		t.Fatalf("parks = %+v, %v", parks, err)
	}
	if p := parks[0]; p.Why != workflows.WhyIdle || p.StartedAt.IsZero() || p.HoursIn(start, start.AddDate(0, 1, 0), h.clock.Now()) < 3 {
		t.Fatalf("park = %+v", p)
	}

	// The team's approver releases it from the same buttons.
	h.click(lead, dm, workflows.ActServerRelease, idle)
	mustContain(t, "release", h.lastResponse(), "srv-1 is being released")
	h.drain()
	if got := h.request(r.ID); got.State != workflows.StateTerminated {
		t.Fatalf("after release: %s", got.State)
	}
	h.click(dev, dm, workflows.ActServerKeep, idle)
	mustContain(t, "keep after release", h.lastResponse(), "there is nothing to keep")
}

// dmContaining is the newest DM to user that contains text (a keyed
// message is edited in place, so it need not be the last one).
func dmContaining(t *testing.T, h *harness, user, text string) slackfake.Message {
	t.Helper()
	ms := h.dms(user)
	for i := len(ms) - 1; i >= 0; i-- {
		if strings.Contains(messageText(ms[i]), text) {
			return ms[i]
		}
	}
	t.Fatalf("no DM to %s contains %q", user, text)
	return slackfake.Message{}
}

func lastResponseBlocks(h *harness) json.RawMessage {
	rs := h.slack.Responses()
	return json.RawMessage(rs[len(rs)-1].Blocks)
}

// TestServerChoice_StartedOutsideOpsbotEndsTheSavings: a server opsbot
// stopped within its lease and then started by hand in the console stops
// counting as saved money when reconciliation sees it running.
func TestServerChoice_StartedOutsideOpsbotEndsTheSavings(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	choice := workflows.ServerChoice{ID: r.ID, Why: workflows.WhyIdle, DrawnFor: h.clock.Now()}
	if err := workflows.Send(context.Background(), h.app.DB, workflows.Message{User: dev, Title: "choose", Actions: workflows.ChoiceActions(r, choice)}, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.click(dev, h.dms(dev)[len(h.dms(dev))-1], workflows.ActServerStop, choice.Value())
	h.drain()
	h.advance(ec2fake.DefaultDelays.Stop + time.Second)
	h.advance(2 * time.Hour)
	if _, err := h.adminEC2().StartInstances(context.Background(), &ec2.StartInstancesInput{InstanceIds: []string{r.Instance.ID}}); err != nil {
		t.Fatal(err)
	}
	h.advance(ec2fake.DefaultDelays.Launch + time.Second)
	if _, err := h.app.Servers.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.advance(5 * time.Hour)
	var sv map[workflows.Why]workflows.Savings
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		sv, err = workflows.SavingsIn(tx, "platform", start, start.AddDate(0, 1, 0), h.clock.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := sv[workflows.WhyIdle]; got.Stops != 1 || got.Hours < 2 || got.Hours > 2.1 {
		t.Fatalf("savings after a start outside opsbot: %+v, want about 2 hours", got)
	}
	if got := h.request(r.ID); got.State != workflows.StateRunning {
		t.Fatalf("state %s", got.State)
	}
}

// TestServerChoice_OffboardedApproverChoosesNothing attacks the cost
// review's Stop now / Release / Keep on a team's server with an
// approver who was offboarded while the config still names them: each
// press is refused ("was offboarded") and the server stays as it was.
func TestServerChoice_OffboardedApproverChoosesNothing(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	choice := workflows.ServerChoice{ID: r.ID, Why: workflows.WhyCostReview, DrawnFor: h.clock.Now()}
	if err := workflows.Send(context.Background(), h.app.DB, workflows.Message{User: lead, Title: "choose", Actions: workflows.ChoiceActions(r, choice)}, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.drain()
	dm := h.dms(lead)[len(h.dms(lead))-1]
	mustContain(t, "offboard", h.ops(admin, "offboard <@"+lead+"|lead>"), "is offboarded")
	h.drain()
	for _, a := range []string{workflows.ActServerStop, workflows.ActServerKeep, workflows.ActServerRelease} {
		h.click(lead, dm, a, choice.Value())
		mustContain(t, a, h.lastResponse(), "was offboarded")
	}
	h.drain()
	if got := h.request(r.ID); got.State != workflows.StateRunning {
		t.Fatalf("after refusals: %s", got.State)
	}
}
