package templates

import (
	"strconv"
	"strings"
)

// User text (a title, an update, a pinned message, a name) must not
// create structure: a pinned "# Root cause" must stay a line of text, not
// become a heading, and "- [ ] x" in an update must not become a to-do.
// Rendering puts an opaque token where each such value goes, parses the
// result into blocks, and only then puts the values back into the text of
// the block the template placed them in. A value with newlines stays one
// block (its newlines are line breaks inside it).

// Token delimiters: private-use characters, stripped from values so a
// value cannot forge a token.
const (
	tokenStart = '\uE010'
	tokenEnd   = '\uE011'
)

// literals hands out tokens for values and puts the values back.
type literals struct{ values []string }

// token returns the placeholder for v ("" stays "", so templates' {{if}}
// and {{or}} see an empty value as empty).
func (l *literals) token(v string) string {
	if v == "" {
		return ""
	}
	v = strings.Map(func(r rune) rune {
		if r == tokenStart || r == tokenEnd {
			return -1
		}
		return r
	}, v)
	l.values = append(l.values, v)
	return string(tokenStart) + strconv.Itoa(len(l.values)-1) + string(tokenEnd)
}

// restore replaces the tokens in s with their values.
func (l *literals) restore(s string) string {
	if !strings.ContainsRune(s, tokenStart) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexRune(s, tokenStart)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexRune(s[i:], tokenEnd)
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		n, err := strconv.Atoi(s[i+len(string(tokenStart)) : i+j])
		if err == nil && n >= 0 && n < len(l.values) {
			b.WriteString(l.values[n])
		}
		s = s[i+j+len(string(tokenEnd)):]
	}
}

func (l *literals) blocks(text string) []Block {
	bs := ParseBlocks(text)
	for i := range bs {
		bs[i].Text = l.restore(bs[i].Text)
	}
	return bs
}

// ChecklistBlocks renders a checklist template into blocks; the title
// and the commander are kept as text inside their block.
func ChecklistBlocks(text string, d ChecklistData) ([]Block, error) {
	var l literals
	d.Title, d.Commander = l.token(d.Title), l.token(d.Commander)
	out, err := RenderChecklist(text, d)
	if err != nil {
		return nil, err
	}
	return l.blocks(out), nil
}

// PostmortemBlocks renders a post-mortem template into blocks; every
// value people wrote (title, names, services, summary, last update,
// timeline actors and texts) is kept as text inside its block.
func PostmortemBlocks(text string, d PostmortemData) ([]Block, error) {
	var l literals
	d.Title, d.Summary, d.LastUpdate = l.token(d.Title), l.token(d.Summary), l.token(d.LastUpdate)
	d.Commander, d.Comms, d.Scribe = l.token(d.Commander), l.token(d.Comms), l.token(d.Scribe)
	d.Services = append([]string(nil), d.Services...)
	for i := range d.Services {
		d.Services[i] = l.token(d.Services[i])
	}
	d.Timeline = append([]TimelineItem(nil), d.Timeline...)
	for i := range d.Timeline {
		d.Timeline[i].Actor, d.Timeline[i].Text = l.token(d.Timeline[i].Actor), l.token(d.Timeline[i].Text)
	}
	out, err := RenderPostmortem(text, d)
	if err != nil {
		return nil, err
	}
	return l.blocks(out), nil
}
