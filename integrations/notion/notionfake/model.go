package notionfake

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Property types a database schema may use in this fake.
var propertyTypes = map[string]bool{
	"title": true, "rich_text": true, "select": true, "multi_select": true, "date": true,
	"number": true, "checkbox": true, "people": true, "url": true, "email": true, "phone_number": true,
}

// Database is a snapshot of a fake database.
type Database struct {
	ID    string
	Title string
	// ParentPage is the page the database was created under (POST
	// /v1/databases); empty for one made with AddDatabase.
	ParentPage string
	// Properties maps each property name to its Notion type ("title",
	// "rich_text", "select", "multi_select", "date", ...).
	Properties map[string]string
}

// Page is a snapshot of a fake page.
type Page struct {
	ID         string
	URL        string
	DatabaseID string // the parent database; empty for a page under a page
	ParentPage string // the parent page, when not in a database
	Title      string
	Properties map[string]Value
	Archived   bool
	Created    time.Time
	Edited     time.Time
}

// Value is one property value of a page, in plain terms.
type Value struct {
	Type       string
	Text       string   // title, rich_text: the plain text
	Names      []string // select (zero or one name), multi_select
	Start, End string   // date, as stored ("2025-03-14" or a datetime)
	People     []string // people: user IDs
	Raw        any      // number, checkbox, url, email, phone_number
}

// Block is a snapshot of a block, as Blocks lists them.
type Block struct {
	ID      string
	Type    string // "paragraph", "heading_1", "to_do", ...
	Text    string // the plain text of its rich text
	Items   int    // how many rich-text items carried Text
	Checked bool   // for to_do
	Depth   int    // 0 for a page's own children
	// EditedByPerson is true once EditBlock changed it.
	EditedByPerson bool
}

// Request is one request the fake answered, for tests to assert on.
type Request struct {
	At     time.Time
	Method string
	Path   string
	Status int
	Code   string // Notion's error code, empty on success
	// RetryAfter is the Retry-After answered with a 429, in seconds.
	RetryAfter int
	Bytes      int // body size
	Children   int // length of the body's top-level "children" array
	Blocks     int // blocks in the body, nested ones included
}

type database struct {
	id         string
	title      string
	parentPage string                 // the page it was created under; "" for the workspace
	props      map[string]*propSchema // by name
	created    time.Time
	pages      []string // page keys in creation order
}

type propSchema struct {
	id, name, typ string
	options       []option // select and multi_select
}

type option struct{ ID, Name, Color string }

type page struct {
	id         string
	dbKey      string // parent database key, or ""
	parentPage string // parent page ID when not in a database
	props      map[string]any
	created    time.Time
	edited     time.Time
	archived   bool
	children   []string // block keys
}

type block struct {
	id       string
	parent   string // key of the parent page or block
	parentPg bool   // parent is a page
	typ      string
	text     []richText
	cells    [][]richText   // a table_row's cells
	fields   map[string]any // other type-specific fields: checked, color, ...
	children []string
	created  time.Time
	edited   time.Time
	editedBy string // a person's user ID after EditBlock; "" for the bot
	archived bool   // deleted (in the trash)
}

type richText struct {
	Content string
	Link    string
	Ann     map[string]any // annotations as sent
}

type dateValue struct{ Start, End, TimeZone string }

func plain(rt []richText) string {
	var b strings.Builder
	for _, r := range rt {
		b.WriteString(r.Content)
	}
	return b.String()
}

// AddDatabase creates a database with a property schema (name → type).
// It needs exactly one "title" property, as Notion does; integrations
// are then shared with it by default.
func (s *Server) AddDatabase(title string, schema map[string]string) (Database, error) {
	titles := 0
	for name, typ := range schema {
		if !propertyTypes[typ] {
			return Database{}, fmt.Errorf("property %q: type %q is not supported by the fake", name, typ)
		}
		if typ == "title" {
			titles++
		}
	}
	if titles != 1 {
		return Database{}, fmt.Errorf("database %q: want exactly one title property, have %d", title, titles)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putDatabase(title, "", schema).snapshot(), nil
}

// putDatabase stores a new database with a checked schema. Caller holds
// mu.
func (s *Server) putDatabase(title, parentPage string, schema map[string]string) *database {
	db := &database{id: s.freshID("database"), title: title, parentPage: parentPage, props: map[string]*propSchema{}, created: s.now()}
	names := make([]string, 0, len(schema))
	for name := range schema {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		id := fmt.Sprintf("p%03d", i)
		if schema[name] == "title" {
			id = "title"
		}
		db.props[name] = &propSchema{id: id, name: name, typ: schema[name]}
	}
	s.dbs[normID(db.id)] = db
	s.dbOrder = append(s.dbOrder, normID(db.id))
	return db
}

// AddPage creates a page at the top of the workspace, shared with the
// integration (a place `opsbot notion init --parent` can put a database
// under), and returns its ID.
func (s *Server) AddPage(title string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &page{props: map[string]any{"title": []richText{{Content: title}}}, created: s.now()}
	p.edited = p.created
	p.id = s.freshID("page")
	s.pages[normID(p.id)] = p
	return p.id
}

func (db *database) snapshot() Database {
	out := Database{ID: db.id, Title: db.title, ParentPage: db.parentPage, Properties: map[string]string{}}
	for name, p := range db.props {
		out.Properties[name] = p.typ
	}
	return out
}

// Databases returns every database, oldest first.
func (s *Server) Databases() []Database {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Database, 0, len(s.dbOrder))
	for _, k := range s.dbOrder {
		out = append(out, s.dbs[k].snapshot())
	}
	return out
}

// Pages returns the pages of a database, archived ones included, oldest
// first.
func (s *Server) Pages(databaseID string) []Page {
	s.mu.Lock()
	defer s.mu.Unlock()
	db := s.dbs[normID(databaseID)]
	if db == nil {
		return nil
	}
	out := make([]Page, 0, len(db.pages))
	for _, k := range db.pages {
		out = append(out, s.pageSnapshot(s.pages[k]))
	}
	return out
}

// Page returns one page.
func (s *Server) Page(id string) (Page, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pages[normID(id)]
	if p == nil {
		return Page{}, false
	}
	return s.pageSnapshot(p), true
}

// Blocks returns a page's blocks depth-first, in document order.
func (s *Server) Blocks(pageID string) []Block {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pages[normID(pageID)]
	if p == nil {
		return nil
	}
	var out []Block
	var walk func(keys []string, depth int)
	walk = func(keys []string, depth int) {
		for _, k := range keys {
			b := s.blocks[k]
			checked, _ := b.fields["checked"].(bool)
			text := plain(b.text)
			if b.typ == "table_row" {
				cells := make([]string, len(b.cells))
				for i, c := range b.cells {
					cells[i] = plain(c)
				}
				text = strings.Join(cells, " | ")
			}
			out = append(out, Block{ID: b.id, Type: b.typ, Text: text, Items: len(b.text), Checked: checked, Depth: depth, EditedByPerson: b.editedBy != ""})
			walk(b.children, depth+1)
		}
	}
	walk(p.children, 0)
	return out
}

// Requests returns every request answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) pageSnapshot(p *page) Page {
	out := Page{ID: p.id, URL: s.pageURL(p), ParentPage: p.parentPage, Archived: p.archived,
		Created: p.created, Edited: p.edited, Properties: map[string]Value{}}
	db := s.dbs[p.dbKey]
	if db != nil {
		out.DatabaseID = db.id
	}
	for name, v := range p.props {
		typ := "title"
		if db != nil {
			typ = db.props[name].typ
		}
		val := Value{Type: typ}
		switch x := v.(type) {
		case []richText:
			val.Text = plain(x)
		case *option:
			if x != nil {
				val.Names = []string{x.Name}
			}
		case []option:
			for _, o := range x {
				val.Names = append(val.Names, o.Name)
			}
		case *dateValue:
			if x != nil {
				val.Start, val.End = x.Start, x.End
			}
		case []string:
			val.People = x
		default:
			val.Raw = x
		}
		out.Properties[name] = val
		if typ == "title" {
			out.Title = val.Text
		}
	}
	return out
}

// pageURL is where the page would open in Notion.
func (s *Server) pageURL(p *page) string {
	title := ""
	for name, v := range p.props {
		if db := s.dbs[p.dbKey]; db == nil || db.props[name].typ == "title" {
			if rt, ok := v.([]richText); ok {
				title = plain(rt)
			}
		}
	}
	id := strings.ReplaceAll(p.id, "-", "")
	if sl := slug(title); sl != "" {
		return "https://www.notion.so/" + sl + "-" + id
	}
	return "https://www.notion.so/" + id
}

// AddProperty adds a property to a database, as a person fixing its
// schema in Notion would.
func (s *Server) AddProperty(dbID, name, typ string) error {
	if !propertyTypes[typ] || typ == "title" {
		return fmt.Errorf("property %q: type %q cannot be added", name, typ)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	db := s.dbs[normID(dbID)]
	if db == nil {
		return fmt.Errorf("no database %s", dbID)
	}
	if _, ok := db.props[name]; ok {
		return fmt.Errorf("database %s already has %q", dbID, name)
	}
	db.props[name] = &propSchema{id: fmt.Sprintf("p%03d", len(db.props)+100), name: name, typ: typ}
	return nil
}
