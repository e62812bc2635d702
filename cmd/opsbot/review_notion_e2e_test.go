package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
)

// reviewNotionHarness boots opsbot with a Notion database for alert
// review pages (incidents.review.notion_database).
func reviewNotionHarness(t *testing.T) (*harness, string) {
	t.Helper()
	h := newUnbootedHarness(t)
	db, err := h.notion.AddDatabase("Alert reviews", notion.ReviewSchema())
	if err != nil {
		t.Fatal(err)
	}
	id := strings.ReplaceAll(db.ID, "-", "")
	h.extra = "  review:\n    notion_database: " + id + "\n"
	h.boot()
	return h, db.ID
}

// pageLines is a page's blocks as "type: text", indented by depth: what
// the golden file pins.
func (h *harness) pageLines(pageID string) []string {
	var out []string
	for _, b := range h.notion.Blocks(pageID) {
		out = append(out, strings.Repeat("  ", b.Depth)+b.Type+": "+b.Text)
	}
	return out
}

// linesWith counts the lines of a page starting with prefix.
func linesWith(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "bulleted_list_item: "+prefix) {
			n++
		}
	}
	return n
}

// notionCalls counts the Notion requests made since from.
func (h *harness) notionCalls(from int) (int, map[string]int) {
	rs := h.notion.Requests()[from:]
	by := map[string]int{}
	for _, r := range rs {
		by[r.Method+" "+notionPath(r.Path)]++
	}
	return len(rs), by
}

func notionPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if len(s) >= 32 {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, "/")
}

// TestAlertReviewPage_CreatedOnceDecisionsAppearOnce: a review gets one
// page in the review database, with the agenda and the tables; each
// decision adds one line, also when Notion's answer to the append is
// lost and the append is tried again, when a click is doubled, and
// across a restart.
func TestAlertReviewPage_CreatedOnceDecisionsAppearOnce(t *testing.T) {
	h, dbID := reviewNotionHarness(t)
	h.seedAlertHistory()
	h.clock.Set(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	from := len(h.notion.Requests())
	if text := h.incidentCmd(dev, "general", "review"); !strings.Contains(text, "Preparing the alert review rev-1") {
		t.Fatalf("review request: %s", text)
	}
	h.drain()
	calls, by := h.notionCalls(from)
	t.Logf("Notion calls to write the page: %d %v", calls, by)
	if calls != 3 || by["POST /v1/pages"] != 1 {
		t.Errorf("%d Notion calls (%v) for the page, want 3: read the database's schema, look the page up, create it", calls, by)
	}
	pages := h.notion.Pages(dbID)
	if len(pages) != 1 {
		t.Fatalf("%d pages in the review database, want 1", len(pages))
	}
	pg := pages[0]
	if pg.Properties["Review ID"].Text != "rev-1" || !strings.HasPrefix(pg.Title, "Alert review rev-1: platform") {
		t.Errorf("page properties: title %q, Review ID %q", pg.Title, pg.Properties["Review ID"].Text)
	}
	if pg.Properties["Date"].Start == "" {
		t.Errorf("page has no Date")
	}
	lines := h.pageLines(pg.ID)
	joined := strings.Join(lines, "\n")
	for _, want := range []string{
		"heading_2: Agenda",
		"numbered_list_item: rev-1.1 · disk-full-db · Platform API · Critical: keep it critical?",
		"table: ", "  table_row:  | This window | The window before | Change",
		"  table_row: Alerts | 13 | 2 | +11",
		"heading_2: Critical alerts: keep them critical?",
		"  table_row: rev-1.1 | disk-full-db | Platform API | 3 | +1 |",
		"heading_2: Non-critical alerts picked for this meeting: tune or automate?",
		"Certificate for api-#.example.com expires in # days",
		"heading_2: Decisions",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("page lacks %q:\n%s", want, joined)
		}
	}
	got := map[string]json.RawMessage{}
	raw, _ := json.Marshal(lines)
	got["notion_review_page"] = raw

	thread := h.reviewThread("rev-1")
	disk, cert := thread[1], thread[3]
	// A decision; Notion's answer to the append is lost once: the line is
	// written once all the same.
	h.notion.FailNext(notionfake.Fault{Match: "PATCH /v1/blocks/", Status: 502, AfterApply: true})
	from = len(h.notion.Requests())
	h.clickValue(dev2, disk, "rev-1 1 noncritical")
	h.drain()
	calls, by = h.notionCalls(from)
	t.Logf("Notion calls for one decision (with one lost answer): %d %v", calls, by)
	lines = h.pageLines(pg.ID)
	if n := linesWith(lines, "rev-1.1 · Make non-critical · "); n != 1 {
		t.Fatalf("%d lines for the decision, want 1:\n%s", n, strings.Join(lines, "\n"))
	}
	if l := lines[len(lines)-1]; !strings.Contains(l, "decided by dev2, who owns the follow-up, due") {
		t.Errorf("decision line: %s", l)
	}
	// A decision with nothing lost costs three calls.
	from = len(h.notion.Requests())
	h.clickValue(dev, cert, "rev-1 3 discuss")
	h.drain()
	if calls, by = h.notionCalls(from); calls != 3 {
		t.Errorf("%d Notion calls for a decision (%v), want 3: find the page, read its blocks, append", calls, by)
	}
	h.clickValue(dev, cert, "rev-1 3 tune")
	h.drain()
	// The double click changes nothing, here or in Notion.
	from = len(h.notion.Requests())
	h.clickStale(dev2, disk, "rev-1 1 noncritical")
	h.drain()
	if calls, _ := h.notionCalls(from); calls != 0 {
		t.Errorf("a refused double click made %d Notion calls", calls)
	}
	// A restart: nothing is written again.
	h.boot()
	h.advance(time.Hour)
	if n := len(h.notion.Pages(dbID)); n != 1 {
		t.Errorf("%d pages after a restart, want 1", n)
	}
	// The follow-up done is a line too.
	h.clickValue(dev2, h.reviewThread("rev-1")[1], "rev-1 1")
	h.drain()
	lines = h.pageLines(pg.ID)
	for prefix, want := range map[string]int{"rev-1.1 · Make non-critical": 1, "rev-1.3 · Discuss": 1, "rev-1.3 · Tune or automate": 1, "rev-1.1 · Done": 1} {
		if n := linesWith(lines, prefix); n != want {
			t.Errorf("%d lines %q, want %d:\n%s", n, prefix, want, strings.Join(lines, "\n"))
		}
	}
	if !strings.Contains(strings.Join(lines, "\n"), "asked by Dana Devlin") {
		t.Errorf("the page names people by their real name:\n%s", strings.Join(lines, "\n"))
	}
	var decided []string
	for _, l := range lines {
		if strings.HasPrefix(l, "bulleted_list_item: rev-1.") {
			decided = append(decided, l)
		}
	}
	raw, _ = json.Marshal(decided)
	got["notion_review_decisions"] = raw
	checkGolden(t, got)
}

// TestAlertReviewPage_NotionDownCatchesUp: with Notion failing, the
// review is posted in Slack all the same and decisions are made; once
// Notion answers, the page is written once, with the decisions made in
// the meantime, and nothing twice.
func TestAlertReviewPage_NotionDownCatchesUp(t *testing.T) {
	h, dbID := reviewNotionHarness(t)
	h.seedAlertHistory()
	h.clock.Set(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	h.notion.FailNext(notionfake.Fault{Status: 503, Count: 1000})
	h.incidentCmd(dev, "general", "review")
	h.drain()
	thread := h.reviewThread("rev-1")
	if len(thread) != 5 {
		t.Fatalf("%d messages in the review's thread with Notion down, want the header and 4 items", len(thread))
	}
	h.clickValue(lead, thread[1], "rev-1 1 keep")
	h.drain()
	if n := len(h.notion.Pages(dbID)); n != 0 {
		t.Fatalf("%d pages while Notion fails", n)
	}
	// Notion answers again; the jobs waiting for it run within the hour.
	h.notion.ClearFaults()
	for range 8 {
		h.advance(10 * time.Minute)
	}
	pages := h.notion.Pages(dbID)
	if len(pages) != 1 {
		t.Fatalf("%d pages once Notion is back, want 1", len(pages))
	}
	lines := h.pageLines(pages[0].ID)
	if n := linesWith(lines, "rev-1.1 · Keep critical · "); n != 1 {
		t.Errorf("%d lines for the decision made while Notion was down, want 1:\n%s", n, strings.Join(lines, "\n"))
	}
	if !strings.Contains(strings.Join(lines, "\n"), "decided by Lee Lead") {
		t.Errorf("decision line without the decider's name:\n%s", strings.Join(lines, "\n"))
	}
	// A restart and a day later: still one page, one line.
	h.boot()
	h.advance(24 * time.Hour)
	if n := len(h.notion.Pages(dbID)); n != 1 {
		t.Errorf("%d pages, want 1", n)
	}
	if n := linesWith(h.pageLines(pages[0].ID), "rev-1.1 · Keep critical · "); n != 1 {
		t.Errorf("%d decision lines after a restart, want 1", n)
	}
}

// reviewWorkflow: /incident review, its gathering and page, then three
// decisions by button (one with work, one discuss, then tune).
func reviewWorkflow(c *crashRun) {
	c.intake(c.h.slack.SlashCommand(testSecret, dev, "general", "/incident", "review"))
	c.jobs()
	click := func(user string, n int, value string) {
		thread := c.h.reviewThread("rev-1")
		if len(thread) != 5 {
			c.t.Fatalf("%d messages in the review's thread (restarts %d)", len(thread), c.restarts)
		}
		// Item n's message: by its buttons, since a crash while one item
		// was posted puts it after the next one in the thread.
		m := thread[n]
		for _, tm := range thread {
			if buttonValueOn(tm, value) {
				m = tm
			}
		}
		c.intake(c.h.slack.BlockAction(testSecret, slackfake.Click{User: user, Channel: m.Channel, MessageTS: m.TS, ActionID: actionIDOf(c.t, m, value), Value: value}))
		c.jobs()
	}
	click(dev2, 1, "rev-1 1 noncritical")
	click(dev, 3, "rev-1 3 discuss")
	click(dev, 3, "rev-1 3 tune")
	c.advance(10 * time.Minute)
}

// buttonValueOn reports whether m has a button with value.
func buttonValueOn(m slackfake.Message, value string) bool {
	var blocks []struct {
		Elements []map[string]any `json:"elements"`
	}
	_ = json.Unmarshal(m.Blocks, &blocks)
	for _, b := range blocks {
		for _, el := range b.Elements {
			if el["value"] == value {
				return true
			}
		}
	}
	return false
}

// actionIDOf is the action_id of the button with value on m.
func actionIDOf(t testing.TB, m slackfake.Message, value string) string {
	var blocks []struct {
		Elements []map[string]any `json:"elements"`
	}
	_ = json.Unmarshal(m.Blocks, &blocks)
	for _, b := range blocks {
		for _, el := range b.Elements {
			if el["value"] == value {
				return el["action_id"].(string)
			}
		}
	}
	t.Fatalf("no button %q on %s", value, messageText(m))
	return ""
}

// reviewOutcome adds to worldOutcome the review's decisions as audited,
// its follow-ups, and its Notion page and lines.
func reviewOutcome(t testing.TB, h *harness, dbID string) map[string]int {
	out := worldOutcome(t, h)
	entries, err := h.app.DB.AuditLog(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch {
		case e.Action == "review.start":
			out["audit "+e.Action+" "+e.Subject]++ // its window moves with a restart before it
		case strings.HasPrefix(e.Action, "review."):
			out["audit "+e.Action+" "+e.Subject+" "+e.Detail]++
		}
	}
	for _, p := range h.notion.Pages(dbID) {
		out["notion page "+p.Title]++
		for _, l := range h.pageLines(p.ID) {
			if strings.HasPrefix(l, "bulleted_list_item: ") {
				f := strings.SplitN(strings.TrimPrefix(l, "bulleted_list_item: "), " · ", 3)
				out["notion line "+f[0]+" "+f[1]]++
			}
		}
	}
	return out
}

// TestCrashAtEveryStep_AlertReviewDecisions kills opsbot after each store
// commit and outside call of reviewWorkflow in turn, restarts it on the
// same database and re-delivers the request in flight, as Slack's retry
// would: the review, each decision (recorded with the request's handled
// key in one transaction), the page and each of its lines happen once.
func TestCrashAtEveryStep_AlertReviewDecisions(t *testing.T) {
	run := func(at int) (*crashRun, map[string]int) {
		k := &killer{at: at}
		h := newUnbootedHarness(t)
		db, err := h.notion.AddDatabase("Alert reviews", notion.ReviewSchema())
		if err != nil {
			t.Fatal(err)
		}
		h.extra = "  review:\n    notion_database: " + strings.ReplaceAll(db.ID, "-", "") + "\n"
		h.crash = k
		h.boot()
		h.seedAlertHistory()
		h.clock.Set(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
		c := &crashRun{t: t, h: h, k: k}
		reviewWorkflow(c)
		return c, reviewOutcome(t, h, db.ID)
	}
	base, want := run(0)
	for _, k := range []string{"audit review.decide rev-1.1 noncritical: ", "notion line rev-1.1 Make non-critical", "notion line rev-1.3 Discuss", "notion line rev-1.3 Tune or automate"} {
		found := false
		for w := range want {
			found = found || strings.HasPrefix(w, k)
		}
		if !found {
			t.Fatalf("the uncrashed run lacks %q: %v", k, want)
		}
	}
	points := base.k.n
	covered, bad := 0, 0
	for _, at := range crashPoints(points, crashStep(3)) {
		c, got := run(at)
		covered++
		if d := outcomeDiff(want, got); len(d) > 0 {
			bad++
			t.Errorf("killed after point %d (%s), %d restart(s): %v", at, base.k.events[at-1], c.restarts, d)
		}
	}
	t.Logf("alert review: %d of %d crash points run, %d ended differently", covered, points, bad)
}
