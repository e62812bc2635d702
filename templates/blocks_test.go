package templates_test

import (
	"reflect"
	"testing"

	"github.com/opsbot/opsbot/templates"
)

func TestParseBlocks(t *testing.T) {
	b := func(kind, text string) templates.Block { return templates.Block{Kind: kind, Text: text} }
	tests := []struct {
		name string
		in   string
		want []templates.Block
	}{
		{"headings", "# One\n## Two\n### Three", []templates.Block{
			b(templates.KindHeading1, "One"), b(templates.KindHeading2, "Two"), b(templates.KindHeading3, "Three")}},
		{"more hashes or no space is a paragraph", "#### Four\n#tag", []templates.Block{
			b(templates.KindParagraph, "#### Four"), b(templates.KindParagraph, "#tag")}},
		{"bullets and numbers", "- a\n1. first\n12. twelfth\n3.5 seconds\n2.", []templates.Block{
			b(templates.KindBullet, "a"), b(templates.KindNumbered, "first"), b(templates.KindNumbered, "twelfth"),
			b(templates.KindParagraph, "3.5 seconds"), b(templates.KindNumbered, "")}},
		{"to-dos", "- [ ] open\n- [x] done\n- [X] DONE\n- [ ]\n- [y] other", []templates.Block{
			b(templates.KindTodo, "open"),
			{Kind: templates.KindTodo, Text: "done", Checked: true},
			{Kind: templates.KindTodo, Text: "DONE", Checked: true},
			b(templates.KindTodo, ""),
			b(templates.KindBullet, "[y] other")}},
		{"quote divider paragraph", "> said\n---\n----\nplain text", []templates.Block{
			b(templates.KindQuote, "said"), {Kind: templates.KindDivider}, b(templates.KindParagraph, "----"), b(templates.KindParagraph, "plain text")}},
		{"blank lines dropped, indentation and CRLF trimmed", "\n  - nested\r\n\n\t## h  \r\n-\n", []templates.Block{
			b(templates.KindBullet, "nested"), b(templates.KindHeading2, "h"), b(templates.KindBullet, "")}},
		{"marker without space is text", "-dash\n>arrow", []templates.Block{
			b(templates.KindParagraph, "-dash"), b(templates.KindParagraph, ">arrow")}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := templates.ParseBlocks(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseBlocks(%q) =\n%+v\nwant\n%+v", tt.in, got, tt.want)
			}
		})
	}
}
