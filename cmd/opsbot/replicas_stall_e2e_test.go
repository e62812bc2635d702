package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/opsbot/opsbot/store/storetest"
	"github.com/opsbot/opsbot/workflows"
)

// TestPostgres_StalledReplicaDoesNotHoldUpAnotherReplicasIntake: while
// replica 1 holds a write transaction open (stalled in the middle of its
// own PagerDuty event and server request, for up to 5 s), replica 2
// answers a PagerDuty webhook and a slash command, and both commit,
// before replica 1's transaction ends. Before, every write took one
// advisory lock, and replica 2 waited the whole 5 s.
func TestPostgres_StalledReplicaDoesNotHoldUpAnotherReplicasIntake(t *testing.T) {
	h := newHarness(t, storetest.FreshPostgres(t))
	app2, srv2 := h.bootApp()
	one, two := replica{h.app, h.srv}, replica{app2, srv2}
	h.pd.SetWebhookURL("")

	// Replica 2's normal latency first, nothing held.
	base := intakeOnce(t, h, two, "Before the stall")

	holding, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- one.app.DB.Update(context.Background(), func(tx workflows.Tx) error {
			if _, err := tx.MarkSent("pd-event:stalled", h.clock.Now()); err != nil {
				return err
			}
			if _, err := tx.NextID("srv"); err != nil {
				return err
			}
			if err := tx.Audit(workflows.AuditEntry{At: h.clock.Now(), Actor: "opsbot", Action: "test.stall", Subject: "srv-0"}); err != nil {
				return err
			}
			close(holding)
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			return nil
		})
	}()
	select {
	case <-holding:
	case err := <-held:
		t.Fatalf("replica 1's transaction: %v", err)
	}
	stalled := intakeOnce(t, h, two, "During the stall")
	select {
	case err := <-held:
		t.Fatalf("replica 1's transaction ended (%v) before replica 2 answered: replica 2 waited for it", err)
	default:
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	t.Logf("replica 2's intake, PagerDuty webhook / slash command: %s / %s normally, %s / %s while replica 1 holds a transaction",
		base[0].Round(time.Millisecond), base[1].Round(time.Millisecond), stalled[0].Round(time.Millisecond), stalled[1].Round(time.Millisecond))
	if n := len(h.requests()); n != 2 {
		t.Errorf("%d server requests stored, want replica 2's two", n)
	}
}

// intakeOnce sends replica r a new PagerDuty trigger and an /ops server
// request, one after the other, checks each was accepted, and returns
// how long each took to be answered.
func intakeOnce(t *testing.T, h *harness, r replica, title string) [2]time.Duration {
	t.Helper()
	if _, err := h.pd.Trigger(pdService, title); err != nil {
		t.Fatal(err)
	}
	evs := h.pd.Events()
	req := h.pd.WebhookRequest(evs[len(evs)-1])
	req.URL, _ = req.URL.Parse(r.srv.URL + req.URL.Path)
	req.Host, req.RequestURI = "", ""
	start := time.Now()
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var took [2]time.Duration
	took[0] = time.Since(start)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("webhook: status %d", resp.StatusCode)
	}
	cmd, err := h.slack.SlashCommand(testSecret, dev, "general", "/ops", "server request build-box for 1d")
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	status, err := h.slack.Deliver(context.Background(), r.srv.Client(), retarget(cmd, r))
	took[1] = time.Since(start)
	if err != nil || status != http.StatusOK {
		t.Fatalf("slash command: status %d, %v", status, err)
	}
	r.app.Bot.Wait()
	return took
}

func retarget(req *http.Request, r replica) *http.Request {
	req.URL, _ = req.URL.Parse(r.srv.URL + req.URL.Path)
	req.Host, req.RequestURI = "", ""
	return req
}
