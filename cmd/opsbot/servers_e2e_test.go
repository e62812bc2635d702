package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

func TestAutoApprovedRequest_LaunchesWithTagsAndClientToken(t *testing.T) {
	h := newHarness(t)
	reply := h.ops(dev, "server request test-small for 2d load test")
	mustContain(t, "reply", reply, "srv-1 approved", "launching", "Estimate")

	h.settle()
	insts := h.ec2.Instances()
	if len(insts) != 1 {
		t.Fatalf("%d instances, want 1", len(insts))
	}
	in := insts[0]
	r := h.request("srv-1")
	wantTags := map[string]string{
		"opsbot:managed": "true", "opsbot:request": "srv-1", "opsbot:owner": "dev@example.com",
		"opsbot:team": "platform", "opsbot:template": "test-small", "cost-center": "platform", "env": "test",
		"opsbot:lease-end": r.LeaseEnd.Format(time.RFC3339),
	}
	for k, v := range wantTags {
		if in.Tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, in.Tags[k], v)
		}
	}
	if in.ClientToken != r.ClientToken || !strings.HasPrefix(in.ClientToken, "opsbot-srv-1-") {
		t.Errorf("client token %q, request has %q", in.ClientToken, r.ClientToken)
	}
	if in.Type != "t3.small" || in.ImageID != "ami-0123456789abcdef0" || in.RootVolume.SizeGB != 20 {
		t.Errorf("launched %+v", in)
	}
	if r.State != workflows.StateRunning || r.Instance.ID != in.ID || r.Instance.PrivateIP == "" {
		t.Fatalf("request %s %+v", r.State, r.Instance)
	}
	if !r.LeaseEnd.Equal(r.LeaseStart.Add(48 * time.Hour)) {
		t.Errorf("lease %s → %s", r.LeaseStart, r.LeaseEnd)
	}
	dms := h.dms(dev)
	if len(dms) != 1 {
		t.Fatalf("%d DMs to the owner, want 1 (posted once, edited in place)", len(dms))
	}
	mustContain(t, "running DM", messageText(dms[0]), "is running", in.ID, in.PrivateIP, "Extend 1 day", "Release now")
	if got := h.committed("platform"); got != r.Estimate {
		t.Errorf("committed %s, want the estimate %s", got, r.Estimate)
	}
	// A replayed launch job (a crash before it was marked done) launches
	// nothing new: the client token is the same.
	if n := len(h.ec2.CallsOf("RunInstances")); n != 1 {
		t.Errorf("RunInstances called %d times", n)
	}
}

func TestRequestOverCeiling_ApproverLaunchesOnce(t *testing.T) {
	h := newHarness(t)
	reply := h.ops(dev, "server request build-box for 2d compile the world")
	mustContain(t, "reply", reply, "srv-1 is waiting for approval", "#platform-approvals")
	if n := len(h.ec2.Instances()); n != 0 {
		t.Fatalf("%d instances launched before approval", n)
	}
	h.drain()
	msgs := h.channelMessages("platform-approvals")
	if len(msgs) != 1 {
		t.Fatalf("%d approval messages, want 1", len(msgs))
	}
	approval := msgs[0]
	mustContain(t, "approval message", messageText(approval),
		"srv-1: approval needed", "<@U0DEV>", "build-box", "2d", "Estimate", "Budget left after", "compile the world", "Approve", "Deny")
	if got := h.committed("platform"); got != 0 {
		t.Fatalf("committed %s before approval", got)
	}

	// The requester cannot approve their own request.
	h.click(dev, approval, workflows.ActApprove, "apr-1")
	mustContain(t, "own click", h.lastResponse(), "cannot decide your own request")
	// Nor can someone who is not an approver.
	h.click(dev2, approval, workflows.ActApprove, "apr-1")
	mustContain(t, "member click", h.lastResponse(), "Only team platform's approvers")
	if r := h.request("srv-1"); r.State != workflows.StatePending {
		t.Fatalf("state %s after refused clicks", r.State)
	}

	h.click(lead, approval, workflows.ActApprove, "apr-1")
	mustContain(t, "approver click", h.lastResponse(), "You approved srv-1")
	// A double click gives one outcome.
	h.click(lead, approval, workflows.ActApprove, "apr-1")
	mustContain(t, "second click", h.lastResponse(), "already approved")
	h.settle()
	if n := len(h.ec2.Instances()); n != 1 {
		t.Fatalf("%d instances, want exactly 1", n)
	}
	msgs = h.channelMessages("platform-approvals")
	if len(msgs) != 1 || msgs[0].Edited == nil {
		t.Fatalf("approval message not edited in place: %d messages", len(msgs))
	}
	updated := messageText(msgs[0])
	mustContain(t, "decided message", updated, "srv-1: approved", "*Approved by*\n<@U0LEAD>")
	if strings.Contains(updated, "\"Approve\"") || strings.Contains(blockText(msgs[0].Blocks), "Deny") {
		t.Errorf("decided message still has buttons:\n%s", updated)
	}
	var sawDecision bool
	for _, m := range h.dms(dev) {
		if strings.Contains(messageText(m), "was approved") {
			sawDecision = true
		}
	}
	if !sawDecision {
		t.Error("requester got no DM about the approval")
	}
	if r := h.request("srv-1"); h.committed("platform") != r.Estimate {
		t.Errorf("committed %s, want %s", h.committed("platform"), r.Estimate)
	}
}

func TestDeny_CarriesTheReasonToTheRequester(t *testing.T) {
	h := newHarness(t)
	h.ops(dev, "server request build-box for 2d")
	h.drain()
	approval := h.channelMessages("platform-approvals")[0]
	h.click(lead, approval, workflows.ActDeny, "apr-1")
	var views []slackfake.View
	for _, v := range h.slack.Views(lead) {
		if v.Type == "modal" {
			views = append(views, v)
		}
	}
	if len(views) != 1 {
		t.Fatalf("Deny opened %d modals, want 1", len(views))
	}
	if status := h.send(h.slack.ViewSubmission(testSecret, lead, views[0].ID, map[string]map[string]slackfake.InputValue{
		"reason": {"reason": {Value: "use the shared build farm"}},
	})); status != 200 {
		t.Fatalf("submission status %d", status)
	}
	h.drain()
	r := h.request("srv-1")
	if r.State != workflows.StateDenied || !strings.Contains(r.StateReason, "use the shared build farm") {
		t.Fatalf("request %s: %s", r.State, r.StateReason)
	}
	var found bool
	for _, m := range h.dms(dev) {
		if strings.Contains(messageText(m), "was denied") && strings.Contains(messageText(m), "use the shared build farm") {
			found = true
		}
	}
	if !found {
		t.Error("the requester did not hear the reason")
	}
	mustContain(t, "approval message", messageText(h.channelMessages("platform-approvals")[0]), "denied", "use the shared build farm")
	if n := len(h.ec2.Instances()); n != 0 {
		t.Errorf("%d instances after a denial", n)
	}
}

func TestTwoApprovalsTier_NeedsTwoDistinctApprovers(t *testing.T) {
	h := newHarness(t)
	mustContain(t, "reply", h.ops(dev, "server request huge for 4d"), "waiting for approval", "2 approval")
	h.drain()
	approval := h.channelMessages("platform-approvals")[0]
	h.click(lead, approval, workflows.ActApprove, "apr-1")
	mustContain(t, "first", h.lastResponse(), "needs 1 more")
	h.click(lead, approval, workflows.ActApprove, "apr-1")
	mustContain(t, "same approver again", h.lastResponse(), "already voted")
	h.drain()
	if n := len(h.ec2.Instances()); n != 0 {
		t.Fatalf("launched after one of two approvals")
	}
	h.click(lead2, h.channelMessages("platform-approvals")[0], workflows.ActApprove, "apr-1")
	h.settle()
	if n := len(h.ec2.Instances()); n != 1 {
		t.Fatalf("%d instances after two approvals", n)
	}
}

func TestOverBudget_DeniedWhenPolicySaysDeny(t *testing.T) {
	h := newHarness(t)
	reply := h.ops(analyst, "server request build-box for 3d")
	mustContain(t, "reply", reply, "srv-1 was refused", "$5.27 over its budget", "budget $20.00, $0.00 committed")
	if r := h.request("srv-1"); r.State != workflows.StateDenied {
		t.Fatalf("state %s", r.State)
	}
	h.drain()
	if msgs := h.channelMessages("data-approvals"); len(msgs) != 0 {
		t.Errorf("approvers were asked about a request the policy denies")
	}
}

func TestApprovalExpires_AndRemindsBefore(t *testing.T) {
	h := newHarness(t)
	h.ops(dev, "server request build-box for 2d")
	h.drain()
	h.advance(4 * time.Hour)
	thread := h.slack.Thread(h.channelMessages("platform-approvals")[0].Channel, h.channelMessages("platform-approvals")[0].TS)
	if len(thread) < 2 {
		t.Fatalf("no reminder in the approval's thread after 4h")
	}
	mustContain(t, "reminder", messageText(thread[len(thread)-1]), "has waited 4h", "<@U0LEAD>")
	h.advance(44 * time.Hour)
	if r := h.request("srv-1"); r.State != workflows.StateExpired {
		t.Fatalf("state %s after 48h", r.State)
	}
	mustContain(t, "approval message", messageText(h.channelMessages("platform-approvals")[0]), "expired")
	if strings.Contains(blockText(h.channelMessages("platform-approvals")[0].Blocks), "Approve") {
		t.Error("the expired approval still has buttons")
	}
	if _, err := h.app.Servers.Decide(t.Context(), workflows.Person{SlackID: lead}, "apr-1", true, ""); workflows.ErrorCode(err) != workflows.EConflict {
		t.Errorf("deciding an expired approval: %v", err)
	}
	mustContain(t, "approvals", h.ops(lead, "approvals"), "Nothing waits")
	h.drain()
	if n := len(h.ec2.Instances()); n != 0 {
		t.Fatal("an expired approval launched a server")
	}
}

func TestBadInput_ClearAnswerAndNoChange(t *testing.T) {
	h := newHarness(t)
	h.ops(dev, "server request test-small")
	h.settle()
	tests := []struct {
		user, text string
		wants      []string
	}{
		{dev, "server request nope", []string{`no server template "nope"`, "test-small", "build-box"}},
		{dev, "server request test-small for 2x", []string{`"2x" is not a duration`, "Usage:", "/ops server request TEMPLATE"}},
		{dev, "server request test-small for -1d", []string{"not a positive duration", "Usage:"}},
		{dev, "server request test-small for 999d", []string{"too long", "Usage:"}},
		{dev, "server request test-small for 8d", []string{"longer than the longest lease", "7d"}},
		{dev, "lease extend srv-1", []string{"Name the server", "/ops lease extend SERVER DURATION"}},
		{dev, "lease extend srv-99 1d", []string{"no server srv-99"}},
		{dev2, "lease extend srv-1 1d", []string{"srv-1 is not yours"}},
		{dev2, "lease release srv-1", []string{"srv-1 is not yours"}},
		{stranger, "server request test-small", []string{"not a member of any team"}},
		{dev, "budget nosuchteam", []string{`no team "nosuchteam"`}},
		{dev, "frobnicate", []string{"not an /ops command", "/ops help"}},
	}
	before := h.request("srv-1")
	for _, tt := range tests {
		mustContain(t, "/ops "+tt.text, h.ops(tt.user, tt.text), tt.wants...)
	}
	h.drain()
	if got := h.request("srv-1"); got.LeaseEnd != before.LeaseEnd || got.State != before.State {
		t.Errorf("srv-1 changed: %+v", got)
	}
	if n := len(h.ec2.Instances()); n != 1 {
		t.Errorf("%d instances", n)
	}
	reqs := h.requests()
	if len(reqs) != 1 {
		t.Errorf("%d requests stored, want only the first", len(reqs))
	}
}

func TestCommandsThatRead(t *testing.T) {
	h := newHarness(t)
	h.ops(dev, "server request test-small for 1d")
	h.ops(dev, "server request build-box for 1d")
	h.settle()
	mustContain(t, "servers", h.ops(dev, "servers"), "srv-1 · test-small", "running", "srv-2 · build-box", "waiting for approval")
	mustContain(t, "budget", h.ops(dev, "budget"), "Team platform", "$500.00", "Committed", "Remaining", "Reserved by open requests", "$8.42 (1)")
	mustContain(t, "approvals", h.ops(lead, "approvals"), "srv-2", "Approve srv-2")
	mustContain(t, "no approvals", h.ops(dev, "approvals"), "Nothing waits for your decision")
	mustContain(t, "help", h.ops(dev, "help"), "/ops server request", "/ops lease extend", "/ops budget")
}

func TestConcurrentApprovers_OneOutcome(t *testing.T) {
	h := newHarness(t)
	h.ops(dev, "server request build-box for 2d")
	h.drain()
	var wg sync.WaitGroup
	results := make([]error, 2)
	for i, who := range []string{lead, lead2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = h.app.Servers.Decide(t.Context(), workflows.Person{SlackID: who, Email: map[string]string{lead: "lead@example.com", lead2: "lead2@example.com"}[who]}, "apr-1", i == 0, "no")
		}()
	}
	wg.Wait()
	okCount := 0
	for _, err := range results {
		if err == nil {
			okCount++
		} else if workflows.ErrorCode(err) != workflows.EConflict {
			t.Fatalf("unexpected error %v", err)
		}
	}
	if okCount != 1 {
		t.Fatalf("%d decisions took effect, want exactly 1: %v", okCount, results)
	}
	h.settle()
	r := h.request("srv-1")
	instances := len(h.ec2.Instances())
	switch r.State {
	case workflows.StateRunning:
		if instances != 1 {
			t.Fatalf("approved but %d instances", instances)
		}
	case workflows.StateDenied:
		if instances != 0 || h.committed("platform") != 0 {
			t.Fatalf("denied but %d instances, %s committed", instances, h.committed("platform"))
		}
	default:
		t.Fatalf("state %s", r.State)
	}
}

func TestSlackRoutes_RefuseBadSignatures(t *testing.T) {
	h := newHarness(t)
	post := func(mutate func(req *http.Request)) int {
		req, err := h.slack.SlashCommand(testSecret, dev, "general", "/ops", "server request test-small")
		if err != nil {
			t.Fatal(err)
		}
		req.URL, _ = req.URL.Parse(h.srv.URL + req.URL.Path)
		req.Host, req.RequestURI = "", ""
		mutate(req)
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name   string
		mutate func(*http.Request)
		want   int
	}{
		{"unsigned", func(r *http.Request) { r.Header.Del("X-Slack-Signature") }, 401},
		{"bad signature", func(r *http.Request) { r.Header.Set("X-Slack-Signature", "v0=deadbeef") }, 401},
		{"stale timestamp", func(r *http.Request) {
			r.Header.Set("X-Slack-Request-Timestamp", fmt.Sprint(h.clock.Now().Add(-6*time.Minute).Unix()))
		}, 401},
		{"oversized", func(r *http.Request) {
			body := bytes.Repeat([]byte("a"), 2<<20)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}, 413},
	}
	for _, tt := range tests {
		if got := post(tt.mutate); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
	// A replay of a good request within the window changes nothing.
	req, _ := h.slack.SlashCommand(testSecret, dev, "general", "/ops", "server request test-small")
	body, _ := io.ReadAll(req.Body)
	for i := 0; i < 2; i++ {
		r2, _ := http.NewRequest("POST", h.srv.URL+"/slack/commands", bytes.NewReader(body))
		r2.Header = req.Header.Clone()
		resp, err := h.srv.Client().Do(r2)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("attempt %d: %v %v", i, err, resp)
		}
		resp.Body.Close()
	}
	h.app.Bot.Wait()
	reqs := h.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests after bad and replayed requests, want 1 (the first good one)", len(reqs))
	}
}

func TestAppHome_ShowsServersApprovalsBudgetAndIncidents(t *testing.T) {
	h := newHarness(t)
	h.ops(dev, "server request test-small for 1d")
	h.ops(dev, "server request build-box for 1d needs a big box")
	h.settle()
	h.incidentCmd(dev2, "general", "declare Cache down sev2")
	h.drain()
	h.send(h.slack.AppHomeOpened(testSecret, dev))
	h.drain()
	home := func(user string) string {
		for _, v := range h.slack.Views(user) {
			if v.Type == "home" {
				return blockText(v.JSON)
			}
		}
		return ""
	}
	mustContain(t, "developer's home", home(dev), "Your servers", "srv-1", "test-small", "running", "Extend 1 day",
		"Waiting for approval", "srv-2", "Team platform budget", "Remaining", "Open incidents", "inc-1", "Cache down")
	// The approver's home was refreshed when the approval opened.
	mustContain(t, "approver's home", home(lead), "Waiting for your decision", "srv-2", "needs a big box", "Approve", "Deny")
	h.click(lead, h.channelMessages("platform-approvals")[0], workflows.ActApprove, "apr-1")
	h.drain()
	if strings.Contains(home(lead), "Waiting for your decision") {
		t.Error("the approver's home still shows a decided approval")
	}
}

// TestBudget_VisibleToTheTeamApproversAndAdminsOnly: a team's budget is
// the team's business. Before, /ops budget TEAM answered anyone, even a
// user absent from the config.
func TestBudget_VisibleToTheTeamApproversAndAdminsOnly(t *testing.T) {
	h := newHarness(t)
	shown := []string{"Team platform", "$500.00", "Remaining"}
	refused := []string{"shown only to its members and approvers and to opsbot's admins", "<@" + lead + ">", "lead2@example.com"}
	tests := []struct {
		actor, who, text string
		wants            []string
		not              []string
	}{
		{"member", dev, "budget platform", shown, nil},
		{"member named by email in config", dev2, "budget platform", shown, nil},
		{"approver", lead, "budget platform", shown, nil},
		{"approver named by email in config", lead2, "budget platform", shown, nil},
		{"approver of the other team too", lead, "budget data", []string{"Team data", "$20.00"}, nil},
		{"the team's name in other case", dev, "budget PLATFORM", shown, nil},
		{"other team's member", analyst, "budget platform", refused, []string{"$500.00"}},
		{"member asking for the other team", dev, "budget data", []string{"Team data's budget is shown only", "<@" + lead + ">"}, []string{"$20.00"}},
		{"user absent from config", stranger, "budget platform", refused, []string{"$500.00"}},
		{"user absent from config, own team", stranger, "budget", []string{"not a member of any team"}, []string{"$"}},
		{"user absent from config, unknown team", stranger, "budget nosuch", []string{"cannot see budgets"}, []string{"platform", "data"}},
		{"admin", admin, "budget platform", shown, nil},
		{"admin, other team", admin, "budget data", []string{"Team data", "$20.00"}, nil},
		{"admin, unknown team", admin, "budget nosuch", []string{`no team "nosuch"`, "platform, data"}, nil},
	}
	for _, tt := range tests {
		got := h.ops(tt.who, tt.text)
		mustContain(t, tt.actor+": /ops "+tt.text, got, tt.wants...)
		for _, n := range tt.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: /ops %s shows %q:\n%s", tt.actor, tt.text, n, got)
			}
		}
	}
}
