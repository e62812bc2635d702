package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/templates"
	"github.com/opsbot/opsbot/workflows"
)

// Incident defaults, used when the `incidents:` section leaves a field out.
const (
	DefaultChannelPattern   = "{id}-{title}"
	DefaultTimelineReaction = "pushpin"
	DefaultMeetingNagAfter  = 24 * time.Hour
	DefaultMeetingNagEvery  = 24 * time.Hour
	DefaultPostmortemDue    = 5 * 24 * time.Hour
	DefaultDeclareLimit     = 5
	DefaultDeclareWindow    = time.Hour
	DefaultStormLimit       = 5
	DefaultStormWindow      = 10 * time.Minute
	DefaultMaxSnooze        = 7 * 24 * time.Hour
)

// DefaultUpdateEvery is how long an open incident may go without a status
// update, per severity, when incidents.update_every does not say.
var DefaultUpdateEvery = map[workflows.Severity]time.Duration{
	workflows.Sev1: 30 * time.Minute,
	workflows.Sev2: time.Hour,
	workflows.Sev3: 4 * time.Hour,
}

// defaultDays are the business days when business_hours.days is absent.
var defaultDays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}

var (
	// pdServiceID matches PagerDuty service IDs (PABC123).
	pdServiceID = regexp.MustCompile(`^P[A-Z0-9]{6,13}$`)
	// reactionName matches a Slack emoji name as reactions report it.
	reactionName = regexp.MustCompile(`^[a-z0-9_+'-]{1,100}$`)
	// placeholder matches {word} in a channel pattern.
	placeholder = regexp.MustCompile(`\{[^{}]*\}`)
	// clockTime matches HH:MM.
	clockTime = regexp.MustCompile(`^([0-9]{1,2}):([0-9]{2})$`)
	// hex32 is a Notion ID with the dashes taken out.
	hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

var incidentFields = []string{
	"channel_pattern", "timeline_reaction", "update_every", "any_message_resets",
	"meeting_nag_after", "meeting_nag_every", "postmortem_due", "business_hours",
	"notion_database", "checklist_template", "postmortem_template", "services", "default_team",
	"severities",
	"declare_limit", "storm", "max_snooze", "review",
}

// incidentsDecl is what cross-section checks need of `incidents:`.
type incidentsDecl struct {
	services    []serviceDecl
	defaultTeam ref
}

// serviceDecl is one entry of incidents.services.
type serviceDecl struct {
	id   string
	at   place
	team ref
}

// decodeIncidents reads `incidents:`. Every field is optional and takes
// the Default* value above; an absent section leaves Catalog.Incidents nil
// (incidents are off), while `incidents: {}` (or an empty `incidents:`)
// turns them on with the defaults. Template paths are read relative to the
// config file's directory, and each template is parsed and executed
// against sample data here, so a broken one is a config problem.
func decodeIncidents(d *decoder, n *yaml.Node, b *build) {
	if n == nil {
		return
	}
	const p = "incidents"
	m := d.mapping(p, n, incidentFields...)
	pol := &workflows.IncidentPolicy{
		ChannelPattern:   DefaultChannelPattern,
		TimelineReaction: DefaultTimelineReaction,
		UpdateEvery:      decodeUpdateEvery(d, m.at("update_every"), m.get("update_every")),
		AnyMessageResets: m.boolean("any_message_resets", false),
		MeetingNagAfter:  m.duration("meeting_nag_after", DefaultMeetingNagAfter),
		MeetingNagEvery:  m.duration("meeting_nag_every", DefaultMeetingNagEvery),
		PostmortemDue:    m.duration("postmortem_due", DefaultPostmortemDue),
		Services:         map[string]string{},
	}
	pol.DeclareLimit, pol.DeclareWindow = decodeRate(d, m, "declare_limit", DefaultDeclareLimit, DefaultDeclareWindow)
	pol.StormLimit, pol.StormWindow = decodeRate(d, m, "storm", DefaultStormLimit, DefaultStormWindow)
	pol.MaxSnooze = m.duration("max_snooze", DefaultMaxSnooze)
	if cn := m.scalar("channel_pattern"); cn != nil && checkChannelPattern(d, m.at("channel_pattern"), cn) {
		pol.ChannelPattern = cn.Value
	}
	if rn := m.scalar("timeline_reaction"); rn != nil {
		switch name := rn.Value; {
		case strings.HasPrefix(name, ":") || strings.HasSuffix(name, ":"):
			d.problem(m.at("timeline_reaction"), rn, "write the emoji name without colons: %s", strings.Trim(name, ":"))
		case !reactionName.MatchString(name):
			d.problem(m.at("timeline_reaction"), rn, "%q is not an emoji name like pushpin (lowercase letters, digits, '_', '-', '+')", name)
		default:
			pol.TimelineReaction = name
		}
	}
	if m.has("business_hours") {
		pol.BusinessHours = decodeBusinessHours(d, m.at("business_hours"), m.get("business_hours"))
	}
	if m.has("review") {
		pol.Review = decodeReview(d, m.at("review"), m.get("review"))
	}
	if nn := m.scalar("notion_database"); nn != nil {
		pol.NotionDatabase = notionID(d, m.at("notion_database"), nn)
	}
	pol.Checklist = incidentTemplate(d, b, m, "checklist_template", templates.Checklist, templates.CheckChecklist)
	pol.Postmortem = incidentTemplate(d, b, m, "postmortem_template", templates.Postmortem, templates.CheckPostmortem)

	decl := &incidentsDecl{defaultTeam: ref{m.str("default_team"), place{m.at("default_team"), m.line("default_team")}}}
	seen := map[string]place{}
	for i, item := range d.sequence(m.at("services"), m.get("services")) {
		sp := index(m.at("services"), i)
		sm := d.mapping(sp, item, "pagerduty_service", "team", "checklist_template", "postmortem_template")
		sm.require("pagerduty_service", "team")
		s := serviceDecl{
			at:   place{sm.at("pagerduty_service"), sm.line("pagerduty_service")},
			team: ref{sm.str("team"), place{sm.at("team"), sm.line("team")}},
		}
		if sn := sm.scalar("pagerduty_service"); sn != nil {
			if !pdServiceID.MatchString(sn.Value) {
				d.problem(s.at.path, sn, "%q is not a PagerDuty service ID like PABC123 (the last part of the service's URL)", sn.Value)
			} else if first, dup := seen[sn.Value]; dup {
				d.problem(s.at.path, sn, "service %s is listed twice (first at %s, line %d)", sn.Value, strings.TrimSuffix(first.path, ".pagerduty_service"), first.line)
			} else {
				seen[sn.Value] = s.at
				s.id = sn.Value
			}
		}
		if v := incidentVariant(d, b, sm, pol); v != nil && s.id != "" {
			if pol.ByService == nil {
				pol.ByService = map[string]*workflows.IncidentVariant{}
			}
			pol.ByService[s.id] = v
		}
		decl.services = append(decl.services, s)
	}
	if m.has("severities") {
		sevs := d.mapping(m.at("severities"), m.get("severities"), string(workflows.Sev1), string(workflows.Sev2), string(workflows.Sev3))
		for _, sev := range []workflows.Severity{workflows.Sev1, workflows.Sev2, workflows.Sev3} {
			if !sevs.has(string(sev)) {
				continue
			}
			vm := d.mapping(sevs.at(string(sev)), sevs.get(string(sev)), "checklist_template", "postmortem_template", "invite")
			v := incidentVariant(d, b, vm, pol)
			if v == nil {
				v = &workflows.IncidentVariant{}
			}
			v.Invite, _ = people(d, vm, "invite")
			if pol.BySeverity == nil {
				pol.BySeverity = map[workflows.Severity]*workflows.IncidentVariant{}
			}
			pol.BySeverity[sev] = v
		}
	}
	b.incidents = decl
	b.cfg.Catalog.Incidents = pol
}

// incidentVariant reads the checklist and post-mortem templates of one
// severity or service; nil when it names neither.
func incidentVariant(d *decoder, b *build, m *mapping, pol *workflows.IncidentPolicy) *workflows.IncidentVariant {
	if !m.has("checklist_template") && !m.has("postmortem_template") {
		return nil
	}
	return &workflows.IncidentVariant{
		Checklist:  incidentTemplate(d, b, m, "checklist_template", "", templates.CheckChecklist),
		Postmortem: incidentTemplate(d, b, m, "postmortem_template", "", templates.CheckPostmortem),
	}
}

// decodeUpdateEvery reads `update_every: {sev1: 30m, sev2: 1h, sev3: 4h}`;
// a severity left out keeps its default.
func decodeUpdateEvery(d *decoder, p string, n *yaml.Node) map[workflows.Severity]time.Duration {
	m := d.mapping(p, n, string(workflows.Sev1), string(workflows.Sev2), string(workflows.Sev3))
	out := map[workflows.Severity]time.Duration{}
	for _, sev := range []workflows.Severity{workflows.Sev1, workflows.Sev2, workflows.Sev3} {
		out[sev] = m.duration(string(sev), DefaultUpdateEvery[sev])
	}
	return out
}

// checkChannelPattern checks a channel name pattern: only known
// placeholders, {id} present (so every incident gets its own channel),
// and {id} before {title}, since a long title is cut at Slack's 80
// characters and would take the ID with it.
func checkChannelPattern(d *decoder, p string, n *yaml.Node) bool {
	ok := true
	for _, ph := range placeholder.FindAllString(n.Value, -1) {
		switch ph {
		case "{id}", "{title}", "{date}", "{severity}":
		default:
			d.problem(p, n, "unknown placeholder %s: use {id}, {title}, {date} or {severity}", ph)
			ok = false
		}
	}
	id, title := strings.Index(n.Value, "{id}"), strings.Index(n.Value, "{title}")
	switch {
	case id < 0:
		d.problem(p, n, "must contain {id}, so each incident gets a channel of its own")
		ok = false
	case title >= 0 && title < id:
		d.problem(p, n, "put {id} before {title}: long titles are cut to fit Slack's 80 characters and would cut the ID off")
		ok = false
	}
	return ok
}

// decodeBusinessHours reads `{days: [mon, ...], start: "09:00", end:
// "18:00"}`. days defaults to Monday to Friday; start and end are
// required, in the team's time zone, and start must be before end ("24:00"
// is allowed as an end).
func decodeBusinessHours(d *decoder, p string, n *yaml.Node) *workflows.BusinessHours {
	m := d.mapping(p, n, "days", "start", "end")
	m.require("start", "end")
	bh := &workflows.BusinessHours{Days: defaultDays}
	if m.has("days") {
		bh.Days = nil
		seen := map[time.Weekday]bool{}
		items := m.list("days")
		for _, it := range items {
			wd, ok := weekday(it.s)
			switch {
			case !ok:
				d.problem(it.path, it.n, "%q is not a weekday: use mon, tue, wed, thu, fri, sat or sun", it.s)
			case seen[wd]:
				d.problem(it.path, it.n, "%s is listed twice", it.s)
			default:
				seen[wd] = true
				bh.Days = append(bh.Days, wd)
			}
		}
		if len(items) == 0 && m.get("days").Kind == yaml.SequenceNode {
			d.problemAt(m.at("days"), m.line("days"), "is empty: list the working days, or leave business_hours out to nag at any time")
		}
	}
	start, okStart := clockField(d, m, "start", false)
	end, okEnd := clockField(d, m, "end", true)
	if okStart && okEnd && start >= end {
		d.problemAt(m.at("end"), m.line("end"), "%s is not after start (%s)", m.str("end"), m.str("start"))
	}
	bh.Start, bh.End = start, end
	return bh
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// weekday reads "mon" or "monday", in any case.
func weekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(s)
	if len(s) < 3 {
		return 0, false
	}
	wd, ok := weekdays[s[:3]]
	if !ok || (len(s) > 3 && s != strings.ToLower(wd.String())) {
		return 0, false
	}
	return wd, true
}

// clockField reads an "HH:MM" time of day as the time since midnight;
// allow24 accepts "24:00" (the end of the day).
func clockField(d *decoder, m *mapping, key string, allow24 bool) (time.Duration, bool) {
	n := m.scalar(key)
	if n == nil {
		return 0, false
	}
	g := clockTime.FindStringSubmatch(n.Value)
	if g != nil {
		h, mi := atoi2(g[1]), atoi2(g[2])
		if (h < 24 && mi < 60) || (allow24 && h == 24 && mi == 0) {
			return time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute, true
		}
	}
	d.problem(m.at(key), n, "%q is not a time of day like \"09:00\" (24-hour HH:MM, quoted)", n.Value)
	return 0, false
}

func atoi2(s string) int {
	v := 0
	for _, c := range s {
		v = v*10 + int(c-'0')
	}
	return v
}

// notionID reads a Notion database ID, 32 hex digits with or without
// dashes, and returns it without dashes and in lowercase.
func notionID(d *decoder, p string, n *yaml.Node) string {
	id := strings.ToLower(strings.ReplaceAll(n.Value, "-", ""))
	if hex32.MatchString(id) {
		return id
	}
	if strings.Contains(n.Value, "/") {
		d.problem(p, n, "give the database ID, not its URL: the 32 hex characters in the URL before ?v=")
	} else {
		d.problem(p, n, "%q is not a Notion database ID (32 hex characters, dashes allowed)", n.Value)
	}
	return ""
}

// incidentTemplate loads the template file named by key (relative to the
// config file's directory), or returns fallback when none is named, and
// checks it with check. A file that is missing, unreadable or fails the
// check is reported and fallback is returned.
func incidentTemplate(d *decoder, b *build, m *mapping, key, fallback string, check func(name, text string) error) string {
	n := m.scalar(key)
	if n == nil || n.Value == "" {
		return fallback
	}
	path := n.Value
	if !filepath.IsAbs(path) {
		path = filepath.Join(b.dir, path)
	}
	text, err := templates.Load(path, fallback)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.problem(m.at(key), n, "template file %s does not exist (a relative path is read from the config file's directory)", path)
		return fallback
	case err != nil:
		d.problem(m.at(key), n, "%v", err)
		return fallback
	}
	if err := check(n.Value, text); err != nil {
		d.problem(m.at(key), n, "is not a usable template: %v", err)
		return fallback
	}
	return text
}

// decodeRate reads a limit per window, `{count: 5, per: 10m}`; count 0
// turns the limit off. Either field left out keeps its default.
func decodeRate(d *decoder, parent *mapping, key string, defCount int, defPer time.Duration) (int, time.Duration) {
	if !parent.has(key) {
		return defCount, defPer
	}
	m := d.mapping(parent.at(key), parent.get(key), "count", "per")
	count := m.integer("count", defCount)
	if count < 0 {
		d.problemAt(m.at("count"), m.line("count"), "must be 0 (no limit) or more, not %d", count)
		count = defCount
	}
	return count, m.duration("per", defPer)
}
