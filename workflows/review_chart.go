package workflows

import (
	"fmt"
	"time"
)

// reviewChart is the picture shared under a review's header: the
// window's PagerDuty incidents per day (in the team's zone), high
// urgency (paged) stacked under low urgency. Nil when there were none.
func reviewChart(rev *AlertReview, team *Team, incidents []PastIncident) *File {
	loc := team.zone()
	var labels []string
	index := map[time.Time]int{}
	for d := localDay(rev.Window.Start, loc); d.Before(rev.Window.End); d = d.AddDate(0, 0, 1) {
		index[d] = len(labels)
		labels = append(labels, d.Format("2"))
	}
	if len(labels) == 0 || len(labels) > ChartMaxPeriods {
		return nil
	}
	high, low := make([]float64, len(labels)), make([]float64, len(labels))
	n := 0
	for _, p := range incidents {
		if !rev.Window.Contains(p.CreatedAt) {
			continue
		}
		i, ok := index[localDay(p.CreatedAt, loc)]
		if !ok {
			continue
		}
		n++
		if p.Urgency == "low" {
			low[i]++
		} else {
			high[i]++
		}
	}
	if n == 0 {
		return nil
	}
	start, end := rev.Window.Start.In(loc), rev.Window.End.In(loc)
	title := fmt.Sprintf("PagerDuty incidents per day, %s, %s to %s", team.Name, start.Format("2 Jan"), end.Format("2 Jan"))
	return &File{
		Key: "alert-review-chart:" + rev.ID, Channel: rev.Channel, Thread: "alert-review:" + rev.ID,
		Name:    "alert-review-" + rev.ID + ".png",
		Title:   title,
		AltText: fmt.Sprintf("Bar chart of %d PagerDuty incidents per day of the review window, high urgency stacked under low urgency.", n),
		Chart: &Chart{Title: title, YLabel: "incidents", XLabel: "day (" + loc.String() + ")", Labels: labels, Stacked: true,
			Series: []ChartSeries{{Name: "high urgency (paged)", Values: high}, {Name: "low urgency", Values: low}}},
	}
}

// reviewStats adds the team's incident figures over the review's window
// (from opsbot's records, as /incident stats gives them) to the header.
func reviewStats(m *Message, st *Stats) {
	if st.All.Count == 0 {
		m.Fields = append(m.Fields, Field{Label: "Incidents in opsbot", Value: "none in this window"})
		return
	}
	v := fmt.Sprintf("%d · acknowledge median %s, p90 %s · resolve median %s, p90 %s",
		st.All.Count, Short(st.All.AckMedian), Short(st.All.AckP90), Short(st.All.ResolveMedian), Short(st.All.ResolveP90))
	m.Fields = append(m.Fields, Field{Label: "Incidents in opsbot", Value: v})
	if len(st.InStatus) > 0 {
		m.Fields = append(m.Fields, Field{Label: "Time in each status (median / p90)", Value: statusLine(st.InStatus)})
	}
	m.Fields = append(m.Fields, statsFields(st)...)
}
