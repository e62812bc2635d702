package pagerduty_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	opspd "github.com/opsbot/opsbot/integrations/pagerduty"
	"github.com/opsbot/opsbot/workflows"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestParseEvent_IncidentEventFixtures parses one V3 payload of each
// incident event type opsbot acts on (shapes from PagerDuty's webhook
// documentation) into the neutral event.
func TestParseEvent_IncidentEventFixtures(t *testing.T) {
	inc := func(status string) workflows.PDIncident {
		return workflows.PDIncident{ID: "Q2W3E4R5T6Y7U8", Number: 42, Status: status, Service: "PCHK0UT", ServiceName: "Checkout API", Key: "opsbot-inc-7",
			Title: "Checkout is down", URL: "https://acme.pagerduty.com/incidents/Q2W3E4R5T6Y7U8"}
	}
	tests := []workflows.PagerEvent{
		{ID: "01HQ0TRIGGERED0000000000001", Type: opspd.EventTriggered, OccurredAt: at("2025-03-14T09:26:53.12Z"),
			Agent: "Ada Lovelace", Incident: inc("triggered"), Urgency: "high", Assignees: []string{"Bob Hopper"}},
		{ID: "01HQ0ACKNOWLEDGED000000002", Type: opspd.EventAcknowledged, OccurredAt: at("2025-03-14T09:29:10.5Z"),
			Agent: "Bob Hopper", Incident: inc("acknowledged"), Urgency: "high", Priority: "P2", Assignees: []string{"Bob Hopper"}},
		{ID: "01HQ0UNACKNOWLEDGED0000003", Type: opspd.EventUnacknowledged, OccurredAt: at("2025-03-14T09:59:10Z"),
			Incident: inc("triggered"), Urgency: "high", Priority: "P2", Assignees: []string{"Bob Hopper"}},
		{ID: "01HQ0REASSIGNED00000000004", Type: opspd.EventReassigned, OccurredAt: at("2025-03-14T10:01:00Z"),
			Agent: "Bob Hopper", Incident: inc("triggered"), Urgency: "high", Priority: "P2", Assignees: []string{"Cy Shannon", "Dan Knuth"}},
		{ID: "01HQ0ESCALATED000000000005", Type: opspd.EventEscalated, OccurredAt: at("2025-03-14T10:06:00Z"),
			Agent: "Checkout on-call", Incident: inc("triggered"), Urgency: "high", Priority: "P2", Assignees: []string{"Cy Shannon"}},
		{ID: "01HQ0PRIORITY0000000000006", Type: opspd.EventPriorityUpdated, OccurredAt: at("2025-03-14T10:07:30.25Z"),
			Agent: "Ada Lovelace", Incident: inc("triggered"), Urgency: "high", Priority: "P1", Assignees: []string{"Cy Shannon"}},
		{ID: "01HQ0ANNOTATED000000000007", Type: opspd.EventAnnotated, OccurredAt: at("2025-03-14T10:08:00Z"),
			Agent: "Cy Shannon", Note: "Rolled back deploy 1234; error rate falling.",
			Incident: workflows.PDIncident{ID: "Q2W3E4R5T6Y7U8", Title: "Checkout is down", URL: "https://acme.pagerduty.com/incidents/Q2W3E4R5T6Y7U8"}},
		{ID: "01HQ0RESOLVED0000000000008", Type: opspd.EventResolved, OccurredAt: at("2025-03-14T10:43:53Z"),
			Agent: "Ada Lovelace", Incident: inc("resolved"), Urgency: "high", Priority: "P1"},
		{ID: "01HQ0REOPENED0000000000009", Type: opspd.EventReopened, OccurredAt: at("2025-03-14T11:00:00Z"),
			Agent: "Bob Hopper", Incident: inc("triggered"), Urgency: "high", Priority: "P1", Assignees: []string{"Bob Hopper"}},
	}
	for _, want := range tests {
		t.Run(want.Type, func(t *testing.T) {
			got, err := opspd.ParseEvent(fixture(t, want.Type))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseEvent_OtherTypesKeepIDAndType(t *testing.T) {
	got, err := opspd.ParseEvent(fixture(t, "service.updated"))
	if err != nil {
		t.Fatal(err)
	}
	want := workflows.PagerEvent{ID: "01BRB6ZP4M6T8ZG4X6BP63ZB9O", Type: "service.updated", OccurredAt: at("2021-03-02T13:35:11.682Z")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestParseEvent_Malformed(t *testing.T) {
	for name, body := range map[string]string{
		"not json":           `{"event":`,
		"no event":           `{"data":{}}`,
		"no id":              `{"event":{"event_type":"incident.triggered","data":{}}}`,
		"no type":            `{"event":{"id":"E1","data":{}}}`,
		"bad time":           `{"event":{"id":"E1","event_type":"service.updated","occurred_at":"yesterday"}}`,
		"incident no data":   `{"event":{"id":"E1","event_type":"incident.triggered","data":null}}`,
		"incident bad data":  `{"event":{"id":"E1","event_type":"incident.resolved","data":{"number":"forty-two"}}}`,
		"annotated bad data": `{"event":{"id":"E1","event_type":"incident.annotated","data":[1]}}`,
	} {
		if ev, err := opspd.ParseEvent([]byte(body)); err == nil {
			t.Errorf("%s: parsed %+v, want an error", name, ev)
		}
	}
}

func TestParseSecrets(t *testing.T) {
	got := opspd.ParseSecrets(" old-secret , new-secret,,")
	if !reflect.DeepEqual(got, []string{"old-secret", "new-secret"}) {
		t.Fatalf("got %q", got)
	}
}
