package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// TestRunbooks_TimeoutEndToEnd: promote-build's endpoint answers 202 and
// never calls back. Through opsbot's scheduler task, an hour later the
// run is timed out and the asker told once (golden); the endpoint's late
// report on the callback route gets 409 and changes nothing.
func TestRunbooks_TimeoutEndToEnd(t *testing.T) {
	ep := &rbEndpoint{}
	es := httptest.NewServer(ep)
	defer es.Close()
	t.Setenv("OPSBOT_TEST_RB_SECRET", rbSecret)
	h := newEditedHarness(t, runbooksConfig(es.URL))
	h.ops(dev, "run promote-build")
	v := h.runbookModal(dev)
	req, err := h.slack.ViewSubmission(testSecret, dev, v.ID, map[string]map[string]slackfake.InputValue{"build": {"build": {Value: "b-7"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.send(req, nil)
	h.drain()
	approvals := h.channelMessages("platform-approvals")
	h.click(lead, approvals[len(approvals)-1], workflows.ActOpApprove, "run-1")
	h.drain()
	accepted := h.clock.Now()
	tick := func() {
		t.Helper()
		if err := h.app.runbooksTick(t.Context()); err != nil {
			t.Fatal(err)
		}
		h.drain()
	}
	notices := func() []slackfake.Message {
		var out []slackfake.Message
		for _, m := range h.dms(dev) {
			if strings.Contains(messageText(m), "sent no final report") {
				out = append(out, m)
			}
		}
		return out
	}
	h.clock.Set(accepted.Add(59 * time.Minute))
	tick()
	if len(notices()) != 0 {
		t.Fatal("timed out before its hour")
	}
	h.clock.Set(accepted.Add(3 * time.Hour)) // a jump past the deadline
	tick()
	tick()
	ns := notices()
	if len(ns) != 1 {
		t.Fatalf("%d timeout notices", len(ns))
	}
	mustContain(t, "notice", messageText(ns[0]), "run-1: promote-build timed out", "within 1h")
	runMessage := func() slackfake.Message {
		var parent slackfake.Message
		for _, m := range h.dms(dev) {
			if strings.Contains(messageText(m), "run-1: promote-build") && !m.IsReply() && m.TS != ns[0].TS {
				parent = m
			}
		}
		return parent
	}
	parent := runMessage()
	mustContain(t, "run message", messageText(parent), "run-1: promote-build timed out", "No final report from its endpoint within 1h")

	body := `{"run_id":"run-1","seq":1,"status":"succeeded","text":"b-7 is live"}`
	ts := strconv.FormatInt(h.clock.Now().Unix(), 10)
	cb, _ := http.NewRequest("POST", h.srv.URL+"/runbooks/callback", bytes.NewReader([]byte(body)))
	cb.Header.Set(runbooks.HeaderTimestamp, ts)
	cb.Header.Set(runbooks.HeaderSignature, runbooks.Sign([]byte(rbSecret), ts, []byte(body)))
	resp, err := http.DefaultClient.Do(cb)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h.drain()
	if resp.StatusCode != 409 || len(notices()) != 1 || strings.Contains(messageText(runMessage()), "b-7 is live") || messageText(runMessage()) != messageText(parent) {
		t.Fatalf("late report: %d, %d notices", resp.StatusCode, len(notices()))
	}
	log, err := h.app.DB.AuditLog(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.Action == "runbook.timed_out" && e.Subject == "run-1" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d runbook.timed_out entries", n)
	}
	compareGolden(t, map[string]json.RawMessage{"dm_runbook_timeout": ns[0].Blocks, "dm_runbook_timed_out": parent.Blocks})
}
