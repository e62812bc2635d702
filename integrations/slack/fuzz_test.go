package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/opsbot/opsbot/workflows"
)

// unescape undoes Escape.
func unescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(s)
}

// FuzzEscape: escaped text has no raw < or >, every & starts one of
// the three entities, and unescaping gives the text back. A truncated
// escape stays within its length and never ends in half an entity.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "plain", "<!channel>", "<@U123|bob>", "a & b", "&amp;", "&lt;<&gt;>", "<https://x|click>", "é€😀", "&", "\xff<"} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		e := Escape(s)
		if strings.ContainsAny(e, "<>") {
			t.Fatalf("Escape(%q) = %q keeps a bracket", s, e)
		}
		for i := strings.IndexByte(e, '&'); i >= 0; i = nextAmp(e, i) {
			rest := e[i:]
			if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
				t.Fatalf("Escape(%q) = %q has a bare &", s, e)
			}
		}
		if got := unescape(e); got != s {
			t.Fatalf("unescape(Escape(%q)) = %q", s, got)
		}
		if n < 2 || n > 4000 {
			return
		}
		c := truncateEscaped(s, n)
		if utf8.RuneCountInString(c) > n {
			t.Fatalf("truncateEscaped(%q, %d) = %q, %d characters", s, n, c, utf8.RuneCountInString(c))
		}
		if i := strings.LastIndexByte(c, '&'); i >= 0 && !strings.Contains(c[i:], ";") {
			t.Fatalf("truncateEscaped(%q, %d) = %q ends in half an entity", s, n, c)
		}
	})
}

func nextAmp(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '&')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// FuzzRenderMessage: any title, text, field and note people typed
// renders to Block Kit within Slack's limits, with none of their text
// acting as a mention or link.
func FuzzRenderMessage(f *testing.F) {
	f.Add("srv-1 needs approval", "for <!here> & friends", "Reason", "load test <@U1>", "note", "U0LEAD")
	f.Add("", "", "", "", "", "")
	f.Add(strings.Repeat("<", 3100), strings.Repeat("&", 3100), strings.Repeat("é", 300), strings.Repeat(">", 2100), strings.Repeat("<", 2100), "#C1")
	f.Fuzz(func(t *testing.T, title, text, label, value, note, person string) {
		m := workflows.Message{Title: title, Text: text, Note: note,
			Fields:  []workflows.Field{{Label: label, Value: value}, {Label: "Who", Person: person}},
			Actions: []workflows.Action{{ID: workflows.ActApprove, Label: label, Value: value}}}
		r := Renderer{}.Message(m)
		raw, err := json.Marshal(r.Blocks)
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		var blocks []struct {
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct {
				Text string `json:"text"`
			} `json:"fields"`
			Elements []struct {
				Text json.RawMessage `json:"text"`
			} `json:"elements"`
		}
		if err := json.Unmarshal(raw, &blocks); err != nil {
			t.Fatalf("read back: %v", err)
		}
		for _, b := range blocks {
			if b.Text != nil && utf8.RuneCountInString(b.Text.Text) > 3000 {
				t.Fatalf("section text of %d characters", utf8.RuneCountInString(b.Text.Text))
			}
			for _, fl := range b.Fields {
				if utf8.RuneCountInString(fl.Text) > 2000 {
					t.Fatalf("field text of %d characters", utf8.RuneCountInString(fl.Text))
				}
			}
		}
		// Only the renderer writes <@U…> and <#C…>: nothing typed may
		// become <!here>, <!channel>, a link or another mention.
		var texts []string
		for _, b := range blocks {
			if b.Text != nil {
				texts = append(texts, b.Text.Text)
			}
			for _, fl := range b.Fields {
				texts = append(texts, fl.Text)
			}
		}
		for _, s := range texts {
			for i := strings.IndexByte(s, '<'); i >= 0; i = strings.IndexByte(s[i+1:], '<') + i + 1 {
				rest := s[i:]
				if !strings.HasPrefix(rest, "<@"+person+">") && !strings.HasPrefix(rest, "<#"+person+">") {
					t.Fatalf("typed text became markup %q in %q", rest, s)
				}
				if strings.IndexByte(s[i+1:], '<') < 0 {
					break
				}
			}
		}
	})
}
