package notion_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/workflows"
)

func TestWritePostmortem_LongBodyIsSplitWithinNotionsLimits(t *testing.T) {
	r := newRig(t, notion.Options{})
	doc := postmortem("inc-7")
	ref, err := r.c.WritePostmortem(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	reqs := r.fake.Requests()
	checkLimits(t, reqs)
	if n := count(reqs, "POST", "/v1/pages"); n != 1 {
		t.Errorf("page creations = %d, want 1", n)
	}
	if n := count(reqs, "PATCH", "/v1/blocks/"+ref.PageID+"/children"); n < 2 {
		t.Errorf("append requests = %d, want several for %d blocks", n, len(doc.Body))
	}
	checkBody(t, r.fake, ref.PageID, doc.Body)
	for _, b := range r.fake.Blocks(ref.PageID) {
		if len(b.Text) == 5000 && b.Items != 3 {
			t.Errorf("the 5,000-character paragraph has %d rich-text items, want 3", b.Items)
		}
	}

	page, ok := r.fake.Page(ref.PageID)
	if !ok || page.URL != ref.URL || !strings.HasPrefix(ref.URL, "https://www.notion.so/Checkout-down-payments-failing-") {
		t.Fatalf("page %+v, ref %+v", page, ref)
	}
	want := map[string]string{"Name": "Checkout down: payments failing", "Incident ID": "inc-7", "Duration": "1h 20m", "Commander": "Ada Lovelace"}
	for name, text := range want {
		if got := page.Properties[name].Text; got != text {
			t.Errorf("%s = %q, want %q", name, got, text)
		}
	}
	names := func(p string) string { return strings.Join(page.Properties[p].Names, ",") }
	if names("Severity") != "sev1" || names("Status") != "resolved" || names("Services") != "checkout,payments" {
		t.Errorf("selects = %q %q %q", names("Severity"), names("Status"), names("Services"))
	}
	if s, e := page.Properties["Start"].Start, page.Properties["End"].Start; s != "2025-03-14T09:26:53.000+00:00" || e != "2025-03-14T10:46:53.000+00:00" {
		t.Errorf("start, end = %s, %s", s, e)
	}
	if m := page.Properties["Meeting"]; m.Start != "" {
		t.Errorf("meeting = %+v, want unset", m)
	}
}

func TestWritePostmortem_TextBeyond100ItemsContinuesInBlocksOfTheSameKind(t *testing.T) {
	r := newRig(t, notion.Options{})
	huge := strings.Repeat("0123456789", 25_000) // 250,000 characters
	doc := workflows.Postmortem{IncidentID: "inc-8", Title: "Huge", Body: []workflows.DocBlock{
		{Kind: workflows.DocQuote, Text: huge}, {Kind: workflows.DocParagraph, Text: "after"}}}
	ref, err := r.c.WritePostmortem(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	checkLimits(t, r.fake.Requests())
	blocks := r.fake.Blocks(ref.PageID)
	var joined strings.Builder
	for _, b := range blocks[:len(blocks)-1] {
		if b.Type != "quote" || b.Items > 100 {
			t.Fatalf("block %+v: want quotes of at most 100 items", b.Type)
		}
		joined.WriteString(b.Text)
	}
	if len(blocks) < 3 || joined.String() != huge || blocks[len(blocks)-1].Text != "after" {
		t.Errorf("%d blocks; quote text intact: %v", len(blocks), joined.String() == huge)
	}
}

func TestWritePostmortem_TwiceMakesOnePage(t *testing.T) {
	r := newRig(t, notion.Options{})
	doc := postmortem("inc-7")
	first, err := r.c.WritePostmortem(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.c.WritePostmortem(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	if again != first || len(r.fake.Pages(r.db.ID)) != 1 {
		t.Fatalf("second write = %+v, first %+v, pages %d: want the same single page", again, first, len(r.fake.Pages(r.db.ID)))
	}
	checkBody(t, r.fake, first.PageID, doc.Body)
	other, err := r.c.WritePostmortem(context.Background(), postmortem("inc-70"))
	if err != nil || other.PageID == first.PageID {
		t.Fatalf("another incident = %+v, %v: want its own page", other, err)
	}
}

func TestWritePostmortem_CompletesAPageACrashLeftHalfWritten(t *testing.T) {
	r := newRig(t, notion.Options{})
	doc := postmortem("inc-7")
	// The second append is refused for good: the call stops with the page
	// half written, as a crash between requests would leave it.
	r.fake.FailNext(notionfake.Fault{Match: "PATCH /v1/blocks/", Skip: 1, Status: 403, Code: "restricted_resource"})
	_, err := r.c.WritePostmortem(context.Background(), doc)
	if err == nil || !isPermanent(err) {
		t.Fatalf("write = %v, want a permanent failure", err)
	}
	pages := r.fake.Pages(r.db.ID)
	if len(pages) != 1 || len(r.fake.Blocks(pages[0].ID)) >= len(doc.Body) {
		t.Fatalf("want one half-written page, have %d pages", len(pages))
	}
	ref, err := r.c.WritePostmortem(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	if ref.PageID != pages[0].ID || len(r.fake.Pages(r.db.ID)) != 1 {
		t.Fatalf("retry wrote %s, want the half-written %s completed", ref.PageID, pages[0].ID)
	}
	checkBody(t, r.fake, ref.PageID, doc.Body)
}

func TestWritePostmortem_LostAnswerToCreateMakesNoSecondPage(t *testing.T) {
	r := newRig(t, notion.Options{})
	doc := postmortem("inc-7")
	r.fake.FailNext(notionfake.Fault{Match: "POST /v1/pages", Status: 502, AfterApply: true})
	ref, err := r.c.WritePostmortem(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.fake.Pages(r.db.ID)); n != 1 {
		t.Fatalf("pages = %d, want 1", n)
	}
	if n := count(r.fake.Requests(), "POST", "/v1/pages"); n != 1 {
		t.Errorf("creations = %d, want 1: the retry must find the page first", n)
	}
	checkBody(t, r.fake, ref.PageID, doc.Body)
}

func TestWritePostmortem_LostAnswerToAppendWritesNoBlockTwice(t *testing.T) {
	r := newRig(t, notion.Options{})
	doc := postmortem("inc-7")
	r.fake.FailNext(notionfake.Fault{Match: "PATCH /v1/blocks/", Status: 504, AfterApply: true})
	r.fake.FailNext(notionfake.Fault{Match: "PATCH /v1/blocks/", Status: 500})
	ref, err := r.c.WritePostmortem(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	checkBody(t, r.fake, ref.PageID, doc.Body)
	checkLimits(t, r.fake.Requests())
}

func TestWritePostmortem_LeavesAnEditedPageAlone(t *testing.T) {
	r := newRig(t, notion.Options{})
	doc := postmortem("inc-7")
	ref, err := r.c.WritePostmortem(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	// Someone rewrites the page by hand; opsbot's template also changed.
	changed := doc
	changed.Body = append([]workflows.DocBlock{{Kind: workflows.DocParagraph, Text: "New intro"}}, doc.Body...)
	again, err := r.c.WritePostmortem(context.Background(), changed)
	if err != nil || again != ref {
		t.Fatalf("write = %+v, %v: want the existing page", again, err)
	}
	checkBody(t, r.fake, ref.PageID, doc.Body)
}

func TestWritePostmortem_CustomPropertyNames(t *testing.T) {
	props := notion.Props{Title: "Title", IncidentID: "Ref", Meeting: "Review"}
	r := newRig(t, notion.Options{Props: props})
	ref, err := r.c.WritePostmortem(context.Background(), workflows.Postmortem{IncidentID: "inc-3", Title: "Small"})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := r.fake.Page(ref.PageID)
	if page.Properties["Ref"].Text != "inc-3" || page.Title != "Small" {
		t.Errorf("properties = %+v", page.Properties)
	}
	at := time.Date(2025, 3, 21, 14, 0, 0, 0, time.UTC)
	if err := r.c.SetMeeting(context.Background(), ref, at); err != nil {
		t.Fatal(err)
	}
	if page, _ := r.fake.Page(ref.PageID); page.Properties["Review"].Start == "" {
		t.Errorf("Review = %+v, want the meeting", page.Properties["Review"])
	}
}

func TestMeeting_SetThenReadBack(t *testing.T) {
	r := newRig(t, notion.Options{})
	ctx := context.Background()
	ref, err := r.c.WritePostmortem(ctx, workflows.Postmortem{IncidentID: "inc-7", Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := r.c.Meeting(ctx, ref); err != nil || ok {
		t.Fatalf("meeting before one is set = %v, %v", ok, err)
	}
	loc := time.FixedZone("CET", 3600)
	at := time.Date(2025, 3, 20, 15, 30, 0, 0, loc)
	if err := r.c.SetMeeting(ctx, ref, at); err != nil {
		t.Fatal(err)
	}
	got, ok, err := r.c.Meeting(ctx, ref)
	if err != nil || !ok || !got.At.Equal(at) || got.DateOnly {
		t.Fatalf("meeting = %+v, %v, %v; want %v", got, ok, err, at)
	}
	// A meeting at midnight UTC is a time of day, not a date alone
	// (notionapi reads "2025-03-21" and "2025-03-21T00:00:00Z" alike).
	midnight := time.Date(2025, 3, 21, 0, 0, 0, 0, time.UTC)
	if err := r.c.SetMeeting(ctx, ref, midnight); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := r.c.Meeting(ctx, ref); err != nil || !ok || !got.At.Equal(midnight) || got.DateOnly {
		t.Fatalf("meeting at midnight UTC = %+v, %v, %v", got, ok, err)
	}
	if err := r.c.SetMeeting(ctx, ref, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := r.c.Meeting(ctx, ref); err != nil || ok {
		t.Fatalf("meeting after clearing = %v, %v", ok, err)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		45 * time.Second: "45s", 20 * time.Minute: "20m", 80 * time.Minute: "1h 20m",
		2 * time.Hour: "2h", 51*time.Hour + 10*time.Minute + 20*time.Second: "2d 3h 10m",
	} {
		if got := notion.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestMeeting_ADateSetByHandReadsAsMidnightUTC(t *testing.T) {
	r := newRig(t, notion.Options{})
	ctx := context.Background()
	ref, err := r.c.WritePostmortem(ctx, workflows.Postmortem{IncidentID: "inc-7", Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"properties":{"Meeting":{"date":{"start":"2025-03-20"}}}}`
	req, _ := http.NewRequest("PATCH", r.fake.URL()+"/v1/pages/"+ref.PageID, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+r.fake.Token())
	req.Header.Set("Notion-Version", "2022-06-28")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("set date by hand: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	got, ok, err := r.c.Meeting(ctx, ref)
	if err != nil || !ok || !got.At.Equal(time.Date(2025, 3, 20, 0, 0, 0, 0, time.UTC)) || !got.DateOnly {
		t.Fatalf("meeting = %+v %v %v, want 2025-03-20 as a date alone", got, ok, err)
	}
}
