package notionfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// snapshotVersion is written into every snapshot so a later shape can
// tell an older one apart; Restore reads any version, ignoring fields it
// does not know and leaving missing ones zero.
const snapshotVersion = 1

// snapshot is the persisted form of the workspace: databases with their
// schemas and select options, pages with their values, block trees in
// order, and the counter that makes the next IDs. The request log,
// faults and the rate limiter are left out.
type snapshot struct {
	Version   int                `json:"version"`
	Seq       int                `json:"seq"`
	Databases []databaseSnapshot `json:"databases"` // oldest first
	Pages     []pageSnapshot     `json:"pages"`
	Blocks    []blockSnapshot    `json:"blocks"`
}

type databaseSnapshot struct {
	ID         string         `json:"id"`
	Title      string         `json:"title"`
	Created    time.Time      `json:"created"`
	Properties []propSnapshot `json:"properties"`
	Pages      []string       `json:"pages"` // page IDs in creation order
}

type propSnapshot struct {
	ID      string           `json:"id"`
	Name    string           `json:"name"`
	Type    string           `json:"type"`
	Options []optionSnapshot `json:"options,omitempty"`
}

type optionSnapshot struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

type pageSnapshot struct {
	ID         string                   `json:"id"`
	DatabaseID string                   `json:"database_id,omitempty"`
	ParentPage string                   `json:"parent_page_id,omitempty"`
	Created    time.Time                `json:"created"`
	Edited     time.Time                `json:"edited"`
	Archived   bool                     `json:"archived,omitempty"`
	Properties map[string]valueSnapshot `json:"properties"`
	Children   []string                 `json:"children,omitempty"` // block IDs in order
}

// valueSnapshot is one property value; Kind says which field holds it.
type valueSnapshot struct {
	Kind    string             `json:"kind"` // text, select, multi_select, date, raw
	Text    []richTextSnapshot `json:"text,omitempty"`
	Option  *optionSnapshot    `json:"option,omitempty"`
	Options []optionSnapshot   `json:"options,omitempty"`
	Date    *dateSnapshot      `json:"date,omitempty"`
	Raw     any                `json:"raw,omitempty"` // number (as sent), checkbox, url, email, phone
}

type dateSnapshot struct {
	Start    string `json:"start"`
	End      string `json:"end,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
}

type richTextSnapshot struct {
	Content     string         `json:"content"`
	Link        string         `json:"link,omitempty"`
	Annotations map[string]any `json:"annotations,omitempty"`
}

type blockSnapshot struct {
	ID           string               `json:"id"`
	Parent       string               `json:"parent_id"`
	ParentIsPage bool                 `json:"parent_is_page,omitempty"`
	Type         string               `json:"type"`
	Text         []richTextSnapshot   `json:"text,omitempty"`
	Cells        [][]richTextSnapshot `json:"cells,omitempty"`  // a table_row's
	Fields       map[string]any       `json:"fields,omitempty"` // checked, color, language, ...
	Children     []string             `json:"children,omitempty"`
	Created      time.Time            `json:"created"`
	Edited       time.Time            `json:"edited"`
	EditedBy     string               `json:"edited_by,omitempty"` // a person's user ID after EditBlock
}

// Snapshot returns the workspace as JSON, so a sandbox restarted on the
// same database still has the post-mortem pages opsbot links to.
func (s *Server) Snapshot() ([]byte, error) {
	s.mu.Lock()
	snap := snapshot{Version: snapshotVersion, Seq: s.seq}
	for _, k := range s.dbOrder {
		db := s.dbs[k]
		x := databaseSnapshot{ID: db.id, Title: db.title, Created: db.created}
		for _, name := range slices.Sorted(maps.Keys(db.props)) {
			ps := db.props[name]
			p := propSnapshot{ID: ps.id, Name: ps.name, Type: ps.typ}
			for _, o := range ps.options {
				p.Options = append(p.Options, optionSnapshot(o))
			}
			x.Properties = append(x.Properties, p)
		}
		for _, pk := range db.pages {
			x.Pages = append(x.Pages, s.pages[pk].id)
		}
		snap.Databases = append(snap.Databases, x)
	}
	for _, k := range slices.Sorted(maps.Keys(s.pages)) {
		p := s.pages[k]
		x := pageSnapshot{ID: p.id, ParentPage: p.parentPage, Created: p.created, Edited: p.edited,
			Archived: p.archived, Properties: map[string]valueSnapshot{}, Children: s.blockIDs(p.children)}
		if db := s.dbs[p.dbKey]; db != nil {
			x.DatabaseID = db.id
		}
		for name, v := range p.props {
			x.Properties[name] = valueToSnapshot(v)
		}
		snap.Pages = append(snap.Pages, x)
	}
	for _, k := range slices.Sorted(maps.Keys(s.blocks)) {
		b := s.blocks[k]
		if b.archived {
			continue // deleted: in Notion's trash, out of reach of the API
		}
		x := blockSnapshot{ID: b.id, ParentIsPage: b.parentPg, Type: b.typ, Text: textToSnapshot(b.text),
			Fields: b.fields, Children: s.blockIDs(b.children), Created: b.created, Edited: b.edited, EditedBy: b.editedBy}
		for _, c := range b.cells {
			x.Cells = append(x.Cells, textToSnapshot(c))
		}
		if b.parentPg {
			x.Parent = s.pages[b.parent].id
		} else {
			x.Parent = s.blocks[b.parent].idOrEmpty()
		}
		snap.Blocks = append(snap.Blocks, x)
	}
	// Encode under the lock: block fields and annotations are maps the
	// request handlers share.
	out, err := json.Marshal(snap)
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("encode notionfake snapshot: %w", err)
	}
	return out, nil
}

func (s *Server) blockIDs(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, s.blocks[k].id)
	}
	return out
}

func textToSnapshot(rt []richText) []richTextSnapshot {
	if rt == nil {
		return nil
	}
	out := make([]richTextSnapshot, 0, len(rt))
	for _, r := range rt {
		out = append(out, richTextSnapshot{Content: r.Content, Link: r.Link, Annotations: r.Ann})
	}
	return out
}

func textFromSnapshot(rt []richTextSnapshot) []richText {
	out := make([]richText, 0, len(rt))
	for _, r := range rt {
		out = append(out, richText{Content: r.Content, Link: r.Link, Ann: r.Annotations})
	}
	return out
}

func valueToSnapshot(v any) valueSnapshot {
	switch x := v.(type) {
	case []richText:
		return valueSnapshot{Kind: "text", Text: textToSnapshot(x)}
	case *option:
		out := valueSnapshot{Kind: "select"}
		if x != nil {
			out.Option = &optionSnapshot{ID: x.ID, Name: x.Name, Color: x.Color}
		}
		return out
	case []option:
		out := valueSnapshot{Kind: "multi_select"}
		for _, o := range x {
			out.Options = append(out.Options, optionSnapshot(o))
		}
		return out
	case *dateValue:
		out := valueSnapshot{Kind: "date"}
		if x != nil {
			out.Date = &dateSnapshot{Start: x.Start, End: x.End, TimeZone: x.TimeZone}
		}
		return out
	}
	return valueSnapshot{Kind: "raw", Raw: v}
}

// valueFromSnapshot rebuilds a value of property type typ; a value of
// another kind (a damaged snapshot, or a schema that changed) becomes
// the type's empty value.
func valueFromSnapshot(typ string, x valueSnapshot) any {
	switch typ {
	case "title", "rich_text":
		if x.Kind == "text" {
			return textFromSnapshot(x.Text)
		}
	case "select":
		if x.Kind == "select" && x.Option != nil {
			return &option{ID: x.Option.ID, Name: x.Option.Name, Color: x.Option.Color}
		}
	case "multi_select":
		if x.Kind == "multi_select" {
			out := []option{}
			for _, o := range x.Options {
				out = append(out, option(o))
			}
			return out
		}
	case "date":
		if x.Kind == "date" && x.Date != nil {
			return &dateValue{Start: x.Date.Start, End: x.Date.End, TimeZone: x.Date.TimeZone}
		}
	case "people": // user IDs, kept as a raw list
		if ids, ok := x.Raw.([]any); ok && x.Kind == "raw" {
			out := []string{}
			for _, id := range ids {
				if s, ok := id.(string); ok {
					out = append(out, s)
				}
			}
			return out
		}
	default:
		if x.Kind == "raw" {
			return x.Raw
		}
	}
	return emptyValue(typ)
}

// Restore replaces the workspace with a snapshot made by Snapshot. The
// request log, faults and the rate limiter are kept. Anything that
// points nowhere (a page in a missing database, a child block that does
// not name its parent back) is dropped or detached rather than trusted,
// so a damaged or older snapshot cannot make later requests panic, and
// new IDs never repeat restored ones.
func (s *Server) Restore(b []byte) error {
	var snap snapshot
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // numbers stay as sent, as the request handlers keep them
	if err := d.Decode(&snap); err != nil {
		return fmt.Errorf("decode notionfake snapshot: %w", err)
	}
	dbs, dbOrder := map[string]*database{}, []string{}
	for _, x := range snap.Databases {
		k := normID(x.ID)
		if k == "" || dbs[k] != nil {
			continue
		}
		db := &database{id: x.ID, title: x.Title, created: x.Created, props: map[string]*propSchema{}}
		for _, p := range x.Properties {
			if p.Name == "" || !propertyTypes[p.Type] {
				continue
			}
			ps := &propSchema{id: p.ID, name: p.Name, typ: p.Type}
			for _, o := range p.Options {
				ps.options = append(ps.options, option(o))
			}
			db.props[p.Name] = ps
		}
		dbs[k] = db
		dbOrder = append(dbOrder, k)
	}
	pages := map[string]*page{}
	for _, x := range snap.Pages {
		k := normID(x.ID)
		if k == "" || pages[k] != nil {
			continue
		}
		pages[k] = restorePage(x, dbs)
	}
	for _, x := range snap.Databases {
		if db := dbs[normID(x.ID)]; db != nil && db.pages == nil {
			db.pages = belonging(x.Pages, normID(x.ID), pages)
		}
	}
	blocks := restoreBlocks(snap.Blocks, pages)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbs, s.dbOrder, s.pages, s.blocks = dbs, dbOrder, pages, blocks
	s.seq = snap.Seq
	return nil
}

func restorePage(x pageSnapshot, dbs map[string]*database) *page {
	p := &page{id: x.ID, parentPage: x.ParentPage, created: x.Created, edited: x.Edited, archived: x.Archived,
		props: map[string]any{}, children: x.Children}
	db := dbs[normID(x.DatabaseID)]
	if db == nil {
		p.props["title"] = valueFromSnapshot("title", x.Properties["title"])
		return p
	}
	p.dbKey = normID(db.id)
	for name, ps := range db.props {
		p.props[name] = valueFromSnapshot(ps.typ, x.Properties[name])
	}
	return p
}

// belonging lists a database's pages: the snapshot's order first, then
// any page that names the database but was left off its list.
func belonging(ids []string, dbKey string, pages map[string]*page) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, id := range ids {
		k := normID(id)
		if p := pages[k]; p != nil && p.dbKey == dbKey && !seen[k] {
			out = append(out, k)
			seen[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(pages)) {
		if pages[k].dbKey == dbKey && !seen[k] {
			out = append(out, k)
		}
	}
	return out
}

// restoreBlocks rebuilds the blocks and every child list (pages' too,
// which restorePage left as IDs). A child is kept only when it names
// its holder as parent, and only once, so the trees stay trees.
func restoreBlocks(xs []blockSnapshot, pages map[string]*page) map[string]*block {
	blocks := map[string]*block{}
	ids := map[string][]string{} // block key → child IDs from the snapshot
	for _, x := range xs {
		k := normID(x.ID)
		if k == "" || blocks[k] != nil {
			continue
		}
		b := &block{id: x.ID, parent: normID(x.Parent), parentPg: x.ParentIsPage, typ: x.Type,
			fields: x.Fields, created: x.Created, edited: x.Edited, editedBy: x.EditedBy}
		if b.fields == nil {
			b.fields = map[string]any{}
		}
		if x.Text != nil || blockTypes[x.Type] {
			b.text = textFromSnapshot(x.Text)
		}
		for _, c := range x.Cells {
			b.cells = append(b.cells, textFromSnapshot(c))
		}
		blocks[k] = b
		ids[k] = x.Children
	}
	for k, b := range blocks {
		if b.parentPg && pages[b.parent] == nil {
			delete(blocks, k) // its page is gone; nothing can reach it
		}
	}
	placed := map[string]bool{}
	children := func(holder string, holderIsPage bool, list []string) []string {
		out := []string{}
		for _, id := range list {
			k := normID(id)
			if c := blocks[k]; c != nil && c.parent == holder && c.parentPg == holderIsPage && !placed[k] {
				out = append(out, k)
				placed[k] = true
			}
		}
		return out
	}
	for k, p := range pages {
		p.children = children(k, true, p.children)
	}
	for k, b := range blocks {
		b.children = children(k, false, ids[k])
	}
	return blocks
}
