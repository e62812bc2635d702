package workflows

import (
	"fmt"
	"strings"
	"time"
)

// reviewTopServices is how many services the review's header lists by
// name; the rest are counted.
const reviewTopServices = 5

// change writes a count against the previous window: "+3", "-2", "=".
func change(now, before int) string {
	switch d := now - before; {
	case d > 0:
		return fmt.Sprintf("+%d", d)
	case d < 0:
		return fmt.Sprintf("%d", d)
	}
	return "="
}

// groupFigures is one alert group's figures on one line.
func groupFigures(g *AlertGroup) string {
	parts := []string{
		fmt.Sprintf("%d alerts (%s against %d before)", g.Alerts, change(g.Alerts, g.PrevAlerts), g.PrevAlerts),
		fmt.Sprintf("%d incidents: %d high urgency, %d low", g.Incidents, g.High, g.Low),
	}
	if g.OutsideHours > 0 {
		parts = append(parts, fmt.Sprintf("%d paged outside business hours", g.OutsideHours))
	}
	if g.AutoResolved > 0 {
		parts = append(parts, fmt.Sprintf("%d resolved on their own, unacknowledged", g.AutoResolved))
	}
	if g.Flapping > 0 {
		parts = append(parts, fmt.Sprintf("%d flapping (again within an hour of resolving)", g.Flapping))
	}
	parts = append(parts, fmt.Sprintf("ack median %s, p90 %s · resolve median %s, p90 %s",
		Short(g.AckMedian), Short(g.AckP90), Short(g.ResolveMedian), Short(g.ResolveP90)))
	return strings.Join(parts, " · ")
}

// reviewHeader is the review's first message: the window's figures, the
// busiest services, and what is put to a decision in its thread.
func reviewHeader(rev *AlertReview, team *Team, d *Digest, a Agenda) Message {
	m := Message{Key: "alert-review:" + rev.ID, Channel: rev.Channel,
		Title: fmt.Sprintf("Alert review %s: %s, %s to %s", rev.ID, team.Name, team.LocalTime(rev.Window.Start), team.LocalTime(rev.Window.End))}
	if d.Alerts == 0 {
		m.Text = fmt.Sprintf("No alerts in this window (%d in the one before). Nothing to decide.", d.PrevAlerts)
		return m
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d alerts (%s against %d in the window before) in %d incidents: %d high urgency (paged), %d low.\n",
		d.Alerts, change(d.Alerts, d.PrevAlerts), d.PrevAlerts, d.Incidents, d.High, d.Low)
	fmt.Fprintf(&b, "%d paged outside business hours · %d resolved on their own, unacknowledged · %d flapping\n", d.OutsideHours, d.AutoResolved, d.Flapping)
	fmt.Fprintf(&b, "Time to acknowledge: median %s, p90 %s · to resolve: median %s, p90 %s\n\n",
		Short(d.AckMedian), Short(d.AckP90), Short(d.ResolveMedian), Short(d.ResolveP90))
	b.WriteString("*By service*\n")
	rest, restAlerts := 0, 0
	for i, sd := range d.Services {
		if i >= reviewTopServices {
			rest++
			restAlerts += sd.Alerts
			continue
		}
		fmt.Fprintf(&b, "• %s: %d alerts (%s), %d paged, %d outside business hours\n", UserText(sd.Name), sd.Alerts, change(sd.Alerts, sd.PrevAlerts), sd.High, sd.OutsideHours)
	}
	if rest > 0 {
		fmt.Fprintf(&b, "• and %d more services: %d alerts\n", rest, restAlerts)
	}
	fmt.Fprintf(&b, "\n*In the thread:* %d critical alerts: keep them critical? Then %d non-critical ones picked for this meeting (the noisiest no review of the last six weeks covered): tune or automate?",
		a.Critical, a.NonCritical)
	if a.MoreCritical > 0 {
		fmt.Fprintf(&b, "\n%d more critical alerts (%d alerts) are not listed: the %d noisiest are.", a.MoreCritical, a.MoreCriticalAlerts, a.Critical)
	}
	m.Text = b.String()
	m.Note = fmt.Sprintf("Members of %s and opsbot's admins decide. A decision with work in it is owned by who decides and reminded until done.", team.Name)
	return m
}

// reviewItemMessage is one alert put to a decision, in the review's
// thread; it is edited in place as it is decided.
func reviewItemMessage(rev *AlertReview, it *ReviewItem, team *Team) Message {
	kind := "Non-critical"
	if it.Critical {
		kind = "Critical"
	}
	m := Message{Key: "alert-review:" + it.ID(), Channel: rev.Channel, Thread: "alert-review:" + rev.ID,
		Title: fmt.Sprintf("%d. %s · %s · %s", it.N, kind, UserText(it.ServiceName), UserText(it.Label)),
		Text:  it.Figures}
	value := func(d ReviewDecision) string { return fmt.Sprintf("%s %d %s", rev.ID, it.N, d) }
	button := func(d ReviewDecision, style ActionStyle) Action {
		return Action{ID: ActReviewDecide, Label: d.Title(), Value: value(d), Style: style}
	}
	switch {
	case !it.Decision.Final():
		if it.Critical {
			m.Actions = []Action{button(DecideKeep, StylePrimary), button(DecideNonCritical, StyleDefault), button(DecideDiscuss, StyleDefault)}
		} else {
			m.Actions = []Action{button(DecideTune, StylePrimary), button(DecideFine, StyleDefault), button(DecideDiscuss, StyleDefault)}
		}
		if it.Decision == DecideDiscuss {
			m.Text += fmt.Sprintf("\nTo discuss, asked by %s on %s.", Mention(it.DecidedBy.Ref()), team.LocalTime(it.DecidedAt))
		}
	default:
		m.Text += fmt.Sprintf("\nDecided: *%s*, by %s on %s.", it.Decision.Title(), Mention(it.DecidedBy.Ref()), team.LocalTime(it.DecidedAt))
		if it.Decision.HasWork() {
			if it.DoneAt.IsZero() {
				m.Text += fmt.Sprintf("\n%s owns it, due %s; reminded daily from then until it is done.", Mention(it.Owner.Ref()), team.LocalTime(it.Due))
				m.Actions = []Action{{ID: ActReviewDone, Label: "Done", Value: fmt.Sprintf("%s %d", rev.ID, it.N), Style: StylePrimary}}
			} else {
				m.Text += fmt.Sprintf("\nDone on %s.", team.LocalTime(it.DoneAt))
			}
		}
	}
	return m
}

// followUpReminder tells a decision's owner that its work is due.
func followUpReminder(rev *AlertReview, it *ReviewItem, team *Team, due, now time.Time) Message {
	return Message{Key: fmt.Sprintf("alert-review-reminder:%s:%d", it.ID(), due.Unix()), User: person(it.Owner),
		Text: fmt.Sprintf("From the alert review %s of %s: %s on %s, decided *%s* on %s, was due %s (%s ago). Press Done when it is.",
			rev.ID, team.Name, UserText(it.Label), UserText(it.ServiceName), it.Decision.Title(), team.LocalTime(it.DecidedAt),
			team.LocalTime(it.Due), Elapsed(now.Sub(it.Due))),
		Actions: []Action{{ID: ActReviewDone, Label: "Done", Value: fmt.Sprintf("%s %d", rev.ID, it.N), Style: StylePrimary}}}
}
