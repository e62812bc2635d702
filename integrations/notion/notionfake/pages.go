package notionfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// colors are given to new select options in turn, as Notion does.
var colors = []string{"default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red"}

// createPage is POST /v1/pages.
func (s *Server) createPage(_ string, _ url.Values, body map[string]any) (any, *apiError) {
	parent, _ := body["parent"].(map[string]any)
	p := &page{props: map[string]any{}, created: s.now()}
	p.edited = p.created
	var db *database
	switch {
	case parent["database_id"] != nil:
		id, _ := parent["database_id"].(string)
		if db = s.dbs[normID(id)]; db == nil {
			return nil, notFound("database", id)
		}
		p.dbKey = normID(db.id)
	case parent["page_id"] != nil:
		id, _ := parent["page_id"].(string)
		pp := s.pages[normID(id)]
		if pp == nil {
			return nil, notFound("page", id)
		}
		p.parentPage = pp.id
	default:
		return nil, invalid("body.parent.database_id should be defined, instead was `undefined`.")
	}
	props, err := s.parseProps(db, body["properties"])
	if err != nil {
		return nil, err
	}
	var kids []*newBlock
	if raw, ok := body["children"]; ok && raw != nil {
		if kids, err = parseBlocks("body.children", raw, 0); err != nil {
			return nil, err
		}
		if err = checkRows("body.children", "page", 0, kids); err != nil {
			return nil, err
		}
	}
	if db != nil {
		for name, ps := range db.props {
			p.props[name] = emptyValue(ps.typ)
		}
	} else {
		p.props["title"] = []richText{}
	}
	for k, v := range props {
		p.props[k] = v
	}
	p.id = s.freshID("page")
	key := normID(p.id)
	s.pages[key] = p
	if db != nil {
		db.pages = append(db.pages, key)
	}
	if _, err := s.storeBlocks(key, true, kids, ""); err != nil {
		return nil, err
	}
	return s.pageJSON(p), nil
}

// getPage is GET /v1/pages/{id}.
func (s *Server) getPage(id string, _ url.Values, _ map[string]any) (any, *apiError) {
	p := s.pages[normID(id)]
	if p == nil {
		return nil, notFound("page", id)
	}
	return s.pageJSON(p), nil
}

// updatePage is PATCH /v1/pages/{id}: properties, archived, in_trash.
func (s *Server) updatePage(id string, _ url.Values, body map[string]any) (any, *apiError) {
	p := s.pages[normID(id)]
	if p == nil {
		return nil, notFound("page", id)
	}
	for _, k := range []string{"archived", "in_trash"} {
		if v, ok := body[k].(bool); ok {
			p.archived = v
		}
	}
	if raw, ok := body["properties"]; ok && raw != nil {
		if p.archived {
			return nil, invalid("Can't edit block that is archived. You must unarchive the block before editing.")
		}
		props, err := s.parseProps(s.dbs[p.dbKey], raw)
		if err != nil {
			return nil, err
		}
		for k, v := range props {
			p.props[k] = v
		}
	}
	p.edited = s.now()
	return s.pageJSON(p), nil
}

// getDatabase is GET /v1/databases/{id}.
func (s *Server) getDatabase(id string, _ url.Values, _ map[string]any) (any, *apiError) {
	db := s.dbs[normID(id)]
	if db == nil {
		return nil, notFound("database", id)
	}
	props := map[string]any{}
	for name, ps := range db.props {
		cfg := map[string]any{}
		if ps.typ == "select" || ps.typ == "multi_select" {
			opts := make([]any, 0, len(ps.options))
			for _, o := range ps.options {
				opts = append(opts, optionJSON(&o))
			}
			cfg["options"] = opts
		}
		if ps.typ == "number" {
			cfg["format"] = "number"
		}
		props[name] = map[string]any{"id": ps.id, "name": name, "type": ps.typ, ps.typ: cfg}
	}
	parent := map[string]any{"type": "workspace", "workspace": true}
	if db.parentPage != "" {
		parent = map[string]any{"type": "page_id", "page_id": db.parentPage}
	}
	return map[string]any{
		"object": "database", "id": db.id, "title": richTextJSON([]richText{{Content: db.title}}),
		"description": []any{}, "properties": props, "parent": parent,
		"url": "https://www.notion.so/" + strings.ReplaceAll(db.id, "-", ""), "archived": false, "in_trash": false, "is_inline": false,
		"created_time": stamp(db.created), "last_edited_time": stamp(db.created), "created_by": botUser, "last_edited_by": botUser,
	}, nil
}

// pageJSON is a page as Notion returns it.
func (s *Server) pageJSON(p *page) map[string]any {
	props := map[string]any{}
	parent := map[string]any{"type": "page_id", "page_id": p.parentPage}
	if db := s.dbs[p.dbKey]; db != nil {
		parent = map[string]any{"type": "database_id", "database_id": db.id}
		for name, ps := range db.props {
			v := valueJSON(p.props[name])
			if ids, ok := p.props[name].([]string); ok {
				v = s.peopleJSON(ids)
			}
			props[name] = map[string]any{"id": ps.id, "type": ps.typ, ps.typ: v}
		}
	} else {
		props["title"] = map[string]any{"id": "title", "type": "title", "title": valueJSON(p.props["title"])}
	}
	return map[string]any{
		"object": "page", "id": p.id, "created_time": stamp(p.created), "last_edited_time": stamp(p.edited),
		"created_by": botUser, "last_edited_by": botUser, "cover": nil, "icon": nil, "parent": parent,
		"archived": p.archived, "in_trash": p.archived, "properties": props, "url": s.pageURL(p), "public_url": nil,
	}
}

func emptyValue(typ string) any {
	switch typ {
	case "title", "rich_text":
		return []richText{}
	case "select":
		return (*option)(nil)
	case "multi_select":
		return []option{}
	case "date":
		return (*dateValue)(nil)
	case "people":
		return []string{}
	}
	return nil
}

func valueJSON(v any) any {
	switch x := v.(type) {
	case []richText:
		return richTextJSON(x)
	case *option:
		if x == nil {
			return nil
		}
		return optionJSON(x)
	case []option:
		out := make([]any, 0, len(x))
		for _, o := range x {
			out = append(out, optionJSON(&o))
		}
		return out
	case *dateValue:
		if x == nil {
			return nil
		}
		var end, tz any
		if x.End != "" {
			end = x.End
		}
		if x.TimeZone != "" {
			tz = x.TimeZone
		}
		return map[string]any{"start": x.Start, "end": end, "time_zone": tz}
	}
	return v
}

func optionJSON(o *option) map[string]any {
	return map[string]any{"id": o.ID, "name": o.Name, "color": o.Color}
}

// parseProps checks property values against the schema (db nil: a page
// under a page, which has only a title) and returns them by name.
func (s *Server) parseProps(db *database, raw any) (map[string]any, *apiError) {
	out := map[string]any{}
	if raw == nil {
		return out, nil
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, invalid("body.properties should be an object, instead was `%s`.", preview(raw))
	}
	for key, rv := range obj {
		ps := lookupProp(db, key)
		if ps == nil {
			return nil, invalid("%s is not a property that exists.", key)
		}
		val, _ := rv.(map[string]any)
		if t, _ := val["type"].(string); t != "" && t != ps.typ {
			return nil, invalid("%s is expected to be %s.", ps.name, ps.typ)
		}
		v, present := val[ps.typ]
		if !present {
			return nil, invalid("%s is expected to be %s.", ps.name, ps.typ)
		}
		parsed, err := s.parseValue(ps, fmt.Sprintf("body.properties.%s.%s", ps.name, ps.typ), v)
		if err != nil {
			return nil, err
		}
		out[ps.name] = parsed
	}
	return out, nil
}

func lookupProp(db *database, key string) *propSchema {
	if db == nil {
		if key == "title" {
			return &propSchema{id: "title", name: "title", typ: "title"}
		}
		return nil
	}
	if ps := db.props[key]; ps != nil {
		return ps
	}
	for _, ps := range db.props {
		if ps.id == key {
			return ps
		}
	}
	return nil
}

func (s *Server) parseValue(ps *propSchema, path string, v any) (any, *apiError) {
	switch ps.typ {
	case "title", "rich_text":
		return parseRichText(path, v)
	case "select":
		if v == nil {
			return (*option)(nil), nil
		}
		o, err := s.option(ps, path, v)
		return o, err
	case "multi_select":
		arr, ok := v.([]any)
		if !ok {
			return nil, invalid("%s should be an array, instead was `%s`.", path, preview(v))
		}
		if len(arr) > 100 {
			return nil, tooLong(path, 100, len(arr))
		}
		out := []option{}
		for i, item := range arr {
			o, err := s.option(ps, fmt.Sprintf("%s[%d]", path, i), item)
			if err != nil {
				return nil, err
			}
			out = append(out, *o)
		}
		return out, nil
	case "date":
		if v == nil {
			return (*dateValue)(nil), nil
		}
		return parseDate(path, v)
	case "people":
		return s.parsePeople(path, v)
	case "number":
		if _, ok := v.(json.Number); !ok && v != nil {
			return nil, invalid("%s should be a number or `null`, instead was `%s`.", path, preview(v))
		}
	case "checkbox":
		if _, ok := v.(bool); !ok {
			return nil, invalid("%s should be a boolean, instead was `%s`.", path, preview(v))
		}
	default: // url, email, phone_number
		if str, ok := v.(string); (!ok && v != nil) || len(str) > 2000 {
			return nil, invalid("%s should be a string of at most 2000 characters or `null`, instead was `%s`.", path, preview(v))
		}
	}
	return v, nil
}

// option finds a select option by name or ID, creating it by name as
// Notion does for integrations that may edit the schema.
func (s *Server) option(ps *propSchema, path string, v any) (*option, *apiError) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, invalid("%s should be an object, instead was `%s`.", path, preview(v))
	}
	name, _ := obj["name"].(string)
	id, _ := obj["id"].(string)
	for i := range ps.options {
		if (name != "" && ps.options[i].Name == name) || (id != "" && ps.options[i].ID == id) {
			o := ps.options[i]
			return &o, nil
		}
	}
	switch {
	case name == "":
		return nil, invalid("%s.name should be defined, instead was `undefined`.", path)
	case strings.Contains(name, ","):
		return nil, errorf(http.StatusBadRequest, "validation_error", "Invalid select option, commas not allowed: %s", name)
	case utf16Len(name) > 100:
		return nil, tooLong(path+".name", 100, utf16Len(name))
	}
	o := option{ID: fmt.Sprintf("%s-%d", ps.id, len(ps.options)), Name: name, Color: colors[len(ps.options)%len(colors)]}
	ps.options = append(ps.options, o)
	return &o, nil
}

// parseDate reads {"start": ..., "end": ..., "time_zone": ...}; start and
// end are dates ("2025-03-14") or ISO 8601 datetimes.
func parseDate(path string, v any) (*dateValue, *apiError) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, invalid("%s should be an object or `null`, instead was `%s`.", path, preview(v))
	}
	start, ok := obj["start"].(string)
	if !ok {
		return nil, invalid("%s.start should be defined, instead was `undefined`.", path)
	}
	d := &dateValue{}
	var err *apiError
	if d.Start, err = normDate(path+".start", start); err != nil {
		return nil, err
	}
	if end, ok := obj["end"].(string); ok {
		if d.End, err = normDate(path+".end", end); err != nil {
			return nil, err
		}
	}
	d.TimeZone, _ = obj["time_zone"].(string)
	return d, nil
}

// normDate checks a date or datetime and writes it as Notion does.
func normDate(path, s string) (string, *apiError) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Format("2006-01-02"), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", invalid("%s should be a valid ISO 8601 date string, instead was `%q`.", path, s)
	}
	return t.Format("2006-01-02T15:04:05.000-07:00"), nil
}

// parseTime reads a stored date or datetime.
func parseTime(s string) (time.Time, bool) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}
