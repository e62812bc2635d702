package costs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// ReviewSlot is when the review of the month before m is held: the
// first time of the schedule in m (in the review's zone), zero if the
// schedule has none in m.
func ReviewSlot(p *ReviewPolicy, m Month) time.Time {
	if p == nil || p.Schedule == nil {
		return time.Time{}
	}
	start := m.Start(p.Location)
	t := p.Schedule.Next(start.Add(-time.Nanosecond))
	if t.IsZero() || MonthOf(t, p.Location) != m {
		return time.Time{}
	}
	return t
}

// queueReview queues last month's review when this month's slot has
// come, once per month (the mark and the job are one transaction): a
// restart, a second replica or a clock moved back never posts it twice;
// a bot down on the day posts it late, within ReviewGrace.
func (s *Service) queueReview(ctx context.Context) (int, error) {
	rp := s.Policy.Review
	if rp == nil || rp.Channel == "" {
		return 0, nil
	}
	now := s.Clock.Now()
	m := MonthOf(now, rp.Location)
	slot := ReviewSlot(rp, m)
	if slot.IsZero() || now.Before(slot) || now.Sub(slot) > ReviewGrace {
		return 0, nil
	}
	reviewed := m.Prev()
	queued := 0
	err := s.update(ctx, func(tx workflows.Tx) error {
		now := s.Clock.Now()
		fresh, err := tx.MarkSent(monthKey("review", string(reviewed)), now)
		if err != nil || !fresh {
			return err
		}
		queued = 1
		if err := tx.Audit(workflows.AuditEntry{At: now, Actor: "opsbot", Action: "costs.review", Subject: string(reviewed)}); err != nil {
			return err
		}
		return tx.Enqueue(workflows.Job{Kind: JobReview, Key: JobReview + ":" + string(reviewed), Payload: string(reviewed), RunAt: now})
	})
	if err != nil {
		return 0, fmt.Errorf("queue the cost review of %s: %w", reviewed, err)
	}
	return queued, nil
}

// Review is one month's cost review, gathered from the cache and the
// ledger.
type Review struct {
	Month      Month
	Org, Prev  OrgMonth
	Teams      []TeamMonth
	PrevTeams  map[string]TeamMonth
	Chart      Chart
	Idle       []IdleServer
	Savings    workflows.Money
	HasSavings bool
}

// Chart is monthly totals by service: Months oldest first, and for each
// series (a service, the smaller ones as "Other") one total per month.
type Chart struct {
	Months []Month
	Series []Series
}

// Series is one bar segment of each month.
type Series struct {
	Name   string
	Totals []workflows.Money
}

// chartServices is how many services the chart names; the rest are
// "Other".
const chartServices = 6

// review gathers m's review. Caller is in a transaction.
func (s *Service) review(tx workflows.Tx, m Month, now time.Time) (Review, error) {
	rv := Review{Month: m, PrevTeams: map[string]TeamMonth{}}
	var err error
	if rv.Org, err = s.orgMonth(tx, m); err != nil {
		return rv, err
	}
	if rv.Prev, err = s.orgMonth(tx, m.Prev()); err != nil {
		return rv, err
	}
	for _, t := range s.Catalog.Teams {
		tm, err := s.teamMonth(tx, t, m, now)
		if err != nil {
			return rv, err
		}
		rv.Teams = append(rv.Teams, tm)
		pm, err := s.teamMonth(tx, t, m.Prev(), now)
		if err != nil {
			return rv, err
		}
		rv.PrevTeams[t.Name] = pm
	}
	if rv.Chart, err = s.chart(tx, m); err != nil {
		return rv, err
	}
	if rv.Idle, err = idleServers(tx, s.Catalog, now); err != nil {
		return rv, err
	}
	rv.Savings, rv.HasSavings, err = savings(tx, m, now)
	return rv, err
}

// idleServers are the servers the last CPU check found idle that nobody
// chose to keep and that still run, with the choice of Stop, Release or
// Keep.
func idleServers(tx workflows.Tx, cat *workflows.Catalog, now time.Time) ([]IdleServer, error) {
	vs, err := tx.IdleServers("")
	if err != nil {
		return nil, fmt.Errorf("read idle servers: %w", err)
	}
	var out []IdleServer
	for _, v := range vs {
		if !v.KeptAt.IsZero() {
			continue
		}
		r, err := tx.Request(v.RequestID)
		if err != nil || r.State != workflows.StateRunning {
			continue
		}
		since := v.Since.UTC().Format("Mon 2 Jan 15:04 MST")
		t, hasTeam := cat.Team(r.Team)
		if hasTeam {
			since = t.LocalTime(v.Since)
		}
		srv := IdleServer{ID: r.ID, Team: r.Team, Owner: r.Owner.Ref(), Tell: []string{r.Owner.Ref()},
			Summary: fmt.Sprintf("%s (%s), CPU at most %.0f%% since %s", r.Template, r.Instance.Type, v.PeakCPU, since),
			Actions: workflows.ChoiceActions(r, workflows.ServerChoice{ID: r.ID, Why: workflows.WhyCostReview, DrawnFor: now})}
		if r.TeamOwned() {
			// Its owner left: the team's approvers choose for it.
			srv.Owner, srv.Tell = "", nil
			srv.Summary += "; " + strings.ToLower(workflows.OwnerWords(r)[:1]) + workflows.OwnerWords(r)[1:]
			if hasTeam {
				srv.Tell = append(srv.Tell, t.Approvers...)
			}
		}
		out = append(out, srv)
	}
	return out, nil
}

// savings is what opsbot's stops within leases (off-hours nights, idle
// servers stopped) saved in m: hours stopped × the hourly rate, clipped
// to the month and the lease. Months are UTC here, like the bill.
func savings(tx workflows.Tx, m Month, now time.Time) (workflows.Money, bool, error) {
	from := m.Start(time.UTC)
	to := from.AddDate(0, 1, 0)
	parks, err := tx.Parks("", from, to)
	if err != nil {
		return 0, false, fmt.Errorf("read stops within leases: %w", err)
	}
	var sum workflows.Money
	for _, p := range parks {
		sum += p.HourlyRate.For(p.HoursIn(from, to, now))
	}
	return sum, len(parks) > 0, nil
}

// chart is the ChartMonths months up to m, by service.
func (s *Service) chart(tx workflows.Tx, m Month) (Chart, error) {
	var c Chart
	months := make([]Month, ChartMonths)
	for i, x := ChartMonths-1, m; i >= 0; i, x = i-1, x.Prev() {
		months[i] = x
	}
	c.Months = months
	per := make([]map[string]workflows.Money, len(months))
	grand := map[string]workflows.Money{}
	for i, mm := range months {
		om, err := s.orgMonth(tx, mm)
		if err != nil {
			return c, err
		}
		per[i] = om.serviceMap
		for k, v := range om.serviceMap {
			grand[k] += v
		}
	}
	top := sorted(grand)
	named := map[string]bool{}
	for i, a := range top {
		if i == chartServices || a.Amount <= 0 {
			break
		}
		named[a.Name] = true
		se := Series{Name: a.Name, Totals: make([]workflows.Money, len(months))}
		for j := range months {
			se.Totals[j] = per[j][a.Name]
		}
		c.Series = append(c.Series, se)
	}
	if len(top) > len(named) {
		other := Series{Name: "Other", Totals: make([]workflows.Money, len(months))}
		for j := range months {
			for k, v := range per[j] {
				if !named[k] {
					other.Totals[j] += v
				}
			}
		}
		c.Series = append(c.Series, other)
	}
	return c, nil
}

// reviewJob posts a month's review: to the review channel, and each
// team's part to the team. Its messages are keyed by month (and team),
// so a job run again after a crash edits what it posted, never posts it
// twice. When the bill of the month has not been read yet, it is read
// first (once: that is the day's refresh).
func (s *Service) reviewJob(ctx context.Context, j workflows.Job) error {
	m := Month(j.Payload)
	if m.Start(time.UTC).IsZero() {
		return workflows.Permanent(fmt.Errorf("cost review: bad month %q", j.Payload))
	}
	if err := s.readBeforeReview(ctx, m, j.Attempts); err != nil {
		return err
	}
	var rv Review
	if err := s.Store.View(ctx, func(tx workflows.Tx) (err error) {
		rv, err = s.review(tx, m, s.Clock.Now())
		return err
	}); err != nil {
		return fmt.Errorf("gather the cost review of %s: %w", m, err)
	}
	return s.update(ctx, func(tx workflows.Tx) error {
		now := s.Clock.Now()
		main := reviewMessage(rv, s.Policy)
		main.Key = "cost-review:" + string(m)
		main.Channel = s.Policy.Review.Channel
		if err := workflows.EnqueueMessage(tx, main, now); err != nil {
			return err
		}
		if err := s.queueChart(tx, rv, main, now); err != nil {
			return err
		}
		if err := s.queuePage(tx, rv, now); err != nil {
			return err
		}
		for _, srv := range rv.Idle {
			msg := workflows.Message{Key: "cost-review:" + string(m) + ":idle:" + srv.ID, Channel: main.Channel, Thread: main.Key,
				Text: fmt.Sprintf("%s of %s is idle: %s.", srv.ID, srv.Team, srv.Summary), Mention: srv.Tell, Actions: srv.Actions}
			if err := workflows.EnqueueMessage(tx, msg, now); err != nil {
				return err
			}
		}
		if !s.Policy.Review.TeamParts {
			return nil
		}
		for _, tm := range rv.Teams {
			if tm.Team.ApprovalsChannel == "" {
				continue
			}
			part := teamMessage(tm, rv.PrevTeams[tm.Team.Name], s.Policy, time.Time{}, now)
			part.Key = "cost-review:" + string(m) + ":" + tm.Team.Name
			part.Channel = tm.Team.ApprovalsChannel
			part.Title = fmt.Sprintf("Monthly cost review of %s — %s", tm.Team.Name, m.Name())
			part.Note = teamReviewNote(tm, s.Policy)
			if err := workflows.EnqueueMessage(tx, part, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// readBeforeReview reads the bill when the cache does not cover m yet
// and today's refresh has not been made (the review came before the
// refresh hour): that read is the day's refresh. A failure is reported
// and the review goes on with opsbot's own figures. When the day's
// refresh is queued but not done yet (both came due in one tick: a bot
// back after a day down, a review hour before the refresh hour), the
// review waits for it a few tries (about two minutes), never for a
// refresh that failed and was reported.
func (s *Service) readBeforeReview(ctx context.Context, m Month, attempts int) error {
	if !s.Policy.CostExplorer || s.Explorer == nil {
		return nil
	}
	_, to := m.Days()
	read, pending := false, false
	err := s.update(ctx, func(tx workflows.Tx) error {
		_, through, err := tx.CostRefresh(ViewAccountService)
		if err != nil || through >= to {
			return err
		}
		now := s.Clock.Now()
		read, err = tx.MarkSent(monthKey("refresh", now.UTC().Format(dayLayout)), now)
		if err != nil || read {
			return err
		}
		pending = true
		for _, k := range errorKinds {
			if failed, err := tx.Sent(monthKey("error", k)); err != nil || failed {
				pending = false
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if pending && attempts < reviewWaits {
		return fmt.Errorf("cost review of %s: waiting for today's read of the bill", m)
	}
	if !read {
		return nil
	}
	if err := s.Refresh(ctx); err != nil {
		if rerr := s.reportError(ctx, err); rerr != nil {
			return rerr
		}
	}
	return nil
}

// reviewWaits is how many times a review waits for the day's refresh
// (with the runner's backoff: 2 s, 4 s, ... about two minutes in all).
const reviewWaits = 6

func teamReviewNote(tm TeamMonth, p *Policy) string {
	if !tm.HasActual {
		return "Cost Explorer has no data for this month: these are opsbot's own figures (the ledger and its estimates), not the bill."
	}
	return fmt.Sprintf("Actual: Cost Explorer's %s by the %q tag, UTC days. The whole review is in the review channel.", metricName(p.metric()), p.teamTag())
}

// reviewMessage is the review channel's message: the whole bill of the
// month, or, without it, opsbot's own figures with a clear note.
func reviewMessage(rv Review, p *Policy) workflows.Message {
	m := workflows.Message{Title: "Monthly cost review — " + rv.Month.Name()}
	if !rv.Org.HasActual {
		m.Text = fmt.Sprintf("Cost Explorer's data for %s is missing, so this review shows opsbot's own figures from its ledger, not the bill.", rv.Month.Name())
		var ls []string
		for _, tm := range rv.Teams {
			ls = append(ls, fmt.Sprintf("%s: %s committed, %s estimated, budget %s", tm.Team.Name, tm.Committed, tm.Estimated, tm.Budget))
		}
		m.Fields = append(m.Fields, workflows.Field{Label: "By team (opsbot's ledger)", Value: strings.Join(ls, "\n")})
		m.Note = "Why: Cost Explorer is off in the config, or it refused or failed (the review channel was told how to fix it), or it has no data yet."
		if !p.CostExplorer {
			m.Note = "Cost Explorer is off in opsbot's config (costs.cost_explorer)."
		}
		return m
	}
	o, prev := rv.Org, rv.Prev
	m.Text = "Total " + o.Total.String() + throughText(o.Through)
	if prev.HasActual {
		m.Text += fmt.Sprintf(", %s vs %s (%s)", Percent(o.Total-prev.Total, prev.Total), prev.Month.Name(), signed(o.Total-prev.Total))
	}
	m.Text += "."
	m.Fields = append(m.Fields,
		workflows.Field{Label: "By account", Value: amountLines(o.Accounts, 8, "(no account)")},
		workflows.Field{Label: "By service", Value: amountLines(o.Services, 8, "(no service)")},
		workflows.Field{Label: "By team (tag " + p.teamTag() + ")", Value: amountLines(o.Teams, 8, "(untagged)")},
	)
	for _, t := range p.Tags {
		if as := o.Tags[t]; len(as) > 0 {
			m.Fields = append(m.Fields, workflows.Field{Label: "By tag " + t, Value: amountLines(as, 8, "(untagged)")})
		}
	}
	if prev.HasActual {
		var ls []string
		for _, mv := range Movers(prev.serviceMap, o.serviceMap, 5) {
			ls = append(ls, fmt.Sprintf("%s: %s → %s (%s, %s)", mv.Name, mv.Before, mv.Now, signed(mv.Change()), Percent(mv.Change(), mv.Before)))
		}
		if len(ls) > 0 {
			m.Fields = append(m.Fields, workflows.Field{Label: "Top movers vs " + prev.Month.Name(), Value: strings.Join(ls, "\n")})
		}
	}
	m.Fields = append(m.Fields, workflows.Field{Label: "opsbot's own servers", Value: fmt.Sprintf("%s (%s of the bill)", o.Opsbot, ShareOf(o.Opsbot, o.Total))})
	if rv.HasSavings {
		m.Fields = append(m.Fields, workflows.Field{Label: "Saved by stopping servers within their leases (off-hours, idle)", Value: rv.Savings.String()})
	}
	if len(rv.Idle) > 0 {
		m.Fields = append(m.Fields, workflows.Field{Label: "Idle opsbot servers", Value: fmt.Sprintf("%d, in the thread below, with Stop, Release and Keep", len(rv.Idle))})
	}
	m.Note = fmt.Sprintf("Cost Explorer, %s, UTC days.", metricName(p.metric()))
	if o.Estimated {
		m.Note += " Some figures are still estimated by AWS and may change."
	}
	return m
}

// signed formats a change with its sign: "+$12.00", "-$3.00".
func signed(m workflows.Money) string {
	if s := m.String(); !strings.HasPrefix(s, "-") {
		return "+" + s // a change rounding to no cents is "+$0.00"
	}
	return m.String()
}

// ChartOf is the review chart of month m, from the cache.
func (s *Service) ChartOf(ctx context.Context, m Month) (Chart, error) {
	var c Chart
	err := s.Store.View(ctx, func(tx workflows.Tx) (err error) {
		c, err = s.chart(tx, m)
		return err
	})
	return c, err
}

// queueChart shares the review's chart under its message, once: the
// upload is keyed by month.
func (s *Service) queueChart(tx workflows.Tx, rv Review, main workflows.Message, now time.Time) error {
	if s.Picture == nil || len(rv.Chart.Series) == 0 {
		return nil
	}
	title := fmt.Sprintf("AWS spend by service, %s to %s", rv.Chart.Months[0].Name(), rv.Month.Name())
	png, err := s.Picture(rv.Chart, title)
	if err != nil {
		s.log().Error("draw the cost review's chart", "month", rv.Month, "err", err)
		return nil // the review stands without its picture
	}
	var parts []string
	for _, se := range rv.Chart.Series {
		parts = append(parts, fmt.Sprintf("%s %s", se.Name, se.Totals[len(se.Totals)-1]))
	}
	return workflows.EnqueueUpload(tx, workflows.File{
		Key: "cost-review-chart:" + string(rv.Month), Channel: main.Channel, Thread: main.Key,
		Name: "aws-costs-" + string(rv.Month) + ".png", Title: title,
		AltText: "Stacked bars of monthly AWS spend by service; in " + rv.Month.Name() + ": " + strings.Join(parts, ", "),
		Comment: "Monthly totals by service, the last " + fmt.Sprint(len(rv.Chart.Months)) + " months.",
		Data:    png,
	}, now)
}
