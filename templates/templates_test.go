package templates_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/templates"
)

func TestPostmortem_DefaultRendersSections(t *testing.T) {
	out, err := templates.RenderPostmortem(templates.Postmortem, templates.PostmortemData{
		ID: "inc-7", Title: "Checkout returns 502", Severity: "sev2", Status: "resolved", Team: "platform",
		Start: "Tue 4 Mar 14:02 CET", End: "Tue 4 Mar 16:17 CET", Duration: "2h 15m",
		Commander: "@alice", Services: []string{"checkout", "payments"},
		Timeline: []templates.TimelineItem{
			{At: "14:02", Kind: "declared", Actor: "@alice", Text: "Declared"},
			{At: "14:10", Kind: "pagerduty", Actor: "PagerDuty", Text: "Acknowledged by bob"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	blocks := templates.ParseBlocks(out)
	var headings []string
	for _, b := range blocks {
		if b.Kind == templates.KindHeading2 {
			headings = append(headings, b.Text)
		}
	}
	// The sections of PagerDuty's incident response post-mortem template.
	want := "Overview|What happened|Contributing factors|Resolution|Impact|Responders|Timeline|How did we do?|Action items|Messaging"
	if got := strings.Join(headings, "|"); got != want {
		t.Errorf("sections = %s\nwant       %s", got, want)
	}
	if blocks[0] != (templates.Block{Kind: templates.KindHeading1, Text: "inc-7: Checkout returns 502"}) {
		t.Errorf("first block = %+v", blocks[0])
	}
	for _, line := range []string{
		"> sev2 · resolved · team platform · Tue 4 Mar 14:02 CET to Tue 4 Mar 16:17 CET (2h 15m)",
		"Services: checkout, payments",
		"- 14:02 · @alice · Declared",
		"- 14:10 · PagerDuty · Acknowledged by bob",
		"- Incident commander: @alice",
		"- Scribe: not assigned",
		"- [ ] Action · owner · due date",
	} {
		if !containsLine(out, line) {
			t.Errorf("missing line %q in\n%s", line, out)
		}
	}
	if strings.Contains(out, "PagerDuty: ") || strings.Contains(out, "Last status update") {
		t.Errorf("empty PDURL/LastUpdate should leave no line:\n%s", out)
	}
}

func TestPostmortem_EmptyDataStillRenders(t *testing.T) {
	out, err := templates.RenderPostmortem(templates.Postmortem, templates.PostmortemData{})
	if err != nil {
		t.Fatal(err)
	}
	if !containsLine(out, "- Nothing was recorded on the timeline.") || strings.Contains(out, "<no value>") {
		t.Errorf("output:\n%s", out)
	}
}

func TestChecklist_DefaultRenders(t *testing.T) {
	data := templates.ChecklistData{ID: "inc-7", Title: "Checkout returns 502", Severity: "sev1", Team: "platform",
		PDURL: "https://acme.pagerduty.com/incidents/Q1", Channel: "inc-7-checkout"}
	out, err := templates.RenderChecklist(templates.Checklist, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"# inc-7 response checklist",
		"> Checkout returns 502 · sev1 · team platform · #inc-7-checkout · PagerDuty: https://acme.pagerduty.com/incidents/Q1",
		"- [ ] Acknowledge the page in PagerDuty so escalation stops: https://acme.pagerduty.com/incidents/Q1",
		"- [ ] Scribe, who keeps the timeline: /incident role scribe @user",
	} {
		if !containsLine(out, line) {
			t.Errorf("missing line %q in\n%s", line, out)
		}
	}
	var todos, done int
	for _, b := range templates.ParseBlocks(out) {
		if b.Kind == templates.KindTodo {
			todos++
			if b.Checked {
				done++
			}
		}
	}
	if todos < 8 || done != 0 {
		t.Errorf("todos = %d, checked = %d", todos, done)
	}

	data.Commander, data.PDURL = "@alice", ""
	out, err = templates.RenderChecklist(templates.Checklist, data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "- [x] Incident commander: @alice, who leads") || strings.Contains(out, "Acknowledge the page") {
		t.Errorf("with commander, without PagerDuty:\n%s", out)
	}
}

func TestCheck_CatchesBadTemplates(t *testing.T) {
	tests := []struct {
		name, text, want string
		check            func(name, text string) error
	}{
		{"defaults pass", templates.Checklist, "", templates.CheckChecklist},
		{"default post-mortem passes", templates.Postmortem, "", templates.CheckPostmortem},
		{"syntax", "# {{.ID}", `template: my.md:1: bad character`, templates.CheckChecklist},
		{"unknown field", "# {{.Incident}}", "can't evaluate field Incident", templates.CheckChecklist},
		{"post-mortem field in a checklist", "{{.Timeline}}", "can't evaluate field Timeline", templates.CheckChecklist},
		{"fails only on empty data", "{{index .Services 0}}", "index out of range", templates.CheckPostmortem},
		{"unknown function", "{{upper .ID}}", `function "upper" not defined`, templates.CheckPostmortem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check("my.md", tt.text)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want …%s…", err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	if got, err := templates.Load("", "fallback"); err != nil || got != "fallback" {
		t.Errorf("empty path: %q, %v", got, err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "c.md")
	if err := os.WriteFile(p, []byte("# {{.ID}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := templates.Load(p, "fallback"); err != nil || got != "# {{.ID}}\n" {
		t.Errorf("file: %q, %v", got, err)
	}
	if _, err := templates.Load(filepath.Join(dir, "nope.md"), ""); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bin := filepath.Join(dir, "b.md")
	if err := os.WriteFile(bin, []byte{0xff, 0xfe, 'x'}, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := templates.Load(bin, ""); err == nil || !strings.Contains(err.Error(), "not UTF-8") {
		t.Errorf("binary file: %v", err)
	}
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// TestPostmortemBlocks_UserTextCreatesNoStructure: a pinned message or an
// update with newlines and markdown markers stays text inside the block
// the template put it in: no heading, to-do, quote or divider from it.
func TestPostmortemBlocks_UserTextCreatesNoStructure(t *testing.T) {
	hostile := []string{
		"# Root cause",
		"fine\n# heading\n- [ ] todo\n- [x] done\n> quote\n---\n1. one",
		"- bullet",
		"\uE010" + "0" + "\uE011 forged token",
		"**bold** _it_ [link](http://x)",
	}
	for _, h := range hostile {
		d := templates.PostmortemData{ID: "inc-7", Title: h, Severity: "sev2", Status: "resolved", Team: "platform",
			Commander: h, Summary: h, LastUpdate: h, Services: []string{h},
			Timeline: []templates.TimelineItem{{At: "10:00", Kind: "pinned", Actor: h, Text: h}}}
		blocks, err := templates.PostmortemBlocks(templates.Postmortem, d)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := templates.PostmortemBlocks(templates.Postmortem, templates.PostmortemData{ID: "inc-7", Title: "x", Severity: "sev2",
			Status: "resolved", Team: "platform", Commander: "x", Summary: "x", LastUpdate: "x", Services: []string{"x"},
			Timeline: []templates.TimelineItem{{At: "10:00", Kind: "pinned", Actor: "x", Text: "x"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(blocks) != len(plain) {
			t.Fatalf("%q: %d blocks, want the template's %d", h, len(blocks), len(plain))
		}
		for i := range blocks {
			if blocks[i].Kind != plain[i].Kind {
				t.Errorf("%q: block %d is %s, want %s (%q)", h, i, blocks[i].Kind, plain[i].Kind, blocks[i].Text)
			}
		}
		var all []string
		for _, b := range blocks {
			all = append(all, b.Text)
		}
		joined := strings.Join(all, "\n")
		if !strings.Contains(joined, strings.Map(func(r rune) rune {
			if r == '\uE010' || r == '\uE011' {
				return -1
			}
			return r
		}, h)) {
			t.Errorf("%q does not appear verbatim in:\n%s", h, joined)
		}
	}
}
