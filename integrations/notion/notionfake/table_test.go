package notionfake_test

import (
	"testing"

	"github.com/jomei/notionapi"
)

func row(cells ...string) map[string]any {
	cs := make([]any, len(cells))
	for i, c := range cells {
		cs[i] = []any{map[string]any{"type": "text", "text": map[string]any{"content": c}}}
	}
	return map[string]any{"object": "block", "type": "table_row", "table_row": map[string]any{"cells": cs}}
}

func tableOf(width int, rows ...map[string]any) map[string]any {
	kids := make([]any, len(rows))
	for i, r := range rows {
		kids[i] = r
	}
	t := map[string]any{"table_width": width, "has_column_header": true, "has_row_header": false}
	if rows != nil {
		t["children"] = kids
	}
	return map[string]any{"object": "block", "type": "table", "table": t}
}

// Notion: a table is created with its rows (at least one), each with as
// many cells as table_width; a table's children are table rows only, and
// a table row lives in a table only.
func TestTable_RowsMustMatchTheWidthAndLiveInATable(t *testing.T) {
	e := setup(t)
	id := e.newPage(t, "inc-1")
	for name, c := range map[string]struct {
		children []any
		msg      string
	}{
		"no rows":         {[]any{tableOf(2)}, "body.children[0].table.children should be defined"},
		"narrow row":      {[]any{tableOf(2, row("a", "b"), row("c"))}, "body.children[0].table.children[1].table_row.cells should have the table's width (2), instead had 1."},
		"row on a page":   {[]any{row("a")}, "body.children[0] is a table_row, which can only be a child of a table."},
		"no width":        {[]any{tableOf(0, row())}, "body.children[0].table.table_width should be a positive integer"},
		"para in table":   {[]any{map[string]any{"type": "table", "table": map[string]any{"table_width": 1, "children": []any{para("x")}}}}, "should be a table_row"},
		"101 rows in one": {[]any{tableOf(1, rows(101)...)}, "body.children[0].table.children.length should be ≤ `100`, instead was `101`."},
	} {
		status, out := e.raw(t, "PATCH", "/v1/blocks/"+id+"/children", map[string]any{"children": c.children}, nil)
		if status != 400 {
			t.Errorf("%s: %d %v, want 400", name, status, out)
			continue
		}
		wantError(t, status, out, 400, "validation_error", c.msg)
	}
	if n := len(e.fake.Blocks(id)); n != 0 {
		t.Errorf("%d blocks after refused appends", n)
	}
	// A good table, then a row appended to it, read back through notionapi.
	status, out := e.raw(t, "PATCH", "/v1/blocks/"+id+"/children", map[string]any{"children": []any{tableOf(2, row("Service", "Alerts"), row("API", "13"))}}, nil)
	if status != 200 {
		t.Fatalf("table: %d %v", status, out)
	}
	tableID := out["results"].([]any)[0].(map[string]any)["id"].(string)
	if status, out := e.raw(t, "PATCH", "/v1/blocks/"+tableID+"/children", map[string]any{"children": []any{row("DB")}}, nil); status != 400 {
		t.Errorf("a narrow row appended to a table: %d %v", status, out)
	}
	if status, out := e.raw(t, "PATCH", "/v1/blocks/"+tableID+"/children", map[string]any{"children": []any{row("DB", "2")}}, nil); status != 200 {
		t.Errorf("a row appended to a table: %d %v", status, out)
	}
	kids, err := e.api.Block.GetChildren(t.Context(), notionapi.BlockID(id), nil)
	if err != nil {
		t.Fatal(err)
	}
	tb, ok := kids.Results[0].(*notionapi.TableBlock)
	if !ok || tb.Table.TableWidth != 2 || !tb.Table.HasColumnHeader || !tb.HasChildren {
		t.Fatalf("table read back: %#v", kids.Results[0])
	}
	rs, err := e.api.Block.GetChildren(t.Context(), notionapi.BlockID(tableID), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Results) != 3 {
		t.Fatalf("%d rows, want 3", len(rs.Results))
	}
	r, ok := rs.Results[1].(*notionapi.TableRowBlock)
	if !ok || len(r.TableRow.Cells) != 2 || r.TableRow.Cells[0][0].PlainText != "API" || r.TableRow.Cells[1][0].Text.Content != "13" {
		t.Errorf("row read back: %#v", rs.Results[1])
	}
}

func rows(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = row("x")
	}
	return out
}
