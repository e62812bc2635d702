package notionfake

import (
	"net/url"
	"strings"
)

// createDatabase is POST /v1/databases (API version 2022-06-28): a
// database as a subpage of a page the integration can see, with a
// property schema that has exactly one title property. Each property is
// {"type": T, T: {...}} or just {T: {...}}; select options are not kept.
func (s *Server) createDatabase(_ string, _ url.Values, body map[string]any) (any, *apiError) {
	parent, _ := body["parent"].(map[string]any)
	pid, _ := parent["page_id"].(string)
	if pid == "" {
		return nil, invalid("body.parent.page_id should be defined, instead was `undefined`.")
	}
	pp := s.pages[normID(pid)]
	if pp == nil || pp.archived {
		return nil, notFound("page", pid)
	}
	title := ""
	if raw, ok := body["title"]; ok && raw != nil {
		rt, err := parseRichText("body.title", raw)
		if err != nil {
			return nil, err
		}
		title = plain(rt)
	}
	props, _ := body["properties"].(map[string]any)
	if len(props) == 0 {
		return nil, invalid("body.properties should be defined, instead was `undefined`.")
	}
	schema := map[string]string{}
	titles := 0
	for name, raw := range props {
		p, _ := raw.(map[string]any)
		typ, _ := p["type"].(string)
		if typ == "" {
			for k := range p {
				if propertyTypes[k] {
					typ = k
				}
			}
		}
		if !propertyTypes[typ] {
			return nil, invalid("body.properties.%s should be a property schema object.", name)
		}
		if strings.TrimSpace(name) == "" {
			return nil, invalid("a property name must not be empty.")
		}
		if typ == "title" {
			titles++
		}
		schema[name] = typ
	}
	if titles != 1 {
		return nil, invalid("Title is not provided or there is more than one title property.")
	}
	db := s.putDatabase(title, pp.id, schema)
	return s.getDatabase(db.id, nil, nil)
}
