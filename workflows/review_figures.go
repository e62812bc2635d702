package workflows

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Window is a span of time [Start, End).
type Window struct{ Start, End time.Time }

// Contains reports whether t is within the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// Previous is the window of the same length just before w: what a
// review compares against. A window of whole days in loc (the same local
// clock time at both ends) reaches back as many calendar days, so across
// a daylight-saving change it still starts at that local time, where the
// review before it started.
func (w Window) Previous(loc *time.Location) Window {
	if days := wholeDays(w.Start, w.End, loc); days > 0 {
		return Window{Start: daysBefore(w.Start, days, loc), End: w.Start}
	}
	return Window{Start: w.Start.Add(-w.End.Sub(w.Start)), End: w.Start}
}

// wholeDays is the number of calendar days from a to b in loc when both
// read the same local clock time, else 0.
func wholeDays(a, b time.Time, loc *time.Location) int {
	if loc == nil || !a.Before(b) {
		return 0
	}
	la, lb := a.In(loc), b.In(loc)
	if la.Hour() != lb.Hour() || la.Minute() != lb.Minute() || la.Second() != lb.Second() || la.Nanosecond() != lb.Nanosecond() {
		return 0
	}
	da := time.Date(la.Year(), la.Month(), la.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(lb.Year(), lb.Month(), lb.Day(), 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da) / (24 * time.Hour))
}

// daysBefore is t's local clock time in loc, days calendar days earlier.
func daysBefore(t time.Time, days int, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()-days, l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), loc).In(t.Location())
}

// FlapWithin is how soon after resolving an alert must fire again to count
// as flapping.
const FlapWithin = time.Hour

// DefaultBusinessHours are the hours outside which a page counts as
// "outside business hours" when the incident policy sets none: Monday to
// Friday, 09:00 to 18:00 in the team's zone.
var DefaultBusinessHours = &BusinessHours{
	Days:  []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
	Start: 9 * time.Hour, End: 18 * time.Hour,
}

// Figures are what the review says of a set of alerts.
type Figures struct {
	Alerts    int // alerts raised in the window
	Incidents int // incidents they opened (or joined)
	High, Low int // incidents by urgency: high pages people
	// OutsideHours counts high-urgency incidents opened outside business
	// hours in the team's zone: the pages that woke or interrupted people.
	OutsideHours int
	// AutoResolved counts incidents resolved by their integration (or a
	// timeout) with nobody acknowledging: noise by definition.
	AutoResolved int
	// Flapping counts incidents opened within FlapWithin of the previous
	// one of the same alert resolving.
	Flapping int
	// Acked counts acknowledged incidents; the times below are theirs
	// (resolve: of resolved incidents), nearest rank.
	Acked                      int
	AckMedian, AckP90          time.Duration
	ResolveMedian, ResolveP90  time.Duration
	PrevAlerts, PrevIncidents  int // the same counts in the previous window
	ackTimes, resolveTimes     []time.Duration
	incidentSeen, prevIncident map[string]bool
}

// AlertGroup is one alert of a service: every alert with the same key, or
// (when the tool sets no meaningful key) the same summary once numbers
// and IDs are taken out.
type AlertGroup struct {
	Service     string
	ServiceName string
	// Key identifies the group ("svc-id|key"), for buttons and for
	// remembering what a review covered.
	Key string
	// Label is what people read: the alert key, or the summary with
	// numbers and IDs shown as #.
	Label string
	Figures
}

// Critical reports whether the alert pages people (a high-urgency
// incident in the window).
func (g *AlertGroup) Critical() bool { return g.High > 0 }

// ServiceDigest is one service's part of a review.
type ServiceDigest struct {
	Service string
	Name    string
	Figures
	Groups []*AlertGroup // noisiest first
}

// Digest is what a review covers: the window's alerts grouped by service
// and alert, with the previous window for comparison.
type Digest struct {
	Window, Previous Window
	Figures
	Services []*ServiceDigest // most pages first, then noisiest
}

// Groups returns every alert group of every service, noisiest first.
func (d *Digest) Groups() []*AlertGroup {
	var out []*AlertGroup
	for _, s := range d.Services {
		out = append(out, s.Groups...)
	}
	sortGroups(out)
	return out
}

// Summarize groups the incidents of w and of the window before it by
// service and alert and computes each figure. It is a pure function:
// hours (nil: DefaultBusinessHours) and loc (the team's zone) decide what
// "outside business hours" means.
func Summarize(w Window, incidents []PastIncident, hours *BusinessHours, loc *time.Location) *Digest {
	if hours == nil {
		hours = DefaultBusinessHours
	}
	if loc == nil {
		loc = time.UTC
	}
	prev := w.Previous(loc)
	d := &Digest{Window: w, Previous: prev}
	services := map[string]*ServiceDigest{}
	groups := map[string]*AlertGroup{}
	// byGroup holds every incident of a group, both windows, for flapping.
	byGroup := map[string][]PastIncident{}

	sorted := slices.Clone(incidents)
	slices.SortStableFunc(sorted, func(a, b PastIncident) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for _, in := range sorted {
		current, before := w.Contains(in.CreatedAt), prev.Contains(in.CreatedAt)
		if !current && !before {
			continue
		}
		sd := services[in.Service]
		if sd == nil {
			sd = &ServiceDigest{Service: in.Service, Name: cmp.Or(in.ServiceName, in.Service)}
			services[in.Service] = sd
		}
		if in.ServiceName != "" {
			sd.Name = in.ServiceName
		}
		alerts := in.Alerts
		if len(alerts) == 0 {
			// An incident opened by hand or through the API has no alert:
			// it stands for itself, under its title.
			alerts = []PastAlert{{ID: in.ID, Summary: in.Title, CreatedAt: in.CreatedAt}}
		}
		for _, a := range alerts {
			key, label := alertIdentity(a)
			gk := in.Service + "|" + key
			g := groups[gk]
			if g == nil {
				g = &AlertGroup{Service: in.Service, Key: gk, Label: label}
				groups[gk] = g
				sd.Groups = append(sd.Groups, g)
			}
			g.ServiceName = sd.Name
			if current {
				g.Alerts++
				sd.Alerts++
				d.Alerts++
			} else {
				g.PrevAlerts++
				sd.PrevAlerts++
				d.PrevAlerts++
			}
			if !slices.ContainsFunc(byGroup[gk], func(p PastIncident) bool { return p.ID == in.ID }) {
				byGroup[gk] = append(byGroup[gk], in)
			}
			g.addIncident(in, current, hours, loc)
		}
		sd.addIncident(in, current, hours, loc)
		d.addIncident(in, current, hours, loc)
	}
	// Flapping: an incident of the window opened soon after the previous
	// one of the same alert resolved.
	for gk, ins := range byGroup {
		g := groups[gk]
		for i := 1; i < len(ins); i++ {
			p, in := ins[i-1], ins[i]
			if !w.Contains(in.CreatedAt) || p.ResolvedAt.IsZero() {
				continue
			}
			if gap := in.CreatedAt.Sub(p.ResolvedAt); gap >= 0 && gap <= FlapWithin {
				g.Flapping++
				services[g.Service].flap(in.ID)
				d.flap(in.ID)
			}
		}
	}
	for _, sd := range services {
		for _, g := range sd.Groups {
			g.finish()
		}
		sortGroups(sd.Groups)
		sd.finish()
		d.Services = append(d.Services, sd)
	}
	slices.SortFunc(d.Services, func(a, b *ServiceDigest) int {
		return cmp.Or(cmp.Compare(b.High, a.High), cmp.Compare(b.Alerts, a.Alerts), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Service, b.Service))
	})
	d.finish()
	return d
}

func sortGroups(gs []*AlertGroup) {
	slices.SortStableFunc(gs, func(a, b *AlertGroup) int {
		return cmp.Or(cmp.Compare(b.High, a.High), cmp.Compare(b.Alerts, a.Alerts), cmp.Compare(a.Label, b.Label), cmp.Compare(a.Key, b.Key))
	})
}

// addIncident counts an incident once per set of figures.
func (f *Figures) addIncident(in PastIncident, current bool, hours *BusinessHours, loc *time.Location) {
	if !current {
		if f.prevIncident == nil {
			f.prevIncident = map[string]bool{}
		}
		if !f.prevIncident[in.ID] {
			f.prevIncident[in.ID] = true
			f.PrevIncidents++
		}
		return
	}
	if f.incidentSeen == nil {
		f.incidentSeen = map[string]bool{}
	}
	if f.incidentSeen[in.ID] {
		return
	}
	f.incidentSeen[in.ID] = true
	f.Incidents++
	if in.Urgency == "low" {
		f.Low++
	} else {
		f.High++
		if !hours.Contains(in.CreatedAt, loc) {
			f.OutsideHours++
		}
	}
	if in.AutoResolved() {
		f.AutoResolved++
	}
	if !in.AckedAt.IsZero() {
		f.Acked++
		f.ackTimes = append(f.ackTimes, max(in.AckedAt.Sub(in.CreatedAt), 0))
	}
	if !in.ResolvedAt.IsZero() {
		f.resolveTimes = append(f.resolveTimes, max(in.ResolvedAt.Sub(in.CreatedAt), 0))
	}
}

// flap counts a flapping incident once for a service or the whole digest
// (one incident may flap in several of its alerts' groups).
func (f *Figures) flap(id string) {
	key := "flap:" + id
	if f.incidentSeen[key] {
		return
	}
	f.incidentSeen[key] = true
	f.Flapping++
}

func (f *Figures) finish() {
	f.AckMedian, f.AckP90 = Percentile(f.ackTimes, 50), Percentile(f.ackTimes, 90)
	f.ResolveMedian, f.ResolveP90 = Percentile(f.resolveTimes, 50), Percentile(f.resolveTimes, 90)
}

// Percentile is the nearest-rank p-th percentile of ds (0 when empty): the
// smallest value at least p% of the values are at or below.
func Percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100 // ceil(p/100 × n)
	return s[min(max(rank, 1), len(s))-1]
}

// alertIdentity is the group key and label of an alert: its alert key
// when the monitoring tool set a meaningful one, else its summary with
// numbers and IDs normalized away.
func alertIdentity(a PastAlert) (key, label string) {
	if k := strings.TrimSpace(a.Key); k != "" && !generatedKey.MatchString(k) {
		return "key:" + k, k
	}
	s := NormalizeAlert(a.Summary)
	return "summary:" + strings.ToLower(s), s
}

// generatedKey matches the keys PagerDuty makes up when the sender gives
// none (32 hex digits, or a UUID): they differ for every alert and say
// nothing about which alert it is.
var generatedKey = regexp.MustCompile(`^(?i)([0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)

var (
	uuidRe   = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	hexIDRe  = regexp.MustCompile(`(?i)\b[0-9a-f]*[0-9][0-9a-f]*[a-f][0-9a-f]*\b|\b[0-9a-f]*[a-f][0-9a-f]*[0-9][0-9a-f]*\b`)
	numberRe = regexp.MustCompile(`[0-9]+([.,:][0-9]+)*`)
	hashRun  = regexp.MustCompile(`#([.:/-]#)+`)
	spaces   = regexp.MustCompile(`\s+`)
)

// NormalizeAlert takes numbers and IDs out of an alert summary so that
// "CPU 93% on web-12 (i-0abc12ef)" and "CPU 97% on web-3 (i-09f1c2d4)"
// are one alert: "CPU #% on web-# (i-#)".
func NormalizeAlert(s string) string {
	s = uuidRe.ReplaceAllString(s, "#")
	s = hexIDRe.ReplaceAllStringFunc(s, func(m string) string {
		if len(m) < 6 {
			return m // short words such as "dead", "cafe1" stay
		}
		return "#"
	})
	s = numberRe.ReplaceAllString(s, "#")
	s = hashRun.ReplaceAllString(s, "#")
	s = spaces.ReplaceAllString(strings.TrimSpace(s), " ")
	if s == "" {
		return "(no summary)"
	}
	return s
}
