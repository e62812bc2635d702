package main

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/aws/cefake"
	"github.com/opsbot/opsbot/integrations/aws/stsfake"
	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
)

// newCostsPageHarness is newCostsHarness with a Notion database for the
// monthly cost review's page (costs.review.notion_database).
func newCostsPageHarness(t *testing.T) (*harness, *cefake.Server, string) {
	t.Helper()
	h := newUnbootedHarness(t)
	ce := cefake.New(h.clock.Now)
	cehs := httptest.NewServer(ce)
	t.Cleanup(cehs.Close)
	sts := stsfake.New(h.clock.Now)
	sts.AddRole(stsfake.Role{ARN: prodRole, ExternalID: "opsbot-e2e", Account: prodID})
	stshs := httptest.NewServer(sts)
	t.Cleanup(stshs.Close)
	h.costEndpoint, h.stsEndpoint = cehs.URL, stshs.URL
	h.slack.AddChannel(slackfake.Channel{Name: "cost-review", Members: []string{lead, admin, h.slack.BotUserID()}})
	db, err := h.notion.AddDatabase("Cost reviews", notion.ReviewSchema())
	if err != nil {
		t.Fatal(err)
	}
	h.edit = func(cfg string) string {
		return strings.Replace(costsConfig(cfg), `review: {channel: "#cost-review", time_zone: Europe/Berlin}`,
			`review: {channel: "#cost-review", time_zone: Europe/Berlin, notion_database: `+strings.ReplaceAll(db.ID, "-", "")+`}`, 1)
	}
	h.boot()
	return h, ce, db.ID
}

// TestCostReviewPage_OncePerMonthThroughAnOutage: the monthly review is
// posted in Slack while Notion fails; once Notion answers, its page is
// written, once, with the bill's tables; later ticks, a restart and the
// clock moved back write nothing again.
func TestCostReviewPage_OncePerMonthThroughAnOutage(t *testing.T) {
	h, ce, dbID := newCostsPageHarness(t)
	seedBill(ce)
	h.advanceTo(time.Date(2026, 12, 1, 6, 30, 0, 0, time.UTC))
	h.costsTick()
	h.notion.FailNext(notionfake.Fault{Status: 503, Count: 1000})
	h.advanceTo(time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC))
	h.costsTick()
	if n := len(topLevel(h.channelMessages("cost-review"))); n != 1 {
		t.Fatalf("%d messages in #cost-review with Notion down, want the review", n)
	}
	if n := len(h.notion.Pages(dbID)); n != 0 {
		t.Fatalf("%d pages while Notion fails", n)
	}
	h.notion.ClearFaults()
	from := len(h.notion.Requests())
	for range 6 {
		h.advance(10 * time.Minute)
	}
	pages := h.notion.Pages(dbID)
	if len(pages) != 1 {
		t.Fatalf("%d pages once Notion is back, want 1", len(pages))
	}
	calls, by := h.notionCalls(from)
	t.Logf("Notion calls for the cost review page: %d %v", calls, by)
	if calls != 3 {
		t.Errorf("%d Notion calls for the page (%v), want 3", calls, by)
	}
	pg := pages[0]
	if pg.Title != "Monthly cost review — November 2026" || pg.Properties["Review ID"].Text != "costs-2026-11" || !strings.HasPrefix(pg.Properties["Date"].Start, "2026-11-01") {
		t.Errorf("page: %q %+v", pg.Title, pg.Properties)
	}
	lines := h.pageLines(pg.ID)
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"heading_2: By account", "table_row: prod | $604.00 | $474.30 | +$129.70", "heading_2: By service",
		"table_row: Amazon CloudFront | $120.00 | $31.00 | +$89.00", "heading_2: Top movers vs October 2026", "heading_2: By tag project",
		"heading_2: Teams", "table_row: platform | $500.00 |"} {
		if !strings.Contains(joined, want) {
			t.Errorf("page lacks %q:\n%s", want, joined)
		}
	}
	raw, _ := json.Marshal(lines)
	checkGolden(t, map[string]json.RawMessage{"notion_cost_review_page": raw})

	h.costsTick()
	h.restart()
	h.advance(time.Hour)
	h.costsTick()
	h.clock.Set(time.Date(2026, 12, 1, 8, 5, 0, 0, time.UTC))
	h.costsTick()
	if n := len(h.notion.Pages(dbID)); n != 1 {
		t.Errorf("%d pages after ticks, a restart and a clock moved back; want 1", n)
	}
}
