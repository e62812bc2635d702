package notionfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// blockTypes are the block types the fake stores, and whether each
// carries rich_text.
var blockTypes = map[string]bool{
	"paragraph": true, "heading_1": true, "heading_2": true, "heading_3": true,
	"bulleted_list_item": true, "numbered_list_item": true, "to_do": true,
	"quote": true, "toggle": true, "callout": true, "code": true,
	"divider": false, "table_of_contents": false, "breadcrumb": false,
	"table": false, "table_row": false,
}

// newBlock is a block parsed from a request, not stored yet.
type newBlock struct {
	typ      string
	text     []richText
	fields   map[string]any
	children []*newBlock
	cells    [][]richText // a table_row's
}

// parseBlocks reads and checks a children array; level 0 is a request's
// own children.
func parseBlocks(path string, raw any, level int) ([]*newBlock, *apiError) {
	arr, ok := raw.([]any)
	if !ok {
		return nil, invalid("%s should be an array, instead was `%s`.", path, preview(raw))
	}
	if len(arr) > MaxChildren {
		return nil, tooLong(path, MaxChildren, len(arr))
	}
	out := make([]*newBlock, 0, len(arr))
	for i, item := range arr {
		p := fmt.Sprintf("%s[%d]", path, i)
		b, err := parseBlock(p, item, level)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func parseBlock(path string, raw any, level int) (*newBlock, *apiError) {
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, invalid("%s should be an object, instead was `%s`.", path, preview(raw))
	}
	typ, _ := obj["type"].(string)
	if typ == "" {
		for k := range obj {
			if _, known := blockTypes[k]; known {
				typ = k
			}
		}
	}
	textual, known := blockTypes[typ]
	if !known {
		return nil, invalid("%s.type should be one of the supported block types, instead was `%s`.", path, typ)
	}
	content, ok := obj[typ].(map[string]any)
	if !ok {
		return nil, invalid("%s.%s should be an object, instead was `%s`.", path, typ, preview(obj[typ]))
	}
	p := path + "." + typ
	b := &newBlock{typ: typ, fields: map[string]any{}}
	for k, v := range content {
		switch k {
		case "rich_text", "children", "cells":
		default:
			b.fields[k] = v
		}
	}
	if textual {
		rt, err := parseRichText(p+".rich_text", content["rich_text"])
		if err != nil {
			return nil, err
		}
		b.text = rt
	}
	if typ == "to_do" {
		if c, ok := content["checked"]; ok {
			if _, isBool := c.(bool); !isBool {
				return nil, invalid("%s.checked should be a boolean, instead was `%s`.", p, preview(c))
			}
		} else {
			b.fields["checked"] = false
		}
	}
	if typ == "table_row" {
		raw, ok := content["cells"].([]any)
		if !ok {
			return nil, invalid("%s.cells should be an array, instead was `%s`.", p, preview(content["cells"]))
		}
		for i, c := range raw {
			rt, err := parseRichText(fmt.Sprintf("%s.cells[%d]", p, i), c)
			if err != nil {
				return nil, err
			}
			b.cells = append(b.cells, rt)
		}
	}
	if kids, ok := content["children"]; ok && kids != nil {
		if (!textual && typ != "table") || level >= MaxNesting {
			return nil, invalid("%s.children should be not present, instead was `%s`.", p, preview(kids))
		}
		children, err := parseBlocks(p+".children", kids, level+1)
		if err != nil {
			return nil, err
		}
		b.children = children
	}
	if typ == "table" {
		w, ok := tableWidth(content["table_width"])
		if !ok {
			return nil, invalid("%s.table_width should be a positive integer, instead was `%s`.", p, preview(content["table_width"]))
		}
		if len(b.children) == 0 {
			// Notion: a table is created with its rows, at least one.
			return nil, invalid("%s.children should be defined, instead was `undefined`.", p)
		}
		if err := checkRows(p+".children", "table", w, b.children); err != nil {
			return nil, err
		}
	} else if err := checkRows(p+".children", typ, 0, b.children); err != nil {
		return nil, err
	}
	return b, nil
}

// tableWidth reads a table_width as decoded (json.Number).
func tableWidth(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	w, err := n.Int64()
	if err != nil || w < 1 {
		return 0, false
	}
	return int(w), true
}

// checkRows checks the children of a block of type parent: a table holds
// table rows only, each with exactly width cells (the width is fixed
// when the table is created); nothing else holds a table row.
func checkRows(path, parent string, width int, kids []*newBlock) *apiError {
	for i, k := range kids {
		switch {
		case parent == "table" && k.typ != "table_row":
			return invalid("%s[%d] should be a table_row, instead was `%s`: a table's children are its rows.", path, i, k.typ)
		case parent == "table" && len(k.cells) != width:
			return invalid("%s[%d].table_row.cells should have the table's width (%d), instead had %d.", path, i, width, len(k.cells))
		case parent != "table" && k.typ == "table_row":
			return invalid("%s[%d] is a table_row, which can only be a child of a table.", path, i)
		}
	}
	return nil
}

// parseRichText reads and checks a rich-text array.
func parseRichText(path string, raw any) ([]richText, *apiError) {
	if raw == nil {
		return nil, invalid("%s should be defined, instead was `undefined`.", path)
	}
	arr, ok := raw.([]any)
	if !ok {
		return nil, invalid("%s should be an array, instead was `%s`.", path, preview(raw))
	}
	if len(arr) > MaxRichText {
		return nil, tooLong(path, MaxRichText, len(arr))
	}
	out := make([]richText, 0, len(arr))
	for i, item := range arr {
		p := fmt.Sprintf("%s[%d]", path, i)
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, invalid("%s should be an object, instead was `%s`.", p, preview(item))
		}
		if t, _ := obj["type"].(string); t != "" && t != "text" {
			return nil, invalid("%s.type should be `\"text\"` in this fake, instead was `%q`.", p, t)
		}
		text, ok := obj["text"].(map[string]any)
		if !ok {
			return nil, invalid("%s.text should be defined, instead was `undefined`.", p)
		}
		content, ok := text["content"].(string)
		if !ok {
			return nil, invalid("%s.text.content should be a string, instead was `%s`.", p, preview(text["content"]))
		}
		if n := utf16Len(content); n > MaxContent {
			return nil, tooLong(p+".text.content", MaxContent, n)
		}
		rt := richText{Content: content}
		if link, ok := text["link"].(map[string]any); ok {
			rt.Link, _ = link["url"].(string)
		}
		rt.Ann, _ = obj["annotations"].(map[string]any)
		out = append(out, rt)
	}
	return out, nil
}

// countChildren counts a body's top-level children and all its blocks.
func countChildren(body map[string]any) (top, total int) {
	arr, _ := body["children"].([]any)
	return len(arr), countBlocks(arr)
}

func countBlocks(arr []any) int {
	n := 0
	for _, item := range arr {
		n++
		obj, _ := item.(map[string]any)
		for _, v := range obj {
			if content, ok := v.(map[string]any); ok {
				kids, _ := content["children"].([]any)
				n += countBlocks(kids)
			}
		}
	}
	return n
}

// preview shows a value the way Notion's messages do: JSON, cut short.
func preview(v any) string {
	if v == nil {
		return "undefined"
	}
	b, _ := json.Marshal(v)
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// storeBlocks saves parsed blocks under a parent, after the block with
// key after (or at the end), and returns the new top-level blocks.
// Callers hold s.mu.
func (s *Server) storeBlocks(parentKey string, parentIsPage bool, nb []*newBlock, after string) ([]*block, *apiError) {
	var list *[]string
	if parentIsPage {
		list = &s.pages[parentKey].children
	} else {
		list = &s.blocks[parentKey].children
	}
	at := len(*list)
	if after != "" {
		i := slices.Index(*list, normID(after))
		if i < 0 {
			return nil, invalid("body.after should be the ID of a child of the parent block, instead was `%s`.", after)
		}
		at = i + 1
	}
	now := s.now()
	var made []*block
	keys := make([]string, 0, len(nb))
	for _, n := range nb {
		b := s.newStoredBlock(parentKey, parentIsPage, n, now)
		made = append(made, b)
		keys = append(keys, normID(b.id))
	}
	*list = slices.Insert(*list, at, keys...)
	return made, nil
}

func (s *Server) newStoredBlock(parentKey string, parentIsPage bool, n *newBlock, now time.Time) *block {
	b := &block{id: s.freshID("block"), parent: parentKey, parentPg: parentIsPage, typ: n.typ,
		text: n.text, cells: n.cells, fields: n.fields, created: now, edited: now}
	key := normID(b.id)
	s.blocks[key] = b
	for _, c := range n.children {
		kid := s.newStoredBlock(key, false, c, now)
		b.children = append(b.children, normID(kid.id))
	}
	return b
}

// blockJSON is a block as Notion returns it.
func (s *Server) blockJSON(b *block) map[string]any {
	content := map[string]any{}
	for k, v := range b.fields {
		content[k] = v
	}
	if b.typ == "table_row" {
		cells := make([]any, 0, len(b.cells))
		for _, c := range b.cells {
			cells = append(cells, richTextJSON(c))
		}
		content["cells"] = cells
	}
	if blockTypes[b.typ] {
		content["rich_text"] = richTextJSON(b.text)
		if _, ok := content["color"]; !ok {
			content["color"] = "default"
		}
	}
	parent := map[string]any{"type": "block_id", "block_id": s.blocks[b.parent].idOrEmpty()}
	if b.parentPg {
		parent = map[string]any{"type": "page_id", "page_id": s.pages[b.parent].id}
	}
	editor := botUser
	if b.editedBy != "" {
		editor = personUser
	}
	return map[string]any{
		"object": "block", "id": b.id, "parent": parent,
		"created_time": stamp(b.created), "last_edited_time": stamp(b.edited),
		"created_by": botUser, "last_edited_by": editor,
		"has_children": len(b.children) > 0, "archived": false, "in_trash": false,
		"type": b.typ, b.typ: content,
	}
}

func (b *block) idOrEmpty() string {
	if b == nil {
		return ""
	}
	return b.id
}

// botUser is the integration's bot user, the author of everything it makes.
var botUser = map[string]any{"object": "user", "id": "9a3b7e0c-0000-4000-8000-00000000b0b0"}

func richTextJSON(rt []richText) []any {
	out := make([]any, 0, len(rt))
	for _, r := range rt {
		ann := map[string]any{"bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default"}
		for k, v := range r.Ann {
			ann[k] = v
		}
		var link, href any
		if r.Link != "" {
			link, href = map[string]any{"url": r.Link}, r.Link
		}
		out = append(out, map[string]any{
			"type": "text", "text": map[string]any{"content": r.Content, "link": link},
			"annotations": ann, "plain_text": r.Content, "href": href,
		})
	}
	return out
}

// parent finds a page or block by ID. Callers hold s.mu.
func (s *Server) parent(id string) (key string, isPage bool, archived bool, err *apiError) {
	key = normID(id)
	if p := s.pages[key]; p != nil {
		return key, true, p.archived, nil
	}
	if s.blocks[key] != nil {
		return key, false, false, nil
	}
	return "", false, false, notFound("block", id)
}

// listChildren is GET /v1/blocks/{id}/children.
func (s *Server) listChildren(id string, q url.Values, _ map[string]any) (any, *apiError) {
	key, isPage, _, err := s.parent(id)
	if err != nil {
		return nil, err
	}
	kids := s.blocks[key].childKeys()
	if isPage {
		kids = s.pages[key].children
	}
	size, cursor, aerr := pageParams(q.Get("page_size"), q.Get("start_cursor"), "query")
	if aerr != nil {
		return nil, aerr
	}
	window, next, aerr := paginate(kids, cursor, size)
	if aerr != nil {
		return nil, aerr
	}
	results := make([]any, 0, len(window))
	for _, k := range window {
		results = append(results, s.blockJSON(s.blocks[k]))
	}
	if next != "" {
		next = s.blocks[next].id
	}
	return list(results, next, "block"), nil
}

func (b *block) childKeys() []string {
	if b == nil {
		return nil
	}
	return b.children
}

// appendChildren is PATCH /v1/blocks/{id}/children.
func (s *Server) appendChildren(id string, _ url.Values, body map[string]any) (any, *apiError) {
	key, isPage, archived, err := s.parent(id)
	if err != nil {
		return nil, err
	}
	if archived {
		return nil, invalid("Can't edit block that is archived. You must unarchive the block before editing.")
	}
	nb, err := parseBlocks("body.children", body["children"], 0)
	if err != nil {
		return nil, err
	}
	ptyp, width := "page", 0
	if pb := s.blocks[key]; !isPage && pb != nil {
		ptyp = pb.typ
		width, _ = tableWidth(pb.fields["table_width"])
	}
	if err := checkRows("body.children", ptyp, width, nb); err != nil {
		return nil, err
	}
	after, _ := body["after"].(string)
	made, err := s.storeBlocks(key, isPage, nb, after)
	if err != nil {
		return nil, err
	}
	if isPage {
		s.pages[key].edited = s.now()
	}
	results := make([]any, 0, len(made))
	for _, b := range made {
		results = append(results, s.blockJSON(b))
	}
	return list(results, "", "block"), nil
}

// pageParams reads page_size (1..100, default 100) and start_cursor.
func pageParams(sizeRaw any, cursorRaw any, where string) (int, string, *apiError) {
	size := 100
	switch v := sizeRaw.(type) {
	case string:
		if v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				return 0, "", errorf(http.StatusBadRequest, "validation_error", "%s failed validation: page_size should be a number between 1 and 100, instead was `%s`.", where, v)
			}
			size = n
		}
	case json.Number:
		n, err := v.Int64()
		if err != nil || n < 1 || n > 100 {
			return 0, "", invalid("body.page_size should be ≤ `100` and ≥ `1`, instead was `%s`.", v)
		}
		size = int(n)
	}
	cursor, _ := cursorRaw.(string)
	return size, cursor, nil
}

// paginate returns up to size keys starting at the cursor (the ID of the
// first one, as Notion's cursors are) and the next cursor.
func paginate(keys []string, cursor string, size int) ([]string, string, *apiError) {
	start := 0
	if cursor != "" {
		start = slices.Index(keys, normID(cursor))
		if start < 0 {
			return nil, "", invalid("start_cursor should be a valid cursor, instead was `%s`.", cursor)
		}
	}
	end := min(start+size, len(keys))
	next := ""
	if end < len(keys) {
		next = keys[end]
	}
	return keys[start:end], next, nil
}

// list is Notion's paginated list envelope.
func list(results []any, next, kind string) map[string]any {
	var nc any
	if next != "" {
		nc = next
	}
	return map[string]any{"object": "list", "results": results, "next_cursor": nc, "has_more": next != "", "type": kind, kind: map[string]any{}}
}
