package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

// Events taken in while the runner was away are worked in batches, many
// to a transaction (workflows.BatchHandler): each incident still gets
// exactly what it would get from its events one by one, in order, even
// when a batch holds several events of one incident, a resolve delivered
// before its trigger, and a retried delivery.
func TestPagerDutyEvents_WorkedInBatchesAsOneByOne(t *testing.T) {
	h := newHarness(t)
	h.pd.SetWebhookURL("") // record, deliver by hand
	a, err := h.pd.Trigger(pdService, "Checkout failing")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.pd.Acknowledge(a.ID, "PUONCALL"); err != nil {
		t.Fatal(err)
	}
	b, err := h.pd.Trigger(pdService, "Search is slow")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.pd.Resolve(b.ID, "PUONCALL"); err != nil {
		t.Fatal(err)
	}
	c, err := h.pd.Trigger(pdService, "Queue backlog")
	if err != nil {
		t.Fatal(err)
	}
	evs := h.pd.Events()
	if len(evs) != 5 {
		t.Fatalf("%d events, want 5", len(evs))
	}
	// b's resolve comes before its trigger, and a's trigger twice.
	order := []int{0, 1, 3, 2, 4, 0}
	for _, i := range order {
		resp, err := h.srv.Client().Do(h.redirect(h.pd.WebhookRequest(evs[i])))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("event %d: status %d", i, resp.StatusCode)
		}
	}
	h.drain()

	var incs []*workflows.Incident
	if err := h.app.DB.View(t.Context(), func(tx workflows.Tx) (err error) {
		incs, err = tx.Incidents(workflows.IncidentFilter{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	byPD := map[string]*workflows.Incident{}
	for _, inc := range incs {
		byPD[inc.PDIncidentID] = inc
	}
	if len(incs) != 3 || len(byPD) != 3 {
		t.Fatalf("%d incidents for 3 PagerDuty incidents", len(incs))
	}
	if got := byPD[a.ID]; got.PDStatus != workflows.PDAcknowledged || !got.Open() {
		t.Errorf("%s: %s, open %v; want acknowledged and open", got.ID, got.PDStatus, got.Open())
	}
	if got := byPD[b.ID]; got.Open() {
		t.Errorf("%s is open: its resolve came first and its later trigger must not reopen it", got.ID)
	}
	if got := byPD[c.ID]; got.PDStatus != workflows.PDTriggered || !got.Open() {
		t.Errorf("%s: %s, open %v; want triggered and open", got.ID, got.PDStatus, got.Open())
	}
	if n := len(h.slack.CallsTo("conversations.create")); n != 3 {
		t.Errorf("conversations.create called %d times, want 3 (one per incident)", n)
	}
	if n := len(h.incidentChannels()); n != 3 {
		t.Errorf("%d incident channels, want 3", n)
	}
	resp, err := h.srv.Client().Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `opsbot_job_batches_total{kind="`+workflows.JobPagerEvent+`"}`) {
		t.Error("no batch of PagerDuty events counted in /metrics: the events were not worked in a batch")
	}
}
