package slack

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// golden compares v, as indented JSON, with testdata/name.golden.json.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	// slack-go's block marshallers escape <, > and & as \u003c etc.; the
	// same JSON with them literal reads better in a golden file.
	got := []byte(strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(buf.String()))
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestRender_Approval(t *testing.T) {
	m := workflows.Message{
		Channel: "#ops-approvals",
		Title:   "srv-42: gpu-large for 2d needs approval",
		Text:    "Requested by <@U0ALICE> for load tests.",
		Fields: []workflows.Field{
			{Label: "Template", Value: "gpu-large (g5.xlarge, eu-west-1)"},
			{Label: "Cost", Value: "$48.29"},
			{Label: "Budget left", Value: "$1,200.00 of $5,000.00"},
			{Label: "Approvals", Value: "0 of 2"},
		},
		Actions: []workflows.Action{
			{ID: workflows.ActApprove, Label: "Approve", Value: "apr-3", Style: workflows.StylePrimary},
			{ID: workflows.ActDeny, Label: "Deny", Value: "apr-3", Style: workflows.StyleDanger},
		},
		Note:    "Expires in 24h. Reason: load tests & <b>benchmarks</b>",
		Mention: []string{"U0APPROVER1", "U0APPROVER2"},
	}
	golden(t, "approval", Renderer{}.Message(m))
}

func TestRender_EscapesUserText(t *testing.T) {
	evil := "<!channel> <@U123> & <b>"
	m := workflows.Message{
		Title:   evil,
		Text:    evil,
		Fields:  []workflows.Field{{Label: evil, Value: evil}},
		Actions: []workflows.Action{{ID: workflows.ActLeaseRelease, Label: evil, Value: evil}},
		Note:    evil,
		Mention: []string{"U0REAL", "not-an-id <!here>", "bob@example.com"},
	}
	r := Renderer{}.Message(m)
	golden(t, "escaping", r)
	// Every text Slack parses as mrkdwn (the fallback and mrkdwn objects)
	// holds no control sequence but the renderer's own mention.
	mrkdwn := []string{r.Text}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "mrkdwn" {
				mrkdwn = append(mrkdwn, x["text"].(string))
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	js, _ := json.Marshal(r.Blocks)
	var tree any
	_ = json.Unmarshal(js, &tree)
	walk(tree)
	if len(mrkdwn) != 4 {
		t.Fatalf("found %d mrkdwn texts, want 4", len(mrkdwn))
	}
	all := strings.Join(mrkdwn, "\n")
	if n := strings.Count(all, "<"); n != 1 || !strings.Contains(all, "<@U0REAL>") {
		t.Fatalf("want exactly one control sequence, <@U0REAL>; got %d in %q", n, all)
	}
	if strings.Contains(all, ">") && strings.Count(all, ">") != 1 {
		t.Fatalf("stray > in %q", all)
	}
	if !strings.Contains(all, "&lt;!channel&gt; &lt;@U123&gt; &amp; &lt;b&gt;") {
		t.Fatalf("user text not shown escaped: %q", all)
	}
}

func TestRender_ManyFieldsAndButtons(t *testing.T) {
	m := workflows.Message{Title: "Your servers"}
	for i := range 12 {
		m.Fields = append(m.Fields, workflows.Field{Label: "srv-" + string(rune('a'+i)), Value: "running"})
	}
	for _, d := range []string{"4h", "24h", "2d"} {
		m.Actions = append(m.Actions, workflows.Action{ID: workflows.ActLeaseExtend, Label: "Extend " + d, Value: "srv-42 " + d})
	}
	m.Actions = append(m.Actions, workflows.Action{ID: workflows.ActLeaseRelease, Label: "Release", Value: "srv-42", Style: workflows.StyleDanger})
	r := Renderer{}.Message(m)
	golden(t, "many_fields", r)
	if len(r.Blocks) != 4 { // text, 10 fields, 2 fields, actions
		t.Fatalf("got %d blocks", len(r.Blocks))
	}
	if BaseActionID("lease.extend#3") != workflows.ActLeaseExtend || BaseActionID(workflows.ActApprove) != workflows.ActApprove {
		t.Fatal("BaseActionID")
	}
}

func TestRender_LongTextIsCutWithinLimits(t *testing.T) {
	long := strings.Repeat("a&", 2000) // 4000 chars, 10000 escaped
	r := Renderer{}.Message(workflows.Message{Title: "t", Text: long, Fields: []workflows.Field{{Label: "l", Value: long}}})
	js, _ := json.Marshal(r.Blocks)
	var blocks []struct {
		Text   *struct{ Text string }  `json:"text"`
		Fields []struct{ Text string } `json:"fields"`
	}
	_ = json.Unmarshal(js, &blocks)
	if n := len([]rune(blocks[0].Text.Text)); n > maxSectionText {
		t.Fatalf("section text is %d chars", n)
	}
	if s := blocks[0].Text.Text; strings.HasSuffix(strings.TrimSuffix(s, "…"), "&am") || !strings.HasSuffix(s, "…") {
		t.Fatalf("cut inside an entity or unmarked: ...%s", s[len(s)-20:])
	}
	if n := len([]rune(blocks[1].Fields[0].Text)); n > maxFieldText {
		t.Fatalf("field is %d chars", n)
	}
	if len([]rune(r.Text)) > maxFallback {
		t.Fatal("fallback too long")
	}
}

func TestRender_Reply(t *testing.T) {
	private := Renderer{}.Reply(workflows.Reply{Message: workflows.Message{Text: "Usage: /ops lease extend SERVER DURATION [REASON...]"}})
	public := Renderer{}.Reply(workflows.Reply{Message: workflows.Message{Title: "inc-7 declared", Text: "Join #inc-7-db-down"}, Public: true})
	golden(t, "reply", map[string]any{"private": private, "public": public})
}

// TestRender_ConfirmDialogWithinSlackLimits: the confirmation object has
// all four required parts as plain_text, cut to Slack's limits (title
// 100, text 300, buttons 30), and the button's style.
func TestRender_ConfirmDialogWithinSlackLimits(t *testing.T) {
	long := strings.Repeat("x", 400)
	r := Renderer{}.Message(workflows.Message{Actions: []workflows.Action{{ID: workflows.ActLeaseRelease, Label: "Release now", Value: "srv-42",
		Style: workflows.StyleDanger, Confirm: &workflows.Confirm{Title: long, Text: long, Yes: long, No: long}}}})
	golden(t, "confirm", r)
	js, _ := json.Marshal(r.Blocks)
	var blocks []struct {
		Elements []struct {
			Confirm map[string]json.RawMessage `json:"confirm"`
		} `json:"elements"`
	}
	_ = json.Unmarshal(js, &blocks)
	c := blocks[0].Elements[0].Confirm
	for key, limit := range map[string]int{"title": 100, "text": 300, "confirm": 30, "deny": 30} {
		var txt struct{ Type, Text string }
		if err := json.Unmarshal(c[key], &txt); err != nil || txt.Type != "plain_text" {
			t.Fatalf("%s = %s (%v)", key, c[key], err)
		}
		if n := len([]rune(txt.Text)); n > limit || n == 0 {
			t.Errorf("%s is %d characters, limit %d", key, n, limit)
		}
	}
	if string(c["style"]) != `"danger"` {
		t.Errorf("style = %s", c["style"])
	}
}

// TestLiteral_HostileUserTextIsInert: what a person typed shows as typed.
// Slack has no escape for mrkdwn's formatting characters, so a line that
// holds one goes in a code span (where Slack formats nothing); &, < and >
// are escaped everywhere, so no mention, broadcast or link gets through.
func TestLiteral_HostileUserTextIsInert(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain words", "plain words"},
		{"*bold* claim", "`*bold* claim`"},
		{"_it_ and ~gone~", "`_it_ and ~gone~`"},
		{"`code` here", "`\u02cbcode\u02cb here`"},
		{"<!channel> wake up", "&lt;!channel&gt; wake up"},
		{"<@U0LEAD|boss> approve", "&lt;@U0LEAD|boss&gt; approve"},
		{"*<!here>*", "`*&lt;!here&gt;*`"},
		{"> quoted", "`&gt; quoted`"},
		{"a & b", "a &amp; b"},
		{"<https://evil.example|click>", "&lt;https://evil.example|click&gt;"},
		{"line one\n# heading\n- [ ] todo\n*two*", "line one\n# heading\n- [ ] todo\n`*two*`"},
		// Typed broadcasts, which Slack might parse in a text object
		// that is not verbatim: a word joiner after the @.
		{"@here please look", "@\u2060here please look"},
		{"ping @Channel and @EVERYONE", "ping @\u2060Channel and @\u2060EVERYONE"},
		{"*@here*", "`*@\u2060here*`"},
		{"(@here) @here, @here", "(@\u2060here) @\u2060here, @\u2060here"},
		{"mail ops@channel.example @herewego @channels", "mail ops@channel.example @herewego @channels"},
		{"see...@channel, x -@here, @@everyone", "see...@\u2060channel, x -@\u2060here, @@\u2060everyone"},
	}
	for _, tt := range tests {
		if got := Literal(tt.in); got != tt.want {
			t.Errorf("Literal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRender_MarkedText: user text marked in a title, a field and a note
// is inert; a mention mark is a live mention; marks never reach Slack.
func TestRender_MarkedText(t *testing.T) {
	m := workflows.Message{
		Title:  "srv-1: " + workflows.UserText("*urgent* <!channel>"),
		Text:   "Severity sev3 → sev1, by " + workflows.Mention("U0AVERY01"),
		Fields: []workflows.Field{{Label: "Reason", Value: workflows.UserText("`rm -rf` _now_")}, {Label: "Approved by", People: []string{"U0A", "U0B"}}},
		Note:   "Denied: " + workflows.UserText("<@U0LEAD> ~no~"),
	}
	r := Renderer{}.Message(m)
	b, _ := json.Marshal(r)
	s := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(b))
	for _, want := range []string{
		"*srv-1: `*urgent* &lt;!channel&gt;`*",
		"by <@U0AVERY01>",
		"*Reason*\\n`\u02cbrm -rf\u02cb _now_`",
		"*Approved by*\\n<@U0A>, <@U0B>",
		"Denied: `&lt;@U0LEAD&gt; ~no~`",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("rendered message lacks %q:\n%s", want, s)
		}
	}
	if strings.ContainsAny(s, "\ue000\ue001\ue002\ue003") {
		t.Errorf("marks reached Slack: %s", s)
	}
	if strings.Contains(r.Text, "<!channel>") {
		t.Errorf("fallback carries a live broadcast: %q", r.Text)
	}
}

// TestRender_NeverMoreThanFiftyBlocks: Slack refuses a message of more
// than 50 blocks (invalid_blocks). A message with more fields and buttons
// than fit keeps its first blocks and its note, and says that some were
// left out.
func TestRender_NeverMoreThanFiftyBlocks(t *testing.T) {
	m := workflows.Message{Title: "Many", Note: "the note"}
	for i := range 400 {
		m.Fields = append(m.Fields, workflows.Field{Label: fmt.Sprintf("f%d", i), Value: "v"})
		m.Actions = append(m.Actions, workflows.Action{ID: workflows.ActApprove, Label: "Approve", Value: fmt.Sprint(i)})
	}
	r := Renderer{}.Message(m)
	if len(r.Blocks) != maxMessageBlocks {
		t.Fatalf("%d blocks, want %d", len(r.Blocks), maxMessageBlocks)
	}
	js, _ := json.Marshal(r.Blocks)
	if !strings.Contains(string(js), "the note") || !strings.Contains(string(js), "not shown") {
		t.Fatalf("no note or no word on what was left out: %s", js[len(js)-400:])
	}
}

func TestUnformat_SlackTextReadAsTyped(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"p95 &gt; 2s &amp; rising", "p95 > 2s & rising"},
		{"&amp;lt; stays as typed", "&lt; stays as typed"},
		{"on <http://shop.example.com|shop.example.com>", "on shop.example.com"},
		{"see <https://x.com/a?b=1&amp;c=2>", "see https://x.com/a?b=1&c=2"},
		{"ask <mailto:ana@example.com|ana@example.com>", "ask ana@example.com"},
		{"<@U0DEV|dana> and <@U0DEV2>", "@dana and @U0DEV2"},
		{"in <#C123|ops> or <#C456>", "in #ops or #C456"},
		{"<!here> <!channel> <!subteam^S1|@oncall> <!date^1700000000^{date}|Nov 14>", "@here @channel @oncall Nov 14"},
		{"<!here|here> <!channel|@channel> <!everyone|everyone>", "@here @channel @everyone"},
		{"unclosed < here", "unclosed < here"},
		{"a &lt;b&gt; <x> &amp;amp;", "a <b> x &amp;"},
	}
	for _, tt := range tests {
		if got := Unformat(tt.in); got != tt.want {
			t.Errorf("Unformat(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestHome_EveryListFullStaysWithinAHundredBlocks: with 200 of every
// list (and 300 runbooks) the Home tab has each section, counts what it
// leaves out, and stays within Slack's 100 blocks without being cut.
// Runbooks were all shown, 25 buttons a block: 300 took 12 blocks and
// pushed the open incidents off the end.
func TestHome_EveryListFullStaysWithinAHundredBlocks(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	h := workflows.Home{Now: now, Budget: &workflows.BudgetSummary{Team: "platform", Month: "2026-11"}}
	for i := range 200 {
		id := fmt.Sprintf("srv-%d", i)
		h.Servers = append(h.Servers, &workflows.ServerRequest{ID: id, Template: "t", State: workflows.StateRunning, LeaseEnd: now.Add(time.Hour)})
		h.Handed = append(h.Handed, &workflows.ServerRequest{ID: id, Template: "t", State: workflows.StateRunning, LeaseEnd: now.Add(time.Hour), Team: "platform"})
		h.Pending = append(h.Pending, &workflows.ServerRequest{ID: id, Template: "t", State: workflows.StatePending})
		h.Approvals = append(h.Approvals, &workflows.Approval{ID: fmt.Sprintf("apr-%d", i), RequestID: id})
		h.Incidents = append(h.Incidents, &workflows.Incident{ID: fmt.Sprintf("inc-%d", i), Title: "x"})
	}
	for i := range 300 {
		h.Runbooks = append(h.Runbooks, workflows.Action{ID: "runbook.open", Label: fmt.Sprintf("rb-%d", i), Value: fmt.Sprint(i)})
	}
	blocks := Renderer{}.Home(h)
	if len(blocks) > maxHomeBlocks {
		t.Fatalf("%d blocks", len(blocks))
	}
	js, _ := json.Marshal(blocks)
	for _, want := range []string{"Your servers", "Handed to your team", "Waiting for approval", "Waiting for your decision", "Team platform budget", "Runbooks", "Open incidents", "inc-9", "and 188 more", "and 190 more", "and 275 more: `/ops run`", "more than fits"} {
		if got := strings.Contains(string(js), want); got != (want != "more than fits") {
			t.Errorf("%q in the Home: %v", want, got)
		}
	}
}

// TestRender_FallbackBreaksTypedBroadcasts: the notification text (the
// message's top-level text) breaks a typed broadcast as the blocks do,
// and leaves opsbot's own words alone.
func TestRender_FallbackBreaksTypedBroadcasts(t *testing.T) {
	r := Renderer{}.Message(workflows.Message{Title: "Update on inc-1", Text: workflows.UserText("@here rolled back") + " by " + workflows.Mention("U0DEV")})
	if want := "Update on inc-1: @\u2060here rolled back by U0DEV"; r.Text != want {
		t.Errorf("fallback %q, want %q", r.Text, want)
	}
}
