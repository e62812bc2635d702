package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/store/storetest"
	"github.com/opsbot/opsbot/workflows"
)

// TestPostgres_TriggersOnTwoReplicasKeepIncidentNumbersDense: PagerDuty
// triggers many incidents at once on a few services, every webhook
// reaches both replicas, and both work the queue at once, as in a storm.
// Each incident-opening transaction that PostgreSQL aborts (40001) and
// the store runs again loses the inc- number it took, so the highest
// number shows how often they conflicted: the 500-incident storm reached
// inc-807. With the lookups narrowed to their rows the numbers stay
// nearly dense.
//
// OPSBOT_NUMBERS_INCIDENTS (default 30) and OPSBOT_NUMBERS_SERVICES
// (default 3) size it.
func TestPostgres_TriggersOnTwoReplicasKeepIncidentNumbersDense(t *testing.T) {
	dsn := storetest.FreshPostgres(t)
	n := envInt(t, "OPSBOT_NUMBERS_INCIDENTS", 30)
	services := envInt(t, "OPSBOT_NUMBERS_SERVICES", 3)
	// Every incident opens a channel of its own, as in the storm.
	h := newEditedHarness(t, func(s string) string { return s + "  storm: {count: 0}\n" }, dsn)
	app2, srv2 := h.bootApp()
	replicas := []replica{{h.app, h.srv}, {app2, srv2}}
	h.pd.SetWebhookURL("")
	for i := range services {
		h.pd.AddService(pdfake.Service{ID: numbersService(i), Name: fmt.Sprintf("Numbers %d", i), EscalationPolicyID: "PEPLAT1"})
	}
	for i := range n {
		if _, err := h.pd.Trigger(numbersService(i%services), fmt.Sprintf("Trouble %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	before := h.app.DB.Retries() + app2.DB.Retries()
	var wg sync.WaitGroup
	for _, ev := range h.pd.Events() {
		for _, rep := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := h.pd.WebhookRequest(ev)
				req.URL, _ = req.URL.Parse(rep.srv.URL + req.URL.Path)
				req.Host, req.RequestURI = "", ""
				resp, err := rep.srv.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}()
		}
	}
	wg.Wait()
	intake := h.app.DB.Retries() + app2.DB.Retries() - before
	// Both replicas work the queue at once (four workers each) until
	// every event is applied.
	for _, rep := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if k, err := rep.app.Runner.RunDue(context.Background()); err != nil || k == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	retries := h.app.DB.Retries() + app2.DB.Retries() - before - intake

	var incs []*workflows.Incident
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		incs, err = tx.Incidents(workflows.IncidentFilter{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	highest := 0
	for _, inc := range incs {
		k, err := strconv.Atoi(strings.TrimPrefix(inc.ID, "inc-"))
		if err != nil {
			t.Fatalf("incident ID %q", inc.ID)
		}
		highest = max(highest, k)
	}
	t.Logf("NUMBERS incidents=%d services=%d replicas=2 | recorded %d, highest inc-%d (%d numbers lost) | transactions run again: %d while applying the events, %d at intake",
		n, services, len(incs), highest, highest-len(incs), retries, intake)
	if len(incs) != n {
		t.Fatalf("%d incidents recorded, want %d", len(incs), n)
	}
	if lost := highest - n; lost > n/10 {
		t.Errorf("inc-%d is the highest number for %d incidents: %d numbers lost to transactions run again (want at most %d)", highest, n, lost, n/10)
	}
}

func numbersService(i int) string { return fmt.Sprintf("PNUM%03d", i) }
