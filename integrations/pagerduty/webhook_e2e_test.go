package pagerduty_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	opspd "github.com/opsbot/opsbot/integrations/pagerduty"
	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/workflows"
)

// The whole loop over real HTTP: the adapter opens and acknowledges an
// incident in the fake, someone resolves it "in PagerDuty", and each
// change comes back as a signed V3 webhook through WebhookHandler.
func TestWebhook_FakeDeliversSignedEventsOfEveryChange(t *testing.T) {
	r := newRig(t)
	in := newIntake()
	app := httptest.NewServer(in.h)
	t.Cleanup(app.Close)
	// Mid-rotation: PagerDuty signs with two secrets, opsbot knows one.
	fake := pdfake.Start(pdfake.Options{Clock: r.clock.Now, SyncWebhooks: true,
		WebhookURL: app.URL + opspd.WebhookPath, WebhookSecrets: []string{"retired", newSecret}})
	t.Cleanup(fake.Close)
	ada := fake.AddUser(pdfake.User{Name: "Ada Lovelace", Email: "ada@example.com"})
	bob := fake.AddUser(pdfake.User{Name: "Bob Hopper", Email: "bob@example.com"})
	pol := fake.AddEscalationPolicy(pdfake.EscalationPolicy{Name: "Primary", Levels: [][]string{{bob.ID}}})
	svc := fake.AddService(pdfake.Service{Name: "Checkout API", EscalationPolicyID: pol.ID})
	pd := r.client(fake.Token(), fake.URL())
	ctx := context.Background()

	inc, err := pd.Trigger(ctx, workflows.PageRequest{Key: "opsbot-inc-30", Service: svc.ID, Title: "Checkout is down", From: ada.Email})
	if err != nil {
		t.Fatal(err)
	}
	if err := pd.SetStatus(ctx, inc.ID, workflows.PDAcknowledged, bob.Email); err != nil {
		t.Fatal(err)
	}
	if err := fake.AddNote(inc.ID, bob.ID, "Looking at the load balancer"); err != nil {
		t.Fatal(err)
	}
	if err := fake.Resolve(inc.ID, ada.ID); err != nil {
		t.Fatal(err)
	}

	got := in.events()
	var types []string
	for _, ev := range got {
		types = append(types, ev.Type)
		if ev.Incident.ID != inc.ID {
			t.Errorf("%s is about %s, want %s", ev.Type, ev.Incident.ID, inc.ID)
		}
	}
	want := []string{"incident.triggered", "incident.acknowledged", "incident.annotated", "incident.resolved"}
	if !slices.Equal(types, want) {
		t.Fatalf("received %v, want %v", types, want)
	}
	if got[0].Agent != "Ada Lovelace" || got[0].Incident.Number != 1 || !slices.Equal(got[0].Assignees, []string{"Bob Hopper"}) {
		t.Errorf("triggered = %+v", got[0])
	}
	if got[1].Agent != "Bob Hopper" || got[1].Incident.Status != "acknowledged" {
		t.Errorf("acknowledged = %+v", got[1])
	}
	if got[2].Note != "Looking at the load balancer" {
		t.Errorf("annotated = %+v", got[2])
	}
	if got[3].Incident.Status != "resolved" || !got[3].OccurredAt.Equal(t0) {
		t.Errorf("resolved = %+v", got[3])
	}
	for _, ev := range fake.Events() {
		if ev.Status != http.StatusAccepted {
			t.Errorf("delivery of %s: status %d %s", ev.Type, ev.Status, ev.Err)
		}
	}
}
