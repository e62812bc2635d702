package notion

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/jomei/notionapi"

	"github.com/opsbot/opsbot/workflows"
)

// Notion's request limits, with room to spare where they are sizes.
const (
	maxContent      = 2000    // UTF-16 units in one text.content
	maxItems        = 100     // items in one rich-text array
	maxChildren     = 100     // blocks in one children array
	maxNested       = 1000    // blocks in one request, nested ones included
	maxBlockJSON    = 150_000 // escaped text in one block, so two fit a request
	maxRequestBytes = 400_000 // children in one request; Notion allows 500 KB in all
)

// piece is one Notion block to write: a DocBlock, or part of a long one.
type piece struct {
	kind    workflows.DocBlockKind
	items   []string // rich-text contents, each within maxContent
	checked bool
	// rows are a table's cells, each cell's rich-text contents; the
	// first row is the header.
	rows [][][]string
}

// text is the plain text the piece shows.
func (p piece) text() string {
	s := ""
	for _, it := range p.items {
		s += it
	}
	return s
}

// nested counts the blocks a piece adds to a request: itself and its
// children (a table's rows).
func (p piece) nested() int { return 1 + len(p.rows) }

// pieces splits a body into Notion-sized blocks: text longer than 2,000
// characters becomes several rich-text items, and more than 100 items
// (or too many bytes for one request) continue in further blocks of the
// same kind.
func pieces(body []workflows.DocBlock) ([]piece, error) {
	var out []piece
	for i, b := range body {
		switch b.Kind {
		case workflows.DocHeading1, workflows.DocHeading2, workflows.DocHeading3,
			workflows.DocParagraph, workflows.DocBullet, workflows.DocNumbered,
			workflows.DocTodo, workflows.DocQuote:
		case workflows.DocDivider:
			out = append(out, piece{kind: b.Kind})
			continue
		case workflows.DocTable:
			ts, err := tablePieces(b.Rows)
			if err != nil {
				return nil, fmt.Errorf("block %d: %w", i, err)
			}
			out = append(out, ts...)
			continue
		default:
			return nil, fmt.Errorf("block %d: kind %q has no Notion block", i, b.Kind)
		}
		for _, items := range splitText(b.Text) {
			out = append(out, piece{kind: b.Kind, items: items, checked: b.Checked})
		}
	}
	return out, nil
}

// tablePieces is a table as Notion takes it: at most 100 rows a table
// (the children of one block), so a longer one continues in further
// tables under the same header; a cell longer than Notion's rich-text
// limits (100 items of 2,000 characters) is cut. Every row has the header's width, which Notion fixes
// when the table is created.
func tablePieces(rows [][]string) ([]piece, error) {
	if len(rows) < 2 || len(rows[0]) == 0 {
		return nil, fmt.Errorf("a table needs a header and at least one row")
	}
	width := len(rows[0])
	cells := func(r []string) [][]string {
		out := make([][]string, width)
		for i := range out {
			if i < len(r) {
				out[i] = capped(r[i])
			}
		}
		return out
	}
	header := cells(rows[0])
	var out []piece
	cur := piece{kind: workflows.DocTable, rows: [][][]string{header}}
	for _, r := range rows[1:] {
		if len(cur.rows) == maxChildren {
			out = append(out, cur)
			cur = piece{kind: workflows.DocTable, rows: [][][]string{header}}
		}
		cur.rows = append(cur.rows, cells(r))
	}
	return append(out, cur), nil
}

// splitText cuts text into blocks of rich-text items. It never splits a
// character; empty text is one block with no items.
func splitText(text string) [][]string {
	blocks := [][]string{}
	var items []string
	start, units, blockBytes := 0, 0, 0
	closeItem := func(end int) {
		if end > start {
			items = append(items, text[start:end])
		}
		start, units = end, 0
	}
	for i, r := range text {
		u := 1
		if r >= 0x10000 {
			u = 2 // a surrogate pair in UTF-16, as Notion counts
		}
		jb := jsonLen(r)
		if units+u > maxContent {
			closeItem(i)
		}
		if len(items) == maxItems || (blockBytes+jb > maxBlockJSON && (len(items) > 0 || i > start)) {
			closeItem(i)
			blocks = append(blocks, items)
			items, blockBytes = nil, 0
		}
		units += u
		blockBytes += jb
	}
	closeItem(len(text))
	if len(items) > 0 || len(blocks) == 0 {
		blocks = append(blocks, items)
	}
	return blocks
}

// jsonLen is how many bytes encoding/json writes for r in a string.
func jsonLen(r rune) int {
	switch {
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029' || r == utf8.RuneError:
		return 6
	}
	return utf8.RuneLen(r)
}

func richText(items []string) []notionapi.RichText {
	out := make([]notionapi.RichText, 0, len(items))
	for _, it := range items {
		out = append(out, notionapi.RichText{Type: notionapi.ObjectTypeText, Text: &notionapi.Text{Content: it}})
	}
	return out
}

// block is the notionapi form of a piece.
func (p piece) block() notionapi.Block {
	basic := notionapi.BasicBlock{Object: notionapi.ObjectTypeBlock, Type: notionapi.BlockType(p.kind)}
	rt := richText(p.items)
	switch p.kind {
	case workflows.DocHeading1:
		return &notionapi.Heading1Block{BasicBlock: basic, Heading1: notionapi.Heading{RichText: rt}}
	case workflows.DocHeading2:
		return &notionapi.Heading2Block{BasicBlock: basic, Heading2: notionapi.Heading{RichText: rt}}
	case workflows.DocHeading3:
		return &notionapi.Heading3Block{BasicBlock: basic, Heading3: notionapi.Heading{RichText: rt}}
	case workflows.DocBullet:
		return &notionapi.BulletedListItemBlock{BasicBlock: basic, BulletedListItem: notionapi.ListItem{RichText: rt}}
	case workflows.DocNumbered:
		return &notionapi.NumberedListItemBlock{BasicBlock: basic, NumberedListItem: notionapi.ListItem{RichText: rt}}
	case workflows.DocTodo:
		return &notionapi.ToDoBlock{BasicBlock: basic, ToDo: notionapi.ToDo{RichText: rt, Checked: p.checked}}
	case workflows.DocQuote:
		return &notionapi.QuoteBlock{BasicBlock: basic, Quote: notionapi.Quote{RichText: rt}}
	case workflows.DocDivider:
		return &notionapi.DividerBlock{BasicBlock: basic}
	case workflows.DocTable:
		rows := make(notionapi.Blocks, 0, len(p.rows))
		for _, r := range p.rows {
			cells := make([][]notionapi.RichText, len(r))
			for i, c := range r {
				cells[i] = richText(c)
			}
			rows = append(rows, &notionapi.TableRowBlock{BasicBlock: notionapi.BasicBlock{Object: notionapi.ObjectTypeBlock, Type: notionapi.BlockTypeTableRowBlock},
				TableRow: notionapi.TableRow{Cells: cells}})
		}
		return &notionapi.TableBlock{BasicBlock: basic, Table: notionapi.Table{TableWidth: len(p.rows[0]), HasColumnHeader: true, Children: rows}}
	}
	return &notionapi.ParagraphBlock{BasicBlock: basic, Paragraph: notionapi.Paragraph{RichText: rt}}
}

// sameBlock says whether a block read from Notion shows piece p.
func sameBlock(b notionapi.Block, p piece) bool {
	if string(b.GetType()) != string(p.kind) {
		return false
	}
	if td, ok := b.(*notionapi.ToDoBlock); ok && td.ToDo.Checked != p.checked {
		return false
	}
	if t, ok := b.(*notionapi.TableBlock); ok {
		return len(p.rows) > 0 && t.Table.TableWidth == len(p.rows[0])
	}
	return p.kind == workflows.DocDivider || b.GetRichTextString() == p.text()
}

// batch is the blocks of one request.
type batch []notionapi.Block

// batches groups blocks, in order, into requests of at most 100 blocks,
// maxNested blocks counting nested ones (a table's rows), and
// maxRequestBytes; the first holds at most firstBudget bytes (a page
// creation also carries the properties).
func batches(ps []piece, firstBudget int) ([]batch, error) {
	var out []batch
	var cur batch
	size, budget, nested := 0, firstBudget, 0
	for i, p := range ps {
		b := p.block()
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode block %d: %w", i, err)
		}
		n := len(raw) + 1
		if len(cur) == maxChildren || (len(cur) > 0 && (size+n > budget || nested+p.nested() > maxNested)) {
			out = append(out, cur)
			cur, size, budget, nested = nil, 0, maxRequestBytes, 0
		}
		cur = append(cur, b)
		size += n
		nested += p.nested()
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}
