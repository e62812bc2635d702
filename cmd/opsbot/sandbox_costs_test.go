package main

import (
	"fmt"
	"image/png"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/aws/cefake"
	"github.com/opsbot/opsbot/sandbox"
	"github.com/opsbot/opsbot/workflows/costs"
)

// ephemeralWith waits for an ephemeral answer to user containing want.
func (rs *runningSandbox) ephemeralWith(user, want string) string {
	rs.t.Helper()
	var got string
	rs.eventually("an answer with "+want, 20*time.Second, func() (bool, string) {
		var all []string
		for _, e := range rs.state(user).Ephemerals {
			text := e.Text + "\n" + blockText(e.Blocks)
			if strings.Contains(text, want) {
				got = text
				return true, ""
			}
			all = append(all, text)
		}
		return false, strings.Join(all, "\n---\n")
	})
	return got
}

// jobsDone is how many jobs of kind opsbot has done, from its /metrics.
func (rs *runningSandbox) jobsDone(kind string) int {
	rs.t.Helper()
	resp, err := http.Get(rs.url + "/metrics")
	if err != nil {
		rs.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		rs.t.Fatalf("read /metrics: %v", err)
	}
	prefix := fmt.Sprintf(`opsbot_jobs_total{kind=%q,outcome="ok"} `, kind)
	for _, line := range strings.Split(string(body), "\n") {
		if n, ok := strings.CutPrefix(line, prefix); ok {
			v, _ := strconv.ParseFloat(n, 64)
			return int(v)
		}
	}
	return 0
}

// TestSandbox_CostsAndTheMonthlyReview: with no AWS account, the sandbox
// reads its sample bill from the fake Cost Explorer through the real SDK
// (in the payer account, no role) and launches in the accounts' roles
// through the fake STS; /ops costs answers a member, an admin and a past
// month, refuses another team's member, and the "Cost review" button
// posts last month's review with its chart (a PNG the page serves) and
// the idle server with Stop, Release and Keep.
func TestSandbox_CostsAndTheMonthlyReview(t *testing.T) {
	rs := startSandbox(t)
	ce := rs.sb.CostExplorer()
	// The first read is done when its job is, not when 8 calls are made:
	// in a month's first days each view's daily call takes two pages.
	rs.eventually("the first read of the bill", 60*time.Second, func() (bool, string) {
		return rs.jobsDone(costs.JobRefresh) >= 1, fmt.Sprintf("%d Cost Explorer calls", len(ce.Calls()))
	})
	first := len(ce.Calls())
	views := 4 // account_service, team_service, opsbot_service, tag:project
	for _, c := range ce.Calls() {
		if c.Error != "" {
			t.Errorf("Cost Explorer call %+v failed", c)
		}
	}
	// Each view: one monthly call for the chart's months, one daily for
	// this month (two pages during a month's first days, when last month
	// is read again).
	if first < 2*views || first > 3*views {
		t.Errorf("the first refresh made %d Cost Explorer calls, want %d to %d", first, 2*views, 3*views)
	}
	general, _ := channelNamed(rs.state(sandbox.Dana), "general")
	now := rs.sb.Clock().Now()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	thisMonth := costs.MonthOf(now, berlin)

	// Dana: her team, this month, read from the cache.
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Dana, "channel": general, "text": "/ops costs"})
	text := rs.ephemeralWith(sandbox.Dana, "Costs of platform")
	wants := []string{"Budget", "$5,000.00", "Committed (opsbot)", "Actual (Cost Explorer)"}
	if now.UTC().Day() > 1 { // on the 1st the bill has nothing of this month yet
		wants = append(wants, "By service", "Amazon Elastic Compute Cloud - Compute")
		if strings.Contains(text, "no Cost Explorer data") {
			t.Errorf("/ops costs shows no actual on day %d:\n%s", now.UTC().Day(), text)
		}
	}
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("/ops costs lacks %q:\n%s", want, text)
		}
	}
	// A past month, by an admin, of another team.
	past := thisMonth.Prev().Prev()
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Avery, "channel": general, "text": "/ops costs data " + string(past)})
	text = rs.ephemeralWith(sandbox.Avery, "Costs of data — "+past.Name())
	if !strings.Contains(text, "vs "+past.Prev().Name()) || !strings.Contains(text, "Amazon Simple Storage Service") {
		t.Errorf("data's %s lacks the month before or its services:\n%s", past, text)
	}
	// The whole bill, last month, by the admin.
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Avery, "channel": general, "text": "/ops costs all last"})
	text = rs.ephemeralWith(sandbox.Avery, "Costs of "+thisMonth.Prev().Name())
	for _, want := range []string{"production:", "staging:", "sandbox:", "Top movers", "By tag project", "AWS Data Transfer"} {
		if !strings.Contains(text, want) {
			t.Errorf("/ops costs all lacks %q:\n%s", want, text)
		}
	}
	// Sam (data) may not see platform's, nor the whole bill.
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Sam, "channel": general, "text": "/ops costs platform"})
	rs.ephemeralWith(sandbox.Sam, "Team platform's costs are shown only to its members")
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Sam, "channel": general, "text": "/ops costs all"})
	rs.ephemeralWith(sandbox.Sam, "The whole bill is shown to opsbot's admins only")

	// A server launched in the sandbox account (its role through STS),
	// left idle for a day.
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Dana, "channel": general, "text": "/ops server request test-small for 3d cost demo"})
	rs.eventually("the instance launched", 15*time.Second, func() (bool, string) {
		return len(rs.state(sandbox.Dana).Instances) == 1, "no instance"
	})
	assumed := false
	for _, c := range rs.sb.STS().Calls() {
		if c.Action == "AssumeRole" && c.RoleARN == sandbox.Accounts[2].RoleARN && c.Error == "" {
			assumed = true
		}
	}
	if !assumed {
		t.Errorf("no AssumeRole of the sandbox account's role: %+v", rs.sb.STS().Calls())
	}
	before := rs.sb.Clock().Now()
	rs.act("/api/clock/advance", map[string]any{"duration": "10s"})
	rs.act("/api/clock/advance", map[string]any{"duration": "1d"})
	rs.act("/api/clock/advance", map[string]any{"duration": "2h"})
	rs.eventually("the idle flag", 15*time.Second, func() (bool, string) {
		_, dm := channelNamed(rs.state(sandbox.Dana), "dm")
		return strings.Contains(dm, "looks idle"), dm
	})
	// One more refresh for each UTC day begun since (the sandbox reads
	// the bill at 00:00 UTC; moved 26 hours, the clock begins two days
	// when the test starts after 22:00 UTC), each view once (two pages
	// in a month's first days). The sandbox's clock, moved 15 minutes at
	// a time, can outrun a job's lease and run it twice: distinct
	// requests are counted, and a request the first refresh made is not
	// counted again.
	utcDay := func(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
	days := int(utcDay(rs.sb.Clock().Now()).Sub(utcDay(before)) / (24 * time.Hour))
	call := func(c cefake.Call) string { return fmt.Sprint(c.Start, c.End, c.Monthly, c.GroupBy, c.PageToken) }
	made, distinct := map[string]bool{}, map[string]bool{}
	for _, c := range ce.Calls()[:first] {
		made[call(c)] = true
	}
	for _, c := range ce.Calls()[first:] {
		if !made[call(c)] {
			distinct[call(c)] = true
		}
	}
	if got := len(distinct); got < days*views || got > days*2*views {
		t.Errorf("%d UTC days later: %d more distinct Cost Explorer calls, want one refresh a day (%d to %d)", days, got, days*views, days*2*views)
	}
	t.Logf("Cost Explorer: %d calls at start, %d requests (%d new and distinct) for the next %d days", first, len(ce.Calls())-first, len(distinct), days)

	// The review, held now: in #cost-review, with the idle server and
	// the chart in its thread.
	reviewed := costs.MonthOf(rs.sb.Clock().Now(), berlin).Prev()
	out := rs.act("/api/costs/review", map[string]any{"user": sandbox.Avery})
	if said, _ := out["said"].(string); !strings.Contains(said, "cost review of "+reviewed.Name()) {
		t.Errorf("the button said %q", said)
	}
	var chartURL string
	rs.eventually("the review and its chart in #cost-review", 20*time.Second, func() (bool, string) {
		_, text := channelNamed(rs.state(sandbox.Avery), "cost-review")
		ok := strings.Contains(text, "Monthly cost review — "+reviewed.Name()) && strings.Contains(text, "By account") &&
			strings.Contains(text, "production:") && strings.Contains(text, "Top movers") && strings.Contains(text, "srv-1 of platform is idle")
		for _, c := range rs.state(sandbox.Avery).Channels {
			for _, m := range c.Messages {
				for _, f := range m.Files {
					if c.Name == "cost-review" && strings.HasPrefix(f.Title, "AWS spend by service") && m.ThreadTS != "" {
						chartURL = f.URL
					}
				}
			}
		}
		return ok && chartURL != "", text
	})
	resp, err := http.Get(rs.url + chartURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	img, err := png.Decode(resp.Body)
	if err != nil || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("chart at %s: %v (%s)", chartURL, err, resp.Header.Get("Content-Type"))
	}
	t.Logf("chart %dx%d; Cost Explorer calls: %d", img.Bounds().Dx(), img.Bounds().Dy(), len(ce.Calls()))
	// Held again: updated, nothing posted twice.
	out = rs.act("/api/costs/review", map[string]any{"user": sandbox.Avery})
	if said, _ := out["said"].(string); !strings.Contains(said, "held already: it is updated in place") {
		t.Errorf("the second click said %q", said)
	}
	var reviews int
	for _, c := range rs.state(sandbox.Avery).Channels {
		if c.Name == "cost-review" {
			for _, m := range c.Messages {
				if strings.Contains(m.Text+blockText(m.Blocks), "Monthly cost review — "+reviewed.Name()) {
					reviews++
				}
			}
		}
	}
	if reviews != 1 {
		t.Errorf("%d reviews of %s in #cost-review, want 1", reviews, reviewed)
	}
	// Its page in the fake Notion's cost review database, once.
	rs.eventually("the review's Notion page", 20*time.Second, func() (bool, string) {
		pages := rs.sb.Notion().Pages(sandbox.CostReviewDB)
		ok := len(pages) == 1 && pages[0].Properties["Review ID"].Text == "costs-"+string(reviewed)
		return ok, fmt.Sprintf("pages in the cost review database: %+v", pages)
	})
}
