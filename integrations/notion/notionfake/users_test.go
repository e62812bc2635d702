package notionfake_test

import (
	"fmt"
	"testing"

	"github.com/jomei/notionapi"
)

func TestUsers_ListedInPagesOfAtMost100WithEmails(t *testing.T) {
	e := setup(t)
	for i := range 150 {
		e.fake.AddUser(fmt.Sprintf("Person %d", i), fmt.Sprintf("p%d@example.com", i))
	}
	var persons, bots, calls int
	var cursor notionapi.Cursor
	for {
		res, err := e.api.User.List(t.Context(), &notionapi.Pagination{StartCursor: cursor, PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		calls++
		if len(res.Results) > 100 {
			t.Fatalf("page of %d users, over 100", len(res.Results))
		}
		for _, u := range res.Results {
			switch u.Type {
			case notionapi.UserTypePerson:
				if u.Person == nil || u.Person.Email != fmt.Sprintf("p%d@example.com", persons) {
					t.Fatalf("person %d = %+v, want e-mail p%d@example.com in order", persons, u, persons)
				}
				persons++
			case notionapi.UserTypeBot:
				bots++
			}
		}
		if !res.HasMore {
			break
		}
		cursor = res.NextCursor
	}
	if persons != 150 || bots != 1 || calls != 2 {
		t.Errorf("listed %d persons, %d bots in %d calls, want 150, 1, 2", persons, bots, calls)
	}
	status, out := e.raw(t, "GET", "/v1/users?page_size=101", nil, nil)
	wantError(t, status, out, 400, "validation_error", "page_size")
	status, out = e.raw(t, "GET", "/v1/users?start_cursor=nope", nil, nil)
	wantError(t, status, out, 400, "validation_error", "start_cursor")
}

func TestUsers_EmailsHiddenWithoutTheCapability(t *testing.T) {
	e := setup(t)
	e.fake.AddUser("Ada Lovelace", "ada@example.com")
	e.fake.HideEmails(true)
	res, err := e.api.User.List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range res.Results {
		if u.Person != nil && u.Person.Email != "" {
			t.Errorf("e-mail %q listed without the capability", u.Person.Email)
		}
	}
}

func TestCreatePage_PeoplePropertyNeedsAWorkspaceUser(t *testing.T) {
	e := setup(t)
	if err := e.fake.AddProperty(e.db.ID, "Commander", "people"); err != nil {
		t.Fatal(err)
	}
	ada := e.fake.AddUser("Ada Lovelace", "ada@example.com")
	people := func(ids ...string) map[string]any {
		var arr []any
		for _, id := range ids {
			arr = append(arr, map[string]any{"object": "user", "id": id})
		}
		return map[string]any{"Commander": map[string]any{"people": arr}}
	}
	for _, tc := range []struct {
		name  string
		props map[string]any
		msg   string
	}{
		{"unknown user", people("0f0e0d0c-0b0a-4000-8000-000000000000"), "could not find user"},
		{"no id", map[string]any{"Commander": map[string]any{"people": []any{map[string]any{"object": "user"}}}}, ".id should be defined"},
		{"not an array", map[string]any{"Commander": map[string]any{"people": "ada"}}, "should be an array"},
		{"text into people", map[string]any{"Commander": map[string]any{"rich_text": []any{}}}, "Commander is expected to be people."},
	} {
		status, out := e.raw(t, "POST", "/v1/pages", map[string]any{
			"parent": map[string]any{"database_id": e.db.ID}, "properties": tc.props}, nil)
		t.Run(tc.name, func(t *testing.T) { wantError(t, status, out, 400, "validation_error", tc.msg) })
	}
	if n := len(e.fake.Pages(e.db.ID)); n != 0 {
		t.Fatalf("pages = %d, want none after refusals", n)
	}
	status, out := e.raw(t, "POST", "/v1/pages", map[string]any{
		"parent": map[string]any{"database_id": e.db.ID}, "properties": people(ada)}, nil)
	if status != 200 {
		t.Fatalf("create with a workspace user: %d %v", status, out)
	}
	page, _ := e.fake.Page(out["id"].(string))
	if got := page.Properties["Commander"].People; len(got) != 1 || got[0] != ada {
		t.Errorf("Commander = %v, want [%s]", got, ada)
	}
	got, err := e.api.Page.Get(t.Context(), notionapi.PageID(page.ID))
	if err != nil {
		t.Fatal(err)
	}
	pp, ok := got.Properties["Commander"].(*notionapi.PeopleProperty)
	if !ok || len(pp.People) != 1 || pp.People[0].Name != "Ada Lovelace" || pp.People[0].Person.Email != "ada@example.com" {
		t.Errorf("Commander read back = %#v, want Ada Lovelace", got.Properties["Commander"])
	}
}
