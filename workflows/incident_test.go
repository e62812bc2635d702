package workflows

import (
	"context"
	"strings"
	"testing"
	"time"
)

func nagPolicy() *IncidentPolicy {
	return &IncidentPolicy{
		UpdateEvery:     map[Severity]time.Duration{Sev1: 30 * time.Minute, Sev2: time.Hour, Sev3: 4 * time.Hour},
		MeetingNagAfter: 24 * time.Hour, MeetingNagEvery: 24 * time.Hour,
		BusinessHours: &BusinessHours{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
			Start: 9 * time.Hour, End: 18 * time.Hour},
	}
}

// monday is 10:00 UTC on a Monday.
var monday = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func kinds(ds []NagDue) string {
	var out []string
	for _, d := range ds {
		out = append(out, string(d.Kind))
	}
	return strings.Join(out, ",")
}

func TestDueNags_UpdateNagAtFixedInstants(t *testing.T) {
	inc := &Incident{ID: "inc-1", Severity: Sev2, Status: StatusInvestigating, CreatedAt: monday, LastUpdateAt: monday}
	p := nagPolicy()
	tests := []struct {
		name string
		at   time.Duration
		sent NagsSent
		want time.Duration // due time after monday; -1: nothing due
	}{
		{"just opened", 0, nil, -1},
		{"a minute early", 59 * time.Minute, nil, -1},
		{"due at 60 minutes", time.Hour, nil, time.Hour},
		{"still the same nag a bit later", 70 * time.Minute, nil, time.Hour},
		{"sent: nothing until a period after", 119 * time.Minute, NagsSent{NagUpdate: monday.Add(time.Hour)}, -1},
		{"the next a period after the last sent", 2 * time.Hour, NagsSent{NagUpdate: monday.Add(time.Hour)}, 2 * time.Hour},
		{"sent late: counted from the last one's due time", 150 * time.Minute, NagsSent{NagUpdate: monday.Add(time.Hour)}, 2 * time.Hour},
		{"clock jumped 5 hours: one catch-up, stamped with the latest due time", 6*time.Hour + 10*time.Minute, NagsSent{NagUpdate: monday.Add(time.Hour)}, 6 * time.Hour},
		{"after business hours", 9 * time.Hour, nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DueNags(monday.Add(tt.at), inc, p, time.UTC, tt.sent)
			if tt.want < 0 {
				if len(got) != 0 {
					t.Fatalf("got %+v, want nothing", got)
				}
				return
			}
			if len(got) != 1 || got[0].Kind != NagUpdate || !got[0].Due.Equal(monday.Add(tt.want)) || got[0].Since != tt.at {
				t.Fatalf("got %+v, want an update nag due %s, %s since the update", got, monday.Add(tt.want), tt.at)
			}
		})
	}
	updated := *inc
	updated.LastUpdateAt = monday.Add(100 * time.Minute)
	sent := NagsSent{NagUpdate: monday.Add(time.Hour)}
	if got := DueNags(monday.Add(2*time.Hour), &updated, p, time.UTC, sent); len(got) != 0 {
		t.Errorf("nag after an update 20 minutes ago: %v", got)
	}
	if got := DueNags(monday.Add(160*time.Minute), &updated, p, time.UTC, sent); len(got) != 1 || !got[0].Due.Equal(monday.Add(160*time.Minute)) {
		t.Errorf("after the update the nag restarts from the update: %v", got)
	}
}

// The old key held the period, so a severity change at 390 minutes made a
// new key and a second "390 minutes" nag in the same minute.
func TestDueNags_SeverityChangeDoesNotRepeatANag(t *testing.T) {
	inc := &Incident{ID: "inc-1", Severity: Sev1, Status: StatusInvestigating, CreatedAt: monday, LastUpdateAt: monday}
	p := nagPolicy()
	at := monday.Add(390 * time.Minute)
	first := DueNags(at, inc, p, time.UTC, nil)
	if len(first) != 1 {
		t.Fatalf("no nag at 390 minutes: %v", first)
	}
	sent := NagsSent{NagUpdate: first[0].Due}
	for _, sev := range []Severity{Sev2, Sev3, Sev1} {
		inc.Severity = sev
		if got := DueNags(at.Add(30*time.Second), inc, p, time.UTC, sent); len(got) != 0 {
			t.Errorf("as %s half a minute later: %v", sev, got)
		}
	}
	inc.Severity = Sev2
	if got := DueNags(at.Add(59*time.Minute), inc, p, time.UTC, sent); len(got) != 0 {
		t.Errorf("as sev2, before an hour since the last: %v", got)
	}
	if got := DueNags(at.Add(time.Hour), inc, p, time.UTC, sent); len(got) != 1 {
		t.Errorf("as sev2, an hour after the last: %v", got)
	}
}

// An incident opened from a PagerDuty event processed 15 minutes late is
// counted from its start: "30 minutes" means 30 minutes.
func TestDueNags_CountsFromTheStartNotFromProcessing(t *testing.T) {
	inc := &Incident{ID: "inc-1", Severity: Sev1, Status: StatusInvestigating, CreatedAt: monday, LastUpdateAt: monday.Add(-time.Hour)}
	got := DueNags(monday.Add(30*time.Minute), inc, nagPolicy(), time.UTC, nil)
	if len(got) != 1 || got[0].Since != 30*time.Minute {
		t.Fatalf("got %+v, want one nag 30 minutes since the start", got)
	}
}

func TestDueNags_Sev1IgnoresBusinessHours(t *testing.T) {
	saturday := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	inc := &Incident{ID: "inc-1", Severity: Sev1, Status: StatusInvestigating, CreatedAt: saturday, LastUpdateAt: saturday}
	if got := kinds(DueNags(saturday.Add(30*time.Minute), inc, nagPolicy(), time.UTC, nil)); got != "update" {
		t.Errorf("sev1 at night: %q", got)
	}
	inc.Severity = Sev2
	if got := kinds(DueNags(saturday.Add(2*time.Hour), inc, nagPolicy(), time.UTC, nil)); got != "" {
		t.Errorf("sev2 on a Saturday night: %q", got)
	}
}

func TestDueNags_BusinessHoursUseTheTeamZone(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	inc := &Incident{ID: "inc-1", Severity: Sev3, Status: StatusInvestigating, CreatedAt: monday.Add(-10 * time.Hour), LastUpdateAt: monday.Add(-10 * time.Hour)}
	// 10:00 UTC Monday is 19:00 in Tokyo: after hours there.
	if got := DueNags(monday, inc, nagPolicy(), tokyo, nil); len(got) != 0 {
		t.Errorf("nagged after Tokyo business hours: %v", got)
	}
	if got := DueNags(monday, inc, nagPolicy(), time.UTC, nil); len(got) != 1 {
		t.Errorf("not nagged in UTC business hours: %v", got)
	}
}

func TestDueNags_MeetingAndPostmortemAfterResolution(t *testing.T) {
	resolved := monday
	inc := &Incident{ID: "inc-1", Severity: Sev2, Status: StatusResolved, CreatedAt: monday.Add(-2 * time.Hour), ResolvedAt: resolved,
		PostmortemDue: resolved.Add(5 * 24 * time.Hour)}
	p := nagPolicy()
	if got := kinds(DueNags(resolved.Add(23*time.Hour), inc, p, time.UTC, nil)); got != "" {
		t.Errorf("before a day: %q", got)
	}
	if got := kinds(DueNags(resolved.Add(24*time.Hour), inc, p, time.UTC, nil)); got != "meeting" {
		t.Errorf("a day after: %q", got)
	}
	d1 := DueNags(resolved.Add(24*time.Hour), inc, p, time.UTC, nil)[0].Due
	sent := NagsSent{NagMeeting: d1}
	if got := DueNags(resolved.Add(47*time.Hour), inc, p, time.UTC, sent); len(got) != 0 {
		t.Errorf("meeting nag twice within the day: %v", got)
	}
	if got := DueNags(resolved.Add(48*time.Hour), inc, p, time.UTC, sent); len(got) != 1 || got[0].Due.Equal(d1) {
		t.Errorf("the meeting nag does not repeat daily: %v", got)
	}
	met := *inc
	met.MeetingAt = resolved.Add(72 * time.Hour)
	if got := kinds(DueNags(resolved.Add(48*time.Hour), &met, p, time.UTC, nil)); got != "" {
		t.Errorf("meeting recorded: %q", got)
	}
	// Monday + 5 days is Saturday: the post-mortem nag waits for Monday.
	if got := kinds(DueNags(resolved.Add(5*24*time.Hour), &met, p, time.UTC, nil)); got != "" {
		t.Errorf("post-mortem nag on a Saturday: %q", got)
	}
	if got := kinds(DueNags(resolved.Add(7*24*time.Hour), &met, p, time.UTC, nil)); got != "postmortem" {
		t.Errorf("post-mortem overdue on Monday: %q", got)
	}
	done := met
	done.PostmortemDone = true
	if got := kinds(DueNags(resolved.Add(7*24*time.Hour), &done, p, time.UTC, nil)); got != "" {
		t.Errorf("post-mortem done: %q", got)
	}
	// Done without a meeting recorded ends the meeting nag too.
	doneNoMeeting := *inc
	doneNoMeeting.PostmortemDone = true
	for _, d := range []time.Duration{24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour} {
		if got := kinds(DueNags(resolved.Add(d), &doneNoMeeting, p, time.UTC, nil)); got != "" {
			t.Errorf("done, no meeting, %s after: %q", d, got)
		}
	}
}

func TestDueNags_SnoozeHoldsOneKind(t *testing.T) {
	inc := &Incident{ID: "inc-1", Severity: Sev1, Status: StatusInvestigating, CreatedAt: monday, LastUpdateAt: monday,
		Snoozed: map[string]time.Time{"update": monday.Add(90 * time.Minute)}}
	if got := DueNags(monday.Add(time.Hour), inc, nagPolicy(), time.UTC, nil); len(got) != 0 {
		t.Errorf("snoozed: %v", got)
	}
	if got := DueNags(monday.Add(90*time.Minute), inc, nagPolicy(), time.UTC, nil); len(got) != 1 {
		t.Errorf("snooze over: %v", got)
	}
}

func TestChannelName_FollowsSlackRules(t *testing.T) {
	inc := &Incident{ID: "inc-42", Title: "DB latency: p99 > 2s (EU!)", CreatedAt: monday}
	tests := []struct{ pattern, want string }{
		{"", "inc-42-db-latency-p99-2s-eu"},
		{"{date}-{id}", "2026-11-23-inc-42"},
		{"INC_{id}", "inc_inc-42"},
	}
	for _, tt := range tests {
		if got := ChannelName(tt.pattern, inc, time.UTC); got != tt.want {
			t.Errorf("ChannelName(%q) = %q, want %q", tt.pattern, got, tt.want)
		}
	}
	long := &Incident{ID: "inc-1", Title: strings.Repeat("very long title ", 10)}
	if got := ChannelName("", long, time.UTC); len(got) > 80 || strings.HasSuffix(got, "-") {
		t.Errorf("long name %q (%d)", got, len(got))
	}
	if got := WithSuffix(strings.Repeat("a", 80), 2, 80); len(got) != 80 || !strings.HasSuffix(got, "-2") {
		t.Errorf("suffix %q", got)
	}
}

func TestNewLogEntries_SkipsWhatTheTimelineHas(t *testing.T) {
	at := monday
	timeline := []TimelineEntry{
		{At: at, Source: "pagerduty-event", ExternalID: "EV1", Action: "incident.triggered"},
		{At: at.Add(time.Minute), Source: "", Action: "incident.acknowledged"}, // from Slack
		{At: at.Add(2 * time.Minute), Source: "pagerduty-event", ExternalID: "EV3", Action: "incident.annotated"},
		{At: at.Add(3 * time.Minute), Source: "pagerduty", ExternalID: "L9"}, // merged before
	}
	log := []TimelineEntry{
		{At: at, Source: "pagerduty", ExternalID: "L1", Action: "incident.triggered"},
		{At: at, Source: "pagerduty", ExternalID: "L2", Action: ""},                                                        // assignment: log only
		{At: at.Add(time.Minute + 20*time.Second), Source: "pagerduty", ExternalID: "L3", Action: "incident.acknowledged"}, // the job ran later
		{At: at.Add(2 * time.Minute), Source: "pagerduty", ExternalID: "L4", Action: "incident.annotated"},
		{At: at.Add(2 * time.Minute), Source: "pagerduty", ExternalID: "L5", Action: "incident.annotated"}, // a second note the webhook missed
		{At: at.Add(3 * time.Minute), Source: "pagerduty", ExternalID: "L9"},
		{At: at.Add(time.Hour), Source: "pagerduty", ExternalID: "L6", Action: "incident.acknowledged"}, // a later acknowledgement
	}
	var got []string
	for _, e := range NewLogEntries(timeline, log) {
		got = append(got, e.ExternalID)
	}
	if strings.Join(got, ",") != "L2,L5,L6" {
		t.Errorf("new entries %v, want L2,L5,L6", got)
	}
}

// A crash and a restart (or an outage) can delay the job that tells
// PagerDuty about an acknowledgement or resolution made in Slack by
// minutes: PagerDuty's log entry for it is still the same event, not a
// second one in the post-mortem.
func TestNewLogEntries_LatePushIsTheSameEvent(t *testing.T) {
	at := monday
	tests := []struct {
		name     string
		timeline []TimelineEntry
		log      []TimelineEntry
		want     string
	}{
		{"acknowledged from Slack, pushed after a restart 3 minutes later",
			[]TimelineEntry{{At: at, Action: "incident.acknowledged"}},
			[]TimelineEntry{{At: at.Add(3 * time.Minute), Source: "pagerduty", ExternalID: "L1", Action: "incident.acknowledged"}},
			""},
		{"resolved from Slack, pushed an hour later",
			[]TimelineEntry{{At: at, Kind: TLStatus, Action: "incident.resolved"}},
			[]TimelineEntry{{At: at.Add(time.Hour), Source: "pagerduty", ExternalID: "L1", Action: "incident.resolved"}},
			""},
		{"a log entry before the change in Slack is another event",
			[]TimelineEntry{{At: at, Action: "incident.acknowledged"}},
			[]TimelineEntry{{At: at.Add(-5 * time.Minute), Source: "pagerduty", ExternalID: "L1", Action: "incident.acknowledged"}},
			"L1"},
		{"the close match is taken first: the webhook's entry, then the late push",
			[]TimelineEntry{
				{At: at, Action: "incident.acknowledged"},
				{At: at.Add(10 * time.Minute), Source: "pagerduty-event", ExternalID: "EV2", Action: "incident.acknowledged"},
			},
			[]TimelineEntry{
				{At: at.Add(10 * time.Minute), Source: "pagerduty", ExternalID: "L2", Action: "incident.acknowledged"},
				{At: at.Add(4 * time.Minute), Source: "pagerduty", ExternalID: "L1", Action: "incident.acknowledged"},
			},
			""},
		{"one change in Slack stands for one log entry",
			[]TimelineEntry{{At: at, Action: "incident.acknowledged"}},
			[]TimelineEntry{
				{At: at.Add(3 * time.Minute), Source: "pagerduty", ExternalID: "L1", Action: "incident.acknowledged"},
				{At: at.Add(50 * time.Minute), Source: "pagerduty", ExternalID: "L2", Action: "incident.acknowledged"},
			},
			"L2"},
		{"past the push window it is another event",
			[]TimelineEntry{{At: at, Action: "incident.acknowledged"}},
			[]TimelineEntry{{At: at.Add(25 * time.Hour), Source: "pagerduty", ExternalID: "L1", Action: "incident.acknowledged"}},
			"L1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range NewLogEntries(tt.timeline, tt.log) {
				got = append(got, e.ExternalID)
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("new entries %v, want %q", got, tt.want)
			}
		})
	}
}

// A sev1 resolved at 03:00 is no longer urgent: its meeting nag (in the
// channel) and post-mortem nag (a DM to the commander) wait for business
// hours like any other incident's, instead of coming at 03:00 every day.
func TestDueNags_ResolvedSev1WaitsForBusinessHours(t *testing.T) {
	berlin := mustZone("Europe/Berlin")
	resolved := time.Date(2026, 11, 24, 3, 0, 0, 0, berlin) // Tuesday 03:00
	inc := &Incident{ID: "inc-1", Severity: Sev1, Status: StatusResolved, ChannelID: "C1", CreatedAt: resolved.Add(-2 * time.Hour),
		ResolvedAt: resolved.UTC(), PostmortemDue: resolved.AddDate(0, 0, 5).UTC()} // Sunday 03:00
	p := nagPolicy()
	sent := NagsSent{}
	var got []string
	for now := resolved.UTC(); now.Before(resolved.AddDate(0, 0, 8)); now = now.Add(10 * time.Minute) {
		if next := NextNagDue(inc, p, berlin, sent, now); now.Before(next) {
			continue // as the tick: looked at only when due
		}
		for _, n := range DueNags(now, inc, p, berlin, sent) {
			got = append(got, string(n.Kind)+" "+now.In(berlin).Format("Mon 15:04"))
			sent[n.Kind] = n.Due
		}
	}
	want := []string{"meeting Wed 09:00", "meeting Thu 09:00", "meeting Fri 09:00", "meeting Mon 09:00", "postmortem Mon 09:00", "meeting Tue 09:00", "postmortem Tue 09:00"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("nags after a sev1 resolved at 03:00:\n got %v\nwant %v", got, want)
	}
	// While it is open, a sev1's update nag still comes at night.
	open := &Incident{ID: "inc-2", Severity: Sev1, Status: StatusInvestigating, ChannelID: "C1", CreatedAt: resolved.UTC(), LastUpdateAt: resolved.UTC()}
	if k := kinds(DueNags(resolved.Add(30*time.Minute), open, p, berlin, nil)); k != "update" {
		t.Errorf("open sev1 at night: %q", k)
	}
	if next := NextNagDue(open, p, berlin, nil, resolved.UTC()); !next.Equal(resolved.Add(30 * time.Minute)) {
		t.Errorf("open sev1's next nag %v, want 03:30", next.In(berlin))
	}
}

// The post-mortem's timeline tells each time with its zone: across the
// night Berlin's clocks go back (25 October 2026), 02:10 CEST comes
// before 02:05 CET, and without the zone the timeline would read out of
// order, two entries at "Oct 25 02:0x" that cannot be told apart.
func TestPostmortemTimeline_TimesAcrossFallBackAreUnambiguous(t *testing.T) {
	berlin := mustZone("Europe/Berlin")
	first := time.Date(2026, 10, 25, 0, 10, 0, 0, time.UTC) // 02:10 CEST
	second := time.Date(2026, 10, 25, 1, 5, 0, 0, time.UTC) // 02:05 CET, 55 minutes later
	s := &Incidents{Clock: NewManualClock(second.Add(time.Hour)),
		Catalog: &Catalog{Teams: []*Team{{Name: "platform", Location: berlin}}, Incidents: &IncidentPolicy{}}}
	inc := &Incident{ID: "inc-1", Title: "db down", Team: "platform", Severity: Sev2, Status: StatusResolved,
		CreatedAt: first, ResolvedAt: second.Add(10 * time.Minute)}
	doc, err := s.postmortemDoc(inc, []TimelineEntry{
		{IncidentID: "inc-1", At: first, Kind: TLNote, Actor: "opsbot", Text: "first"},
		{IncidentID: "inc-1", At: second, Kind: TLNote, Actor: "opsbot", Text: "second"},
	}, s.names(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, b := range doc.Body {
		if strings.Contains(b.Text, "first") || strings.Contains(b.Text, "second") {
			lines = append(lines, b.Text)
		}
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "Oct 25 02:10 CEST") || !strings.HasPrefix(lines[1], "Oct 25 02:05 CET") {
		t.Errorf("timeline lines %q, want them to start \"Oct 25 02:10 CEST\" and \"Oct 25 02:05 CET\"", lines)
	}
}
