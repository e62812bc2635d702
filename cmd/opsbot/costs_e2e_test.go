package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/aws/cefake"
	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/integrations/aws/stsfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/internal/chart"
	"github.com/opsbot/opsbot/workflows"
)

const (
	payerID  = "999988887777"
	prodID   = "111122223333"
	prodRole = "arn:aws:iam::111122223333:role/opsbot"
)

// costsConfig is the test config with the office off-hours schedule for
// platform, idle after an hour under 5% CPU, two accounts (test-small
// launches in prod, through its role) and costs read in the payer
// account with a monthly review in #cost-review.
func costsConfig(cfg string) string {
	cfg = offHoursConfig(cfg)
	cfg = strings.Replace(cfg, "    key_pair: dev\n", "    key_pair: dev\n    account: prod\n", 1)
	return cfg + `
idle: {cpu_below: 5, for: 1h, check_every: 15m}
accounts:
  - {name: payer, id: "999988887777"}
  - {name: prod, id: "111122223333", role_arn: "arn:aws:iam::111122223333:role/opsbot", external_id: opsbot-e2e}
costs:
  payer_account: payer
  tags: [project]
  budget_alerts: [50, 80, 100]
  review: {channel: "#cost-review", time_zone: Europe/Berlin}
`
}

// seedBill is the bill the fake Cost Explorer holds, June to December
// 2026: platform's EC2 grows month by month ($5 a day in June to $10 in
// November), its RDS is flat, CloudFront jumps in November (a top mover),
// data's S3 is small, and from 21 November opsbot's servers (tag
// opsbot:team) cost $2.50 a day. Platform spends $15 a day in November
// until the 21st, $17.50 after: $300 by the 20th (60% of its $500
// budget), $422.50 by the 27th (84.5%).
func seedBill(ce *cefake.Server) {
	ce.NameAccount(prodID, "Example prod")
	ce.NameAccount(payerID, "Example payer")
	platform := map[string]string{"team": "platform", "project": "checkout"}
	for d := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
		day := d.Format("2006-01-02")
		ec2 := 10.0
		if d.Month() < time.November {
			ec2 = 5 + float64(d.Month()-time.June)
		}
		cf := 1.0
		if d.Month() == time.November {
			cf = 4
		}
		ce.Add(
			cefake.Record{Day: day, Account: prodID, Service: "Amazon Elastic Compute Cloud - Compute", Tags: platform, Unblended: ec2},
			cefake.Record{Day: day, Account: prodID, Service: "Amazon Relational Database Service", Tags: platform, Unblended: 5},
			cefake.Record{Day: day, Account: prodID, Service: "Amazon CloudFront", Unblended: cf},
			cefake.Record{Day: day, Account: prodID, Service: "Amazon Simple Storage Service", Tags: map[string]string{"team": "data", "project": "pipeline"}, Unblended: 0.3},
			cefake.Record{Day: day, Account: payerID, Service: "AWS Cost Explorer", Unblended: 0.04},
		)
		if !d.Before(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)) {
			ce.Add(cefake.Record{Day: day, Account: prodID, Service: "Amazon Elastic Compute Cloud - Compute", Unblended: 2.5,
				Tags: map[string]string{"team": "platform", "project": "checkout", "opsbot:team": "platform", "opsbot:managed": "true"}})
		}
	}
}

// newCostsHarness boots opsbot with costsConfig on fake Cost Explorer
// and STS servers.
func newCostsHarness(t *testing.T) (*harness, *cefake.Server, *stsfake.Server) {
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
	h.edit = costsConfig
	h.boot()
	return h, ce, sts
}

// costsTick runs the costs workflow's tick and the jobs it queued.
func (h *harness) costsTick() {
	h.t.Helper()
	if _, err := h.app.Costs.Tick(context.Background()); err != nil {
		h.t.Fatalf("costs tick: %v", err)
	}
	h.drain()
}

func lastIn(t *testing.T, ms []slackfake.Message, contains string) slackfake.Message {
	t.Helper()
	for i := len(ms) - 1; i >= 0; i-- {
		if strings.Contains(messageText(ms[i]), contains) {
			return ms[i]
		}
	}
	t.Fatalf("no message containing %q", contains)
	return slackfake.Message{}
}

// distinctCalls counts the different requests Cost Explorer answered
// (an SDK retry of a request whose answer was lost is the same one).
func distinctCalls(ce *cefake.Server) int {
	seen := map[string]bool{}
	for _, c := range ce.Calls() {
		seen[fmt.Sprint(c.At, c.Start, c.End, c.Monthly, c.GroupBy, c.PageToken)] = true
	}
	return len(seen)
}

// topLevel leaves out the replies in threads.
func topLevel(ms []slackfake.Message) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range ms {
		if m.ThreadTS == "" || m.ThreadTS == m.TS {
			out = append(out, m)
		}
	}
	return out
}

func countIn(ms []slackfake.Message, contains string) int {
	n := 0
	for _, m := range ms {
		if strings.Contains(messageText(m), contains) {
			n++
		}
	}
	return n
}

// TestCosts_EndToEnd runs a month and the first day of the next through
// the App, with aws-sdk-go-v2's Cost Explorer and STS clients on their
// fakes: the daily read of the bill (its calls counted), /ops costs for
// a member, an admin and a past month, the budget alerts at 50% and 80%
// once each, the drift flagged to the approvers once, off-hours nights
// and an idle server, and the monthly review with its chart uploaded
// through files.getUploadURLExternal and files.completeUploadExternal.
// Every message is compared with its golden Block Kit.
func TestCosts_EndToEnd(t *testing.T) {
	h, ce, sts := newCostsHarness(t)
	seedBill(ce)
	h.cw.SetDefault(1.5) // every server idles
	got := map[string]json.RawMessage{}

	// Saturday 21 November: dev's server launches in prod, with the
	// role's credentials.
	r1 := h.launched("test-small for 7d")
	if c := sts.Calls(); len(c) == 0 || c[0].RoleARN != prodRole || c[0].ExternalID != "opsbot-e2e" || c[0].Error != "" {
		t.Fatalf("STS calls = %+v, want AssumeRole of prod's role with its external ID", c)
	}

	// The day's read of the bill: per view (account_service,
	// team_service, opsbot_service, tag:project) one monthly call for the
	// chart's months before this one and one daily call for this month.
	h.costsTick()
	if n := distinctCalls(ce); n != 8 {
		for _, c := range ce.Calls() {
			t.Logf("%+v", c)
		}
		t.Fatalf("first refresh: %d distinct Cost Explorer calls, want 8", n)
	}
	h.costsTick()
	h.advance(time.Hour)
	h.costsTick()
	if n := distinctCalls(ce); n != 8 {
		t.Fatalf("%d Cost Explorer calls the same day, want still 8: reads are daily", n)
	}
	// $300 of $500 by the 20th: the 50% alert, once.
	alert50 := lastIn(t, h.channelMessages("platform-approvals"), "has used 60% of its November 2026 budget")
	mustContain(t, "50% alert", messageText(alert50), "$300.00 of $500.00", "actual spend from Cost Explorer", "This is the 50% alert",
		"Amazon Elastic Compute Cloud - Compute: $200.00 on the bill", "<@U0LEAD>")
	got["costs_budget_alert_50"] = alert50.Blocks
	if n := countIn(h.channelMessages("data-approvals"), "budget"); n != 0 {
		t.Errorf("data ($6 of $20) got %d budget alerts", n)
	}

	// /ops costs: dev's own team, this month, from the cache.
	before := len(ce.Calls())
	h.ops(dev, "costs")
	got["costs_reply_team"] = h.lastReplyBlocks()
	mustContain(t, "/ops costs", h.lastResponse(), "Costs of platform — November 2026", "60.0% of the $500.00 budget",
		"$300.00 through 20 Nov", "Amazon Relational Database Service: $100.00", "On opsbot's servers")
	h.ops(admin, "costs all")
	got["costs_reply_all"] = h.lastReplyBlocks()
	mustContain(t, "/ops costs all", h.lastResponse(), "Costs of November 2026", "By account", "prod: $", "payer: $0.80",
		"By tag project", "checkout: $300.00")
	h.ops(lead, "costs platform 2026-09")
	got["costs_reply_past_month"] = h.lastReplyBlocks()
	mustContain(t, "past month", h.lastResponse(), "Costs of platform — September 2026", "$390.00", "vs August 2026", "$372.00 → $390.00")
	h.ops(dev, "costs platform 2027-02")
	mustContain(t, "future month", h.lastResponse(), "February 2027 has not begun yet")
	h.ops(dev, "costs platfrom")
	got["costs_usage_unknown_team"] = h.lastReplyBlocks()
	mustContain(t, "unknown team", h.lastResponse(), `There is no team "platfrom"`, "/ops costs [TEAM|all] [MONTH]")
	if n := len(ce.Calls()); n != before {
		t.Errorf("/ops costs called Cost Explorer %d times", n-before)
	}

	// Off-hours: Monday 20:00 Berlin the server stops within its lease,
	// Tuesday is a holiday, Wednesday 08:00 it starts.
	h.advanceTo(berlinAt(23, 20, 0))
	h.advance(ec2fake.DefaultDelays.Stop)
	if st := h.request(r1.ID).State; st != workflows.StateStopped {
		t.Fatalf("Monday night: %s", st)
	}
	// Tuesday's read: opsbot's servers cost $7.50 on the bill for 21-23
	// November, against about $1.40 estimated: flagged to both of
	// platform's approvers, once.
	h.advanceTo(time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC))
	h.costsTick()
	drift := lastIn(t, h.dms(lead), "the bill for opsbot's servers is")
	mustContain(t, "drift", messageText(drift), "Team platform", "Cost Explorer reports $7.50 through 23 Nov", "opsbot flags a difference over 25%")
	got["costs_dm_drift"] = drift.Blocks
	if countIn(h.dms(lead2), "the bill for opsbot's servers is") != 1 {
		t.Errorf("lead2 (an approver by email) was not told of the drift")
	}
	h.advanceTo(berlinAt(25, 8, 0))
	h.advance(ec2fake.DefaultDelays.Launch)
	h.advanceTo(time.Date(2026, 11, 25, 7, 30, 0, 0, time.UTC))
	h.costsTick()
	if n := countIn(h.dms(lead), "the bill for opsbot's servers is"); n != 1 {
		t.Errorf("%d drift DMs in November, want 1", n)
	}

	// Thursday: a second server, started each working morning, idle.
	h.advanceTo(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	r2 := h.launched("test-small for 7d")
	// Saturday's read: $422.50 by the 27th, the 80% alert, once.
	h.advanceTo(time.Date(2026, 11, 28, 7, 0, 0, 0, time.UTC))
	h.costsTick()
	alert80 := lastIn(t, h.channelMessages("platform-approvals"), "of its November 2026 budget")
	mustContain(t, "80% alert", messageText(alert80), "has used 84% of its November 2026 budget", "$422.50 of $500.00", "This is the 80% alert")
	got["costs_budget_alert_80"] = alert80.Blocks
	h.advanceTo(time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC))
	h.costsTick()
	if n := countIn(h.channelMessages("platform-approvals"), "of its November 2026 budget"); n != 2 {
		t.Errorf("%d budget alerts in November, want 2 (50%% and 80%%, once each)", n)
	}

	// Tuesday 1 December: the bill read at 07:30 Berlin; r2 starts at
	// 08:00 and is idle an hour later; the review is held at 09:00 (the
	// first working day), here at 09:30 after the idle check.
	h.advanceTo(time.Date(2026, 12, 1, 6, 30, 0, 0, time.UTC))
	h.costsTick()
	h.advanceTo(time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC))
	h.advance(ec2fake.DefaultDelays.Launch)
	h.advanceTo(time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC))
	if rep := h.checkIdle(); rep.Flagged != 1 {
		t.Fatalf("idle check: %+v, want r2 flagged", rep)
	}
	h.costsTick()
	reviews := topLevel(h.channelMessages("cost-review"))
	if len(reviews) != 1 {
		t.Fatalf("%d messages in #cost-review, want the review", len(reviews))
	}
	review := reviews[0]
	mustContain(t, "review", messageText(review), "Monthly cost review — November 2026", "Total $", "vs October 2026",
		"By account", "prod: $", "payer: $1.20", "By service", "By team (tag team)", "platform: $", "(untagged): $",
		"Top movers vs October 2026", "Amazon CloudFront: $31.00 → $120.00", "opsbot's own servers", "$25.00",
		"Saved by stopping servers within their leases", "Idle opsbot servers", "1, in the thread below")
	got["costs_review"] = review.Blocks
	c, _ := h.slack.Channel("cost-review")
	thread := h.slack.Thread(c.ID, review.TS)
	var idle slackfake.Message
	var files []slackfake.File
	for _, m := range thread[1:] {
		files = append(files, m.Files...)
		if strings.Contains(messageText(m), r2.ID+" of platform is idle") {
			idle = m
		}
	}
	if idle.TS == "" {
		t.Fatalf("no idle server in the review's thread")
	}
	for _, a := range []string{workflows.ActServerStop, workflows.ActServerRelease, workflows.ActServerKeep} {
		buttonValue(t, idle, a)
	}
	got["costs_review_idle"] = idle.Blocks
	part := lastIn(t, h.channelMessages("platform-approvals"), "Monthly cost review of platform")
	mustContain(t, "platform's part", messageText(part), "November 2026", "Actual (Cost Explorer)", "The whole review is in the review channel")
	got["costs_review_team_platform"] = part.Blocks
	if countIn(h.channelMessages("data-approvals"), "Monthly cost review of data") != 1 {
		t.Error("data's part of the review is missing")
	}

	// The chart: uploaded once, the two steps of Slack's external upload,
	// a PNG of six stacked bars, June to November, as high as the months'
	// totals.
	if n, m := len(h.slack.CallsTo("files.getUploadURLExternal")), len(h.slack.CallsTo("files.completeUploadExternal")); n != 1 || m != 1 {
		t.Fatalf("upload calls: %d getUploadURLExternal, %d completeUploadExternal; want 1 each", n, m)
	}
	if len(files) != 1 || !strings.HasPrefix(files[0].Title, "AWS spend by service, June 2026 to November 2026") {
		t.Fatalf("files in the review's thread: %+v", files)
	}
	f, _ := h.slack.FileData(files[0].ID)
	checkCostChart(t, f.Data)

	// The review is posted once: later ticks, a restart, the clock moved
	// back.
	h.costsTick()
	h.restart()
	h.advance(time.Hour)
	h.costsTick()
	h.clock.Set(time.Date(2026, 12, 1, 8, 5, 0, 0, time.UTC))
	h.costsTick()
	if n := len(topLevel(h.channelMessages("cost-review"))); n != 1 {
		t.Errorf("%d messages in #cost-review after ticks, a restart and a clock moved back; want the review once", n)
	}
	// A month of refreshes: one a day, each view once (twice in the
	// first days of a month, when the month before is read again).
	t.Logf("Cost Explorer calls from 21 Nov to 1 Dec (7 daily reads): %d (%d distinct)", len(ce.Calls()), distinctCalls(ce))
	compareGolden(t, got)
}

// checkCostChart decodes the review's chart and finds its bars: six
// stacks standing on one baseline, the lowest segment in the first
// series' colour (EC2, the biggest), each month's stack higher than the
// one before (the seeded bill grows every month), November's EC2 twice
// June's and a little more (June: 30 × $5; November: 30 × $10 + 10 ×
// $2.50).
func checkCostChart(t *testing.T, data []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the chart is not a PNG: %v", err)
	}
	checkPicture(t, "costs_review_chart", data)
	colors := chart.Palette[:5]
	stacks := stacksIn(img, colors)
	if len(stacks) != 6 {
		t.Fatalf("%d stacks in the chart, want 6 (June to November)", len(stacks))
	}
	prev := 0
	for i, s := range stacks {
		if s[0].color != colors[0] {
			t.Errorf("stack %d stands on %v, want EC2's %v", i, s[0].color, colors[0])
		}
		h := 0
		for _, seg := range s {
			h += seg.height
		}
		if h <= prev {
			t.Errorf("stack %d is %d px high, the one before %d: want higher each month", i, h, prev)
		}
		prev = h
	}
	june, nov := float64(stacks[0][0].height), float64(stacks[5][0].height)
	if want := 325.0 / 150; nov/june < want*0.95 || nov/june > want*1.05 {
		t.Errorf("EC2 in November is %.0f px, June %.0f px: ratio %.2f, want %.2f", nov, june, nov/june, want)
	}
}

type segment struct {
	color  color.RGBA
	height int
}

// stacksIn scans the picture's columns for runs of the series' colours
// standing on the lowest row that holds any: each stretch of columns
// with the same segments is one stack.
func stacksIn(img image.Image, colors []color.RGBA) [][]segment {
	at := func(x, y int) color.RGBA { return color.RGBAModel.Convert(img.At(x, y)).(color.RGBA) }
	known := func(c color.RGBA) bool {
		for _, k := range colors {
			if c == k {
				return true
			}
		}
		return false
	}
	b := img.Bounds()
	base := -1
	for y := b.Max.Y - 1; y >= b.Min.Y && base < 0; y-- {
		for x := b.Min.X; x < b.Max.X; x++ {
			if known(at(x, y)) {
				base = y
				break
			}
		}
	}
	var out [][]segment
	var prev []segment
	for x := b.Min.X; x < b.Max.X; x++ {
		var col []segment
		for y := base; y >= b.Min.Y && known(at(x, y)); y-- {
			if c := at(x, y); len(col) > 0 && col[len(col)-1].color == c {
				col[len(col)-1].height++
			} else {
				col = append(col, segment{c, 1})
			}
		}
		same := len(col) == len(prev)
		for i := range col {
			same = same && col[i] == prev[i]
		}
		if len(col) > 0 && !same {
			out = append(out, col)
		}
		prev = col
	}
	return out
}
