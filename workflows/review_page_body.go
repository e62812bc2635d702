package workflows

import (
	"fmt"
	"strconv"
)

// reviewPage is the alert review as a document: the agenda, the tables
// (the window's figures, the services, the critical alerts, the
// non-critical ones picked, opsbot's incident figures) and a Decisions
// section the decisions are added to as they are made. Text is plain, as
// people read it in Notion: names, not Slack IDs.
func reviewPage(rev *AlertReview, team *Team, d *Digest, a Agenda, st *Stats) ReviewPage {
	p := ReviewPage{Key: rev.ID, Date: rev.Window.End,
		Title: fmt.Sprintf("Alert review %s: %s, %s", rev.ID, team.Name, rev.Window.End.In(team.zone()).Format("Mon 2 Jan 2006"))}
	add := func(bs ...DocBlock) { p.Body = append(p.Body, bs...) }
	para := func(f string, args ...any) { add(DocBlock{Kind: DocParagraph, Text: fmt.Sprintf(f, args...)}) }
	h2 := func(t string) { add(DocBlock{Kind: DocHeading2, Text: t}) }
	para("The alert review %s of %s, over %s to %s (the window before: %s to %s). Prepared by opsbot; decided in Slack, where the buttons are. Decisions are added at the end of this page as they are made.",
		rev.ID, team.Name, team.LocalTime(rev.Window.Start), team.LocalTime(rev.Window.End),
		team.LocalTime(d.Previous.Start), team.LocalTime(d.Previous.End))

	h2("Agenda")
	if len(a.Items) == 0 {
		para("Nothing to decide: no alerts in this window.")
	}
	for i, g := range a.Items {
		kind := "Non-critical: tune or automate?"
		if g.Critical() {
			kind = "Critical: keep it critical?"
		}
		add(DocBlock{Kind: DocNumbered, Text: fmt.Sprintf("%s.%d · %s · %s · %s", rev.ID, i+1, g.Label, g.ServiceName, kind)})
	}
	if a.MoreCritical > 0 {
		para("%d more critical alerts (%d alerts) are not on the agenda: the %d noisiest are.", a.MoreCritical, a.MoreCriticalAlerts, a.Critical)
	}

	h2("The window's figures")
	n := strconv.Itoa
	add(Table([]string{"", "This window", "The window before", "Change"},
		[]string{"Alerts", n(d.Alerts), n(d.PrevAlerts), change(d.Alerts, d.PrevAlerts)},
		[]string{"Incidents", n(d.Incidents), n(d.PrevIncidents), change(d.Incidents, d.PrevIncidents)},
		[]string{"High urgency (paged)", n(d.High)},
		[]string{"Low urgency", n(d.Low)},
		[]string{"Paged outside business hours", n(d.OutsideHours)},
		[]string{"Resolved on their own, unacknowledged", n(d.AutoResolved)},
		[]string{"Flapping", n(d.Flapping)},
		[]string{"Time to acknowledge, median / p90", Short(d.AckMedian) + " / " + Short(d.AckP90)},
		[]string{"Time to resolve, median / p90", Short(d.ResolveMedian) + " / " + Short(d.ResolveP90)},
	))

	h2("By service")
	var svc [][]string
	rest, restAlerts := 0, 0
	for i, sd := range d.Services {
		if i >= reviewTopServices {
			rest++
			restAlerts += sd.Alerts
			continue
		}
		svc = append(svc, []string{sd.Name, n(sd.Alerts), change(sd.Alerts, sd.PrevAlerts), n(sd.High), n(sd.OutsideHours)})
	}
	if rest > 0 {
		svc = append(svc, []string{fmt.Sprintf("%d more services", rest), n(restAlerts)})
	}
	table(&p, []string{"Service", "Alerts", "Change", "Paged", "Outside business hours"}, svc, "No alerts.")

	var crit, quiet [][]string
	for i, g := range a.Items {
		row := []string{fmt.Sprintf("%s.%d", rev.ID, i+1), g.Label, g.ServiceName, n(g.Alerts), change(g.Alerts, g.PrevAlerts),
			fmt.Sprintf("%d / %d", g.High, g.Low), n(g.OutsideHours), n(g.AutoResolved), n(g.Flapping),
			Short(g.AckMedian) + " / " + Short(g.AckP90), Short(g.ResolveMedian) + " / " + Short(g.ResolveP90)}
		if g.Critical() {
			crit = append(crit, row)
		} else {
			quiet = append(quiet, row)
		}
	}
	cols := []string{"Item", "Alert", "Service", "Alerts", "Change", "Incidents high / low", "Outside business hours",
		"Resolved on their own", "Flapping", "Acknowledge median / p90", "Resolve median / p90"}
	h2("Critical alerts: keep them critical?")
	table(&p, cols, crit, "No critical alert in this window.")
	h2("Non-critical alerts picked for this meeting: tune or automate?")
	table(&p, cols, quiet, "None picked: every non-critical alert was on a recent review's agenda, or there were none.")

	h2("Incidents in opsbot")
	if st == nil || st.All.Count == 0 {
		para("No incident in this window.")
	} else {
		row := func(r StatRow) []string {
			return []string{r.Name, n(r.Count), Short(r.AckMedian) + " / " + Short(r.AckP90), Short(r.ResolveMedian) + " / " + Short(r.ResolveP90)}
		}
		all := st.All
		all.Name = "All"
		rows := [][]string{row(all)}
		for _, r := range st.BySeverity {
			rows = append(rows, row(r))
		}
		for _, r := range st.ByService {
			rows = append(rows, row(r))
		}
		if st.OtherServices > 0 {
			rows = append(rows, []string{fmt.Sprintf("%d more services", st.OtherServices)})
		}
		add(Table([]string{"", "Incidents", "Acknowledge median / p90", "Resolve median / p90"}, rows...))
		if len(st.InStatus) > 0 {
			para("Time in each status (median / p90): %s.", statusLine(st.InStatus))
		}
		for _, f := range statsFields(st) {
			para("%s: %s.", f.Label, f.Value)
		}
	}

	h2("Decisions")
	para("Each decision made in Slack is added here, with who made it and when.")
	return p
}

// table adds a table, or the paragraph none when it has no rows.
func table(p *ReviewPage, header []string, rows [][]string, none string) {
	if len(rows) == 0 {
		p.Body = append(p.Body, DocBlock{Kind: DocParagraph, Text: none})
		return
	}
	p.Body = append(p.Body, Table(header, rows...))
}

// reviewLine is one decision on the review's page, and the prefix that
// identifies it (the item, the decision and its time): a page holding a
// line with that prefix has it, whatever name it shows.
func reviewLine(it *ReviewItem, team *Team, l reviewLineJob, names *nameBook) (prefix, text string) {
	what := l.Decision.Title()
	if l.Done {
		what = "Done"
	}
	prefix = fmt.Sprintf("%s · %s · %s", it.ID(), what, team.LocalTime(l.At))
	who := names.of(l.By)
	switch {
	case l.Done:
		text = fmt.Sprintf("%s · %s (%s): the follow-up is done, marked by %s.", prefix, it.Label, it.ServiceName, who)
	case l.Decision == DecideDiscuss:
		text = fmt.Sprintf("%s · %s (%s): to discuss, asked by %s.", prefix, it.Label, it.ServiceName, who)
	case l.Decision.HasWork():
		text = fmt.Sprintf("%s · %s (%s): decided by %s, who owns the follow-up, due %s.", prefix, it.Label, it.ServiceName, who, team.LocalTime(it.Due))
	default:
		text = fmt.Sprintf("%s · %s (%s): decided by %s.", prefix, it.Label, it.ServiceName, who)
	}
	return prefix, text
}
