package workflows

import (
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
		want string
	}{
		{"just opened", 0, ""},
		{"a minute early", 59 * time.Minute, ""},
		{"due at 60 minutes", time.Hour, "update"},
		{"still due a bit later (same key)", 70 * time.Minute, "update"},
		{"after business hours", 9 * time.Hour, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kinds(DueNags(monday.Add(tt.at), inc, p, time.UTC)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	k1 := DueNags(monday.Add(time.Hour), inc, p, time.UTC)[0].Key
	k2 := DueNags(monday.Add(90*time.Minute), inc, p, time.UTC)[0].Key
	k3 := DueNags(monday.Add(2*time.Hour), inc, p, time.UTC)[0].Key
	if k1 != k2 || k2 == k3 {
		t.Errorf("keys %s %s %s: want the same key within a period and a new one each period", k1, k2, k3)
	}
	updated := *inc
	updated.LastUpdateAt = monday.Add(100 * time.Minute)
	if got := DueNags(monday.Add(2*time.Hour), &updated, p, time.UTC); len(got) != 0 {
		t.Errorf("nag after an update 20 minutes ago: %v", got)
	}
	if got := DueNags(monday.Add(160*time.Minute), &updated, p, time.UTC); len(got) != 1 || got[0].Key == k3 {
		t.Errorf("after the update the nag restarts with a new key: %v", got)
	}
}

func TestDueNags_Sev1IgnoresBusinessHours(t *testing.T) {
	saturday := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	inc := &Incident{ID: "inc-1", Severity: Sev1, Status: StatusInvestigating, CreatedAt: saturday, LastUpdateAt: saturday}
	if got := kinds(DueNags(saturday.Add(30*time.Minute), inc, nagPolicy(), time.UTC)); got != "update" {
		t.Errorf("sev1 at night: %q", got)
	}
	inc.Severity = Sev2
	if got := kinds(DueNags(saturday.Add(2*time.Hour), inc, nagPolicy(), time.UTC)); got != "" {
		t.Errorf("sev2 on a Saturday night: %q", got)
	}
}

func TestDueNags_BusinessHoursUseTheTeamZone(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	inc := &Incident{ID: "inc-1", Severity: Sev3, Status: StatusInvestigating, CreatedAt: monday.Add(-10 * time.Hour), LastUpdateAt: monday.Add(-10 * time.Hour)}
	// 10:00 UTC Monday is 19:00 in Tokyo: after hours there.
	if got := DueNags(monday, inc, nagPolicy(), tokyo); len(got) != 0 {
		t.Errorf("nagged after Tokyo business hours: %v", got)
	}
	if got := DueNags(monday, inc, nagPolicy(), time.UTC); len(got) != 1 {
		t.Errorf("not nagged in UTC business hours: %v", got)
	}
}

func TestDueNags_MeetingAndPostmortemAfterResolution(t *testing.T) {
	resolved := monday
	inc := &Incident{ID: "inc-1", Severity: Sev2, Status: StatusResolved, CreatedAt: monday.Add(-2 * time.Hour), ResolvedAt: resolved,
		PostmortemDue: resolved.Add(5 * 24 * time.Hour)}
	p := nagPolicy()
	if got := kinds(DueNags(resolved.Add(23*time.Hour), inc, p, time.UTC)); got != "" {
		t.Errorf("before a day: %q", got)
	}
	if got := kinds(DueNags(resolved.Add(24*time.Hour), inc, p, time.UTC)); got != "meeting" {
		t.Errorf("a day after: %q", got)
	}
	d1 := DueNags(resolved.Add(24*time.Hour), inc, p, time.UTC)[0].Key
	d2 := DueNags(resolved.Add(48*time.Hour), inc, p, time.UTC)[0].Key
	if d1 == d2 {
		t.Error("the meeting nag does not repeat daily")
	}
	met := *inc
	met.MeetingAt = resolved.Add(72 * time.Hour)
	if got := kinds(DueNags(resolved.Add(48*time.Hour), &met, p, time.UTC)); got != "" {
		t.Errorf("meeting recorded: %q", got)
	}
	// Monday + 5 days is Saturday: the post-mortem nag waits for Monday.
	if got := kinds(DueNags(resolved.Add(5*24*time.Hour), &met, p, time.UTC)); got != "" {
		t.Errorf("post-mortem nag on a Saturday: %q", got)
	}
	if got := kinds(DueNags(resolved.Add(7*24*time.Hour), &met, p, time.UTC)); got != "postmortem" {
		t.Errorf("post-mortem overdue on Monday: %q", got)
	}
	done := met
	done.PostmortemDone = true
	if got := kinds(DueNags(resolved.Add(7*24*time.Hour), &done, p, time.UTC)); got != "" {
		t.Errorf("post-mortem done: %q", got)
	}
}

func TestDueNags_SnoozeHoldsOneKind(t *testing.T) {
	inc := &Incident{ID: "inc-1", Severity: Sev1, Status: StatusInvestigating, CreatedAt: monday, LastUpdateAt: monday,
		Snoozed: map[string]time.Time{"update": monday.Add(90 * time.Minute)}}
	if got := DueNags(monday.Add(time.Hour), inc, nagPolicy(), time.UTC); len(got) != 0 {
		t.Errorf("snoozed: %v", got)
	}
	if got := DueNags(monday.Add(90*time.Minute), inc, nagPolicy(), time.UTC); len(got) != 1 {
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
