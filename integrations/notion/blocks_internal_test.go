package notion

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/opsbot/opsbot/workflows"
)

func units(s string) int { return len(utf16.Encode([]rune(s))) }

func TestSplitText_ItemsWithinNotionsLimits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		text   string
		blocks int
		items  []int // items per block
	}{
		{"empty", "", 1, []int{0}},
		{"exactly 2000", strings.Repeat("a", 2000), 1, []int{1}},
		{"2001", strings.Repeat("a", 2001), 1, []int{2}},
		{"5000", strings.Repeat("b", 5000), 1, []int{3}},
		// 1,000 emoji are 2,000 UTF-16 units; one more does not fit and
		// the pair is never cut.
		{"emoji", strings.Repeat("😀", 1001), 1, []int{2}},
		{"over 100 items", strings.Repeat("c", 2000*100+1), 2, nil},
		// '<' is six bytes in JSON: the block closes on size first.
		{"escaped", strings.Repeat("<", 60_000), 3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := splitText(tc.text)
			if len(got) != tc.blocks {
				t.Fatalf("blocks = %d, want %d", len(got), tc.blocks)
			}
			var joined strings.Builder
			for i, items := range got {
				if tc.items != nil && len(items) != tc.items[i] {
					t.Errorf("block %d has %d items, want %d", i, len(items), tc.items[i])
				}
				if len(items) > maxItems {
					t.Errorf("block %d has %d items", i, len(items))
				}
				for _, it := range items {
					if units(it) > maxContent || it == "" {
						t.Errorf("item of %d units", units(it))
					}
					joined.WriteString(it)
				}
			}
			if joined.String() != tc.text {
				t.Errorf("text changed by splitting")
			}
		})
	}
}

func TestBatches_AtMost100BlocksAndWithinTheByteBudget(t *testing.T) {
	var body []workflows.DocBlock
	for range 250 {
		body = append(body, workflows.DocBlock{Kind: workflows.DocBullet, Text: "x"})
	}
	for range 5 {
		body = append(body, workflows.DocBlock{Kind: workflows.DocParagraph, Text: strings.Repeat("&", 40_000)})
	}
	ps, err := pieces(body)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := batches(ps, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, b := range bs {
		raw, _ := json.Marshal(map[string]any{"children": b})
		if len(b) > maxChildren || (len(raw) > maxRequestBytes && len(b) > 1) {
			t.Errorf("batch %d: %d blocks, %d bytes", i, len(b), len(raw))
		}
		if i == 0 && len(raw) > 10_000+100 {
			t.Errorf("first batch %d bytes, want within its budget", len(raw))
		}
		total += len(b)
	}
	if total != len(ps) {
		t.Errorf("batched %d of %d blocks", total, len(ps))
	}
	if _, err := pieces([]workflows.DocBlock{{Kind: "table"}}); err == nil {
		t.Error("an unknown block kind was accepted")
	}
}
