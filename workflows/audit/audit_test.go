package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestActorPerson_ReadsWhatPersonStringWrote(t *testing.T) {
	for _, p := range []workflows.Person{{SlackID: "U1"}, {Email: "a@b.c"}, {SlackID: "U1", Email: "a@b.c"}} {
		if got := ActorPerson(p.String()); got != p {
			t.Errorf("%q read back as %+v", p.String(), got)
		}
	}
	for _, s := range []string{"opsbot", "pagerduty", ""} {
		if got := ActorPerson(s); got != (workflows.Person{}) {
			t.Errorf("%q read as a person: %+v", s, got)
		}
	}
}

func TestMessage_FitsInASlackSection(t *testing.T) {
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	p := &Page{Zone: time.UTC, Query: Query{Since: at.Add(-time.Hour)}}
	for i := range 500 {
		p.Entries = append(p.Entries, workflows.AuditEntry{ID: int64(i), At: at, Actor: "U1", Action: "lease.extend", Subject: "srv-1",
			Reason: strings.Repeat("long reason ", 40)})
	}
	m := Message(p)
	if len(m.Text) > MaxText {
		t.Fatalf("text is %d long", len(m.Text))
	}
	if !strings.Contains(m.Note, "more not shown") || !strings.Contains(m.Note, "opsbot audit export") {
		t.Errorf("note %q", m.Note)
	}
}

// Two entries in the hour Berlin's clocks go back (25 October 2026) are
// told apart by their zone: 02:30 CEST, then 02:30 CET an hour later.
func TestLine_TimesAcrossFallBackAreUnambiguous(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	p := &Page{Zone: berlin}
	a := Line(workflows.AuditEntry{At: time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), Actor: "opsbot", Action: "lease.end", Subject: "srv-1"}, p)
	b := Line(workflows.AuditEntry{At: time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), Actor: "opsbot", Action: "lease.end", Subject: "srv-2"}, p)
	if !strings.HasPrefix(a, "Sun 25 Oct 02:30 CEST") || !strings.HasPrefix(b, "Sun 25 Oct 02:30 CET") {
		t.Errorf("lines %q and %q, want 02:30 CEST and 02:30 CET", a, b)
	}
}
