package runbooks_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

func TestAuthorizeTable(t *testing.T) {
	w := newWorld(t)
	rb := map[string]*runbooks.Runbook{}
	for _, r := range w.svc.Runbooks {
		rb[r.Name] = r
	}
	cases := []struct {
		name    string
		rb      string
		p       workflows.Person
		allowed bool
		need    bool
		refused string
	}{
		{"member of the team", "restart-service", dev, true, false, ""},
		{"member by email", "restart-service", workflows.Person{Email: "DEV2@example.com"}, true, false, ""},
		{"member of another team", "restart-service", ana, false, false, "restart-service is for team platform; you are in team data."},
		{"user absent from config", "restart-service", stranger, false, false, "You are not in any team in opsbot's config"},
		{"admin outside the team", "restart-service", admin, true, false, ""},
		{"member needs an approver", "promote-build", dev, false, true, ""},
		{"approver needs another approver", "promote-build", lead, false, true, ""},
		{"lone approver: an admin can still approve", "promote-build", solo, false, true, ""},
		{"approvers only: a member", "rotate-keys", dev, false, false, "Only team platform's approvers may run rotate-keys."},
		{"approvers only: an approver of any team", "rotate-keys", lead, true, false, ""},
		{"approvers only: someone in no team", "rotate-keys", stranger, false, false, "You are not in any team"},
		{"admins only: an approver", "failover", lead, false, false, "Only opsbot's admins may run failover."},
		{"admins only: an admin", "failover", admin, true, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := runbooks.Authorize(w.cat, rb[c.rb], c.p)
			if v.Allowed != c.allowed || v.NeedApprover != c.need || !strings.HasPrefix(v.Refused, c.refused) || (c.refused == "" && v.Refused != "") {
				t.Errorf("got %+v, want allowed=%v need=%v refused %q", v, c.allowed, c.need, c.refused)
			}
		})
	}
	// A team whose only approver asks, with no admin to turn to: nobody
	// could approve, so it is refused.
	w.cat.Admins = nil
	if v := runbooks.Authorize(w.cat, rb["promote-build"], solo); v.Refused == "" || v.NeedApprover {
		t.Errorf("lone approver without admins: %+v, want refused", v)
	}
}

func TestFormValidation(t *testing.T) {
	rb := testRunbooks()[0]
	cases := []struct {
		raw  map[string]string
		errs map[string]string
		want string
	}{
		{map[string]string{"service": "api"}, nil, `map[drain:true replicas:1 service:api]`},
		{map[string]string{"service": "api", "replicas": "3", "drain": "no", "reason": "deploy stuck", "token": "s3cret"}, nil,
			`map[drain:false reason:deploy stuck replicas:3 service:api token:s3cret]`},
		{map[string]string{}, map[string]string{"service": "Required."}, ""},
		{map[string]string{"service": "db"}, map[string]string{"service": "Choose one of: api, worker."}, ""},
		{map[string]string{"service": "api", "replicas": "11"}, map[string]string{"replicas": "At most 10."}, ""},
		{map[string]string{"service": "api", "replicas": "0"}, map[string]string{"replicas": "At least 1."}, ""},
		{map[string]string{"service": "api", "replicas": "1.5"}, map[string]string{"replicas": "A whole number, please."}, ""},
		{map[string]string{"service": "api", "replicas": "many"}, map[string]string{"replicas": `"many" is not a number.`}, ""},
		// What Go's ParseFloat reads but nobody writes as a number.
		{map[string]string{"service": "api", "replicas": "0x5"}, map[string]string{"replicas": `"0x5" is not a number.`}, ""},
		{map[string]string{"service": "api", "replicas": "1_0"}, map[string]string{"replicas": `"1_0" is not a number.`}, ""},
		{map[string]string{"service": "api", "replicas": "Inf"}, map[string]string{"replicas": `"Inf" is not a number.`}, ""},
		{map[string]string{"service": "api", "replicas": "NaN"}, map[string]string{"replicas": `"NaN" is not a number.`}, ""},
		{map[string]string{"service": "api", "replicas": "+4"}, nil, `map[drain:true replicas:4 service:api]`},
		{map[string]string{"service": "api", "replicas": "5e0"}, nil, `map[drain:true replicas:5 service:api]`},
		{map[string]string{"service": "api", "drain": "maybe"}, map[string]string{"drain": "Choose yes or no."}, ""},
		{map[string]string{"service": "api", "reason": strings.Repeat("x", 41)}, map[string]string{"reason": "At most 40 characters (this is 41)."}, ""},
		{map[string]string{"service": "api", "reason": "a\nb"}, map[string]string{"reason": "One line, please."}, ""},
		{map[string]string{"service": "api", "extra": "1"}, map[string]string{"extra": `restart-service takes no parameter "extra".`}, ""},
	}
	for i, c := range cases {
		v, errs := rb.Validate(c.raw)
		if fmt.Sprint(errs) != fmt.Sprint(c.errs) && !(len(errs) == 0 && len(c.errs) == 0) {
			t.Errorf("%d: errors %v, want %v", i, errs, c.errs)
		}
		if c.want != "" && fmt.Sprint(map[string]any(v)) != c.want {
			t.Errorf("%d: values %v, want %s", i, v, c.want)
		}
	}
	if got := rb.Shown(runbooks.Values{"service": "api", "token": "s3cret", "replicas": 2.0}); got != "service=api, replicas=2, token=(secret)" {
		t.Errorf("Shown = %q", got)
	}
}

func start(t *testing.T, w *world, p workflows.Person, name string, raw map[string]string, trigger string) *runbooks.Run {
	t.Helper()
	r, err := w.svc.Start(context.Background(), p, name, raw, "", trigger)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return r
}

func TestRunCallsOnceAndReportsInThread(t *testing.T) {
	w := newWorld(t)
	r := start(t, w, dev, "restart-service", map[string]string{"service": "api", "token": "s3cret"}, "view:V1")
	if r.State != runbooks.StateQueued {
		t.Fatalf("state %s", r.State)
	}
	w.drain()
	ms := w.messages()
	golden(t, "run_queued", ms[0])
	got := w.run(r.ID)
	if got.State != runbooks.StateDone || got.Status != 200 || got.Attempts != 1 {
		t.Fatalf("run: %+v", got)
	}
	golden(t, "run_result", byKey(t, ms, "run-result:"))
	golden(t, "run_done", byKey(t, ms, "run:run-1"))
	if len(w.caller.calls) != 1 {
		t.Fatalf("%d calls", len(w.caller.calls))
	}
	c := w.caller.calls[0]
	golden(t, "call_body", jsonOf(t, c.Body))
	if c.URL != "http://hooks.internal/restart" || string(c.Secret) != string(secret) || !strings.HasPrefix(c.Key, "opsbot-run-1-") {
		t.Errorf("call: %+v", c)
	}
	// The audit log has who, what, the parameters without the secret,
	// and the result.
	log := strings.Join(w.audit(), "\n")
	for _, want := range []string{"U0DEV <dev@example.com> runbook.run run-1 restart-service (service=api, replicas=1, drain=yes, token=(secret)) as member, queued",
		"opsbot runbook.done run-1 restart-service HTTP 200"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "s3cret") {
		t.Errorf("the secret parameter is in the audit log:\n%s", log)
	}
	// A replayed job finds the run done and calls nothing.
	w.drain()
	if err := w.svc.Handlers()[runbooks.JobCall](context.Background(), workflows.Job{Kind: runbooks.JobCall, Payload: r.ID}); err != nil {
		t.Fatal(err)
	}
	if len(w.caller.calls) != 1 {
		t.Fatalf("a replayed job called again: %d calls", len(w.caller.calls))
	}
}

func jsonOf(t *testing.T, b []byte) any {
	var v any
	if err := jsonUnmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDoubleSubmitMakesOneRun(t *testing.T) {
	w := newWorld(t)
	start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "view:V1")
	_, err := w.svc.Start(context.Background(), dev, "restart-service", map[string]string{"service": "worker"}, "", "view:V1")
	if workflows.ErrorCode(err) != workflows.EConflict {
		t.Fatalf("second submit: %v", err)
	}
	w.drain()
	if len(w.caller.calls) != 1 {
		t.Fatalf("%d calls", len(w.caller.calls))
	}
}

func TestRefusalsChangeNothingButAreAudited(t *testing.T) {
	w := newWorld(t)
	for _, c := range []struct {
		p    workflows.Person
		name string
		code string
	}{{ana, "restart-service", workflows.EForbidden}, {stranger, "restart-service", workflows.EForbidden}, {dev, "no-such", workflows.EInvalid}} {
		if _, err := w.svc.Start(context.Background(), c.p, c.name, map[string]string{"service": "api"}, "", ""); workflows.ErrorCode(err) != c.code {
			t.Errorf("%s %s: %v", c.p, c.name, err)
		}
	}
	// A form with wrong values records nothing.
	_, err := w.svc.Start(context.Background(), dev, "restart-service", map[string]string{"service": "db"}, "", "view:V9")
	var fe *runbooks.FormError
	if !errors.As(err, &fe) || fe.Fields["service"] == "" {
		t.Fatalf("bad form: %v", err)
	}
	w.drain()
	if len(w.caller.calls) != 0 || len(w.messages()) != 0 {
		t.Fatal("a refusal called or told someone")
	}
	log := strings.Join(w.audit(), "\n")
	if strings.Count(log, "runbook.refuse") != 2 || strings.Contains(log, "runbook.run") {
		t.Errorf("audit:\n%s", log)
	}
}

func TestApprovalFlow(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := start(t, w, dev, "promote-build", map[string]string{"build": "b-123"}, "view:V1")
	if r.State != runbooks.StatePending {
		t.Fatalf("state %s", r.State)
	}
	w.drain()
	ms := w.messages()
	golden(t, "approval_pending", byKey(t, ms, "run-approval:"))
	golden(t, "run_pending", byKey(t, ms, "run:"))
	if len(w.caller.calls) != 0 {
		t.Fatal("called before approval")
	}
	// The asker never approves himself; a member of the team or another
	// team's approver may not decide.
	for _, p := range []workflows.Person{dev, dev2, {SlackID: "U0DLEAD"}} {
		if _, err := w.svc.Decide(ctx, p, r.ID, true); workflows.ErrorCode(err) != workflows.EForbidden {
			t.Errorf("%s decided: %v", p, err)
		}
	}
	// An approver who asks waits for another approver.
	r2 := start(t, w, lead, "promote-build", map[string]string{"build": "b-124"}, "view:V2")
	if _, err := w.svc.Decide(ctx, lead, r2.ID, true); workflows.ErrorCode(err) != workflows.EForbidden {
		t.Errorf("approver approved his own run: %v", err)
	}
	if _, err := w.svc.Decide(ctx, lead, r.ID, true); err != nil {
		t.Fatal(err)
	}
	// The double click.
	if _, err := w.svc.Decide(ctx, lead2, r.ID, false); workflows.ErrorCode(err) != workflows.EConflict {
		t.Errorf("second decision: %v", err)
	}
	w.drain()
	ms = w.messages()
	golden(t, "approval_approved", byKey(t, ms, "run-approval:run-1"))
	if len(w.caller.calls) != 1 || w.run(r.ID).State != runbooks.StateDone {
		t.Fatalf("calls %d, run %+v", len(w.caller.calls), w.run(r.ID))
	}
	// Denied: never called.
	if _, err := w.svc.Decide(ctx, lead2, r2.ID, false); err != nil {
		t.Fatal(err)
	}
	w.drain()
	golden(t, "run_denied", byKey(t, w.messages(), "run:run-2"))
	if len(w.caller.calls) != 1 {
		t.Fatal("a denied run was called")
	}
	log := strings.Join(w.audit(), "\n")
	for _, want := range []string{"runbook.decide.refuse run-1", "U0LEAD <lead@example.com> runbook.approve run-1", "runbook.deny run-2"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit lacks %q:\n%s", want, log)
		}
	}
}

func TestRetryOn500ThenSuccessWithTheSameKey(t *testing.T) {
	w := newWorld(t)
	w.caller.answers = []runbooks.Answer{{Status: 500, Body: "boom"}, {Status: 429, RetryAfter: 30 * time.Second}, {Status: 200, Body: "ok"}}
	r := start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "")
	w.drain()
	if got := w.run(r.ID); got.State != runbooks.StateQueued || got.Attempts != 1 {
		t.Fatalf("after a 500: %+v", got)
	}
	golden(t, "run_retrying", byKey(t, w.messages(), "run:"))
	w.clock.Advance(2 * time.Second) // the backoff
	w.drain()
	if got := w.run(r.ID); got.Attempts != 2 {
		t.Fatalf("after the backoff: %+v", got)
	}
	w.clock.Advance(29 * time.Second) // Retry-After is honoured
	w.drain()
	if len(w.caller.calls) != 2 {
		t.Fatalf("retried before Retry-After: %d calls", len(w.caller.calls))
	}
	w.clock.Advance(time.Second)
	w.drain()
	got := w.run(r.ID)
	if got.State != runbooks.StateDone || got.Attempts != 3 {
		t.Fatalf("run: %+v", got)
	}
	keys := w.caller.keys()
	if len(keys) != 3 || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Fatalf("idempotency keys differ: %v", keys)
	}
	golden(t, "run_result_after_retries", byKey(t, w.messages(), "run-result:"))
}

func TestRetriesAreBoundedAnd4xxIsFinal(t *testing.T) {
	w := newWorld(t)
	w.caller.answers = []runbooks.Answer{{Status: 0}}
	r := start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "")
	for range 5 {
		w.drain()
		w.clock.Advance(time.Minute)
	}
	got := w.run(r.ID)
	if got.State != runbooks.StateFailed || got.Attempts != 3 || len(w.caller.calls) != 3 {
		t.Fatalf("run %+v after %d calls", got, len(w.caller.calls))
	}
	golden(t, "run_failed_transport", byKey(t, w.messages(), "run:"))

	w2 := newWorld(t)
	w2.caller.answers = []runbooks.Answer{{Status: 403, Body: `{"error":"<!channel> forbidden"}`}}
	r2 := start(t, w2, dev, "restart-service", map[string]string{"service": "api"}, "")
	w2.drain()
	w2.clock.Advance(time.Hour)
	w2.drain()
	if got := w2.run(r2.ID); got.State != runbooks.StateFailed || len(w2.caller.calls) != 1 {
		t.Fatalf("a 403 was retried: %+v, %d calls", got, len(w2.caller.calls))
	}
	golden(t, "run_result_403", byKey(t, w2.messages(), "run-result:"))
}

func TestEndpointTimeout(t *testing.T) {
	w := newWorld(t)
	w.svc.Runbooks[0].Timeout = 50 * time.Millisecond
	w.svc.Runbooks[0].Retries = 0
	w.caller.answers = []runbooks.Answer{{Status: -1}}
	r := start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "")
	w.drain()
	got := w.run(r.ID)
	if got.State != runbooks.StateFailed || !strings.Contains(got.Result, "timed out") {
		t.Fatalf("run: %+v", got)
	}
	golden(t, "run_timeout", byKey(t, w.messages(), "run-result:"))
}

func TestCrashedAttemptsCount(t *testing.T) {
	w := newWorld(t)
	r := start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "")
	// Three attempts were started and cut short (crashes): no fourth.
	err := w.db.Update(context.Background(), func(tx workflows.Tx) error {
		cur, err := tx.(runbooks.Tx).RunbookRun(r.ID)
		if err != nil {
			return err
		}
		cur.Attempts = 3
		return tx.(runbooks.Tx).SaveRun(cur)
	})
	if err != nil {
		t.Fatal(err)
	}
	w.drain()
	if got := w.run(r.ID); got.State != runbooks.StateFailed || len(w.caller.calls) != 0 {
		t.Fatalf("run %+v, %d calls", got, len(w.caller.calls))
	}
}

func signed(s []byte, at time.Time, body string) (string, string) {
	ts := strconv.FormatInt(at.Unix(), 10)
	return ts, runbooks.Sign(s, ts, []byte(body))
}

func TestCallbacks(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.caller.answers = []runbooks.Answer{{Status: 202, Body: `{"accepted":true}`}}
	r := start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "")
	w.drain()
	if got := w.run(r.ID); got.State != runbooks.StateAccepted {
		t.Fatalf("run %+v", got)
	}
	golden(t, "run_accepted", byKey(t, w.messages(), "run:"))
	call := func(body, ts, sig string) runbooks.CallbackOutcome {
		t.Helper()
		out, err := w.svc.Callback(ctx, []byte(body), ts, sig)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	p1 := `{"run_id":"run-1","seq":1,"status":"running","text":"draining api (1/3) <!channel>"}`
	ts, sig := signed(secret, w.clock.Now(), p1)
	if out := call(p1, ts, sig); out.Code != 200 {
		t.Fatalf("first progress: %+v", out)
	}
	w.drain()
	golden(t, "progress_running", byKey(t, w.messages(), "run-progress:"))
	// Refused, changing nothing: the replay, a forged signature, another
	// runbook's secret, an expired or future timestamp, an unknown run.
	p2 := `{"run_id":"run-1","seq":2,"status":"succeeded","text":"api restarted"}`
	ts2, sig2 := signed(secret, w.clock.Now(), p2)
	_, wrongSig := signed([]byte("0123456789abcdef-promote"), w.clock.Now(), p2)
	oldTS, oldSig := signed(secret, w.clock.Now().Add(-6*time.Minute), p2)
	newTS, newSig := signed(secret, w.clock.Now().Add(6*time.Minute), p2)
	ghost := `{"run_id":"run-99","seq":1,"status":"succeeded"}`
	gts, gsig := signed(secret, w.clock.Now(), ghost)
	for _, c := range []struct {
		name, body, ts, sig string
		code                int
	}{
		{"replay", p1, ts, sig, 409},
		{"forged", p2, ts2, strings.Replace(sig2, "a", "b", 1) + "", 401},
		{"other secret", p2, ts2, wrongSig, 401},
		{"tampered body", strings.Replace(p2, "succeeded", "failed", 1), ts2, sig2, 401},
		{"expired", p2, oldTS, oldSig, 401},
		{"future", p2, newTS, newSig, 401},
		{"no signature", p2, ts2, "", 401},
		{"unknown run", ghost, gts, gsig, 401},
		{"not JSON", "nope", ts2, sig2, 400},
	} {
		if out := call(c.body, c.ts, c.sig); out.Code != c.code {
			t.Errorf("%s: %+v, want %d", c.name, out, c.code)
		}
	}
	w.drain()
	if ms := w.messages(); len(ms) != 0 {
		t.Fatalf("a refused callback said something:\n%s", titles(ms))
	}
	if got := w.run(r.ID); got.State != runbooks.StateAccepted || got.Seq != 1 {
		t.Fatalf("a refused callback changed the run: %+v", got)
	}
	if out := call(p2, ts2, sig2); out.Code != 200 {
		t.Fatalf("final: %+v", out)
	}
	w.drain()
	ms := w.messages()
	golden(t, "progress_final", byKey(t, ms, "run-progress:"))
	golden(t, "run_succeeded", byKey(t, ms, "run:"))
	if got := w.run(r.ID); got.State != runbooks.StateDone {
		t.Fatalf("run %+v", got)
	}
	p3 := `{"run_id":"run-1","seq":3,"status":"failed"}`
	ts3, sig3 := signed(secret, w.clock.Now(), p3)
	if out := call(p3, ts3, sig3); out.Code != 409 {
		t.Fatalf("after the end: %+v", out)
	}
}

// TestAuthorize_ApproverOfALaterTeam attacks run_by: approvers with a
// person in two teams: a member of platform (first in the config) who is
// an approver of data. rotate-keys is for every team's approvers, so
// they may run it, for data; they were refused as platform's member.
func TestAuthorize_ApproverOfALaterTeam(t *testing.T) {
	w := newWorld(t)
	multi := workflows.Person{SlackID: "U0MULTI"}
	w.cat.Teams[0].Members = append(w.cat.Teams[0].Members, "U0MULTI")
	w.cat.Teams[1].Approvers = append(w.cat.Teams[1].Approvers, "U0MULTI")
	rb, _ := w.svc.Runbook("rotate-keys")
	v := runbooks.Authorize(w.cat, rb, multi)
	if !v.Allowed || v.Team == nil || v.Team.Name != "data" || v.As != "approver" {
		t.Errorf("got %+v, want allowed as data's approver", v)
	}
	// A runbook for members still goes by the first team they are in.
	rb, _ = w.svc.Runbook("restart-service")
	if v := runbooks.Authorize(w.cat, rb, multi); !v.Allowed || v.Team.Name != "platform" {
		t.Errorf("restart-service: %+v", v)
	}
}

// TestFormValidation_InvisibleCharactersRefused: a string parameter
// promised one line, but only \r, \n and NUL were refused, so a value
// could carry a zero-width space (two values that look the same are not),
// a right-to-left override (the approver reads it backwards: "\u202Egnigats"
// shows as "staging") or a Unicode line or paragraph separator (a second
// line in the approval). Control and invisible format characters are now
// refused on the field; visible text of any script is fine.
func TestFormValidation_InvisibleCharactersRefused(t *testing.T) {
	rb := testRunbooks()[0]
	for _, bad := range []string{"deploy\u200bstuck", "\u202Egnigats", "a\u2028b", "a\u2029b", "a\u0085b", "tab\there", "bell\a", "\ufeffbom", "x\u2066y\u2069"} {
		_, errs := rb.Validate(map[string]string{"service": "api", "reason": bad})
		if errs["reason"] == "" {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"déploiement bloqué", "東京 ✓", "🔥 hot", "a - b (c)"} {
		if _, errs := rb.Validate(map[string]string{"service": "api", "reason": good}); errs != nil {
			t.Errorf("%q refused: %v", good, errs)
		}
	}
}
