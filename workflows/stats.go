package workflows

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// StatsDefaultDays is the window of /incident stats when none is given.
const StatsDefaultDays = 30

// StatsMaxDays bounds the window: PagerDuty keeps six months within one
// query, and opsbot's stats follow the same span.
const StatsMaxDays = 180

// statsTopServices is how many services the stats list by name; the rest
// are counted together.
const statsTopServices = 8

// StatsInput is one incident as the stats see it: the incident, when it
// was first acknowledged (zero: never), and its action items.
type StatsInput struct {
	Incident *Incident
	AckedAt  time.Time
	Actions  []*ActionItem
	// InStatus is how long the incident stayed in each status (see
	// StatusTimes).
	InStatus map[string]time.Duration
}

// StatRow is the figures of one severity or one service.
type StatRow struct {
	Name                      string
	Count                     int
	AckMedian, AckP90         time.Duration
	ResolveMedian, ResolveP90 time.Duration
	Acked, Resolved           int
}

// Stats answer "how are we doing" about a team's incidents over a window.
type Stats struct {
	Team   string
	Window Window
	All    StatRow
	// BySeverity lists sev1, sev2, sev3 (those with incidents); ByService
	// the busiest services, then OtherServices counting the rest.
	BySeverity    []StatRow
	ByService     []StatRow
	OtherServices int
	// Post-mortems of the window's resolved incidents: done, overdue (past
	// their due time, not done), and still within their time.
	PostmortemsDone, PostmortemsOverdue, PostmortemsPending int
	// Action items of the window's incidents.
	ActionsOpen, ActionsOverdue, ActionsDone int
	// PerDay counts incidents by day (in the team's zone), oldest first,
	// for the chart.
	PerDay []DayCount
	// InStatus is the time in each status (PagerDuty's, then the
	// response's), over the incidents that left it.
	InStatus []StatusTime
}

// DayCount is the incidents opened on one day, by severity.
type DayCount struct {
	Day        time.Time // local midnight
	Sev1, Rest int
}

// ComputeStats is a pure function of now, the window, the team's zone and
// the incidents: cancelled ones (declared by mistake) are left out.
func ComputeStats(now time.Time, team string, w Window, loc *time.Location, ins []StatsInput) *Stats {
	if loc == nil {
		loc = time.UTC
	}
	st := &Stats{Team: team, Window: w}
	all := &rowAcc{}
	sev := map[Severity]*rowAcc{}
	svc := map[string]*rowAcc{}
	days := map[time.Time]*DayCount{}
	var inStatus []map[string]time.Duration
	for d := localDay(w.Start, loc); d.Before(w.End); d = d.AddDate(0, 0, 1) {
		days[d] = &DayCount{Day: d}
	}
	// A service's name is learnt from PagerDuty's events: an incident
	// that has not had one yet borrows it from another on the service.
	names := map[string]string{}
	for _, in := range ins {
		if in.Incident.PDService != "" && in.Incident.PDServiceName != "" {
			names[in.Incident.PDService] = in.Incident.PDServiceName
		}
	}
	for _, in := range ins {
		inc := in.Incident
		if inc.Cancelled || !w.Contains(inc.CreatedAt) {
			continue
		}
		name := cmp.Or(inc.PDServiceName, inc.PDService, "(no PagerDuty service)")
		if inc.PDServiceName == "" && names[inc.PDService] != "" {
			name = names[inc.PDService]
		}
		for _, acc := range []*rowAcc{all, accFor(sev, inc.Severity), accFor(svc, name)} {
			acc.add(inc, in.AckedAt)
		}
		if len(in.InStatus) > 0 {
			inStatus = append(inStatus, in.InStatus)
		}
		if dc := days[localDay(inc.CreatedAt, loc)]; dc != nil {
			if inc.Severity == Sev1 {
				dc.Sev1++
			} else {
				dc.Rest++
			}
		}
		if !inc.ResolvedAt.IsZero() {
			switch {
			case inc.PostmortemDone:
				st.PostmortemsDone++
			case !inc.PostmortemDue.IsZero() && now.After(inc.PostmortemDue):
				st.PostmortemsOverdue++
			default:
				st.PostmortemsPending++
			}
		}
		for _, a := range in.Actions {
			switch {
			case a.Done():
				st.ActionsDone++
			case !a.Due.IsZero() && now.After(a.Due):
				st.ActionsOverdue++
				st.ActionsOpen++
			default:
				st.ActionsOpen++
			}
		}
	}
	st.All = all.row("All")
	st.InStatus = statusTimes(inStatus)
	for _, s := range []Severity{Sev1, Sev2, Sev3} {
		if acc := sev[s]; acc != nil {
			st.BySeverity = append(st.BySeverity, acc.row(string(s)))
		}
	}
	for name, acc := range svc {
		st.ByService = append(st.ByService, acc.row(name))
	}
	slices.SortFunc(st.ByService, func(a, b StatRow) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name)) })
	if len(st.ByService) > statsTopServices {
		for _, r := range st.ByService[statsTopServices:] {
			st.OtherServices += r.Count
		}
		st.ByService = st.ByService[:statsTopServices]
	}
	for _, d := range days {
		st.PerDay = append(st.PerDay, *d)
	}
	slices.SortFunc(st.PerDay, func(a, b DayCount) int { return a.Day.Compare(b.Day) })
	return st
}

// localDay is the local midnight of t's day in loc.
func localDay(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

type rowAcc struct {
	count          int
	acks, resolves []time.Duration
}

func accFor[K comparable](m map[K]*rowAcc, k K) *rowAcc {
	if m[k] == nil {
		m[k] = &rowAcc{}
	}
	return m[k]
}

func (r *rowAcc) add(inc *Incident, ackedAt time.Time) {
	r.count++
	if !ackedAt.IsZero() {
		r.acks = append(r.acks, max(ackedAt.Sub(inc.CreatedAt), 0))
	}
	if !inc.ResolvedAt.IsZero() {
		r.resolves = append(r.resolves, max(inc.ResolvedAt.Sub(inc.CreatedAt), 0))
	}
}

func (r *rowAcc) row(name string) StatRow {
	return StatRow{Name: name, Count: r.count, Acked: len(r.acks), Resolved: len(r.resolves),
		AckMedian: Percentile(r.acks, 50), AckP90: Percentile(r.acks, 90),
		ResolveMedian: Percentile(r.resolves, 50), ResolveP90: Percentile(r.resolves, 90)}
}

// Short writes a duration the way the stats show it: "45s", "12m",
// "3h 20m", "2d 4h"; "-" for none.
func Short(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd %dh", days, h)
}

// statLine is one row as a line of text.
func statLine(r StatRow) string {
	return fmt.Sprintf("%s: %d · ack %s / %s · resolve %s / %s", r.Name, r.Count,
		Short(r.AckMedian), Short(r.AckP90), Short(r.ResolveMedian), Short(r.ResolveP90))
}

// StatsMessage is the answer to /incident stats.
func StatsMessage(st *Stats, loc *time.Location) Message {
	if loc == nil {
		loc = time.UTC
	}
	days := int(st.Window.End.Sub(st.Window.Start).Round(24*time.Hour) / (24 * time.Hour))
	title := fmt.Sprintf("Incidents of %s, last %d days (%s to %s)", st.Team, days,
		st.Window.Start.In(loc).Format("Mon 2 Jan"), st.Window.End.In(loc).Format("Mon 2 Jan 15:04 MST"))
	if st.All.Count == 0 {
		return Message{Title: title, Text: "No incidents in this window."}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d incidents · time to acknowledge median %s, p90 %s · time to resolve median %s, p90 %s\n",
		st.All.Count, Short(st.All.AckMedian), Short(st.All.AckP90), Short(st.All.ResolveMedian), Short(st.All.ResolveP90))
	if len(st.InStatus) > 0 {
		fmt.Fprintf(&b, "Time in each status (median / p90): %s\n", statusLine(st.InStatus))
	}
	b.WriteString("\n*By severity* (count · ack median / p90 · resolve median / p90)\n")
	for _, r := range st.BySeverity {
		b.WriteString("• " + statLine(r) + "\n")
	}
	b.WriteString("\n*By service*\n")
	for _, r := range st.ByService {
		b.WriteString("• " + statLine(r) + "\n")
	}
	if st.OtherServices > 0 {
		fmt.Fprintf(&b, "• other services: %d\n", st.OtherServices)
	}
	return Message{
		Title:  title,
		Text:   strings.TrimRight(b.String(), "\n"),
		Fields: statsFields(st),
		Note:   "Times are from PagerDuty's acknowledgement and opsbot's resolution; incidents cancelled as declared by mistake are left out.",
	}
}

// ParseDays reads a stats window: "30d", "2w", or a bare number of days,
// between 1 and StatsMaxDays.
func ParseDays(s string) (int, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := 1
	switch {
	case strings.HasSuffix(s, "d"):
		s = strings.TrimSuffix(s, "d")
	case strings.HasSuffix(s, "w"):
		s, mult = strings.TrimSuffix(s, "w"), 7
	}
	n := 0
	if s == "" || len(s) > 4 {
		return 0, false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	n *= mult
	return n, n >= 1 && n <= StatsMaxDays
}

// Stats answers /incident stats for a team (empty: the actor's) over the
// last days days. Members of the team and admins may ask; the figures
// come from opsbot's own records, so it makes no PagerDuty call.
func (s *Incidents) Stats(ctx context.Context, actor Person, teamName string, days int) (*Stats, Message, error) {
	team, err := s.reviewTeam(actor, teamName, "/incident stats [TEAM] [30d]")
	if err != nil {
		return nil, Message{}, err
	}
	if days == 0 {
		days = StatsDefaultDays
	}
	now := s.Clock.Now()
	w := Window{Start: now.AddDate(0, 0, -days), End: now}
	var ins []StatsInput
	err = s.Store.View(ctx, func(tx Tx) (err error) {
		ins, err = statsInputs(tx, team.Name, w.Start)
		return err
	})
	if err != nil {
		return nil, Message{}, fmt.Errorf("read %s's incidents for stats: %w", team.Name, err)
	}
	st := ComputeStats(now, team.Name, w, team.zone(), ins)
	return st, StatsMessage(st, team.zone()), nil
}

// statsInputs reads what the stats need of a team's incidents created
// since since: each incident, its first acknowledgement, its time in
// each status and its action items.
func statsInputs(tx Tx, team string, since time.Time) ([]StatsInput, error) {
	list, err := tx.Incidents(IncidentFilter{Team: team, Since: since})
	if err != nil {
		return nil, err
	}
	var ins []StatsInput
	for _, inc := range list {
		in := StatsInput{Incident: inc}
		tl, err := tx.Timeline(inc.ID)
		if err != nil {
			return nil, err
		}
		for _, e := range tl {
			if e.Action == "incident.acknowledged" {
				in.AckedAt = e.At
				break
			}
		}
		in.InStatus = StatusTimes(inc, tl)
		if in.Actions, err = tx.Actions(inc.ID); err != nil {
			return nil, err
		}
		ins = append(ins, in)
	}
	return ins, nil
}

// statsFields are the stats' figures beyond the counts: time in each
// status, post-mortems, action items.
func statsFields(st *Stats) []Field {
	return []Field{
		{Label: "Post-mortems", Value: fmt.Sprintf("%d done · %d overdue · %d within their time", st.PostmortemsDone, st.PostmortemsOverdue, st.PostmortemsPending)},
		{Label: "Action items", Value: fmt.Sprintf("%d open (%d overdue) · %d done", st.ActionsOpen, st.ActionsOverdue, st.ActionsDone)},
	}
}

// reviewTeam finds the team a review or stats command is about: the one
// named (its members and the admins may ask), or the actor's own.
func (s *Incidents) reviewTeam(actor Person, name, usage string) (*Team, error) {
	if name == "" {
		t, ok := s.Catalog.TeamOf(actor)
		if !ok {
			return nil, Errorf(EInvalid, "You are in no team of opsbot's config: name the team, like `%s`.", usage)
		}
		return t, nil
	}
	t, ok := s.Catalog.teamNamed(name)
	if !ok {
		return nil, Errorf(EInvalid, "There is no team %q.", name)
	}
	if !t.HasMember(actor) && !s.Catalog.IsAdmin(actor) {
		return nil, &Error{Code: EForbidden, Message: fmt.Sprintf("Only members of %s and opsbot's admins may see its incident figures.", t.Name)}
	}
	return t, nil
}
