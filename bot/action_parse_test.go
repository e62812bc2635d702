package bot

import "testing"

func TestParseIncident_Action(t *testing.T) {
	tests := []struct {
		in                       string
		kind                     IncidentKind
		inc, text, who, due, act string
		err                      bool
	}{
		{in: "action Add an index", kind: IncAction, text: "Add an index"},
		{in: "action Add an index <@U0DEV> due 2026-12-15", kind: IncAction, text: "Add an index", who: "U0DEV", due: "2026-12-15"},
		{in: "action inc-7 Alert on p99 dana@example.com", kind: IncAction, inc: "inc-7", text: "Alert on p99", who: "dana@example.com"},
		{in: "action Email dana@example.com about it", kind: IncAction, text: "Email dana@example.com about it"},
		{in: "action Ship it due tomorrow", err: true},
		{in: "action <@U0DEV>", err: true},
		{in: "action", err: true},
		{in: "action done act-3", kind: IncActionDone, act: "act-3"},
		{in: "action done ACT-3", kind: IncActionDone, act: "act-3"},
		{in: "action done 3", err: true},
		{in: "action done act-3 now", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := ParseIncident(tt.in)
			if tt.err {
				if err == nil {
					t.Fatalf("parsed as %+v, want a usage error", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != tt.kind || c.Incident != tt.inc || c.Text != tt.text || c.Who != tt.who || c.Due != tt.due || c.Action != tt.act {
				t.Errorf("got %+v", c)
			}
		})
	}
}
