package notionfake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// match says whether a page passes a filter.
type match func(p *page) bool

// queryDatabase is POST /v1/databases/{id}/query: filter, sorts,
// start_cursor and page_size. Archived pages are left out, as Notion
// leaves out pages in the trash.
func (s *Server) queryDatabase(id string, _ url.Values, body map[string]any) (any, *apiError) {
	db := s.dbs[normID(id)]
	if db == nil {
		return nil, notFound("database", id)
	}
	keep := match(func(*page) bool { return true })
	if raw, ok := body["filter"]; ok && raw != nil {
		var err *apiError
		if keep, err = compileFilter(db, "body.filter", raw, 0); err != nil {
			return nil, err
		}
	}
	less, err := compileSorts(db, body["sorts"])
	if err != nil {
		return nil, err
	}
	var hits []*page
	for _, k := range db.pages {
		if p := s.pages[k]; !p.archived && keep(p) {
			hits = append(hits, p)
		}
	}
	slices.SortStableFunc(hits, less)
	keys := make([]string, len(hits))
	for i, p := range hits {
		keys[i] = normID(p.id)
	}
	size, cursor, err := pageParams(body["page_size"], body["start_cursor"], "body")
	if err != nil {
		return nil, err
	}
	window, next, err := paginate(keys, cursor, size)
	if err != nil {
		return nil, err
	}
	results := make([]any, 0, len(window))
	for _, k := range window {
		results = append(results, s.pageJSON(s.pages[k]))
	}
	if next != "" {
		next = s.pages[next].id
	}
	return list(results, next, "page_or_database"), nil
}

// compileFilter turns a filter object (a property condition, a
// timestamp condition, or an "and"/"or" of them, nested at most two
// deep as Notion allows) into a match.
func compileFilter(db *database, path string, raw any, depth int) (match, *apiError) {
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, invalid("%s should be an object, instead was `%s`.", path, preview(raw))
	}
	for _, op := range []string{"and", "or"} {
		arr, ok := obj[op].([]any)
		if !ok {
			continue
		}
		if depth >= 2 {
			return nil, invalid("%s.%s should be not present, instead was `%s`.", path, op, preview(arr))
		}
		if len(arr) > 100 {
			return nil, tooLong(path+"."+op, 100, len(arr))
		}
		parts := make([]match, 0, len(arr))
		for i, item := range arr {
			m, err := compileFilter(db, fmt.Sprintf("%s.%s[%d]", path, op, i), item, depth+1)
			if err != nil {
				return nil, err
			}
			parts = append(parts, m)
		}
		if op == "and" {
			return func(p *page) bool { return all(parts, p) }, nil
		}
		return func(p *page) bool { return slices.ContainsFunc(parts, func(m match) bool { return m(p) }) }, nil
	}
	if ts, _ := obj["timestamp"].(string); ts == "created_time" || ts == "last_edited_time" {
		cond, _ := obj[ts].(map[string]any)
		test, err := dateCondition(path+"."+ts, cond)
		if err != nil {
			return nil, err
		}
		return func(p *page) bool {
			t := p.created
			if ts == "last_edited_time" {
				t = p.edited
			}
			return test(t, true)
		}, nil
	}
	name, _ := obj["property"].(string)
	ps := lookupProp(db, name)
	if ps == nil {
		return nil, invalid("Could not find property with name or id: %s", name)
	}
	return propertyCondition(ps, path, obj)
}

func all(ms []match, p *page) bool {
	for _, m := range ms {
		if !m(p) {
			return false
		}
	}
	return true
}

// conditionKinds are the filter keys each property type accepts.
var conditionKinds = map[string][]string{
	"title": {"title", "rich_text", "text"}, "rich_text": {"rich_text", "text", "title"},
	"url": {"url", "rich_text"}, "email": {"email", "rich_text"}, "phone_number": {"phone_number", "rich_text"},
	"select": {"select"}, "multi_select": {"multi_select"}, "date": {"date"},
	"number": {"number"}, "checkbox": {"checkbox"},
}

func propertyCondition(ps *propSchema, path string, obj map[string]any) (match, *apiError) {
	var cond map[string]any
	for _, k := range conditionKinds[ps.typ] {
		if c, ok := obj[k].(map[string]any); ok {
			cond, path = c, path+"."+k
			break
		}
	}
	if cond == nil {
		return nil, invalid("%s.%s should be defined, instead was `undefined`.", path, ps.typ)
	}
	name := ps.name
	switch ps.typ {
	case "date":
		test, err := dateCondition(path, cond)
		if err != nil {
			return nil, err
		}
		return func(p *page) bool {
			d, _ := p.props[name].(*dateValue)
			if d == nil {
				return test(time.Time{}, false)
			}
			t, ok := parseTime(d.Start)
			return test(t, ok)
		}, nil
	case "select", "multi_select":
		return optionCondition(ps.typ, path, name, cond)
	case "number", "checkbox":
		want, hasEq := cond["equals"]
		notWant, hasNe := cond["does_not_equal"]
		if !hasEq && !hasNe {
			return nil, invalid("%s.equals should be defined, instead was `undefined`.", path)
		}
		return func(p *page) bool {
			got := fmt.Sprint(p.props[name])
			if hasEq {
				return got == fmt.Sprint(want)
			}
			return got != fmt.Sprint(notWant)
		}, nil
	}
	return textCondition(path, name, cond)
}

// textCondition: equals, does_not_equal, contains, does_not_contain,
// starts_with, ends_with, is_empty, is_not_empty.
func textCondition(path, name string, cond map[string]any) (match, *apiError) {
	text := func(p *page) string {
		switch v := p.props[name].(type) {
		case []richText:
			return plain(v)
		case string:
			return v
		}
		return ""
	}
	for op, arg := range cond {
		a, _ := arg.(string)
		var test func(string) bool
		switch op {
		case "equals":
			test = func(s string) bool { return s == a }
		case "does_not_equal":
			test = func(s string) bool { return s != a }
		case "contains":
			test = func(s string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(a)) }
		case "does_not_contain":
			test = func(s string) bool { return !strings.Contains(strings.ToLower(s), strings.ToLower(a)) }
		case "starts_with":
			test = func(s string) bool { return strings.HasPrefix(s, a) }
		case "ends_with":
			test = func(s string) bool { return strings.HasSuffix(s, a) }
		case "is_empty":
			test = func(s string) bool { return s == "" }
		case "is_not_empty":
			test = func(s string) bool { return s != "" }
		default:
			continue
		}
		return func(p *page) bool { return test(text(p)) }, nil
	}
	return nil, invalid("%s should define one of equals, does_not_equal, contains, does_not_contain, starts_with, ends_with, is_empty, is_not_empty.", path)
}

func optionCondition(typ, path, name string, cond map[string]any) (match, *apiError) {
	names := func(p *page) []string {
		switch v := p.props[name].(type) {
		case *option:
			if v != nil {
				return []string{v.Name}
			}
		case []option:
			out := make([]string, len(v))
			for i, o := range v {
				out[i] = o.Name
			}
			return out
		}
		return nil
	}
	yes, no := "equals", "does_not_equal"
	if typ == "multi_select" {
		yes, no = "contains", "does_not_contain"
	}
	switch {
	case cond[yes] != nil:
		a, _ := cond[yes].(string)
		return func(p *page) bool { return slices.Contains(names(p), a) }, nil
	case cond[no] != nil:
		a, _ := cond[no].(string)
		return func(p *page) bool { return !slices.Contains(names(p), a) }, nil
	case cond["is_empty"] == true:
		return func(p *page) bool { return len(names(p)) == 0 }, nil
	case cond["is_not_empty"] == true:
		return func(p *page) bool { return len(names(p)) > 0 }, nil
	}
	return nil, invalid("%s should define one of %s, %s, is_empty, is_not_empty.", path, yes, no)
}

// dateCondition: equals (same day), before, after, on_or_before,
// on_or_after, is_empty, is_not_empty.
func dateCondition(path string, cond map[string]any) (func(t time.Time, set bool) bool, *apiError) {
	for op, arg := range cond {
		if op == "is_empty" {
			return func(_ time.Time, set bool) bool { return !set }, nil
		}
		if op == "is_not_empty" {
			return func(_ time.Time, set bool) bool { return set }, nil
		}
		a, _ := arg.(string)
		at, ok := parseTime(a)
		if !ok {
			return nil, invalid("%s.%s should be a valid ISO 8601 date string, instead was `%s`.", path, op, preview(arg))
		}
		var test func(time.Time) bool
		switch op {
		case "equals":
			test = func(t time.Time) bool { return t.UTC().Format(time.DateOnly) == at.UTC().Format(time.DateOnly) }
		case "before":
			test = func(t time.Time) bool { return t.Before(at) }
		case "after":
			test = func(t time.Time) bool { return t.After(at) }
		case "on_or_before":
			test = func(t time.Time) bool { return !t.After(at) }
		case "on_or_after":
			test = func(t time.Time) bool { return !t.Before(at) }
		default:
			continue
		}
		return func(t time.Time, set bool) bool { return set && test(t) }, nil
	}
	return nil, invalid("%s should define one of equals, before, after, on_or_before, on_or_after, is_empty, is_not_empty.", path)
}

// compileSorts reads [{"property"|"timestamp", "direction"}]; without
// sorts pages come oldest first.
func compileSorts(db *database, raw any) (func(a, b *page) int, *apiError) {
	arr, _ := raw.([]any)
	type key struct {
		prop, ts string
		desc     bool
	}
	var keys []key
	for i, item := range arr {
		obj, _ := item.(map[string]any)
		k := key{desc: obj["direction"] == "descending"}
		if d, _ := obj["direction"].(string); d != "ascending" && d != "descending" {
			return nil, invalid("body.sorts[%d].direction should be `\"ascending\"` or `\"descending\"`, instead was `%s`.", i, preview(obj["direction"]))
		}
		k.ts, _ = obj["timestamp"].(string)
		if name, _ := obj["property"].(string); name != "" {
			ps := lookupProp(db, name)
			if ps == nil {
				return nil, invalid("Could not find sort property with name or id: %s", name)
			}
			k.prop = ps.name
		} else if k.ts != "created_time" && k.ts != "last_edited_time" {
			return nil, invalid("body.sorts[%d].property should be defined, instead was `undefined`.", i)
		}
		keys = append(keys, k)
	}
	keys = append(keys, key{ts: "created_time"})
	return func(a, b *page) int {
		for _, k := range keys {
			var c int
			switch {
			case k.ts == "created_time":
				c = a.created.Compare(b.created)
			case k.ts == "last_edited_time":
				c = a.edited.Compare(b.edited)
			default:
				c = cmp.Compare(sortKey(a.props[k.prop]), sortKey(b.props[k.prop]))
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}, nil
}

// sortKey orders property values: text, option names, date starts and
// numbers (padded so strings compare as numbers for sane magnitudes).
func sortKey(v any) string {
	switch x := v.(type) {
	case []richText:
		return plain(x)
	case *option:
		if x != nil {
			return x.Name
		}
	case []option:
		if len(x) > 0 {
			return x[0].Name
		}
	case *dateValue:
		if x != nil {
			if t, ok := parseTime(x.Start); ok {
				return t.UTC().Format(time.RFC3339Nano)
			}
		}
	case json.Number:
		f, _ := x.Float64()
		return fmt.Sprintf("%030.6f", f+1e15)
	case bool:
		return fmt.Sprint(x)
	case string:
		return x
	}
	return ""
}
