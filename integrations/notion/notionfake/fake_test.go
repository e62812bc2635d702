package notionfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jomei/notionapi"

	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/workflows"
)

var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

type env struct {
	fake  *notionfake.Server
	clock *workflows.ManualClock
	db    notionfake.Database
	api   *notionapi.Client
}

var schema = map[string]string{
	"Name": "title", "Incident ID": "rich_text", "Severity": "select",
	"Services": "multi_select", "Meeting": "date",
}

func setup(t *testing.T) *env {
	t.Helper()
	clock := workflows.NewManualClock(t0)
	fake := notionfake.Start(notionfake.Options{Clock: clock.Now})
	t.Cleanup(fake.Close)
	db, err := fake.AddDatabase("Post-mortems", schema)
	if err != nil {
		t.Fatal(err)
	}
	return &env{fake: fake, clock: clock, db: db, api: client(fake, fake.Token())}
}

// client is notionapi pointed at the fake by rewriting the host, as the
// adapter does.
func client(fake *notionfake.Server, token string) *notionapi.Client {
	hc := &http.Client{Transport: rewrite{fake.URL()}}
	return notionapi.NewClient(notionapi.Token(token), notionapi.WithHTTPClient(hc), notionapi.WithRetry(1))
}

type rewrite struct{ base string }

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	u, _ := out.URL.Parse(r.base + req.URL.RequestURI())
	out.URL, out.Host = u, ""
	return http.DefaultTransport.RoundTrip(out)
}

// raw sends a JSON request and returns the status, Notion's error (if
// any) and the decoded body.
func (e *env) raw(t *testing.T, method, path string, body any, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(method, e.fake.URL()+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+e.fake.Token())
	req.Header.Set("Notion-Version", "2022-06-28")
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %s", method, path, data)
	}
	out["retry-after"] = resp.Header.Get("Retry-After")
	return resp.StatusCode, out
}

func para(text string) map[string]any {
	return map[string]any{"object": "block", "type": "paragraph", "paragraph": map[string]any{
		"rich_text": []any{map[string]any{"type": "text", "text": map[string]any{"content": text}}},
	}}
}

func paras(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = para(fmt.Sprintf("line %d", i))
	}
	return out
}

// newPage creates a page through the API and returns its ID.
func (e *env) newPage(t *testing.T, incident string) string {
	t.Helper()
	status, out := e.raw(t, "POST", "/v1/pages", map[string]any{
		"parent": map[string]any{"database_id": e.db.ID},
		"properties": map[string]any{
			"Name":        map[string]any{"title": []any{map[string]any{"text": map[string]any{"content": "Checkout down " + incident}}}},
			"Incident ID": map[string]any{"rich_text": []any{map[string]any{"text": map[string]any{"content": incident}}}},
		},
	}, nil)
	if status != 200 {
		t.Fatalf("create page: %d %v", status, out)
	}
	return out["id"].(string)
}

func wantError(t *testing.T, status int, out map[string]any, wantStatus int, code, msg string) {
	t.Helper()
	if status != wantStatus || out["object"] != "error" || out["code"] != code || out["status"] != float64(wantStatus) {
		t.Fatalf("answer = %d %v, want %d %s", status, out, wantStatus, code)
	}
	if m, _ := out["message"].(string); !strings.Contains(m, msg) {
		t.Errorf("message = %q, want it to contain %q", m, msg)
	}
}

func TestAppend_101ChildrenIsValidationError(t *testing.T) {
	e := setup(t)
	id := e.newPage(t, "inc-1")
	status, out := e.raw(t, "PATCH", "/v1/blocks/"+id+"/children", map[string]any{"children": paras(101)}, nil)
	wantError(t, status, out, 400, "validation_error",
		"body failed validation: body.children.length should be ≤ `100`, instead was `101`.")
	if n := len(e.fake.Blocks(id)); n != 0 {
		t.Errorf("blocks after a refused append = %d, want 0", n)
	}
	if status, out := e.raw(t, "PATCH", "/v1/blocks/"+id+"/children", map[string]any{"children": paras(100)}, nil); status != 200 {
		t.Fatalf("100 children: %d %v", status, out)
	}
	if n := len(e.fake.Blocks(id)); n != 100 {
		t.Errorf("blocks = %d, want 100", n)
	}
}

func TestAppend_ContentOver2000CharactersIsValidationError(t *testing.T) {
	e := setup(t)
	id := e.newPage(t, "inc-1")
	status, out := e.raw(t, "PATCH", "/v1/blocks/"+id+"/children",
		map[string]any{"children": []any{para("ok"), para(strings.Repeat("x", 2001))}}, nil)
	wantError(t, status, out, 400, "validation_error",
		"body.children[1].paragraph.rich_text[0].text.content.length should be ≤ `2000`, instead was `2001`.")
	// Characters are UTF-16 units, as Notion counts: 1,000 emoji are 2,000.
	if status, out := e.raw(t, "PATCH", "/v1/blocks/"+id+"/children",
		map[string]any{"children": []any{para(strings.Repeat("😀", 1000))}}, nil); status != 200 {
		t.Fatalf("2,000 units: %d %v", status, out)
	}
	status, out = e.raw(t, "PATCH", "/v1/blocks/"+id+"/children",
		map[string]any{"children": []any{para(strings.Repeat("😀", 1000) + "x")}}, nil)
	wantError(t, status, out, 400, "validation_error", "instead was `2001`")
}

func TestAppend_MoreThan100RichTextItems(t *testing.T) {
	e := setup(t)
	id := e.newPage(t, "inc-1")
	items := make([]any, 101)
	for i := range items {
		items[i] = map[string]any{"type": "text", "text": map[string]any{"content": "a"}}
	}
	block := map[string]any{"type": "quote", "quote": map[string]any{"rich_text": items}}
	status, out := e.raw(t, "PATCH", "/v1/blocks/"+id+"/children", map[string]any{"children": []any{block}}, nil)
	wantError(t, status, out, 400, "validation_error", "body.children[0].quote.rich_text.length should be ≤ `100`, instead was `101`.")
}

func TestAppend_NestingBeyondTwoLevels(t *testing.T) {
	e := setup(t)
	id := e.newPage(t, "inc-1")
	nest := func(inner []any) map[string]any {
		return map[string]any{"type": "bulleted_list_item", "bulleted_list_item": map[string]any{
			"rich_text": []any{}, "children": inner}}
	}
	ok := nest([]any{nest([]any{nest(nil)})})
	if status, out := e.raw(t, "PATCH", "/v1/blocks/"+id+"/children", map[string]any{"children": []any{ok}}, nil); status != 200 {
		t.Fatalf("two levels: %d %v", status, out)
	}
	deep := nest([]any{nest([]any{nest([]any{nest(nil)})})})
	status, out := e.raw(t, "PATCH", "/v1/blocks/"+id+"/children", map[string]any{"children": []any{deep}}, nil)
	wantError(t, status, out, 400, "validation_error",
		"body.children[0].bulleted_list_item.children[0].bulleted_list_item.children[0].bulleted_list_item.children should be not present")
	got := e.fake.Blocks(id)
	if len(got) != 3 || got[0].Depth != 0 || got[2].Depth != 2 {
		t.Errorf("blocks = %+v, want the three of the accepted request, depths 0..2", got)
	}
}

func TestAppend_MoreThan1000BlocksOrHalfAMegabyte(t *testing.T) {
	e := setup(t)
	id := e.newPage(t, "inc-1")
	var kids []any
	for range 100 {
		kids = append(kids, map[string]any{"type": "toggle", "toggle": map[string]any{"rich_text": []any{}, "children": paras(10)}})
	}
	status, out := e.raw(t, "PATCH", "/v1/blocks/"+id+"/children", map[string]any{"children": kids}, nil)
	wantError(t, status, out, 400, "validation_error", "`1100` blocks")
	big := make([]any, 0, 100)
	for range 100 {
		big = append(big, map[string]any{"type": "paragraph", "paragraph": map[string]any{"rich_text": []any{
			map[string]any{"text": map[string]any{"content": strings.Repeat("y", 2000)}},
			map[string]any{"text": map[string]any{"content": strings.Repeat("z", 2000)}},
			map[string]any{"text": map[string]any{"content": strings.Repeat("w", 2000)}},
		}}})
	}
	status, out = e.raw(t, "PATCH", "/v1/blocks/"+id+"/children", map[string]any{"children": big}, nil)
	wantError(t, status, out, 400, "validation_error", "more than the limit of `500000`")
	reqs := e.fake.Requests()
	if last := reqs[len(reqs)-1]; last.Bytes <= notionfake.MaxPayloadBytes || last.Children != 100 || last.Status != 400 {
		t.Errorf("last request record = %+v", last)
	}
	if n := len(e.fake.Blocks(id)); n != 0 {
		t.Errorf("blocks = %d, want 0", n)
	}
}

func TestHeaders_TokenAndVersionAreChecked(t *testing.T) {
	e := setup(t)
	status, out := e.raw(t, "GET", "/v1/pages/x", nil, map[string]string{"Authorization": "Bearer secret_wrong"})
	wantError(t, status, out, 401, "unauthorized", "API token is invalid.")
	status, out = e.raw(t, "GET", "/v1/pages/x", nil, map[string]string{"Notion-Version": ""})
	wantError(t, status, out, 400, "missing_version", "Notion-Version header should be defined")
	status, out = e.raw(t, "GET", "/v1/pages/0000", nil, nil)
	wantError(t, status, out, 404, "object_not_found", "Could not find page with ID: 0000.")
}

func TestCreatePage_PropertiesMustMatchSchema(t *testing.T) {
	e := setup(t)
	rt := func(s string) []any { return []any{map[string]any{"text": map[string]any{"content": s}}} }
	for _, tc := range []struct {
		props map[string]any
		msg   string
	}{
		{map[string]any{"Owner": map[string]any{"rich_text": rt("ada")}}, "Owner is not a property that exists."},
		{map[string]any{"Severity": map[string]any{"rich_text": rt("sev1")}}, "Severity is expected to be select."},
		{map[string]any{"Meeting": map[string]any{"date": map[string]any{"start": "next tuesday"}}}, "should be a valid ISO 8601 date"},
		{map[string]any{"Severity": map[string]any{"select": map[string]any{"name": "a,b"}}}, "commas not allowed"},
	} {
		status, out := e.raw(t, "POST", "/v1/pages", map[string]any{
			"parent": map[string]any{"database_id": e.db.ID}, "properties": tc.props}, nil)
		wantError(t, status, out, 400, "validation_error", tc.msg)
	}
	if n := len(e.fake.Pages(e.db.ID)); n != 0 {
		t.Errorf("pages = %d, want none after refusals", n)
	}
}

func TestRateLimit_429WithRetryAfterOnTheInjectedClock(t *testing.T) {
	e := setup(t)
	e.fake.SetRateLimit(3, 3)
	for i := range 3 {
		if status, out := e.raw(t, "GET", "/v1/databases/"+e.db.ID, nil, nil); status != 200 {
			t.Fatalf("request %d within the burst: %d %v", i, status, out)
		}
	}
	status, out := e.raw(t, "GET", "/v1/databases/"+e.db.ID, nil, nil)
	wantError(t, status, out, 429, "rate_limited", "rate limited")
	if out["retry-after"] != "1" {
		t.Errorf("Retry-After = %v, want 1", out["retry-after"])
	}
	e.clock.Advance(time.Second) // three a second: the bucket is full again
	for i := range 4 {
		status, _ := e.raw(t, "GET", "/v1/databases/"+e.db.ID, nil, nil)
		if want := map[bool]int{true: 429, false: 200}[i == 3]; status != want {
			t.Errorf("request %d a second later = %d, want %d", i, status, want)
		}
	}
	e.clock.Advance(time.Second/3 + time.Millisecond)
	if status, _ := e.raw(t, "GET", "/v1/databases/"+e.db.ID, nil, nil); status != 200 {
		t.Errorf("a third of a second later = %d, want 200", status)
	}
}

func TestFailNext_AfterApplyDoesTheWorkAndLosesTheAnswer(t *testing.T) {
	e := setup(t)
	e.fake.FailNext(notionfake.Fault{Match: "POST /v1/pages", Status: 502, AfterApply: true})
	rt := []any{map[string]any{"text": map[string]any{"content": "inc-9"}}}
	status, _ := e.raw(t, "POST", "/v1/pages", map[string]any{
		"parent": map[string]any{"database_id": e.db.ID}, "properties": map[string]any{"Incident ID": map[string]any{"rich_text": rt}}}, nil)
	if status != 502 {
		t.Fatalf("status = %d, want 502", status)
	}
	if pages := e.fake.Pages(e.db.ID); len(pages) != 1 || pages[0].Properties["Incident ID"].Text != "inc-9" {
		t.Errorf("pages = %+v, want the one page the lost answer was for", pages)
	}
}

func TestNotionapi_QueryFilterAndPagination(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	for i := range 5 {
		e.newPage(t, fmt.Sprintf("inc-%d", i))
		e.clock.Advance(time.Minute)
	}
	res, err := e.api.Database.Query(ctx, notionapi.DatabaseID(e.db.ID), &notionapi.DatabaseQueryRequest{
		Filter: notionapi.PropertyFilter{Property: "Incident ID", RichText: &notionapi.TextFilterCondition{Equals: "inc-3"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 || res.HasMore {
		t.Fatalf("equals filter: %d results, has_more %v", len(res.Results), res.HasMore)
	}
	id := res.Results[0].Properties["Incident ID"].(*notionapi.RichTextProperty)
	if id.RichText[0].PlainText != "inc-3" || !strings.HasPrefix(res.Results[0].URL, "https://www.notion.so/Checkout-down-inc-3-") {
		t.Errorf("page = %+v %s", id, res.Results[0].URL)
	}
	var seen []string
	req := &notionapi.DatabaseQueryRequest{PageSize: 2,
		Filter: notionapi.PropertyFilter{Property: "Name", RichText: &notionapi.TextFilterCondition{Contains: "checkout"}},
		Sorts:  []notionapi.SortObject{{Timestamp: notionapi.TimestampCreated, Direction: notionapi.SortOrderDESC}}}
	for pages := 0; ; pages++ {
		res, err := e.api.Database.Query(ctx, notionapi.DatabaseID(e.db.ID), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Results {
			seen = append(seen, p.Properties["Incident ID"].(*notionapi.RichTextProperty).RichText[0].PlainText)
		}
		if !res.HasMore {
			break
		}
		req.StartCursor = res.NextCursor
	}
	if got := strings.Join(seen, ","); got != "inc-4,inc-3,inc-2,inc-1,inc-0" {
		t.Errorf("paged query = %s, want newest first, all five", got)
	}
}

func TestNotionapi_ChildrenPaginatedInOrder(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	id := e.newPage(t, "inc-1")
	for i := range 3 {
		var kids []notionapi.Block
		for j := range 90 {
			kids = append(kids, &notionapi.ToDoBlock{BasicBlock: notionapi.BasicBlock{Object: "block", Type: "to_do"},
				ToDo: notionapi.ToDo{RichText: []notionapi.RichText{{Text: &notionapi.Text{Content: fmt.Sprint(i*90 + j)}}}, Checked: j%2 == 0}})
		}
		if _, err := e.api.Block.AppendChildren(ctx, notionapi.BlockID(id), &notionapi.AppendBlockChildrenRequest{Children: kids}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	var cursor notionapi.Cursor
	for {
		res, err := e.api.Block.GetChildren(ctx, notionapi.BlockID(id), &notionapi.Pagination{StartCursor: cursor, PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range res.Results {
			td := b.(*notionapi.ToDoBlock)
			if td.GetRichTextString() != fmt.Sprint(n) || td.ToDo.Checked != (n%90%2 == 0) {
				t.Fatalf("block %d = %q checked %v", n, td.GetRichTextString(), td.ToDo.Checked)
			}
			n++
		}
		if !res.HasMore {
			break
		}
		cursor = notionapi.Cursor(res.NextCursor)
	}
	if n != 270 {
		t.Errorf("read %d blocks, want 270", n)
	}
}

func TestNotionapi_UpdateAndGetPageDates(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	id := e.newPage(t, "inc-1")
	at := notionapi.Date(time.Date(2025, 3, 20, 15, 30, 0, 0, time.UTC))
	_, err := e.api.Page.Update(ctx, notionapi.PageID(id), &notionapi.PageUpdateRequest{Properties: notionapi.Properties{
		"Meeting":  notionapi.DateProperty{Date: &notionapi.DateObject{Start: &at}},
		"Severity": notionapi.SelectProperty{Select: notionapi.Option{Name: "sev2"}},
		"Services": notionapi.MultiSelectProperty{MultiSelect: []notionapi.Option{{Name: "api"}, {Name: "db"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.api.Page.Get(ctx, notionapi.PageID(id))
	if err != nil {
		t.Fatal(err)
	}
	got := p.Properties["Meeting"].(*notionapi.DateProperty).Date.Start
	if !time.Time(*got).Equal(time.Time(at)) {
		t.Errorf("meeting = %v, want %v", time.Time(*got), time.Time(at))
	}
	if sev := p.Properties["Severity"].(*notionapi.SelectProperty).Select.Name; sev != "sev2" {
		t.Errorf("severity = %q", sev)
	}
	snap, _ := e.fake.Page(id)
	if v := snap.Properties["Services"]; strings.Join(v.Names, ",") != "api,db" {
		t.Errorf("services = %+v", v)
	}
	db, err := e.api.Database.Get(ctx, notionapi.DatabaseID(e.db.ID))
	if err != nil {
		t.Fatalf("get database: %v", err)
	}
	if len(db.Properties) != len(schema) {
		t.Errorf("database properties = %d, want %d", len(db.Properties), len(schema))
	}
}
