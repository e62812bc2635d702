package notion_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/workflows"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// rig is the real adapter, through notionapi, against the fake on a
// loopback server, all on one manual clock that sleeping advances.
type rig struct {
	clock *workflows.ManualClock
	fake  *notionfake.Server
	db    notionfake.Database
	c     *notion.Client
}

func newRig(t *testing.T, opts notion.Options) *rig {
	t.Helper()
	clock := workflows.NewManualClock(t0)
	fake := notionfake.Start(notionfake.Options{Clock: clock.Now})
	t.Cleanup(fake.Close)
	db, err := fake.AddDatabase("Post-mortems", opts.Props.Schema())
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{clock: clock, fake: fake, db: db}
	r.c = r.client(fake.Token(), opts)
	return r
}

// client is another adapter on the rig's fake and clock.
func (r *rig) client(token string, opts notion.Options) *notion.Client {
	opts.APIURL = r.fake.URL()
	opts.DatabaseID = r.db.ID
	opts.Clock = r.clock.Now
	opts.Sleep = func(ctx context.Context, d time.Duration) error {
		r.clock.Advance(d)
		return ctx.Err()
	}
	return notion.New(token, opts)
}

// postmortem is a realistic document: headings, a 250-entry timeline of
// ~150-character bullets, one 5,000-character paragraph, to-dos, a
// quote and dividers.
func postmortem(id string) workflows.Postmortem {
	body := []workflows.DocBlock{
		{Kind: workflows.DocHeading1, Text: "Checkout outage"},
		{Kind: workflows.DocParagraph, Text: "Payments failed for 80 minutes after a config push."},
		{Kind: workflows.DocDivider},
		{Kind: workflows.DocHeading2, Text: "Timeline"},
	}
	for i := range 250 {
		at := t0.Add(time.Duration(i) * 20 * time.Second).Format("15:04:05")
		line := fmt.Sprintf("%s  #%03d  ada@example.com: ", at, i)
		body = append(body, workflows.DocBlock{Kind: workflows.DocBullet, Text: line + strings.Repeat("checked the payment gateway logs ", 5)[:150-len(line)]})
	}
	long := strings.Repeat("The retry storm made the queue grow faster than it drained. ", 90)[:5000]
	body = append(body,
		workflows.DocBlock{Kind: workflows.DocHeading2, Text: "Analysis"},
		workflows.DocBlock{Kind: workflows.DocParagraph, Text: long},
		workflows.DocBlock{Kind: workflows.DocQuote, Text: "It's always DNS <except when it's & config>."},
		workflows.DocBlock{Kind: workflows.DocHeading3, Text: "Follow-ups"},
		workflows.DocBlock{Kind: workflows.DocTodo, Text: "Add a canary for config pushes", Checked: true},
		workflows.DocBlock{Kind: workflows.DocTodo, Text: "Page on queue depth"},
		workflows.DocBlock{Kind: workflows.DocNumbered, Text: "Review in the weekly meeting"},
		workflows.DocBlock{Kind: workflows.DocDivider},
	)
	return workflows.Postmortem{
		IncidentID: id, Title: "Checkout down: payments failing", Severity: workflows.Sev1,
		Status: workflows.StatusResolved, Start: t0, End: t0.Add(80 * time.Minute), Duration: 80 * time.Minute,
		Commander: "Ada Lovelace", Services: []string{"checkout", "payments", "checkout"}, Body: body,
	}
}

// checkBody asserts the page shows exactly the document's blocks, in
// order, long text joined back.
func checkBody(t *testing.T, fake *notionfake.Server, pageID string, body []workflows.DocBlock) {
	t.Helper()
	got := fake.Blocks(pageID)
	if len(got) != len(body) {
		t.Fatalf("page has %d blocks, want %d", len(got), len(body))
	}
	for i, b := range body {
		g := got[i]
		if g.Type != string(b.Kind) || g.Text != b.Text || g.Checked != b.Checked || g.Depth != 0 {
			t.Fatalf("block %d = %s %q (checked %v), want %s %q (checked %v)", i, g.Type, short(g.Text), g.Checked, b.Kind, short(b.Text), b.Checked)
		}
	}
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// checkLimits asserts no request broke one of Notion's limits.
func checkLimits(t *testing.T, reqs []notionfake.Request) {
	t.Helper()
	for _, r := range reqs {
		if r.Children > notionfake.MaxChildren || r.Blocks > notionfake.MaxBlocks || r.Bytes > notionfake.MaxPayloadBytes {
			t.Errorf("%s %s: %d children, %d blocks, %d bytes: over Notion's limits", r.Method, r.Path, r.Children, r.Blocks, r.Bytes)
		}
		if r.Status == 400 {
			t.Errorf("%s %s answered 400 %s", r.Method, r.Path, r.Code)
		}
	}
}

func count(reqs []notionfake.Request, method, prefix string) int {
	n := 0
	for _, r := range reqs {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

// isPermanent reports whether err carries workflows.Permanent, which the
// job runner looks for. workflows exports no predicate, so the type name
// is checked.
func isPermanent(err error) bool { return workflows.IsPermanent(err) }
