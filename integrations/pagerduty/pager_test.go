package pagerduty_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestTrigger_SameKeyTwiceOpensOneIncident(t *testing.T) {
	r := newRig(t)
	first := r.triggered(t, "opsbot-inc-7")
	second := r.triggered(t, "opsbot-inc-7")

	if first != second {
		t.Fatalf("second trigger = %+v, want the first incident %+v", second, first)
	}
	if first.Number != 1 || first.Status != workflows.PDTriggered || first.Service != r.svc.ID ||
		first.Title != "Checkout is down" || !strings.HasSuffix(first.URL, "/incidents/"+first.ID) {
		t.Errorf("incident = %+v", first)
	}
	incs := r.fake.Incidents()
	if len(incs) != 1 {
		t.Fatalf("fake has %d incidents, want 1", len(incs))
	}
	if in := incs[0]; in.Key != "opsbot-inc-7" || in.Urgency != "high" || in.Details != "5xx on /pay" || in.CreatedFrom != r.ada.Email {
		t.Errorf("fake incident = %+v", in)
	}
	posts := r.fake.CallsTo("POST /incidents")
	if len(posts) != 2 || posts[0].Status != 201 || posts[1].Status != 400 {
		t.Fatalf("POST /incidents calls = %+v, want 201 then 400", posts)
	}
	lists := r.fake.CallsTo("GET /incidents")
	if len(lists) != 1 || lists[0].Query.Get("incident_key") != "opsbot-inc-7" ||
		!slices.Equal(lists[0].Query["statuses[]"], []string{"triggered", "acknowledged"}) {
		t.Errorf("lookup calls = %+v", lists)
	}
}

func TestTrigger_KeyOfResolvedIncidentOpensANewOne(t *testing.T) {
	r := newRig(t)
	first := r.triggered(t, "opsbot-inc-8")
	if err := r.fake.Resolve(first.ID, r.bob.ID); err != nil {
		t.Fatal(err)
	}
	second := r.triggered(t, "opsbot-inc-8")
	if second.ID == first.ID || second.Number != 2 {
		t.Fatalf("second = %+v, want a new incident", second)
	}
}

func TestTrigger_MissingFieldsArePermanent(t *testing.T) {
	r := newRig(t)
	req := r.page("opsbot-inc-9")
	req.Title = " "
	if _, err := r.pd.Trigger(context.Background(), req); err == nil || !isPermanent(err) {
		t.Fatalf("empty title: err = %v, want permanent", err)
	}
	req = r.page("opsbot-inc-9")
	req.Service = "PNOSUCH"
	if _, err := r.pd.Trigger(context.Background(), req); err == nil || !isPermanent(err) {
		t.Fatalf("unknown service: err = %v, want permanent", err)
	}
	if n := len(r.fake.Incidents()); n != 0 {
		t.Fatalf("%d incidents opened", n)
	}
}

func TestSetStatus_AcknowledgeAndResolveAsTheFromUser(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	in := r.triggered(t, "opsbot-inc-1")

	r.clock.Advance(3 * time.Minute)
	if err := r.pd.SetStatus(ctx, in.ID, workflows.PDAcknowledged, r.bob.Email); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	got, _ := r.fake.Incident(in.ID)
	if got.Status != "acknowledged" || !slices.Equal(got.AckedBy, []string{r.bob.ID}) {
		t.Fatalf("after ack: status %s, acked by %v", got.Status, got.AckedBy)
	}
	puts := r.fake.CallsTo("PUT /incidents")
	if len(puts) != 1 || puts[0].From != r.bob.Email || !strings.Contains(puts[0].Body, `"status":"acknowledged"`) {
		t.Fatalf("PUT calls = %+v", puts)
	}

	r.clock.Advance(time.Hour)
	if err := r.pd.SetStatus(ctx, in.ID, workflows.PDResolved, r.ada.Email); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	got, _ = r.fake.Incident(in.ID)
	if got.Status != "resolved" || !got.ResolvedAt.Equal(t0.Add(63*time.Minute)) {
		t.Fatalf("after resolve: %+v", got)
	}
	// A retried job: resolving again, or acknowledging late, is done already.
	if err := r.pd.SetStatus(ctx, in.ID, workflows.PDResolved, r.ada.Email); err != nil {
		t.Errorf("resolve again: %v", err)
	}
	if err := r.pd.SetStatus(ctx, in.ID, workflows.PDAcknowledged, r.bob.Email); err != nil {
		t.Errorf("acknowledge after resolve: %v", err)
	}
	if n := len(r.fake.CallsTo("PUT /incidents")); n != 4 {
		t.Errorf("PUT calls = %d, want 4", n)
	}
}

func TestSetStatus_UnknownFromUserIsPermanent(t *testing.T) {
	r := newRig(t)
	in := r.triggered(t, "opsbot-inc-2")
	err := r.pd.SetStatus(context.Background(), in.ID, workflows.PDAcknowledged, "mallory@example.com")
	if err == nil || !isPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	if got, _ := r.fake.Incident(in.ID); got.Status != "triggered" {
		t.Fatalf("status = %s, want unchanged", got.Status)
	}
	if err := r.pd.SetStatus(context.Background(), in.ID, "triggered", r.ada.Email); err == nil || !isPermanent(err) {
		t.Fatalf("status triggered: err = %v, want permanent", err)
	}
}

func TestResponders_AssigneesThenOnCallEachOnce(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	in := r.triggered(t, "opsbot-inc-3")
	// Assigned to Ada and Bob; Bob is also on call at level 1, Cy and Dan at 2.
	if err := r.fake.Reassign(in.ID, r.cy.ID, r.ada.ID, r.bob.ID); err != nil {
		t.Fatal(err)
	}
	got, err := r.pd.Responders(ctx, in.ID, "")
	if err != nil {
		t.Fatalf("responders: %v", err)
	}
	want := []string{"ada@example.com", "bob@example.com", "cy@example.com", "dan@example.com"}
	if !slices.Equal(got, want) {
		t.Fatalf("responders = %v, want %v", got, want)
	}
	oncalls := r.fake.CallsTo("GET /oncalls")
	if len(oncalls) != 2 { // three on-call entries, pages of two
		t.Fatalf("GET /oncalls calls = %d, want 2", len(oncalls))
	}
	if q := oncalls[0].Query; q.Get("escalation_policy_ids[]") != r.policy.ID || q.Get("since") != "2025-03-14T09:26:53Z" {
		t.Errorf("oncalls query = %v", q)
	}
	// Emails are cached: a second call asks for no user again.
	users := len(r.fake.CallsTo("GET /users/{id}"))
	if users != 2 {
		t.Errorf("GET /users calls = %d, want 2 (the assignees)", users)
	}
	if _, err := r.pd.Responders(ctx, in.ID, r.svc.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(r.fake.CallsTo("GET /users/{id}")); n != users {
		t.Errorf("GET /users calls after second Responders = %d, want %d", n, users)
	}
}

func TestLogEntries_AllPagesOldestFirst(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	in := r.triggered(t, "opsbot-inc-4")
	r.clock.Advance(2 * time.Minute)
	if err := r.pd.SetStatus(ctx, in.ID, workflows.PDAcknowledged, r.bob.Email); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(5 * time.Minute)
	if err := r.fake.AddNote(in.ID, r.bob.ID, "Rolled back deploy 1234"); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(10 * time.Minute)
	if err := r.pd.SetStatus(ctx, in.ID, workflows.PDResolved, r.ada.Email); err != nil {
		t.Fatal(err)
	}

	got, err := r.pd.LogEntries(ctx, in.ID)
	if err != nil {
		t.Fatalf("log entries: %v", err)
	}
	want := []struct {
		at    time.Duration
		actor string
		text  string
	}{
		{0, "Ada Lovelace", "Triggered through the API."},
		{0, "Checkout API", "Assigned to Bob Hopper."},
		{2 * time.Minute, "Bob Hopper", "Acknowledged by Bob Hopper."},
		{7 * time.Minute, "Bob Hopper", "Note added by Bob Hopper.: Rolled back deploy 1234"},
		{17 * time.Minute, "Ada Lovelace", "Resolved by Ada Lovelace."},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	fakeLog := must(r.fake.Incident(in.ID)).Log
	for i, w := range want {
		g := got[i]
		if !g.At.Equal(t0.Add(w.at)) || g.Actor != w.actor || g.Text != w.text ||
			g.Kind != workflows.TLPagerDuty || g.Source != "pagerduty" || g.ExternalID != fakeLog[i].ID {
			t.Errorf("entry %d = %+v, want at +%v %q %q id %s", i, g, w.at, w.actor, w.text, fakeLog[i].ID)
		}
	}
	if n := len(r.fake.CallsTo("GET /incidents/{id}/log_entries")); n != 3 {
		t.Errorf("log entry pages fetched = %d, want 3", n)
	}
}

func must[T any](v T, ok bool) T {
	if !ok {
		panic("not found")
	}
	return v
}
