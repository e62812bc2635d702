package notion

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/opsbot/opsbot/workflows"
)

// FuzzSplitText: any text, however long or odd, is cut into blocks and
// requests Notion accepts (2,000 UTF-16 units per text, 100 items per
// array, 100 children and the byte budget per request), loses nothing
// and never splits a character.
func FuzzSplitText(f *testing.F) {
	f.Add("", 1)
	f.Add("Database failover took 12 minutes", 3)
	f.Add(strings.Repeat("a", 2001), 1)
	f.Add(strings.Repeat("😀", 1001), 2)
	f.Add(strings.Repeat("<&>\"\\\n", 40_000), 1)
	f.Add(strings.Repeat("x", 2000*101), 1)
	f.Add("\xff\xfe broken utf-8 \xc3", 2)
	f.Fuzz(func(t *testing.T, text string, repeat int) {
		if repeat < 1 || repeat > 400 {
			return
		}
		if len(text)*repeat > 1<<20 {
			return
		}
		text = strings.Repeat(text, repeat)
		blocks := splitText(text)
		var joined strings.Builder
		for _, items := range blocks {
			if len(items) > maxItems {
				t.Fatalf("a block of %d rich-text items", len(items))
			}
			for _, it := range items {
				if n := len(utf16.Encode([]rune(it))); n > maxContent {
					t.Fatalf("a rich-text item of %d UTF-16 units", n)
				}
				if utf8.ValidString(text) && !utf8.ValidString(it) {
					t.Fatalf("an item splits a character: %q", it)
				}
				joined.WriteString(it)
			}
		}
		if joined.String() != text {
			t.Fatalf("split text does not join back: %d bytes in, %d out", len(text), joined.Len())
		}
		ps, err := pieces([]workflows.DocBlock{{Kind: workflows.DocParagraph, Text: text}, {Kind: workflows.DocDivider}, {Kind: workflows.DocTodo, Text: text, Checked: true}})
		if err != nil {
			t.Fatal(err)
		}
		bs, err := batches(ps, maxRequestBytes/2)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, b := range bs {
			raw, err := json.Marshal(map[string]any{"children": b})
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > maxChildren || len(b) == 0 {
				t.Fatalf("a request of %d children", len(b))
			}
			if len(raw) > 500_000 {
				t.Fatalf("a request of %d bytes", len(raw))
			}
			n += len(b)
		}
		if n != len(ps) {
			t.Fatalf("%d blocks in requests, %d pieces", n, len(ps))
		}
	})
}
