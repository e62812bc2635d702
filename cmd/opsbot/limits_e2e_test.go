package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// Tests that drive opsbot with the largest or oddest input a person can
// give and check that nothing it sends is over a limit the real service
// enforces (the fakes refuse what Slack, Notion, PagerDuty and EC2 refuse).

// selectOptions returns the values a static select in a view offers,
// from its options or its option groups.
func selectOptions(t *testing.T, view json.RawMessage, blockID string) []string {
	t.Helper()
	var v struct {
		Blocks []struct {
			BlockID string `json:"block_id"`
			Element struct {
				Options []struct {
					Value string `json:"value"`
				} `json:"options"`
				OptionGroups []struct {
					Options []struct {
						Value string `json:"value"`
					} `json:"options"`
				} `json:"option_groups"`
			} `json:"element"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(view, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range v.Blocks {
		if b.BlockID != blockID {
			continue
		}
		for _, o := range b.Element.Options {
			out = append(out, o.Value)
		}
		for _, g := range b.Element.OptionGroups {
			for _, o := range g.Options {
				out = append(out, o.Value)
			}
		}
	}
	return out
}

// TestExtendForm_MoreThanAHundredRunningServersAllListed: Slack refuses a
// static select of more than 100 options (invalid_arguments), so a person
// with 105 running servers got "Something went wrong" from `/ops lease
// extend`. The form now lists them all, in option groups of at most 100,
// and extending the last one works.
func TestExtendForm_MoreThanAHundredRunningServersAllListed(t *testing.T) {
	h := newHarness(t)
	for range 105 {
		h.ops(dev, "server request test-small for 1d load test")
		h.clock.Advance(time.Second)
	}
	h.settle()
	var running []*workflows.ServerRequest
	for _, r := range h.requests() {
		if r.State == workflows.StateRunning {
			running = append(running, r)
		}
	}
	if len(running) != 105 {
		t.Fatalf("%d servers running, want 105", len(running))
	}
	if got := h.ops(dev, "lease extend"); strings.Contains(got, "went wrong") {
		t.Fatalf("/ops lease extend: %s", got)
	}
	for _, c := range h.slack.CallsTo("views.open") {
		if c.Error != "" {
			t.Fatalf("views.open refused: %s", c.Error)
		}
	}
	var form slackfake.View
	for _, v := range h.slack.Views(dev) {
		if v.Type == "modal" && v.Open {
			form = v
		}
	}
	opts := selectOptions(t, form.JSON, "server")
	if len(opts) != 105 {
		t.Fatalf("the form offers %d servers, want 105", len(opts))
	}
	last := running[len(running)-1]
	var value string
	for _, o := range opts {
		if strings.HasPrefix(o, last.ID+" ") {
			value = o
		}
	}
	if value == "" {
		t.Fatalf("%s is not in the form", last.ID)
	}
	if status := h.send(h.slack.ViewSubmission(testSecret, dev, form.ID, map[string]map[string]slackfake.InputValue{
		"server":   {"server": {Type: "static_select", Value: value}},
		"duration": {"duration": {Value: "1d"}},
	})); status != 200 {
		t.Fatalf("submission status %d", status)
	}
	h.drain()
	if got := h.request(last.ID); !got.LeaseEnd.After(last.LeaseEnd) {
		t.Errorf("%s's lease still ends %s", last.ID, got.LeaseEnd)
	}
}

// TestApprovals_ThreeHundredWaitingAnsweredWithinSlackLimits: an approver
// with 300 requests waiting typed /ops approvals and got nothing: the
// answer listed every one with two buttons, 55 blocks, and Slack refuses
// more than 50 (invalid_blocks). The answer now lists the oldest ones
// with their buttons and counts the rest.
func TestApprovals_ThreeHundredWaitingAnsweredWithinSlackLimits(t *testing.T) {
	h := newHarness(t)
	for i := range 300 {
		h.ops(dev, "server request build-box for 3d compile")
		h.clock.Advance(time.Second)
		if i%20 == 19 {
			h.drain()
		}
	}
	h.drain()
	got := h.ops(lead, "approvals")
	mustContain(t, "/ops approvals", got, "300 waiting for your decision", "srv-1 ", "more wait")
	var blocks []json.RawMessage
	rs := h.slack.Responses()
	if err := json.Unmarshal(rs[len(rs)-1].Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	if len(blocks) > 50 {
		t.Errorf("%d blocks", len(blocks))
	}
}

// TestSlashCommandText_AsSlackSendsIt_ReadAsTyped: Slack sends a slash
// command's text escaped (&amp; &lt; &gt;) with links as <…> references
// (should_escape). opsbot stored that as the title, reason and update, so
// PagerDuty paged "Checkout &gt; 5% errors &amp; timeouts", Slack showed
// the entities themselves, and the channel was named …-gt-5-errors-amp-…
// Text, and a message marked for the timeline, are now read back as the
// person typed them.
func TestSlashCommandText_AsSlackSendsIt_ReadAsTyped(t *testing.T) {
	h := newHarness(t)
	const title = "Checkout > 5% errors & timeouts on shop.example.com"
	h.incidentCmd(dev, "general", h.slack.Typed("declare "+title+" sev2"))
	h.drain()
	inc := h.incident("inc-1")
	if inc.Title != title {
		t.Errorf("title %q, want %q", inc.Title, title)
	}
	if pds := h.pd.Incidents(); len(pds) != 1 || pds[0].Title != title {
		t.Errorf("PagerDuty incidents %+v", pds)
	}
	ch := h.incidentChannels()[0]
	if ch.Name != "inc-1-checkout-5-errors-timeouts-on-shop-example-com" {
		t.Errorf("channel name %q", ch.Name)
	}
	summary := messageText(h.summary(ch.ID))
	mustContain(t, "summary", summary, "Checkout &gt; 5% errors &amp; timeouts on shop.example.com")
	if strings.Contains(summary, "&amp;gt;") || strings.Contains(summary, "&amp;amp;") {
		t.Errorf("entities escaped twice: %s", summary)
	}
	h.incidentCmd(dev, ch.ID, h.slack.Typed("update p95 < 300ms again & https://grafana.example.com/d/1 is green"))
	if got := h.incident("inc-1").LastUpdate; got != "p95 < 300ms again & https://grafana.example.com/d/1 is green" {
		t.Errorf("update %q", got)
	}
	// A message marked for the timeline is read from Slack as Slack keeps
	// it: escaped too.
	msg, err := h.slack.PostAs(dev, ch.ID, h.slack.Typed("rollback done & p95 < 300ms"))
	if err != nil {
		t.Fatal(err)
	}
	h.send(h.slack.Event(testSecret, map[string]any{"type": "reaction_added", "user": dev2, "reaction": "pushpin",
		"item": map[string]any{"type": "message", "channel": ch.ID, "ts": msg.TS}, "event_ts": msg.TS}))
	pinned := ""
	for _, e := range h.timeline("inc-1") {
		if e.Kind == workflows.TLPinned {
			pinned = e.Text
		}
	}
	if pinned != "rollback done & p95 < 300ms" {
		t.Errorf("pinned message on the timeline: %q", pinned)
	}
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	if pages := h.notion.Pages(h.dbID); len(pages) != 1 || pages[0].Title != "inc-1: "+title {
		t.Errorf("post-mortem pages %+v", pages)
	}
	h.ops(dev, h.slack.Typed("server request test-small for 1d A & B <tag>"))
	if rs := h.requests(); len(rs) != 1 || rs[0].Reason != "A & B <tag>" {
		t.Errorf("requests %+v", rs)
	}
}

// TestEmailsInCommands_AsSlackSendsThem: Slack sends an email typed in a
// command as <mailto:a@b|a@b>. "/ops offboard lead@example.com" was
// refused with its usage line and "/incident role scribe
// dev2@example.com" named nobody. They now read the address.
func TestEmailsInCommands_AsSlackSendsThem(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare DB down sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	h.incidentCmd(dev, ch.ID, h.slack.Typed("role scribe dev2@example.com"))
	if got := h.incident("inc-1").Scribe; got.Email != "dev2@example.com" && got.SlackID != dev2 {
		t.Errorf("scribe %+v", got)
	}
	h.incidentCmd(dev, ch.ID, h.slack.Typed("action Add an index on orders dev2@example.com"))
	if a := h.action("act-1"); a == nil || a.Text != "Add an index on orders" || (a.Owner.Email != "dev2@example.com" && a.Owner.SlackID != dev2) {
		t.Errorf("action item %+v", a)
	}
	got := h.ops(admin, h.slack.Typed("offboard lead@example.com"))
	mustContain(t, "/ops offboard", got, "is offboarded")
}

// TestHome_SixtyServersStillShowTheIncidentsAndTheBudget: Slack takes at
// most 100 blocks in a Home tab, and a person with 60 running servers
// filled them with servers (two blocks each): their team's budget and the
// open incidents, which come after, were cut off. Each list now shows its
// first items and counts the rest, so every section is there.
func TestHome_SixtyServersStillShowTheIncidentsAndTheBudget(t *testing.T) {
	h := newHarness(t)
	for range 60 {
		h.ops(dev, "server request test-small for 1d load test")
		h.clock.Advance(time.Second)
	}
	h.settle()
	h.incidentCmd(dev, "general", "declare Checkout is failing sev1")
	h.drain()
	home := h.home(dev)
	mustContain(t, "Home", home, "Your servers", "Team platform budget", "Open incidents", "Checkout is failing", "/ops servers")
	if strings.Contains(home, "more than fits here") {
		t.Errorf("the Home was cut at Slack's limit:\n%s", home[len(home)-300:])
	}
	for _, c := range h.slack.CallsTo("views.publish") {
		if c.Error != "" {
			t.Fatalf("views.publish refused: %s", c.Error)
		}
	}
}

// TestDeletedSummary_PostedAgainAtTheNextChange: a workspace admin may
// delete any message, opsbot's pinned incident summary too; chat.update
// then answers message_not_found, and every later change of the incident
// failed its job for good, so the channel had no summary and no buttons
// for the rest of the incident. The next change now posts (and pins) the
// summary again.
func TestDeletedSummary_PostedAgainAtTheNextChange(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Checkout is failing sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	if err := h.slack.DeleteAs(admin, ch.ID, h.summary(ch.ID).TS); err != nil {
		t.Fatal(err)
	}
	h.incidentCmd(dev, ch.ID, "status identified")
	h.drain()
	h.advance(time.Minute)
	sum := h.summary(ch.ID)
	mustContain(t, "summary", messageText(sum), "inc-1: Checkout is failing", "identified")
	h.incidentCmd(dev, ch.ID, "status monitoring")
	h.drain()
	mustContain(t, "summary after another change", messageText(h.summary(ch.ID)), "monitoring")
	if n := len(h.slack.Pins(ch.ID)); n != 1 {
		t.Errorf("%d pins in the channel", n)
	}
}

// TestOffboard_HundredServersEachListedWithItsButtons: the hand-over
// report of someone with 105 servers gave each a line in one section of
// text: Slack's 3,000 characters held the first 20 or so, and the other
// 85 had buttons under no line saying which server they were for. Then
// the servers past the tenth were named in one line with no buttons at
// all (and past about 150 that line was cut, with the lines after it).
// Now the report lists ten with their Stop, Release and Keep, and its
// thread the others, ten a reply: every server is named once, with its
// three buttons under its line, and a button in the thread works.
func TestOffboard_HundredServersEachListedWithItsButtons(t *testing.T) {
	h := newHarness(t)
	for range 105 {
		h.ops(dev, "server request test-small for 1d load test")
		h.clock.Advance(time.Second)
	}
	h.settle()
	mustContain(t, "/ops offboard", h.ops(admin, "offboard <@"+dev+"|dev>"), "105 server(s) handed")
	h.drain()
	type block struct {
		Type     string `json:"type"`
		Text     *struct{ Text string }
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	var report slackfake.Message
	named := map[string]int{}
	buttons := map[string]int{}
	var last slackfake.Message
	for _, m := range h.channelMessages("platform-approvals") {
		txt := messageText(m)
		if !strings.Contains(txt, "Offboarding:") && !strings.Contains(txt, "Handed to team platform: servers") {
			continue
		}
		if strings.Contains(txt, "Offboarding:") {
			report = m
		} else if m.ThreadTS == "" || m.ThreadTS == m.TS {
			t.Errorf("a list of servers is not in the report's thread: %s", txt)
		}
		var blocks []block
		if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			if b.Type == "section" && b.Text != nil && strings.HasSuffix(strings.TrimSpace(b.Text.Text), "…") {
				t.Errorf("a section was cut at Slack's limit: %s", b.Text.Text)
			}
			for _, e := range b.Elements {
				id, _, _ := strings.Cut(e.Value, " ")
				buttons[id]++
			}
		}
		for _, r := range h.requests() {
			if strings.Contains(txt, r.ID+" (") {
				named[r.ID]++
				last = m
			}
		}
	}
	mustContain(t, "report", messageText(report), "95 more handed to team platform the same way: listed in this message's thread")
	for _, r := range h.requests() {
		if named[r.ID] != 1 || buttons[r.ID] != 3 {
			t.Errorf("%s named %d times with %d buttons, want once with Stop, Release and Keep", r.ID, named[r.ID], buttons[r.ID])
		}
	}
	// Release from the thread's last reply, as an approver.
	reqs := h.requests()
	srv := reqs[len(reqs)-1].ID
	if !strings.Contains(messageText(last), srv+" (") {
		t.Fatalf("%s is not in the last list", srv)
	}
	var value, actionID string
	var blocks []block
	_ = json.Unmarshal(last.Blocks, &blocks)
	for _, b := range blocks {
		for _, e := range b.Elements {
			if strings.HasPrefix(e.ActionID, workflows.ActServerRelease) && strings.HasPrefix(e.Value, srv+" ") {
				value, actionID = e.Value, e.ActionID
			}
		}
	}
	if value == "" {
		t.Fatalf("no Release button for %s", srv)
	}
	h.click(lead, last, actionID, value)
	h.drain()
	if got := h.request(srv); got.State != workflows.StateTerminated {
		t.Errorf("%s is %s after Release from the thread, want terminated", srv, got.State)
	}
}
