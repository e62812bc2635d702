package notionfake_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jomei/notionapi"

	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/workflows"
)

func text(s string) []notionapi.RichText {
	return []notionapi.RichText{{Text: &notionapi.Text{Content: s}}}
}

func basic(typ notionapi.BlockType) notionapi.BasicBlock {
	return notionapi.BasicBlock{Object: "block", Type: typ}
}

// workspace is a post-mortem with a nested block tree, a page under it,
// and a second database holding numbers, checkboxes and URLs.
type workspace struct {
	pm, costs           notionfake.Database
	doc, sub, cheap, xl string // page IDs
	anchor              string // a block other blocks were inserted after
}

func build(t *testing.T, e *env) workspace {
	t.Helper()
	ctx := context.Background()
	w := workspace{pm: e.db}
	var err error
	if w.costs, err = e.fake.AddDatabase("Costs", map[string]string{"Item": "title", "USD": "number", "Paid": "checkbox", "Receipt": "url"}); err != nil {
		t.Fatal(err)
	}
	at := notionapi.Date(time.Date(2025, 3, 20, 15, 30, 0, 0, time.UTC))
	bold := []notionapi.RichText{{Text: &notionapi.Text{Content: "Root cause", Link: &notionapi.Link{Url: "https://example.com/rca"}},
		Annotations: &notionapi.Annotations{Bold: true, Color: "red"}}, {Text: &notionapi.Text{Content: ": a bad deploy"}}}
	doc, err := e.api.Page.Create(ctx, &notionapi.PageCreateRequest{
		Parent: notionapi.Parent{Type: notionapi.ParentTypeDatabaseID, DatabaseID: notionapi.DatabaseID(e.db.ID)},
		Properties: notionapi.Properties{
			"Name":        notionapi.TitleProperty{Title: text("Checkout down inc-7")},
			"Incident ID": notionapi.RichTextProperty{RichText: text("inc-7")},
			"Severity":    notionapi.SelectProperty{Select: notionapi.Option{Name: "sev1"}},
			"Services":    notionapi.MultiSelectProperty{MultiSelect: []notionapi.Option{{Name: "api"}, {Name: "db"}}},
			"Meeting":     notionapi.DateProperty{Date: &notionapi.DateObject{Start: &at}},
		},
		Children: []notionapi.Block{
			&notionapi.Heading1Block{BasicBlock: basic("heading_1"), Heading1: notionapi.Heading{RichText: text("Summary")}},
			&notionapi.ParagraphBlock{BasicBlock: basic("paragraph"), Paragraph: notionapi.Paragraph{RichText: bold}},
			&notionapi.ToggleBlock{BasicBlock: basic("toggle"), Toggle: notionapi.Toggle{RichText: text("Timeline"), Children: []notionapi.Block{
				&notionapi.BulletedListItemBlock{BasicBlock: basic("bulleted_list_item"), BulletedListItem: notionapi.ListItem{
					RichText: text("09:26 paged"), Children: []notionapi.Block{
						&notionapi.ToDoBlock{BasicBlock: basic("to_do"), ToDo: notionapi.ToDo{RichText: text("ack"), Checked: true}},
					}}},
				&notionapi.CodeBlock{BasicBlock: basic("code"), Code: notionapi.Code{RichText: text("kubectl rollout undo"), Language: "shell"}},
			}}},
			&notionapi.DividerBlock{BasicBlock: basic("divider")},
		},
	})
	if err != nil {
		t.Fatalf("create post-mortem: %v", err)
	}
	w.doc = string(doc.ID)
	kids, err := e.api.Block.GetChildren(ctx, notionapi.BlockID(w.doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.anchor = string(kids.Results[0].GetID())
	e.clock.Advance(time.Minute)
	if _, err := e.api.Block.AppendChildren(ctx, notionapi.BlockID(w.doc), &notionapi.AppendBlockChildrenRequest{
		After:    notionapi.BlockID(w.anchor),
		Children: []notionapi.Block{&notionapi.ParagraphBlock{BasicBlock: basic("paragraph"), Paragraph: notionapi.Paragraph{RichText: text("inserted")}}},
	}); err != nil {
		t.Fatalf("insert after %s: %v", w.anchor, err)
	}
	sub, err := e.api.Page.Create(ctx, &notionapi.PageCreateRequest{
		Parent:     notionapi.Parent{Type: notionapi.ParentTypePageID, PageID: notionapi.PageID(w.doc)},
		Properties: notionapi.Properties{"title": notionapi.TitleProperty{Title: text("Action items")}},
	})
	if err != nil {
		t.Fatalf("create sub-page: %v", err)
	}
	w.sub = string(sub.ID)
	for i, x := range []struct {
		item string
		usd  float64
		paid bool
	}{{"GPU box", 1234.5, true}, {"t3.small", 0.0208, false}, {"spare", 17, false}} {
		p, err := e.api.Page.Create(ctx, &notionapi.PageCreateRequest{
			Parent: notionapi.Parent{Type: notionapi.ParentTypeDatabaseID, DatabaseID: notionapi.DatabaseID(w.costs.ID)},
			Properties: notionapi.Properties{"Item": notionapi.TitleProperty{Title: text(x.item)},
				"USD": notionapi.NumberProperty{Number: x.usd}, "Paid": notionapi.CheckboxProperty{Checkbox: x.paid},
				"Receipt": notionapi.URLProperty{URL: "https://example.com/r/" + x.item}},
		})
		if err != nil {
			t.Fatalf("create cost %s: %v", x.item, err)
		}
		switch i {
		case 0:
			w.xl = string(p.ID)
		case 1:
			w.cheap = string(p.ID)
		case 2:
			if _, err := e.api.Page.Update(ctx, notionapi.PageID(p.ID), &notionapi.PageUpdateRequest{Archived: true, Properties: notionapi.Properties{}}); err != nil {
				t.Fatalf("archive: %v", err)
			}
		}
	}
	return w
}

// read is everything notionapi can read back from the workspace, as JSON.
func read(t *testing.T, api *notionapi.Client, w workspace) string {
	t.Helper()
	ctx := context.Background()
	var parts []any
	for _, db := range []notionfake.Database{w.pm, w.costs} {
		d, err := api.Database.Get(ctx, notionapi.DatabaseID(db.ID))
		if err != nil {
			t.Fatalf("get database %s: %v", db.Title, err)
		}
		q, err := api.Database.Query(ctx, notionapi.DatabaseID(db.ID), &notionapi.DatabaseQueryRequest{})
		if err != nil {
			t.Fatalf("query %s: %v", db.Title, err)
		}
		parts = append(parts, d, q)
	}
	for _, q := range []*notionapi.DatabaseQueryRequest{
		{Sorts: []notionapi.SortObject{{Property: "USD", Direction: notionapi.SortOrderASC}}},
		{Filter: notionapi.PropertyFilter{Property: "Paid", Checkbox: &notionapi.CheckboxFilterCondition{DoesNotEqual: true}}},
	} {
		res, err := api.Database.Query(ctx, notionapi.DatabaseID(w.costs.ID), q)
		if err != nil {
			t.Fatalf("query costs: %v", err)
		}
		var items []string
		for _, p := range res.Results {
			items = append(items, p.Properties["Item"].(*notionapi.TitleProperty).Title[0].PlainText)
		}
		parts = append(parts, items)
	}
	for _, id := range []string{w.doc, w.sub} {
		p, err := api.Page.Get(ctx, notionapi.PageID(id))
		if err != nil {
			t.Fatalf("get page %s: %v", id, err)
		}
		parts = append(parts, p, tree(t, api, id))
	}
	b, err := json.MarshalIndent(parts, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tree reads a block's children and theirs, depth first.
func tree(t *testing.T, api *notionapi.Client, id string) []any {
	t.Helper()
	res, err := api.Block.GetChildren(context.Background(), notionapi.BlockID(id), nil)
	if err != nil {
		t.Fatalf("children of %s: %v", id, err)
	}
	var out []any
	for _, b := range res.Results {
		out = append(out, b)
		if b.GetHasChildren() {
			out = append(out, tree(t, api, string(b.GetID())))
		}
	}
	return out
}

func restoredEnv(t *testing.T, clock *workflows.ManualClock, snap []byte) *env {
	t.Helper()
	fake := notionfake.Start(notionfake.Options{Clock: clock.Now})
	t.Cleanup(fake.Close)
	if err := fake.Restore(snap); err != nil {
		t.Fatalf("restore: %v", err)
	}
	return &env{fake: fake, clock: clock, api: client(fake, fake.Token())}
}

func TestSnapshot_RestoreReadsBackTheSameThroughNotionapi(t *testing.T) {
	a := setup(t)
	w := build(t, a)
	want := read(t, a.api, w)
	if !strings.Contains(want, "1234.5") || !strings.Contains(want, "kubectl rollout undo") ||
		!strings.Contains(want, `[
  "t3.small",
  "GPU box"
 ]`) {
		t.Fatalf("the workspace read back is missing what was written:\n%s", want)
	}
	snap, err := a.fake.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := restoredEnv(t, workflows.NewManualClock(a.clock.Now()), snap)

	// Both go on the same way from here: the next page and block get the
	// same IDs in both (the counter was kept), new select options the
	// same IDs and colours.
	next := func(e *env) string {
		p, err := e.api.Page.Create(context.Background(), &notionapi.PageCreateRequest{
			Parent: notionapi.Parent{Type: notionapi.ParentTypeDatabaseID, DatabaseID: notionapi.DatabaseID(w.pm.ID)},
			Properties: notionapi.Properties{"Name": notionapi.TitleProperty{Title: text("Search slow inc-8")},
				"Severity": notionapi.SelectProperty{Select: notionapi.Option{Name: "sev3"}},
				"Services": notionapi.MultiSelectProperty{MultiSelect: []notionapi.Option{{Name: "db"}, {Name: "search"}}}},
			Children: []notionapi.Block{&notionapi.ParagraphBlock{BasicBlock: basic("paragraph"), Paragraph: notionapi.Paragraph{RichText: text("tbd")}}},
		})
		if err != nil {
			t.Fatalf("create next page: %v", err)
		}
		out, _ := json.Marshal([]any{p, tree(t, e.api, string(p.ID))})
		return string(out)
	}
	if got, want := next(b), next(a); got != want {
		t.Errorf("next page after restore\n%s\nwant\n%s", got, want)
	}
	want = read(t, a.api, w)
	if got := read(t, b.api, w); got != want {
		t.Errorf("after restore notionapi reads\n%s\nwant\n%s", got, want)
	}
	if got, want := b.fake.Databases(), a.fake.Databases(); !reflect.DeepEqual(got, want) {
		t.Errorf("databases: got %+v, want %+v", got, want)
	}
	for _, db := range []string{w.pm.ID, w.costs.ID} {
		if got, want := b.fake.Pages(db), a.fake.Pages(db); !reflect.DeepEqual(got, want) || len(got) < 2 {
			t.Errorf("pages of %s: got %+v, want %+v", db, got, want)
		}
	}
	if got, want := b.fake.Blocks(w.doc), a.fake.Blocks(w.doc); !reflect.DeepEqual(got, want) || len(got) != 8 {
		t.Errorf("blocks: got %+v, want %+v (8)", got, want)
	}
	seen := map[string]bool{}
	for _, db := range b.fake.Databases() {
		for _, p := range b.fake.Pages(db.ID) {
			if seen[p.ID] {
				t.Errorf("page ID %s handed out twice", p.ID)
			}
			seen[p.ID] = true
			for _, bl := range b.fake.Blocks(p.ID) {
				if seen[bl.ID] {
					t.Errorf("block ID %s handed out twice", bl.ID)
				}
				seen[bl.ID] = true
			}
		}
	}
}

func TestRestore_OlderOrDamagedShapes(t *testing.T) {
	const page, block, other = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"
	for _, tc := range []struct {
		name, snap string
		blocks     int // blocks of the page read back
	}{
		{"empty object", `{}`, 0},
		{"unknown fields", `{"version":7,"templates":[{"x":1}],"databases":[{"id":"` + strings.ReplaceAll(page, "1", "4") +
			`","title":"T","properties":[{"name":"Name","type":"title","shade":"blue"}]}]}`, 0},
		{"dangling and cyclic", `{"pages":[{"id":"` + page + `","database_id":"gone","children":["` + block + `","` + block + `","nope"],
			"properties":{"title":{"kind":"select"}}}],
			"blocks":[{"id":"` + block + `","parent_id":"` + page + `","parent_is_page":true,"type":"paragraph","children":["` + other + `"]},
			          {"id":"` + other + `","parent_id":"` + block + `","type":"toggle","children":["` + block + `"]},
			          {"id":"44444444-4444-4444-8444-444444444444","parent_id":"gone","parent_is_page":true,"type":"paragraph"}]}`, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := restoredEnv(t, workflows.NewManualClock(t0), []byte(tc.snap))
			if len(e.fake.Databases()) > 0 {
				e.db = e.fake.Databases()[0]
				if _, err := e.api.Database.Query(context.Background(), notionapi.DatabaseID(e.db.ID), nil); err != nil {
					t.Errorf("query after restore: %v", err)
				}
				if _, err := e.api.Page.Create(context.Background(), &notionapi.PageCreateRequest{
					Parent:     notionapi.Parent{Type: notionapi.ParentTypeDatabaseID, DatabaseID: notionapi.DatabaseID(e.db.ID)},
					Properties: notionapi.Properties{"Name": notionapi.TitleProperty{Title: text("after restore")}},
				}); err != nil {
					t.Errorf("create page after restore: %v", err)
				}
			}
			if _, ok := e.fake.Page(page); !ok {
				return
			}
			if got := len(e.fake.Blocks(page)); got != tc.blocks {
				t.Errorf("%d blocks, want %d", got, tc.blocks)
			}
			if _, err := e.api.Page.Get(context.Background(), notionapi.PageID(page)); err != nil {
				t.Errorf("get page: %v", err)
			}
			tree(t, e.api, page)
			res, err := e.api.Block.AppendChildren(context.Background(), notionapi.BlockID(page), &notionapi.AppendBlockChildrenRequest{
				Children: []notionapi.Block{&notionapi.ParagraphBlock{BasicBlock: basic("paragraph"), Paragraph: notionapi.Paragraph{RichText: text("new")}}}})
			if err != nil {
				t.Fatalf("append after restore: %v", err)
			}
			if id := string(res.Results[0].GetID()); id == block || id == other {
				t.Errorf("new block got restored ID %s", id)
			}
		})
	}
	fake := notionfake.New(notionfake.Options{})
	if err := fake.Restore([]byte(`{"databases":"no"}`)); err == nil {
		t.Error("Restore accepted a wrong shape")
	}
}

func TestSnapshot_ConcurrentWithTraffic(t *testing.T) {
	e := setup(t)
	e.newPage(t, "inc-0")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 10 {
			_, _ = e.api.Block.AppendChildren(context.Background(), notionapi.BlockID(e.fake.Pages(e.db.ID)[0].ID), &notionapi.AppendBlockChildrenRequest{
				Children: []notionapi.Block{&notionapi.ParagraphBlock{BasicBlock: basic("paragraph"), Paragraph: notionapi.Paragraph{RichText: text(string(rune('a' + i)))}}}})
		}
	})
	for range 10 {
		b, err := e.fake.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.fake.Restore(b); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, bl := range e.fake.Blocks(e.fake.Pages(e.db.ID)[0].ID) {
		if seen[bl.ID] {
			t.Errorf("block %s twice", bl.ID)
		}
		seen[bl.ID] = true
	}
}
