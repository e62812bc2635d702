package templates

import "strings"

// Block kinds. The values are workflows.DocBlockKind's, so a Block converts
// to a workflows.DocBlock by its Kind string.
const (
	KindHeading1  = "heading_1"
	KindHeading2  = "heading_2"
	KindHeading3  = "heading_3"
	KindParagraph = "paragraph"
	KindBullet    = "bulleted_list_item"
	KindNumbered  = "numbered_list_item"
	KindTodo      = "to_do"
	KindQuote     = "quote"
	KindDivider   = "divider"
)

// Block is one line of rendered template text as a document block.
type Block struct {
	Kind    string // one of the Kind constants
	Text    string // plain text, without the line's marker
	Checked bool   // for to-dos: "- [x] "
}

// prefixes are the line markers, longest first where one starts another.
var prefixes = []struct {
	marker  string
	kind    string
	checked bool
}{
	{"### ", KindHeading3, false},
	{"## ", KindHeading2, false},
	{"# ", KindHeading1, false},
	{"- [ ] ", KindTodo, false},
	{"- [x] ", KindTodo, true},
	{"- [X] ", KindTodo, true},
	{"- ", KindBullet, false},
	{"> ", KindQuote, false},
}

// ParseBlocks reads text one line at a time: "# ", "## ", "### "
// headings, "- " bullets, "1. " (any number) numbered items, "- [ ] " and
// "- [x] " to-dos, "> " quotes, "---" a divider, and any other non-empty
// line a paragraph. Lines are trimmed of surrounding spaces first (so
// indentation does not nest) and blank lines are dropped. A marker with
// nothing after it ("-", "- [ ]") is an empty item, which a person fills
// in later.
func ParseBlocks(text string) []Block {
	var out []Block
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		out = append(out, parseLine(line))
	}
	return out
}

func parseLine(line string) Block {
	if line == "---" {
		return Block{Kind: KindDivider}
	}
	for _, p := range prefixes {
		if line == strings.TrimSpace(p.marker) {
			return Block{Kind: p.kind, Checked: p.checked}
		}
		if rest, ok := strings.CutPrefix(line, p.marker); ok {
			return Block{Kind: p.kind, Text: strings.TrimSpace(rest), Checked: p.checked}
		}
	}
	if rest, ok := numbered(line); ok {
		return Block{Kind: KindNumbered, Text: rest}
	}
	return Block{Kind: KindParagraph, Text: line}
}

// numbered recognises "12. text" (or "12." alone) and returns the text.
func numbered(line string) (string, bool) {
	i := 0
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i == 0 || i > 9 || i >= len(line) || line[i] != '.' {
		return "", false
	}
	rest := line[i+1:]
	if rest == "" {
		return "", true
	}
	if rest[0] != ' ' {
		return "", false // "3.5 seconds" is a paragraph
	}
	return strings.TrimSpace(rest), true
}
