package costs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// JobPage writes a month's review as a page in the review's Notion
// database, once per month; payload: a pageJob.
const JobPage = "costs.page"

// pageJob is JobPage's payload: the page as the review was posted, and
// when it was queued (the page is retried through a Notion outage of up
// to workflows.PageCatchUp from then).
type pageJob struct {
	Page   workflows.ReviewPage
	Queued time.Time
}

// pageDB is the database the review gets a page in, or "".
func (s *Service) pageDB() string {
	if s.Pages == nil || s.Policy == nil || s.Policy.Review == nil {
		return ""
	}
	return s.Policy.Review.NotionDatabase
}

// queuePage queues the month's page in the review's transaction, keyed
// by month: one page a month, however often the review job runs.
func (s *Service) queuePage(tx workflows.Tx, rv Review, now time.Time) error {
	if s.pageDB() == "" {
		return nil
	}
	b, err := json.Marshal(pageJob{Page: reviewPage(rv, s.Policy), Queued: now})
	if err != nil {
		return fmt.Errorf("encode the cost review page of %s: %w", rv.Month, err)
	}
	return tx.Enqueue(workflows.Job{Kind: JobPage, Key: JobPage + ":" + string(rv.Month), Payload: string(b), RunAt: now})
}

// pageJobRun writes the page; the writer finds a page written before by
// its Review ID ("costs-2026-11"), so a retry never makes two.
func (s *Service) pageJobRun(ctx context.Context, j workflows.Job) error {
	var p pageJob
	if err := json.Unmarshal([]byte(j.Payload), &p); err != nil {
		return workflows.Permanent(fmt.Errorf("decode cost review page job: %w", err))
	}
	db := s.pageDB()
	if db == "" {
		return nil
	}
	if _, err := s.Pages.WriteReviewPage(ctx, db, p.Page); err != nil {
		return workflows.PageRetry(s.Clock.Now(), p.Queued, fmt.Errorf("write the cost review page %s: %w", p.Page.Key, err))
	}
	return nil
}

// reviewPage is the month's review as a document: the same figures as
// the review channel's message, as tables.
func reviewPage(rv Review, p *Policy) workflows.ReviewPage {
	pg := workflows.ReviewPage{Key: "costs-" + string(rv.Month), Date: rv.Month.Start(time.UTC),
		Title: "Monthly cost review — " + rv.Month.Name()}
	add := func(bs ...workflows.DocBlock) { pg.Body = append(pg.Body, bs...) }
	para := func(f string, args ...any) {
		add(workflows.DocBlock{Kind: workflows.DocParagraph, Text: fmt.Sprintf(f, args...)})
	}
	h2 := func(t string) { add(workflows.DocBlock{Kind: workflows.DocHeading2, Text: t}) }
	o, prev := rv.Org, rv.Prev
	month, before := rv.Month.Name(), rv.Month.Prev().Name()
	if !o.HasActual {
		para("Cost Explorer's data for %s is missing, so this page shows opsbot's own figures from its ledger, not the bill.", month)
	} else {
		text := "Total " + o.Total.String() + throughText(o.Through)
		if prev.HasActual {
			text += fmt.Sprintf(", %s vs %s (%s)", Percent(o.Total-prev.Total, prev.Total), before, signed(o.Total-prev.Total))
		}
		para("%s. Cost Explorer, %s, UTC days.%s", text, metricName(p.metric()), map[bool]string{true: " Some figures are still estimated by AWS and may change."}[o.Estimated])
		amounts := func(title, col string, cur, old []Amount, empty string) {
			h2(title)
			if len(cur) == 0 {
				para("Nothing.")
				return
			}
			was := map[string]workflows.Money{}
			for _, a := range old {
				was[a.Name] = a.Amount
			}
			var rows [][]string
			for _, a := range cur {
				name := a.Name
				if name == "" {
					name = empty
				}
				row := []string{name, a.Amount.String(), "", ""}
				if prev.HasActual {
					row[2], row[3] = was[a.Name].String(), signed(a.Amount-was[a.Name])
				}
				rows = append(rows, row)
			}
			add(workflows.Table([]string{col, month, before, "Change"}, rows...))
		}
		amounts("By account", "Account", o.Accounts, prev.Accounts, "(no account)")
		amounts("By service", "Service", o.Services, prev.Services, "(no service)")
		amounts("By team (tag "+p.teamTag()+")", "Team", o.Teams, prev.Teams, "(untagged)")
		for _, t := range p.Tags {
			if as := o.Tags[t]; len(as) > 0 {
				amounts("By tag "+t, t, as, prev.Tags[t], "(untagged)")
			}
		}
		if prev.HasActual {
			var rows [][]string
			for _, mv := range Movers(prev.serviceMap, o.serviceMap, 5) {
				rows = append(rows, []string{mv.Name, mv.Before.String(), mv.Now.String(), signed(mv.Change()), Percent(mv.Change(), mv.Before)})
			}
			if len(rows) > 0 {
				h2("Top movers vs " + before)
				add(workflows.Table([]string{"Service", before, month, "Change", "%"}, rows...))
			}
		}
		h2("opsbot's own servers")
		para("%s, %s of the bill.", o.Opsbot, ShareOf(o.Opsbot, o.Total))
	}
	h2("Teams")
	var rows [][]string
	for _, tm := range rv.Teams {
		actual := "-"
		if tm.HasActual {
			actual = tm.Actual.String()
		}
		rows = append(rows, []string{tm.Team.Name, tm.Budget.String(), tm.Committed.String(), tm.Estimated.String(), actual})
	}
	if len(rows) == 0 {
		para("No team.")
	} else {
		add(workflows.Table([]string{"Team", "Budget", "Committed (ledger)", "Estimated (opsbot's servers)", "Actual (the bill)"}, rows...))
	}
	h2("Savings")
	if rv.HasSavings {
		para("Stopping servers within their leases (off-hours nights, idle servers stopped) saved %s.", rv.Savings)
	} else {
		para("No server was stopped within its lease this month.")
	}
	h2("Idle opsbot servers")
	if len(rv.Idle) == 0 {
		para("None.")
	} else {
		var idle [][]string
		for _, srv := range rv.Idle {
			idle = append(idle, []string{srv.ID, srv.Team, srv.Summary})
		}
		add(workflows.Table([]string{"Server", "Team", "Idle"}, idle...))
		para("Stop, Release or Keep each with its buttons in the review's thread in Slack.")
	}
	return pg
}
