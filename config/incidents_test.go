package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/templates"
	"github.com/opsbot/opsbot/workflows"
)

// incBase is a small valid config with incidents on. Line numbers in the
// expectations below refer to these lines.
const incBase = `policies:
  - name: standard
teams:
  - name: platform
    approvals_channel: C0APPROVALS
    approvers: [lead@example.com]
    monthly_budget_usd: 2000
    policy: standard
    announce_channel: "#incidents"
    incident_members: [U01SRE0001, sre@example.com]
    pagerduty_service: PPLAT01
  - name: mobile
    approvals_channel: C0MOBILE
    approvers: [U01AAAA]
    monthly_budget_usd: 500
    policy: standard
incidents:
  channel_pattern: "inc-{date}-{id}-{title}"
  timeline_reaction: round_pushpin
  update_every: {sev1: 15m, sev3: 8h}
  any_message_resets: true
  meeting_nag_after: 12h
  postmortem_due: 3d
  business_hours: {days: [mon, tue, Wednesday, thu, fri], start: "08:30", end: "17:00"}
  notion_database: 01234567-89AB-cdef-0123-456789abcdef
  services:
    - {pagerduty_service: PMOB001, team: mobile}
    - {pagerduty_service: PSHARED, team: platform}
  default_team: mobile
`

func TestParseIncidents_Values(t *testing.T) {
	cfg, err := Parse([]byte(incBase), "opsbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol := cfg.Catalog.Incidents
	if pol == nil {
		t.Fatal("Incidents is nil")
	}
	if pol.ChannelPattern != "inc-{date}-{id}-{title}" || pol.TimelineReaction != "round_pushpin" || !pol.AnyMessageResets {
		t.Errorf("pattern/reaction/resets = %q %q %v", pol.ChannelPattern, pol.TimelineReaction, pol.AnyMessageResets)
	}
	wantEvery := map[workflows.Severity]time.Duration{workflows.Sev1: 15 * time.Minute, workflows.Sev2: time.Hour, workflows.Sev3: 8 * time.Hour}
	if !reflect.DeepEqual(pol.UpdateEvery, wantEvery) {
		t.Errorf("UpdateEvery = %v", pol.UpdateEvery)
	}
	if pol.MeetingNagAfter != 12*time.Hour || pol.MeetingNagEvery != DefaultMeetingNagEvery || pol.PostmortemDue != 3*24*time.Hour {
		t.Errorf("nags = %v %v %v", pol.MeetingNagAfter, pol.MeetingNagEvery, pol.PostmortemDue)
	}
	wantBH := &workflows.BusinessHours{
		Days:  []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
		Start: 8*time.Hour + 30*time.Minute, End: 17 * time.Hour,
	}
	if !reflect.DeepEqual(pol.BusinessHours, wantBH) {
		t.Errorf("BusinessHours = %+v", pol.BusinessHours)
	}
	if pol.NotionDatabase != "0123456789abcdef0123456789abcdef" {
		t.Errorf("NotionDatabase = %q", pol.NotionDatabase)
	}
	if pol.Checklist != templates.Checklist || pol.Postmortem != templates.Postmortem {
		t.Error("templates should default to the embedded ones")
	}
	wantSvc := map[string]string{"PMOB001": "mobile", "PSHARED": "platform", "PPLAT01": "platform"}
	if !reflect.DeepEqual(pol.Services, wantSvc) || pol.DefaultTeam != "mobile" {
		t.Errorf("Services = %v, DefaultTeam = %q", pol.Services, pol.DefaultTeam)
	}
	for svc, want := range map[string]string{"PMOB001": "mobile", "PPLAT01": "platform", "PUNKNOWN": "mobile"} {
		if team, ok := cfg.Catalog.TeamForService(svc); !ok || team.Name != want {
			t.Errorf("TeamForService(%s) = %v", svc, team)
		}
	}
	platform, _ := cfg.Catalog.Team("platform")
	if platform.AnnounceChannel != "#incidents" || platform.PagerDutyService != "PPLAT01" ||
		!reflect.DeepEqual(platform.IncidentMembers, []string{"U01SRE0001", "sre@example.com"}) {
		t.Errorf("platform = %+v", platform)
	}
}

func TestParseIncidents_AbsentIsOff(t *testing.T) {
	doc := incBase[:strings.Index(incBase, "incidents:\n")]
	cfg, err := Parse([]byte(doc), "opsbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Catalog.Incidents != nil {
		t.Errorf("Incidents = %+v, want nil", cfg.Catalog.Incidents)
	}
	if team, _ := cfg.Catalog.Team("platform"); team.PagerDutyService != "PPLAT01" {
		t.Errorf("team fields are read even with incidents off: %+v", team)
	}
}

func TestParseIncidents_EmptySectionTakesDefaults(t *testing.T) {
	head := incBase[:strings.Index(incBase, "incidents:\n")]
	for _, section := range []string{"incidents: {}\n", "incidents:\n"} {
		cfg, err := Parse([]byte(head+section), "opsbot.yaml")
		if err != nil {
			t.Fatalf("%q: %v", section, err)
		}
		pol := cfg.Catalog.Incidents
		if pol == nil {
			t.Fatalf("%q: Incidents is nil", section)
		}
		want := &workflows.IncidentPolicy{
			ChannelPattern:   "{id}-{title}",
			TimelineReaction: "pushpin",
			UpdateEvery:      map[workflows.Severity]time.Duration{workflows.Sev1: 30 * time.Minute, workflows.Sev2: time.Hour, workflows.Sev3: 4 * time.Hour},
			MeetingNagAfter:  24 * time.Hour,
			MeetingNagEvery:  24 * time.Hour,
			PostmortemDue:    5 * 24 * time.Hour,
			Checklist:        templates.Checklist,
			Postmortem:       templates.Postmortem,
			Services:         map[string]string{"PPLAT01": "platform"},
			DefaultTeam:      "platform",
			DeclareLimit:     DefaultDeclareLimit,
			DeclareWindow:    DefaultDeclareWindow,
			StormLimit:       DefaultStormLimit,
			StormWindow:      DefaultStormWindow,
			MaxSnooze:        DefaultMaxSnooze,
		}
		if !reflect.DeepEqual(pol, want) {
			t.Errorf("%q:\n got %+v\nwant %+v", section, pol, want)
		}
	}
}

func TestParseIncidents_Problems(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		want  []want
	}{
		{"team fields",
			[]edit{{`"#incidents"`, "incidents"}, {"U01SRE0001, ", "bob, "}, {"PPLAT01", "platform"}},
			[]want{
				{"teams[0].announce_channel", 9, `"incidents" is neither a channel ID (C0123ABCD) nor a channel name (#incidents)`},
				{"teams[0].incident_members[0]", 10, `"bob" is neither a Slack user ID`},
				{"teams[0].pagerduty_service", 11, `"platform" is not a PagerDuty service ID like PABC123`},
			}},
		{"channel pattern without id",
			[]edit{{`"inc-{date}-{id}-{title}"`, `"{date}-{title}"`}},
			[]want{{"incidents.channel_pattern", 18, "must contain {id}"}}},
		{"channel pattern with title first and an unknown placeholder",
			[]edit{{`"inc-{date}-{id}-{title}"`, `"{title}-{id}-{team}"`}},
			[]want{
				{"incidents.channel_pattern", 18, "unknown placeholder {team}: use {id}, {title}, {date} or {severity}"},
				{"incidents.channel_pattern", 18, "put {id} before {title}"},
			}},
		{"reaction with colons",
			[]edit{{"timeline_reaction: round_pushpin", `timeline_reaction: ":pushpin:"`}},
			[]want{{"incidents.timeline_reaction", 19, "write the emoji name without colons: pushpin"}}},
		{"reaction name",
			[]edit{{"timeline_reaction: round_pushpin", "timeline_reaction: Push Pin"}},
			[]want{{"incidents.timeline_reaction", 19, `"Push Pin" is not an emoji name`}}},
		{"update_every values and keys",
			[]edit{{"{sev1: 15m, sev3: 8h}", "{sev1: 0m, sev3: soon, sev4: 1h}"}},
			[]want{
				{"incidents.update_every.sev4", 20, "unknown field"},
				{"incidents.update_every.sev1", 20, `"0m" is not a positive duration`},
				{"incidents.update_every.sev3", 20, `"soon" is not a duration`},
			}},
		{"bool and durations",
			[]edit{{"any_message_resets: true", "any_message_resets: yes"}, {"meeting_nag_after: 12h", "meeting_nag_after: -1h"}, {"postmortem_due: 3d", "postmortem_due: 0d"}},
			[]want{
				{"incidents.any_message_resets", 21, `must be true or false, not "yes"`},
				{"incidents.meeting_nag_after", 22, `"-1h" is not a positive duration`},
				{"incidents.postmortem_due", 23, `"0d" is not a positive duration`},
			}},
		{"business hours",
			[]edit{{`{days: [mon, tue, Wednesday, thu, fri], start: "08:30", end: "17:00"}`, `{days: [mon, tues, mon], start: "18:00", end: "9:00"}`}},
			[]want{
				{"incidents.business_hours.days[1]", 24, `"tues" is not a weekday`},
				{"incidents.business_hours.days[2]", 24, "mon is listed twice"},
				{"incidents.business_hours.end", 24, "9:00 is not after start (18:00)"},
			}},
		{"business hours times and required fields",
			[]edit{{`{days: [mon, tue, Wednesday, thu, fri], start: "08:30", end: "17:00"}`, `{days: [], start: "25:00"}`}},
			[]want{
				{"incidents.business_hours.end", 24, "is required"},
				{"incidents.business_hours.days", 24, "is empty"},
				{"incidents.business_hours.start", 24, `"25:00" is not a time of day like "09:00"`},
			}},
		{"business hours may end at 24:00",
			[]edit{{`end: "17:00"`, `end: "24:00"`}},
			nil},
		{"notion database",
			[]edit{{"01234567-89AB-cdef-0123-456789abcdef", "https://www.notion.so/acme/0123456789abcdef0123456789abcdef?v=1"}},
			[]want{{"incidents.notion_database", 25, "give the database ID, not its URL"}}},
		{"notion database too short",
			[]edit{{"01234567-89AB-cdef-0123-456789abcdef", "0123abcd"}},
			[]want{{"incidents.notion_database", 25, `"0123abcd" is not a Notion database ID`}}},
		{"services: unknown team, bad and duplicate IDs, missing team",
			[]edit{
				{"{pagerduty_service: PMOB001, team: mobile}", "{pagerduty_service: PMOB001, team: Mobile}"},
				{"{pagerduty_service: PSHARED, team: platform}", "{pagerduty_service: PMOB001, team: platform}\n    - {pagerduty_service: pd-1, team: platform}\n    - {pagerduty_service: PXYZ123}"},
			},
			[]want{
				{"incidents.services[0].team", 27, `unknown team "Mobile" (did you mean mobile?)`},
				{"incidents.services[1].pagerduty_service", 28, "service PMOB001 is listed twice (first at incidents.services[0], line 27)"},
				{"incidents.services[2].pagerduty_service", 29, `"pd-1" is not a PagerDuty service ID`},
				{"incidents.services[3].team", 30, "is required"},
			}},
		{"unknown default team",
			[]edit{{"default_team: mobile", "default_team: web"}},
			[]want{{"incidents.default_team", 29, `unknown team "web" (declared: platform, mobile)`}}},
		{"team service mapped to another team",
			[]edit{{"{pagerduty_service: PSHARED, team: platform}", "{pagerduty_service: PPLAT01, team: mobile}"}},
			[]want{{"teams[0].pagerduty_service", 11, `service PPLAT01 is mapped to team "mobile" at incidents.services[1].pagerduty_service (line 28)`}}},
		{"service claimed by two teams",
			[]edit{{"    approvers: [U01AAAA]\n", "    approvers: [U01AAAA]\n    pagerduty_service: PPLAT01\n"}},
			[]want{{"teams[1].pagerduty_service", 15, `service PPLAT01 is also the pagerduty_service of team "platform" (line 11)`}}},
		{"service claimed by two teams, settled under services",
			[]edit{
				{"    approvers: [U01AAAA]\n", "    approvers: [U01AAAA]\n    pagerduty_service: PPLAT01\n"},
				{"PSHARED, team: platform", "PPLAT01, team: platform"},
			},
			[]want{{"teams[1].pagerduty_service", 15, `service PPLAT01 is mapped to team "platform"`}}},
		{"unknown field",
			[]edit{{"default_team: mobile", "default_teem: mobile"}},
			[]want{{"incidents.default_teem", 29, "unknown field (did you mean default_team?)"}}},
		{"section of the wrong kind",
			[]edit{{"incidents:\n", "incidents: on\nx:\n"}},
			[]want{
				{"incidents", 17, `must be a mapping of fields (name: value), not "on"`},
				{"x", 18, "unknown field"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := applyEdits(t, incBase, tt.edits)
			_, err := Parse([]byte(doc), "opsbot.yaml")
			expectProblems(t, err, tt.want)
		})
	}
}

func TestParseIncidents_TemplateFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("checklist.md", "# {{.ID}} checklist\n- [ ] acknowledge {{.PDURL}}\n")
	if err := os.Mkdir(filepath.Join(dir, "pm"), 0o700); err != nil {
		t.Fatal(err)
	}
	write("pm/good.md", "# {{.ID}}\n{{range .Timeline}}- {{.At}} {{.Text}}\n{{end}}")
	write("pm/bad-field.md", "# {{.ID}}\n\n{{.Commandr}}\n")
	write("pm/bad-syntax.md", "# {{.ID}\n")
	write("pm/empty-only.md", "# {{(index .Services 0)}}\n")

	cfgWith := func(check, pm string) string {
		path := filepath.Join(dir, "opsbot.yaml")
		doc := strings.Replace(incBase, "  default_team: mobile\n",
			"  default_team: mobile\n  checklist_template: "+check+"\n  postmortem_template: "+pm+"\n", 1)
		write("opsbot.yaml", doc)
		return path
	}

	cfg, err := Load(cfgWith("checklist.md", filepath.Join(dir, "pm", "good.md")))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Catalog.Incidents.Checklist != "# {{.ID}} checklist\n- [ ] acknowledge {{.PDURL}}\n" ||
		!strings.HasPrefix(cfg.Catalog.Incidents.Postmortem, "# {{.ID}}\n{{range") {
		t.Errorf("templates = %q / %q", cfg.Catalog.Incidents.Checklist, cfg.Catalog.Incidents.Postmortem)
	}

	tests := []struct {
		check, pm string
		want      []want
	}{
		{"missing.md", "pm/good.md", []want{{"incidents.checklist_template", 30,
			"template file " + filepath.Join(dir, "missing.md") + " does not exist (a relative path is read from the config file's directory)"}}},
		{"checklist.md", "pm/bad-field.md", []want{{"incidents.postmortem_template", 31,
			`is not a usable template: template: pm/bad-field.md:3:2: executing "pm/bad-field.md" at <.Commandr>: can't evaluate field Commandr`}}},
		{"checklist.md", "pm/bad-syntax.md", []want{{"incidents.postmortem_template", 31, "template: pm/bad-syntax.md:1: bad character"}}},
		{"checklist.md", "pm/empty-only.md", []want{{"incidents.postmortem_template", 31, "index out of range"}}},
		{"pm/good.md", "checklist.md", []want{{"incidents.checklist_template", 30, "can't evaluate field Timeline in type templates.ChecklistData"}}},
		{"pm", "checklist.md", []want{{"incidents.checklist_template", 30, "is a directory"}}},
	}
	for _, tt := range tests {
		t.Run(tt.check+"+"+tt.pm, func(t *testing.T) {
			_, err := Load(cfgWith(tt.check, tt.pm))
			expectProblems(t, err, tt.want)
		})
	}
}

// applyEdits replaces each edit's old text (which must occur exactly once)
// with its new text.
func applyEdits(t *testing.T, doc string, edits []edit) string {
	t.Helper()
	for _, e := range edits {
		if strings.Count(doc, e.old) != 1 {
			t.Fatalf("edit %q: found %d times", e.old, strings.Count(doc, e.old))
		}
		doc = strings.Replace(doc, e.old, e.new, 1)
	}
	return doc
}

// expectProblems checks that err holds exactly the wanted problems, in
// order (nil wants no error).
func expectProblems(t *testing.T, err error, wants []want) {
	t.Helper()
	var got Problems
	if err != nil && !errors.As(err, &got) {
		t.Fatalf("error is %T, not Problems: %v", err, err)
	}
	if len(got) != len(wants) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(wants), strings.Join(got.Lines(), "\n"))
	}
	for i, w := range wants {
		g := got[i]
		if g.Path != w.path || g.Line != w.line || !strings.Contains(g.Message, w.msg) {
			t.Errorf("problem %d = %s\nwant %s (line %d): …%s…", i, g, w.path, w.line, w.msg)
		}
	}
}
