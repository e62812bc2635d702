package workflows

import "strings"

// Marks that delimit spans inside message text. They are Unicode
// private-use characters, which no keyboard types; UserText and Mention
// strip them from what they wrap, so a user cannot forge one.
const (
	userTextStart = '\uE000'
	userTextEnd   = '\uE001'
	mentionStart  = '\uE002'
	mentionEnd    = '\uE003'
)

// UserText marks s as text a person typed (a title, a reason, an update):
// data, never markup. Renderers show it literally: Slack gets it escaped
// with its formatting characters made inert, so `*x*`, `<!channel>` or a
// line starting with ">" in a reason shows as typed.
func UserText(s string) string {
	return string(userTextStart) + stripMarks(s) + string(userTextEnd)
}

// Mention marks a person reference (Slack user ID or email) inside text,
// for renderers to show as a live mention (Slack) or a name.
func Mention(ref string) string {
	return string(mentionStart) + stripMarks(ref) + string(mentionEnd)
}

func stripMarks(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= userTextStart && r <= mentionEnd {
			return -1
		}
		return r
	}, s)
}

// Span is one piece of marked text.
type Span struct {
	Text    string
	User    bool // typed by a person: show literally
	Mention bool // Text is a person reference
}

// Spans splits marked text into its pieces, in order. Unbalanced marks
// are dropped.
func Spans(s string) []Span {
	var out []Span
	var cur strings.Builder
	kind := 0 // 0 plain, 1 user, 2 mention
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, Span{Text: cur.String(), User: kind == 1, Mention: kind == 2})
			cur.Reset()
		}
	}
	for _, r := range s {
		switch r {
		case userTextStart, mentionStart:
			flush()
			kind = 1
			if r == mentionStart {
				kind = 2
			}
		case userTextEnd, mentionEnd:
			flush()
			kind = 0
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}

// PlainText returns marked text without its marks, mentions as their
// reference: for logs, the audit log and plain-text surfaces.
func PlainText(s string) string { return stripMarks(s) }
