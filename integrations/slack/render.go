package slack

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/opsbot/opsbot/workflows"
)

// Block Kit limits the renderer keeps to (Slack refuses the message
// otherwise).
const (
	maxSectionText = 3000
	maxFieldText   = 2000
	maxFields      = 10 // per section
	maxButtons     = 25 // per actions block
	maxButtonLabel = 75
	maxButtonValue = 2000
	// The confirmation dialog's limits.
	maxConfirmTitle  = 100
	maxConfirmText   = 300
	maxConfirmButton = 30
	maxContextText   = 3000
	maxFallback      = 3000
	// maxMessageBlocks is Slack's limit on a message's blocks
	// (invalid_blocks past it).
	maxMessageBlocks = 50
)

// Renderer turns neutral workflow messages into Block Kit. It does no I/O:
// mentions must already be Slack user IDs (the Client resolves emails
// first); anything else in Mention is shown as escaped text.
type Renderer struct{}

// Rendered is a message ready for chat.postMessage or chat.update: the
// notification/fallback text and the blocks.
type Rendered struct {
	Text   string           `json:"text"`
	Blocks []slackapi.Block `json:"blocks"`
}

// Escape makes user text inert in mrkdwn: &, < and > become entities, so
// "<!channel>" or "<@U123>" is shown, never acted on. Only the renderer
// itself writes mentions.
func Escape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return escaper.Replace(s)
}

// escaper is built once: building a Replacer cost more than using it
// (1.5 % of opsbot's CPU under make loadtest's slash commands).
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Literal renders text a person typed so Slack shows it as typed: &, <
// and > escaped (no mention, broadcast or link can be smuggled in), and a
// line holding mrkdwn formatting characters (*bold*, _italic_, ~strike~,
// `code`, a leading > quote) set in an inline code span, where Slack
// applies no formatting. Slack has no escape for those characters in
// mrkdwn; plain_text objects would also lose our mentions and bold
// labels, so the code span is the inert form that keeps them. A bare
// @here, @channel or @everyone gets a word joiner (U+2060, invisible)
// after its @: Slack's text objects are not verbatim, and Slack says it
// then parses "certain mentions" in plain text itself, so a typed
// broadcast must not be one it could recognise.
func Literal(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if formatted(l) {
			l = "`" + Escape(strings.ReplaceAll(l, "`", "\u02cb")) + "`"
		} else {
			l = Escape(l)
		}
		lines[i] = breakBroadcasts(l)
	}
	return strings.Join(lines, "\n")
}

// broadcastWord matches a typed broadcast: @here, @channel or @everyone
// in any case, as a word of its own: not run on into a longer word
// (@herewego) and not the domain of an email (ops@channel.example, where
// a letter comes before the @).
var broadcastWord = regexp.MustCompile(`(?i)(^|\W)@(here|channel|everyone)\b`)

// breakBroadcasts puts a word joiner after the @ of each typed broadcast.
func breakBroadcasts(l string) string {
	if !strings.Contains(l, "@") {
		return l
	}
	return broadcastWord.ReplaceAllString(l, "${1}@\u2060$2")
}

// formatted reports whether mrkdwn would format something in line.
func formatted(line string) bool {
	return strings.ContainsAny(line, "*_~`") || strings.HasPrefix(strings.TrimSpace(line), ">")
}

// inline renders workflow text as mrkdwn: plain parts escaped, user text
// made literal, mention marks as mentions.
func inline(s string) string {
	var b strings.Builder
	for _, sp := range workflows.Spans(s) {
		switch {
		case sp.Mention:
			b.WriteString(mention(sp.Text))
		case sp.User:
			b.WriteString(Literal(sp.Text))
		default:
			b.WriteString(Escape(sp.Text))
		}
	}
	return b.String()
}

// unmarked renders workflow text for plain-text surfaces (notification
// text, button labels): marks dropped, mentions as their reference.
func unmarked(s string) string { return workflows.PlainText(s) }

// truncate shortens s to at most n characters, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// truncateEscaped escapes s and keeps the result within n characters
// without cutting an entity in half.
func truncateEscaped(s string, n int) string {
	e := Escape(s)
	if utf8.RuneCountInString(e) <= n {
		return e
	}
	r := []rune(s)
	for len(r) > 0 && utf8.RuneCountInString(Escape(string(r)))+1 > n {
		r = r[:len(r)*9/10]
	}
	return Escape(string(r)) + "…"
}

// mention renders a person reference: <@U...> for a user ID, escaped text
// otherwise.
func mention(ref string) string {
	switch {
	case IsUserID(ref):
		return "<@" + ref + ">"
	case channelIDPattern.MatchString(ref):
		return "<#" + ref + ">"
	}
	return Escape(ref)
}

// Message renders m. Layout: a section with the bold title, the body and
// the mentions; sections of fields (at most ten each); actions blocks of
// buttons; a context block with the note.
func (Renderer) Message(m workflows.Message) Rendered {
	var blocks []slackapi.Block
	var lines []string
	if m.Title != "" {
		lines = append(lines, "*"+inline(m.Title)+"*")
	}
	if m.Text != "" {
		lines = append(lines, inline(m.Text))
	}
	if len(m.Mention) > 0 {
		ms := make([]string, len(m.Mention))
		for i, p := range m.Mention {
			ms[i] = mention(p)
		}
		lines = append(lines, strings.Join(ms, " "))
	}
	if len(lines) > 0 {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(capText(strings.Join(lines, "\n"), maxSectionText)), nil, nil))
	}
	if m.Code != "" {
		blocks = append(blocks, codeBlock(m.Code))
	}
	for i := 0; i < len(m.Fields); i += maxFields {
		var fs []*slackapi.TextBlockObject
		for _, f := range m.Fields[i:min(i+maxFields, len(m.Fields))] {
			label := truncateEscaped(unmarked(f.Label), 200)
			value := f.Value
			if value == "" && f.Person == "" && len(f.People) == 0 {
				value = "-"
			}
			value = capText(inline(value), maxFieldText-utf8.RuneCountInString(label)-3)
			if who := people(f); who != "" {
				// People first: "<@U1>, <@U2> · value".
				if value != "" {
					who += " · " + value
				}
				value = who
			}
			fs = append(fs, mrkdwn("*"+label+"*\n"+value))
		}
		blocks = append(blocks, slackapi.NewSectionBlock(nil, fs, nil))
	}
	blocks = append(blocks, buttons(m.Actions)...)
	var note slackapi.Block
	if m.Note != "" {
		note = slackapi.NewContextBlock("", mrkdwn(capText(inline(m.Note), maxContextText)))
	}
	return Rendered{Text: fallback(m), Blocks: fitBlocks(blocks, note)}
}

// fitBlocks keeps a message within Slack's 50 blocks: past that, the
// first blocks are kept, then a line saying how many fields and buttons
// were left out, then the note.
func fitBlocks(blocks []slackapi.Block, note slackapi.Block) []slackapi.Block {
	room := maxMessageBlocks
	if note != nil {
		room--
	}
	if len(blocks) > room {
		var fields, buttons int
		for _, b := range blocks[room-1:] {
			switch b := b.(type) {
			case *slackapi.SectionBlock:
				fields += len(b.Fields)
			case *slackapi.ActionBlock:
				buttons += len(b.Elements.ElementSet)
			}
		}
		blocks = append(blocks[:room-1:room-1], slackapi.NewContextBlock("", mrkdwn(fmt.Sprintf(
			"… more than one Slack message holds: %d field(s) and %d button(s) not shown.", fields, buttons))))
	}
	if note != nil {
		blocks = append(blocks, note)
	}
	return blocks
}

// people renders a field's person and people as mentions.
func people(f workflows.Field) string {
	var ms []string
	for _, p := range append([]string{f.Person}, f.People...) {
		if p != "" {
			ms = append(ms, mention(p))
		}
	}
	return strings.Join(ms, ", ")
}

// capText shortens already-escaped mrkdwn, backing off so no entity or
// mention is cut.
func capText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	if i := strings.LastIndexAny(string(r), "&<"); i >= 0 && !strings.ContainsAny(string(r)[i:], ";>") {
		return string(r)[:i] + "…"
	}
	return string(r) + "…"
}

// fallback is the plain notification text: title and body, escaped.
func fallback(m workflows.Message) string {
	parts := []string{}
	if m.Title != "" {
		parts = append(parts, m.Title)
	}
	if m.Text != "" {
		parts = append(parts, m.Text)
	}
	if len(parts) == 0 {
		parts = append(parts, "opsbot")
	}
	return truncateEscaped(fallbackText(strings.Join(parts, ": ")), maxFallback)
}

// fallbackText is workflow text for the notification: marks dropped,
// mentions as their reference, and user text with its typed broadcasts
// broken as in Literal.
func fallbackText(s string) string {
	var b strings.Builder
	for _, sp := range workflows.Spans(s) {
		if sp.User {
			b.WriteString(breakBroadcasts(sp.Text))
		} else {
			b.WriteString(unmarked(sp.Text))
		}
	}
	return b.String()
}

// buttons renders actions, 25 per block. Slack wants action_ids unique
// within a block, so a repeated Action.ID gets a "#n" suffix; the bot
// routes on BaseActionID.
func buttons(actions []workflows.Action) []slackapi.Block {
	var out []slackapi.Block
	for i := 0; i < len(actions); i += maxButtons {
		seen := map[string]int{}
		var els []slackapi.BlockElement
		for _, a := range actions[i:min(i+maxButtons, len(actions))] {
			id := a.ID
			seen[a.ID]++
			if n := seen[a.ID]; n > 1 {
				id = fmt.Sprintf("%s#%d", a.ID, n)
			}
			b := slackapi.NewButtonBlockElement(id, truncate(a.Value, maxButtonValue),
				slackapi.NewTextBlockObject(slackapi.PlainTextType, truncate(unmarked(a.Label), maxButtonLabel), true, false))
			b.Style = style(a.Style)
			if c := a.Confirm; c != nil {
				b.Confirm = slackapi.NewConfirmationBlockObject(plainText(c.Title, maxConfirmTitle), plainText(c.Text, maxConfirmText),
					plainText(c.Yes, maxConfirmButton), plainText(c.No, maxConfirmButton)).WithStyle(style(a.Style))
			}
			els = append(els, b)
		}
		out = append(out, slackapi.NewActionBlock("", els...))
	}
	return out
}

func style(s workflows.ActionStyle) slackapi.Style {
	switch s {
	case workflows.StylePrimary:
		return slackapi.StylePrimary
	case workflows.StyleDanger:
		return slackapi.StyleDanger
	}
	return slackapi.StyleDefault
}

// plainText is a plain_text object cut to Slack's limit for its place.
func plainText(s string, limit int) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, truncate(unmarked(s), limit), false, false)
}

// BaseActionID strips the "#n" suffix the renderer adds to repeated
// action IDs, giving back the workflows.Act* constant.
func BaseActionID(actionID string) string {
	base, _, _ := strings.Cut(actionID, "#")
	return base
}

func mrkdwn(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, false)
}

// Reply renders a command's answer in Slack's response format, for the
// HTTP answer to a slash command or a post to its response_url: ephemeral
// unless r.Public.
func (rd Renderer) Reply(r workflows.Reply) slackapi.Msg {
	out := rd.Message(r.Message)
	rt := slackapi.ResponseTypeEphemeral
	if r.Public {
		rt = slackapi.ResponseTypeInChannel
	}
	return slackapi.Msg{ResponseType: rt, Text: out.Text, Blocks: slackapi.Blocks{BlockSet: out.Blocks}}
}

// maxCode bounds a code block's text (Slack's rich text allows more; a
// thread reply stays readable).
const maxCode = 2900

// codeBlock shows text literally in a preformatted rich-text block: its
// characters are data (no mrkdwn, mention or link is parsed in a rich
// text element), so an outside system's answer cannot ping anyone.
func codeBlock(text string) slackapi.Block {
	text = truncate(workflows.PlainText(text), maxCode)
	return slackapi.NewRichTextBlock("", &slackapi.RichTextPreformatted{Type: slackapi.RTEPreformatted,
		Elements: []slackapi.RichTextSectionElement{slackapi.NewRichTextSectionTextElement(text, nil)}})
}
