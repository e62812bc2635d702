package pdfake_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/PagerDuty/go-pagerduty/webhookv3"

	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/workflows"
)

// view is everything go-pagerduty can read back from an account, as
// JSON with the account's own URL taken out (a restored fake listens
// elsewhere).
func view(t *testing.T, fake *pdfake.Server, userIDs []string, serviceID, policyID string) string {
	t.Helper()
	ctx := context.Background()
	c := pagerduty.NewClient(fake.Token(), pagerduty.WithAPIEndpoint(fake.URL()))
	var parts []any
	incs, err := c.ListIncidentsWithContext(ctx, pagerduty.ListIncidentsOptions{Limit: 100})
	if err != nil {
		t.Fatalf("list incidents: %v", err)
	}
	parts = append(parts, incs.Incidents)
	for _, in := range incs.Incidents {
		got, err := c.GetIncidentWithContext(ctx, in.ID)
		if err != nil {
			t.Fatalf("get incident %s: %v", in.ID, err)
		}
		log, err := c.ListIncidentLogEntriesWithContext(ctx, in.ID, pagerduty.ListIncidentLogEntriesOptions{Limit: 100})
		if err != nil {
			t.Fatalf("log of %s: %v", in.ID, err)
		}
		notes, err := c.ListIncidentNotesWithContext(ctx, in.ID)
		if err != nil {
			t.Fatalf("notes of %s: %v", in.ID, err)
		}
		parts = append(parts, got, log.LogEntries, notes)
	}
	for _, id := range userIDs {
		u, err := c.GetUserWithContext(ctx, id, pagerduty.GetUserOptions{})
		if err != nil {
			t.Fatalf("user %s: %v", id, err)
		}
		parts = append(parts, u)
	}
	svc, err := c.GetServiceWithContext(ctx, serviceID, &pagerduty.GetServiceOptions{})
	if err != nil {
		t.Fatalf("service %s: %v", serviceID, err)
	}
	oc, err := c.ListOnCallsWithContext(ctx, pagerduty.ListOnCallOptions{EscalationPolicyIDs: []string{policyID}, Includes: []string{"users"}})
	if err != nil {
		t.Fatalf("on-calls: %v", err)
	}
	parts = append(parts, svc, oc.OnCalls)
	b, err := json.MarshalIndent(parts, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), fake.URL(), "BASE")
}

func createIncident(t *testing.T, fake *pdfake.Server, from, serviceID, title, key string) *pagerduty.Incident {
	t.Helper()
	c := pagerduty.NewClient(fake.Token(), pagerduty.WithAPIEndpoint(fake.URL()))
	in, err := c.CreateIncidentWithContext(context.Background(), from, &pagerduty.CreateIncidentOptions{
		Type: "incident", Title: title, IncidentKey: key, Urgency: "high",
		Service: &pagerduty.APIReference{ID: serviceID, Type: "service_reference"},
		Body:    &pagerduty.APIDetails{Type: "incident_body", Details: "checkout returns 502"},
	})
	if err != nil {
		t.Fatalf("create incident %q: %v", title, err)
	}
	return in
}

func TestSnapshot_RestoreReadsBackTheSameThroughGoPagerDuty(t *testing.T) {
	ctx := context.Background()
	rc := &receiver{secret: pdfake.DefaultWebhookSecret}
	app := httptest.NewServer(rc)
	defer app.Close()
	w := newWorld(t, pdfake.Options{WebhookURL: app.URL, SyncWebhooks: true})
	c := pagerduty.NewClient(w.fake.Token(), pagerduty.WithAPIEndpoint(w.fake.URL()))
	first := createIncident(t, w.fake, w.ada.Email, w.svc.ID, "Checkout is down", "k-1")
	w.clock.Advance(time.Minute)
	if _, err := c.ManageIncidentsWithContext(ctx, w.bob.Email, []pagerduty.ManageIncidentsOptions{{ID: first.ID, Status: "acknowledged"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateIncidentNoteWithContext(ctx, first.ID, pagerduty.IncidentNote{Content: "rolling back",
		User: pagerduty.APIObject{Summary: w.bob.Email}}); err != nil {
		t.Fatal(err)
	}
	second, err := w.fake.Trigger(w.svc.ID, "Queue is backing up")
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Minute)
	if err := w.fake.SetPriority(second.ID, w.ada.ID, "P2"); err != nil {
		t.Fatal(err)
	}
	if err := w.fake.Escalate(second.ID, w.bob.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.fake.Resolve(second.ID, w.ada.ID); err != nil {
		t.Fatal(err)
	}
	users := []string{w.ada.ID, w.bob.ID}
	want := view(t, w.fake, users, w.svc.ID, w.pol.ID)
	snap, err := w.fake.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	clock := workflows.NewManualClock(w.clock.Now())
	b := pdfake.Start(pdfake.Options{Clock: clock.Now, SyncWebhooks: true})
	t.Cleanup(b.Close)
	if err := b.Restore(snap); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got := view(t, b, users, w.svc.ID, w.pol.ID); got != want {
		t.Errorf("after restore go-pagerduty reads\n%s\nwant\n%s", got, want)
	}
	if got, want := b.Events(), w.fake.Events(); !reflect.DeepEqual(got, want) || len(got) != 7 {
		t.Errorf("events after restore:\n got %+v\nwant %+v", got, want)
	}
	for _, ev := range b.Events() {
		if err := webhookv3.VerifySignature(b.WebhookRequest(ev), pdfake.DefaultWebhookSecret); err != nil {
			t.Errorf("restored event %s no longer verifies: %v", ev.ID, err)
		}
	}
	if got, _ := rc.got(); len(got) != 7 {
		t.Errorf("the app received %d webhooks; a restore must not send them again", len(got))
	}

	// The open incident's key still deduplicates.
	cb := pagerduty.NewClient(b.Token(), pagerduty.WithAPIEndpoint(b.URL()))
	if _, err := cb.CreateIncidentWithContext(ctx, w.ada.Email, &pagerduty.CreateIncidentOptions{Type: "incident", Title: "again",
		IncidentKey: "k-1", Service: &pagerduty.APIReference{ID: w.svc.ID, Type: "service_reference"}}); err == nil {
		t.Error("a second open incident with key k-1 was accepted after restore")
	}
	// New IDs and numbers continue where the original would have gone on.
	nextA := createIncident(t, w.fake, w.ada.Email, w.svc.ID, "Search is slow", "k-2")
	nextB := createIncident(t, b, w.ada.Email, w.svc.ID, "Search is slow", "k-2")
	if nextA.ID != nextB.ID || nextA.IncidentNumber != nextB.IncidentNumber {
		t.Errorf("next incident: restored %s #%d, original %s #%d", nextB.ID, nextB.IncidentNumber, nextA.ID, nextA.IncidentNumber)
	}
	checkUniqueIDs(t, b)
}

// checkUniqueIDs fails when any ID in the account is used twice.
func checkUniqueIDs(t *testing.T, fake *pdfake.Server) {
	t.Helper()
	seen := map[string]bool{}
	add := func(id string) {
		if seen[id] {
			t.Errorf("ID %s handed out twice", id)
		}
		seen[id] = true
	}
	numbers := map[int]bool{}
	for _, in := range fake.Incidents() {
		add(in.ID)
		if numbers[in.Number] {
			t.Errorf("incident number %d handed out twice", in.Number)
		}
		numbers[in.Number] = true
		for _, l := range in.Log {
			add(l.ID)
		}
		for _, n := range in.Notes {
			add(n.ID)
		}
	}
	for _, ev := range fake.Events() {
		add(ev.ID)
	}
}

func TestRestore_OlderOrDamagedShapes(t *testing.T) {
	w := newWorld(t, pdfake.Options{})
	createIncident(t, w.fake, w.ada.Email, w.svc.ID, "one", "")
	snap, err := w.fake.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(snap, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "seq")
	delete(m, "incident_number")
	m["schedules"] = []any{"from a later version"}
	noCounters, _ := json.Marshal(m)

	for _, tc := range []struct {
		name, snap string
		incidents  int
		number     int // the next incident's number
	}{
		{"empty object", `{}`, 0, 1},
		{"without the counters, with unknown fields", string(noCounters), 1, 2},
		{"damaged", `{"users":[{"id":""},{"name":"no id"}],"incidents":[{"id":"Q1","service_id":"gone"},{"id":"Q1"}],
			"events":[{"id":"01X","body":{"not":"signed"}}]}`, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := pdfake.Start(pdfake.Options{Clock: w.clock.Now, SyncWebhooks: true})
			t.Cleanup(b.Close)
			if err := b.Restore([]byte(tc.snap)); err != nil {
				t.Fatalf("restore: %v", err)
			}
			if n := len(b.Incidents()); n != tc.incidents {
				t.Errorf("%d incidents, want %d", n, tc.incidents)
			}
			c := pagerduty.NewClient(b.Token(), pagerduty.WithAPIEndpoint(b.URL()))
			if _, err := c.ListIncidentsWithContext(context.Background(), pagerduty.ListIncidentsOptions{}); err != nil {
				t.Fatalf("list after restore: %v", err)
			}
			u := b.AddUser(pdfake.User{Name: "Cy", Email: "cy@example.com"})
			pol := b.AddEscalationPolicy(pdfake.EscalationPolicy{Name: "P", Levels: [][]string{{u.ID}}})
			svc := b.AddService(pdfake.Service{Name: "S", EscalationPolicyID: pol.ID})
			in := createIncident(t, b, u.Email, svc.ID, "after restore", "")
			if in.IncidentNumber != uint(tc.number) {
				t.Errorf("next incident number %d, want %d", in.IncidentNumber, tc.number)
			}
			checkUniqueIDs(t, b)
		})
	}
	if err := w.fake.Restore([]byte("[1,2")); err == nil {
		t.Error("Restore accepted garbage")
	}
	if n := len(w.fake.Incidents()); n != 1 {
		t.Errorf("a failed restore changed the account: %d incidents", n)
	}
}

func TestSnapshot_ConcurrentWithTrafficAndWebhooks(t *testing.T) {
	rc := &receiver{secret: pdfake.DefaultWebhookSecret}
	app := httptest.NewServer(rc)
	defer app.Close()
	w := newWorld(t, pdfake.Options{WebhookURL: app.URL}) // background sender
	empty, err := pdfake.New(pdfake.Options{}).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 10 {
			_, _ = w.fake.Trigger(w.svc.ID, "flapping") // fails once a restore removed the service
		}
	})
	for i := range 10 {
		b, err := w.fake.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if i == 5 {
			b = empty
		}
		if err := w.fake.Restore(b); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	w.fake.Flush()
	checkUniqueIDs(t, w.fake)
}
