package main

import (
	"strings"
	"testing"
	"time"
)

// TestPostmortem_PagerDutyLogMergedWithoutDuplicates: the webhook put the
// trigger, acknowledgement, reassignment and note on the timeline, opsbot
// recorded the resolution it made from Slack; the PagerDuty log of the
// same events is merged at the post-mortem without listing any twice,
// and what only the log has (the assignment at trigger time) is added.
func TestPostmortem_PagerDutyLogMergedWithoutDuplicates(t *testing.T) {
	h := newHarness(t)
	pd, err := h.pd.Trigger(pdService, "Checkout failing")
	if err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.clock.Advance(time.Minute)
	if err := h.pd.Acknowledge(pd.ID, "PUONCALL"); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	if err := h.pd.AddNote(pd.ID, "PUONCALL", "Rolling back"); err != nil {
		t.Fatal(err)
	}
	if err := h.pd.AddNote(pd.ID, "PUONCALL", "Rolled back"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	ch := h.incidentChannels()[0]
	h.clock.Advance(time.Minute)
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.clock.Advance(10 * time.Second) // the PagerDuty call runs a little later
	h.drain()
	h.drain()
	count := func(substr ...string) int {
		n := 0
		for _, e := range h.timeline("inc-1") {
			for _, s := range substr {
				if strings.Contains(e.Text, s) {
					n++
					break
				}
			}
		}
		return n
	}
	for _, c := range []struct {
		what  string
		texts []string
		want  int
	}{
		{"trigger", []string{"Triggered"}, 1},
		{"acknowledgement", []string{"Acknowledged"}, 1},
		{"resolution", []string{"Resolved", "→ resolved"}, 1},
		{"notes (two, a second apart)", []string{"Note in PagerDuty", "Note added"}, 2},
		{"assignment at trigger time, only in the log", []string{"Assigned to"}, 1},
	} {
		if got := count(c.texts...); got != c.want {
			var all []string
			for _, e := range h.timeline("inc-1") {
				all = append(all, e.At.Format("15:04:05")+" "+e.Source+" "+e.Action+" "+e.Text)
			}
			t.Errorf("%s: %d entries, want %d; timeline:\n%s", c.what, got, c.want, strings.Join(all, "\n"))
		}
	}
	if h.incident("inc-1").PostmortemPageID == "" {
		t.Fatal("no post-mortem")
	}
}
