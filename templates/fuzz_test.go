package templates

import (
	"strings"
	"testing"
)

var kinds = map[string]bool{KindHeading1: true, KindHeading2: true, KindHeading3: true, KindParagraph: true,
	KindBullet: true, KindNumbered: true, KindTodo: true, KindQuote: true, KindDivider: true}

// FuzzParseBlocks: any text becomes blocks of known kinds, one line each,
// with nothing lost but markers and surrounding spaces.
func FuzzParseBlocks(f *testing.F) {
	f.Add(Postmortem)
	f.Add(Checklist)
	f.Add("# T\n## U\n### V\n- a\n- [ ] b\n- [x] c\n- [X] d\n> q\n---\n1. one\n12.\n3.5 s\n-\n- [ ]\n\r\n\t")
	f.Add("1234567890. ten digits\n\xff\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, b := range ParseBlocks(text) {
			if !kinds[b.Kind] {
				t.Fatalf("block of unknown kind %q", b.Kind)
			}
			if strings.Contains(b.Text, "\n") {
				t.Fatalf("block text spans lines: %q", b.Text)
			}
			if b.Checked && b.Kind != KindTodo {
				t.Fatalf("a checked %s", b.Kind)
			}
			if b.Kind == KindDivider && b.Text != "" {
				t.Fatalf("a divider with text %q", b.Text)
			}
		}
	})
}

// FuzzRenderDefaults: the default checklist and post-mortem render for
// any incident text people type (titles, updates, timeline entries).
func FuzzRenderDefaults(f *testing.F) {
	f.Add("inc-7", "Database is down {{.ID}}", "sev1", "Rolled back\n# not a heading", "<@U1> & co")
	f.Add("", "", "", "", "")
	f.Fuzz(func(t *testing.T, id, title, severity, text, actor string) {
		if _, err := RenderChecklist(Checklist, ChecklistData{ID: id, Title: title, Severity: severity, Commander: actor, Channel: text}); err != nil {
			t.Fatalf("checklist: %v", err)
		}
		out, err := RenderPostmortem(Postmortem, PostmortemData{ID: id, Title: title, Severity: severity, Summary: text, Impact: text,
			Commander: actor, Services: []string{title, text}, Timeline: []TimelineItem{{At: "09:00", Kind: "update", Actor: actor, Text: text}}})
		if err != nil {
			t.Fatalf("post-mortem: %v", err)
		}
		ParseBlocks(out)
	})
}

// FuzzCheckTemplate: a template file named in config is accepted or
// refused with an error when the config is loaded, never a panic.
func FuzzCheckTemplate(f *testing.F) {
	f.Add(Checklist)
	f.Add(Postmortem)
	f.Add("{{.Nope}}")
	f.Add("{{range .Timeline}}{{.At}} {{.Text}}{{end}}{{template \"x\"}}")
	f.Add("{{define \"a\"}}{{template \"a\"}}{{end}}{{template \"a\"}}")
	f.Fuzz(func(t *testing.T, text string) {
		_ = CheckChecklist("checklist.md", text)
		_ = CheckPostmortem("postmortem.md", text)
	})
}
