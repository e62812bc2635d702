package notionfake

import (
	"net/url"
)

// user is a person of the fake workspace.
type user struct {
	id, name, email string
}

// AddUser adds a person to the workspace and returns their user ID, so
// people properties can name them and GET /v1/users lists them.
func (s *Server) AddUser(name, email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.freshID("user")
	s.users[normID(id)] = &user{id: id, name: name, email: email}
	s.userOrder = append(s.userOrder, normID(id))
	return id
}

// HideEmails makes the fake answer as for an integration without the
// "read user information including email addresses" capability: persons
// are listed without person.email.
func (s *Server) HideEmails(hide bool) {
	s.mu.Lock()
	s.hideEmails = hide
	s.mu.Unlock()
}

// listUsers is GET /v1/users: the workspace's persons and bots, paginated
// by start_cursor and page_size (at most 100), as Notion answers it.
func (s *Server) listUsers(_ string, q url.Values, _ map[string]any) (any, *apiError) {
	size, cursor, aerr := pageParams(q.Get("page_size"), q.Get("start_cursor"), "query")
	if aerr != nil {
		return nil, aerr
	}
	keys := append(append([]string{}, s.userOrder...), normID(botUser["id"].(string)))
	window, next, aerr := paginate(keys, cursor, size)
	if aerr != nil {
		return nil, aerr
	}
	results := make([]any, 0, len(window))
	for _, k := range window {
		if u := s.users[k]; u != nil {
			results = append(results, s.userJSON(u))
			continue
		}
		results = append(results, map[string]any{"object": "user", "id": botUser["id"], "type": "bot", "name": "opsbot",
			"avatar_url": nil, "bot": map[string]any{"owner": map[string]any{"type": "workspace", "workspace": true}, "workspace_name": "Fake workspace"}})
	}
	if next != "" {
		if u := s.users[next]; u != nil {
			next = u.id
		} else {
			next = botUser["id"].(string)
		}
	}
	return list(results, next, "user"), nil
}

// userJSON is a person as Notion returns it; person.email only with the
// user-information capability.
func (s *Server) userJSON(u *user) map[string]any {
	person := map[string]any{}
	if !s.hideEmails {
		person["email"] = u.email
	}
	return map[string]any{"object": "user", "id": u.id, "type": "person", "name": u.name, "avatar_url": nil, "person": person}
}

// parsePeople reads a people property value, [{"object":"user","id":…}],
// refusing users the workspace does not have, as Notion does.
func (s *Server) parsePeople(path string, v any) ([]string, *apiError) {
	arr, ok := v.([]any)
	if !ok {
		return nil, invalid("%s should be an array, instead was `%s`.", path, preview(v))
	}
	out := []string{}
	for i, item := range arr {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, invalid("%s[%d] should be an object, instead was `%s`.", path, i, preview(item))
		}
		id, _ := obj["id"].(string)
		if id == "" {
			return nil, invalid("%s[%d].id should be defined, instead was `undefined`.", path, i)
		}
		u := s.users[normID(id)]
		if u == nil {
			return nil, invalid("%s[%d].id should be a valid user ID; could not find user with ID: %s.", path, i, id)
		}
		out = append(out, u.id)
	}
	return out, nil
}

// peopleJSON is a people value as Notion returns it.
func (s *Server) peopleJSON(ids []string) []any {
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		if u := s.users[normID(id)]; u != nil {
			out = append(out, s.userJSON(u))
		}
	}
	return out
}
