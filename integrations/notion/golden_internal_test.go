package notion

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jomei/notionapi"

	"github.com/opsbot/opsbot/workflows"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestCreatePageRequest_Golden pins the JSON a post-mortem page is created
// with: properties and blocks as Notion reads them.
func TestCreatePageRequest_Golden(t *testing.T) {
	start := time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC)
	doc := workflows.Postmortem{
		IncidentID: "inc-7", Title: "Checkout down", Severity: workflows.Sev2, Status: workflows.StatusResolved,
		Start: start, End: start.Add(80 * time.Minute), Duration: 80 * time.Minute, Commander: "Ada Lovelace",
		Services: []string{"checkout", "payments, EU"},
		Body: []workflows.DocBlock{
			{Kind: workflows.DocHeading1, Text: "Summary"},
			{Kind: workflows.DocParagraph, Text: "Payments failed for 80 minutes."},
			{Kind: workflows.DocBullet, Text: "09:26 declared"},
			{Kind: workflows.DocNumbered, Text: "Roll back"},
			{Kind: workflows.DocTodo, Text: "Add a canary", Checked: true},
			{Kind: workflows.DocQuote, Text: "It's always config."},
			{Kind: workflows.DocDivider},
		},
	}
	c := New("secret", Options{DatabaseID: "db-1"})
	ps, err := pieces(doc.Body)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := batches(ps, maxRequestBytes)
	if err != nil {
		t.Fatal(err)
	}
	req := &notionapi.PageCreateRequest{
		Parent:     notionapi.Parent{Type: notionapi.ParentTypeDatabaseID, DatabaseID: "db-1"},
		Properties: c.properties(t.Context(), doc),
		Children:   bs[0],
	}
	got, err := json.MarshalIndent(req, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "create_page.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("create request differs from %s (run with -update after checking):\n%s", path, got)
	}
}

// TestCreateReviewPageRequest_Golden pins the JSON a review page is
// created with: Name, Review ID and Date, and a table as Notion reads it
// (table_width, a header row, every row as wide).
func TestCreateReviewPageRequest_Golden(t *testing.T) {
	body := []workflows.DocBlock{
		{Kind: workflows.DocHeading2, Text: "By service"},
		workflows.Table([]string{"Service", "Alerts", "Change"}, []string{"Platform API", "13", "+11"}, []string{"3 more services"}),
		{Kind: workflows.DocBullet, Text: "rev-1.1 · Keep critical · Sat 21 Nov 10:00 CET · disk-full-db (Platform API): decided by Dana Devlin."},
	}
	ps, err := pieces(body)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := batches(ps, maxRequestBytes)
	if err != nil {
		t.Fatal(err)
	}
	d := notionapi.Date(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	req := &notionapi.PageCreateRequest{
		Parent: notionapi.Parent{Type: notionapi.ParentTypeDatabaseID, DatabaseID: "db-2"},
		Properties: notionapi.Properties{
			ReviewTitleProp: notionapi.TitleProperty{Title: richText([]string{"Alert review rev-1: platform, Sat 21 Nov 2026"})},
			ReviewIDProp:    notionapi.RichTextProperty{RichText: richText([]string{"rev-1"})},
			ReviewDateProp:  notionapi.DateProperty{Date: &notionapi.DateObject{Start: &d}},
		},
		Children: bs[0],
	}
	golden(t, "create_review_page.json", req)
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("request differs from %s (run with -update after checking):\n%s", path, got)
	}
}
