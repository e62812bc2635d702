package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/store/storetest"
	"github.com/opsbot/opsbot/workflows"
)

// TestPostgres_TwoReplicas runs two opsbot processes on one PostgreSQL
// database, as a deployment behind a load balancer does: both take Slack
// requests and PagerDuty webhooks and both work the job queue, and still
// every decision is made once and every outside action done once.
func TestPostgres_TwoReplicas(t *testing.T) {
	h := newHarness(t, storetest.FreshPostgres(t))
	app2, srv2 := h.bootApp()
	replicas := []replica{{h.app, h.srv}, {app2, srv2}}

	h.ops(dev, "server request build-box for 1d")
	h.drain()
	approval := h.channelMessages("platform-approvals")[0]
	// The same approver clicks on both replicas at once (a double click
	// the load balancer spread), and the second approver too.
	var wg sync.WaitGroup
	for _, rep := range replicas {
		for _, who := range []string{lead, lead2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, err := h.slack.BlockAction(testSecret, slackfake.Click{User: who, Channel: approval.Channel, MessageTS: approval.TS, ActionID: workflows.ActApprove, Value: "apr-1"})
				if err != nil {
					t.Error(err)
					return
				}
				rep.deliver(t, h, req)
			}()
		}
	}
	wg.Wait()
	for _, rep := range replicas {
		rep.app.Bot.Wait()
	}
	// Both replicas work the queue at once.
	runBoth := func() {
		var wg sync.WaitGroup
		for _, rep := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					if n, err := rep.app.Runner.RunDue(context.Background()); err != nil || n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	runBoth()
	for i := 0; i < 4; i++ {
		h.clock.Advance(11 * time.Second)
		runBoth()
	}
	if n := len(h.ec2.CallsOf("RunInstances")); n != 1 {
		t.Fatalf("%d RunInstances calls from two replicas, want 1", n)
	}
	if r := h.request("srv-1"); r.State != workflows.StateRunning {
		t.Fatalf("state %s", r.State)
	}
	dms := 0
	for _, m := range h.dms(dev) {
		if strings.Contains(messageText(m), "was approved") {
			dms++
		}
	}
	if dms != 1 {
		t.Errorf("%d approval DMs, want 1", dms)
	}

	// The same PagerDuty event reaches both replicas: one incident, one
	// channel.
	h.pd.SetWebhookURL("")
	if _, err := h.pd.Trigger(pdService, "Replicated trouble"); err != nil {
		t.Fatal(err)
	}
	ev := h.pd.Events()[0]
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
	wg.Wait()
	runBoth()
	if n := len(h.incidentChannels()); n != 1 {
		t.Fatalf("%d incident channels from two replicas", n)
	}
}

// replica is one opsbot process: its App and its HTTP server.
type replica struct {
	app *App
	srv *httptest.Server
}

// deliver sends a request the fake Slack built to this replica.
func (r replica) deliver(t *testing.T, h *harness, req *http.Request) {
	req.URL, _ = req.URL.Parse(r.srv.URL + req.URL.Path)
	req.Host, req.RequestURI = "", ""
	if _, err := h.slack.Deliver(context.Background(), r.srv.Client(), req); err != nil {
		t.Error(err)
	}
}
