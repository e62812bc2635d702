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
