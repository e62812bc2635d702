package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

const rbSecret = "runbook-secret-0123456789"

// rbEndpoint is the internal service runbooks call: it checks every
// signature, answers restart with 500 once then 200, and promote with
// 202 (it reports through the callback).
type rbEndpoint struct {
	mu    sync.Mutex
	calls []*http.Request
	keys  []string
	bad   int
}

func (e *rbEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	defer e.mu.Unlock()
	ts, sig := r.Header.Get(runbooks.HeaderTimestamp), r.Header.Get(runbooks.HeaderSignature)
	if runbooks.Sign([]byte(rbSecret), ts, body) != sig {
		e.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	e.calls = append(e.calls, r)
	e.keys = append(e.keys, r.Header.Get(runbooks.HeaderIdempotency))
	switch r.URL.Path {
	case "/restart":
		if len(e.calls) == 1 {
			http.Error(w, "upstream <!channel> busy", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, `{"restarted":"api","pods":3}`)
	case "/promote":
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"accepted":true}`)
	}
}

func runbooksConfig(url string) func(string) string {
	return func(s string) string {
		return s + `
runbooks:
  - name: restart-service
    description: Restart one service of the platform
    url: ` + url + `/restart
    secret_env: OPSBOT_TEST_RB_SECRET
    teams: [platform]
    timeout: 5s
    retries: 2
    params:
      - {name: service, type: choice, options: [api, worker], required: true}
      - {name: replicas, type: number, min: 1, max: 10, integer: true, default: 2}
      - {name: drain, type: bool, default: true, help: Drain connections first}
  - name: promote-build
    description: Promote a build to production
    url: ` + url + `/promote
    secret_env: OPSBOT_TEST_RB_SECRET
    teams: [platform]
    need_approver: true
    params:
      - {name: build, type: string, required: true, pattern: "b-[0-9]+", max_length: 20}
`
	}
}

func (h *harness) runbookModal(user string) slackfake.View {
	h.t.Helper()
	vs := h.slack.Views(user)
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].CallbackID == "runbook.run" {
			return vs[i]
		}
	}
	h.t.Fatalf("no runbook form for %s", user)
	return slackfake.View{}
}

// TestRunbooks_EndToEnd drives runbooks through Slack (the slackfake),
// opsbot's HTTP routes and a local endpoint: the list, the form and its
// validation, a double submit, a 500 then success on one idempotency
// key, the approval, the callbacks (and the refused ones), App Home, the
// audit log; every message and modal against golden files.
func TestRunbooks_EndToEnd(t *testing.T) {
	ep := &rbEndpoint{}
	es := httptest.NewServer(ep)
	defer es.Close()
	t.Setenv("OPSBOT_TEST_RB_SECRET", rbSecret)
	h := newEditedHarness(t, runbooksConfig(es.URL))
	got := map[string]json.RawMessage{}
	lastEphemeral := func(user string) json.RawMessage {
		es := h.slack.Ephemerals(user)
		return es[len(es)-1].Blocks
	}
	lastResp := func() json.RawMessage { rs := h.slack.Responses(); return rs[len(rs)-1].Blocks }

	// The list, and what is refused with the usage line.
	mustContain(t, "list", h.ops(dev, "run"), "Runbooks you may run", "restart-service", "promote-build: Promote a build to production (an approver confirms)")
	got["runbooks_list"] = lastResp()
	mustContain(t, "other team", h.ops(analyst, "run"), "There is no runbook you may run")
	mustContain(t, "other team's form", h.ops(analyst, "run restart-service"), "restart-service is for team platform; you are in team data.")
	got["runbooks_refused_other_team"] = lastResp()
	mustContain(t, "not in config", h.ops(stranger, "run restart-service"), "You are not in any team in opsbot's config")
	mustContain(t, "unknown", h.ops(dev, "run nope"), `There is no runbook "nope"`, "Usage: /ops run [RUNBOOK]")
	got["runbooks_unknown"] = lastResp()
	mustContain(t, "two words", h.ops(dev, "run restart-service api"), "Name one runbook", "/ops run [RUNBOOK]")

	// The form, its validation, the run.
	h.ops(dev, "run restart-service")
	v := h.runbookModal(dev)
	got["modal_runbook_restart"] = v.JSON
	submit := func(user string, v slackfake.View, vals map[string]slackfake.InputValue) *http.Request {
		in := map[string]map[string]slackfake.InputValue{}
		for k, x := range vals {
			in[k] = map[string]slackfake.InputValue{k: x}
		}
		req, err := h.slack.ViewSubmission(testSecret, user, v.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	h.send(submit(dev, v, map[string]slackfake.InputValue{"replicas": {Type: "number_input", Value: "11"}}), nil)
	v, _ = h.slack.View(v.ID)
	if v.Errors["service"] != "Required." || v.Errors["replicas"] != "At most 10." || !v.Open {
		t.Fatalf("form errors: %v (open %v)", v.Errors, v.Open)
	}
	if len(ep.calls) != 0 {
		t.Fatal("a wrong form called the endpoint")
	}
	good := map[string]slackfake.InputValue{"service": {Type: "static_select", Value: "api"}, "replicas": {Type: "number_input", Value: "3"},
		"drain": {Type: "static_select", Value: "no"}, "run_reason": {Value: "api stuck after deploy"}}
	first, second := submit(dev, v, good), submit(dev, v, good) // a double submit
	h.send(first, nil)
	h.send(second, nil)
	h.drain()
	if len(ep.calls) != 1 {
		t.Fatalf("%d calls after the first attempt", len(ep.calls))
	}
	h.advance(3 * 1e9) // the backoff after the 500
	if len(ep.calls) != 2 || ep.keys[0] != ep.keys[1] || ep.bad != 0 {
		t.Fatalf("calls %d, keys %v, bad signatures %d", len(ep.calls), ep.keys, ep.bad)
	}
	dms := h.dms(dev)
	var parent slackfake.Message
	for _, m := range dms {
		if strings.Contains(messageText(m), "run-1: restart-service done") {
			parent = m
		}
	}
	if parent.TS == "" {
		t.Fatalf("no done message in dev's DMs")
	}
	got["dm_runbook_done"] = parent.Blocks
	thread := h.slack.Thread(parent.Channel, parent.TS)
	if len(thread) != 2 {
		t.Fatalf("thread of %d messages", len(thread))
	}
	mustContain(t, "thread", messageText(thread[1]), "restart-service answered: HTTP 200", `{"restarted":"api","pods":3}`, "After 2 attempts")
	got["thread_runbook_result"] = thread[1].Blocks
	if strings.Contains(messageText(parent), "<!channel>") {
		t.Fatal("an endpoint's body reached Slack as markup")
	}

	// Promote: an approver confirms; the asker cannot.
	h.ops(dev, "run promote-build")
	pv := h.runbookModal(dev)
	got["modal_runbook_promote"] = pv.JSON
	h.send(submit(dev, pv, map[string]slackfake.InputValue{"build": {Value: "latest"}}), nil)
	pv, _ = h.slack.View(pv.ID)
	if !strings.HasPrefix(pv.Errors["build"], "Must match") {
		t.Fatalf("pattern: %v", pv.Errors)
	}
	h.send(submit(dev, pv, map[string]slackfake.InputValue{"build": {Value: "b-42"}}), nil)
	h.drain()
	approvals := h.channelMessages("platform-approvals")
	approval := approvals[len(approvals)-1]
	got["approval_runbook_pending"] = approval.Blocks
	h.click(dev, approval, workflows.ActOpApprove, "run-2")
	mustContain(t, "self approval", h.lastResponse(), "You asked for run-2 yourself")
	got["runbooks_refused_self_approval"] = lastResp()
	h.click(dev2, approval, workflows.ActOpApprove, "run-2")
	mustContain(t, "member approval", h.lastResponse(), "Only team platform's approvers")
	if len(ep.calls) != 2 {
		t.Fatal("called before approval")
	}
	h.click(lead, approval, workflows.ActOpApprove, "run-2")
	mustContain(t, "approve", h.lastResponse(), "You approved run-2")
	got["runbooks_reply_approved"] = lastResp()
	h.click(lead2, approval, workflows.ActOpDeny, "run-2")
	mustContain(t, "double decision", h.lastResponse(), "run-2 was approved and under way already")
	h.drain()
	if len(ep.calls) != 3 || ep.calls[2].URL.Path != "/promote" {
		t.Fatalf("promote not called: %d calls", len(ep.calls))
	}
	got["approval_runbook_approved"] = h.channelMessages("platform-approvals")[len(approvals)-1].Blocks

	// Callbacks through opsbot's route.
	callback := func(body string, at int64, secret string) int {
		ts := strconv.FormatInt(at, 10)
		req, _ := http.NewRequest("POST", h.srv.URL+"/runbooks/callback", bytes.NewReader([]byte(body)))
		req.Header.Set(runbooks.HeaderTimestamp, ts)
		req.Header.Set(runbooks.HeaderSignature, runbooks.Sign([]byte(secret), ts, []byte(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := h.clock.Now().Unix()
	p1 := `{"run_id":"run-2","seq":1,"status":"running","text":"canary at 10%"}`
	if c := callback(p1, now, rbSecret); c != 200 {
		t.Fatalf("progress: %d", c)
	}
	for name, c := range map[string]int{
		"replay":  callback(p1, now, rbSecret),
		"forged":  callback(`{"run_id":"run-2","seq":2,"status":"succeeded"}`, now, "another-secret-0123456"),
		"expired": callback(`{"run_id":"run-2","seq":2,"status":"succeeded"}`, now-301, rbSecret),
	} {
		if want := map[string]int{"replay": 409, "forged": 401, "expired": 401}[name]; c != want {
			t.Errorf("%s callback: %d, want %d", name, c, want)
		}
	}
	if c := callback(`{"run_id":"run-2","seq":2,"status":"succeeded","text":"b-42 is live"}`, now, rbSecret); c != 200 {
		t.Fatalf("final: %d", c)
	}
	h.drain()
	var promoted slackfake.Message
	for _, m := range h.dms(dev) {
		if strings.Contains(messageText(m), "run-2: promote-build") && !m.IsReply() {
			promoted = m
		}
	}
	mustContain(t, "promote done", messageText(promoted), "run-2: promote-build done", "b-42 is live")
	got["dm_runbook_promoted"] = promoted.Blocks
	pthread := h.slack.Thread(promoted.Channel, promoted.TS)
	if len(pthread) != 4 { // parent, the 202, two progress updates
		t.Fatalf("promote thread of %d: %v", len(pthread), pthread)
	}
	got["thread_runbook_progress"] = pthread[2].Blocks

	// App Home: a Runbooks section whose button opens the form.
	if err := workflows.RequestHome(t.Context(), h.app.DB, h.clock.Now(), dev); err != nil {
		t.Fatal(err)
	}
	h.drain()
	var home slackfake.View
	for _, x := range h.slack.Views(dev) {
		if x.Type == "home" {
			home = x
		}
	}
	mustContain(t, "home", blockText(home.JSON), "Runbooks", "Run restart-service", "Run promote-build")
	got["home_runbooks"] = home.JSON
	before := len(h.slack.Views(dev))
	h.send(h.slack.BlockAction(testSecret, slackfake.Click{User: dev, ActionID: workflows.ActRunbookOpen, Value: "restart-service", ViewID: home.ID}))
	if vs := h.slack.Views(dev); len(vs) != before+1 || vs[len(vs)-1].CallbackID != "runbook.run" {
		t.Fatalf("the Home button opened no form")
	}

	// The audit log: who, what, parameters, result.
	log, err := h.app.DB.AuditLog(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range log {
		if strings.HasPrefix(e.Action, "runbook.") {
			lines = append(lines, e.Actor+" "+e.Action+" "+e.Subject+" "+e.Detail+" "+e.Reason)
		}
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"runbook.refuse restart-service", "U0DEV <dev@example.com> runbook.run run-1 restart-service (service=api, replicas=3, drain=no) as member, queued api stuck after deploy",
		"opsbot runbook.retry run-1", "opsbot runbook.done run-1 restart-service HTTP 200", "runbook.decide.refuse run-2", "runbook.approve run-2",
		"runbook.progress run-2", "runbook.done run-2",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("audit lacks %q:\n%s", want, all)
		}
	}
	// /ops audit RUN: the run's story, for the team's approvers and the
	// admins; its asker is no approver, another team's approver is told
	// whose it is, an unknown run is named.
	mustContain(t, "audit of a run", h.ops(lead, "audit RUN-2"), "Audit log: run-2", "runbook.run run-2", "runbook.approve run-2", "runbook.progress run-2", "runbook.done run-2")
	got["audit_run"] = lastEphemeral(lead)
	if a := h.ops(lead, "audit run-2"); strings.Contains(a, "run-1") || strings.Contains(a, "runbook.refuse") {
		t.Errorf("another run's entries in run-2's log:\n%s", a)
	}
	mustContain(t, "team log shows runs", h.ops(lead, "audit platform"), "runbook.done run-1")
	mustContain(t, "asker", h.ops(dev, "audit run-2"), "shown to opsbot's admins and to teams' approvers")
	mustContain(t, "unknown run", h.ops(lead, "audit run-99"), `There is no server, approval, incident or runbook run "run-99"`)
	mustContain(t, "run and team", h.ops(lead, "audit run-2 platform"), "give one subject and one since at most", "/ops audit [SERVER|INCIDENT|RUN|TEAM|EMAIL] [SINCE]")
	compareGolden(t, got)
}
