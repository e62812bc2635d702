package notion_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/workflows"
)

// reviewRig is a rig with a review database.
func reviewRig(t *testing.T) (*rig, string) {
	t.Helper()
	r := newRig(t, notion.Options{})
	db, err := r.fake.AddDatabase("Alert reviews", notion.ReviewSchema())
	if err != nil {
		t.Fatal(err)
	}
	return r, db.ID
}

// bigReview is a review page with a 250-row table (three tables of at
// most 100 rows, the header repeated), a cell over 2,000 characters (several rich-text items) and
// 150 paragraphs (two requests of blocks).
func bigReview(key string) workflows.ReviewPage {
	var rows [][]string
	for i := range 250 {
		rows = append(rows, []string{fmt.Sprintf("svc-%03d", i), fmt.Sprint(i)})
	}
	rows[7][1] = strings.Repeat("x", 4500)
	body := []workflows.DocBlock{{Kind: workflows.DocHeading2, Text: "By service"}, workflows.Table([]string{"Service", "Alerts"}, rows...)}
	for i := range 150 {
		body = append(body, workflows.DocBlock{Kind: workflows.DocParagraph, Text: fmt.Sprintf("note %d", i)})
	}
	return workflows.ReviewPage{Key: key, Title: "Review " + key, Date: t0, Body: body}
}

func TestWriteReviewPage_TablesSplitWithinLimitsAndWrittenOnce(t *testing.T) {
	r, db := reviewRig(t)
	p := bigReview("rev-9")
	ref, err := r.c.WriteReviewPage(t.Context(), db, p)
	if err != nil {
		t.Fatal(err)
	}
	reqs := r.fake.Requests()
	checkLimits(t, reqs)
	if n := count(reqs, "POST", "/v1/pages"); n != 1 {
		t.Errorf("%d page creations, want 1", n)
	}
	tables, rows, paras := 0, 0, 0
	for _, b := range r.fake.Blocks(ref.PageID) {
		switch b.Type {
		case "table":
			tables++
		case "table_row":
			rows++
			if strings.HasPrefix(b.Text, "svc-007 | ") && len(b.Text) != len("svc-007 | ")+4500 {
				t.Errorf("a 4,500-character cell is %d characters, want it whole (in rich-text items of at most 2,000)", len(b.Text)-len("svc-007 | "))
			}
		case "paragraph":
			paras++
		}
	}
	if tables != 3 || rows != 250+3 || paras != 150 {
		t.Errorf("%d tables, %d rows, %d paragraphs; want 3 tables of at most 100 rows (253 with their headers), 150 paragraphs", tables, rows, paras)
	}
	pg, _ := r.fake.Page(ref.PageID)
	if pg.Properties["Review ID"].Text != "rev-9" || pg.Title != "Review rev-9" || pg.Properties["Date"].Start == "" {
		t.Errorf("properties: %+v", pg.Properties)
	}
	// Again, as a retried job: the page is found, nothing is written.
	before := len(r.fake.Requests())
	ref2, err := r.c.WriteReviewPage(t.Context(), db, p)
	if err != nil || ref2 != ref {
		t.Fatalf("second write: %v %v", ref2, err)
	}
	again := r.fake.Requests()[before:]
	if n := count(again, "POST", "/v1/pages") + count(again, "PATCH", "/v1/blocks/"); n != 0 {
		t.Errorf("the second write wrote %d times", n)
	}
	if n := len(r.fake.Pages(db)); n != 1 {
		t.Errorf("%d pages, want 1", n)
	}
}

func TestWriteReviewPage_CreateAnswerLostMakesOnePage(t *testing.T) {
	r, db := reviewRig(t)
	r.fake.FailNext(notionfake.Fault{Match: "POST /v1/pages", Status: 502, AfterApply: true})
	r.fake.FailNext(notionfake.Fault{Match: "PATCH /v1/blocks/", Skip: 0, Status: 504, AfterApply: true})
	p := bigReview("rev-3")
	ref, err := r.c.WriteReviewPage(t.Context(), db, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.fake.Pages(db)); n != 1 {
		t.Fatalf("%d pages after lost answers, want 1", n)
	}
	if n := len(r.fake.Blocks(ref.PageID)); n != 1+3+253+150 {
		t.Errorf("%d blocks, want %d: none twice, none missing", n, 1+3+253+150)
	}
}

func TestAppendReviewLine_OncePerPrefix(t *testing.T) {
	r, db := reviewRig(t)
	line := workflows.DocBlock{Kind: workflows.DocBullet, Text: "rev-1.1 · Keep critical · Sat 21 Nov 10:00 CET · disk-full (API): decided by Dana."}
	err := r.c.AppendReviewLine(t.Context(), db, "rev-1", "rev-1.1 · Keep critical · Sat 21 Nov 10:00 CET", line)
	if !errors.Is(err, workflows.ErrNoReviewPage) || workflows.IsPermanent(err) {
		t.Fatalf("before the page: %v, want ErrNoReviewPage, not permanent", err)
	}
	ref, err := r.c.WriteReviewPage(t.Context(), db, workflows.ReviewPage{Key: "rev-1", Title: "Review rev-1",
		Body: []workflows.DocBlock{{Kind: workflows.DocHeading2, Text: "Decisions"}}})
	if err != nil {
		t.Fatal(err)
	}
	r.fake.FailNext(notionfake.Fault{Match: "PATCH /v1/blocks/", Status: 502, AfterApply: true})
	for range 3 {
		if err := r.c.AppendReviewLine(t.Context(), db, "rev-1", "rev-1.1 · Keep critical · Sat 21 Nov 10:00 CET", line); err != nil {
			t.Fatal(err)
		}
	}
	// The same prefix with another name (looked up again) is the same line.
	other := line
	other.Text = strings.Replace(line.Text, "Dana", "dana@example.com", 1)
	if err := r.c.AppendReviewLine(t.Context(), db, "rev-1", "rev-1.1 · Keep critical · Sat 21 Nov 10:00 CET", other); err != nil {
		t.Fatal(err)
	}
	bs := r.fake.Blocks(ref.PageID)
	if len(bs) != 2 || bs[1].Text != line.Text {
		t.Errorf("blocks: %+v, want the heading and the line once", bs)
	}
}

func TestCheckReviewDatabase_NamesWhatIsMissing(t *testing.T) {
	r := newRig(t, notion.Options{})
	bad, err := r.fake.AddDatabase("Reviews", map[string]string{"Name": "title", "Review ID": "number"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.c.CheckReviewDatabase(t.Context(), bad.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.OK() || !strings.Contains(s.String(), `property "Review ID" is number, not rich_text`) || !strings.Contains(s.String(), `property "Date" (date) is missing`) {
		t.Errorf("setup: %s", s)
	}
	s, err = r.c.CheckReviewDatabase(t.Context(), "0123456789abcdef0123456789abcdef")
	if err != nil || s.OK() || !strings.Contains(s.String(), "Notion cannot open database") {
		t.Errorf("unknown database: %s, %v", s, err)
	}
	id, _, err := r.c.CreateReviewDatabase(t.Context(), r.fake.AddPage("Ops"), "Alert reviews")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := r.c.CheckReviewDatabase(t.Context(), id); err != nil || !s.OK() || len(s.Skipped) > 0 {
		t.Errorf("created database: %s, %v", s, err)
	}
}
