package main

import (
	"strings"
	"testing"
	"time"
)

// TestLeaseWarning_OpsbotBackInTheGraceStillWarnsOnce: opsbot (or the
// replica that leads) is paused from before the 1h warning until after
// the lease end, and comes back within the grace. The owner must still be
// told, once, before the server is stopped: the grace is exactly the time
// in which an extension still saves it.
func TestLeaseWarning_OpsbotBackInTheGraceStillWarnsOnce(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.advance(r.LeaseEnd.Sub(h.clock.Now()) - 2*time.Hour) // the 24h warning went out
	before := len(h.dms(dev))

	// Paused through the 1h warning and the end; back 10 minutes into the
	// 30 minutes of grace.
	h.advance(2*time.Hour + 10*time.Minute)
	if n := len(h.ec2.CallsOf("StopInstances")); n != 0 {
		t.Fatalf("stopped inside the grace: %d stops", n)
	}
	got := h.dms(dev)[before:]
	if len(got) != 1 {
		t.Fatalf("%d DMs on coming back inside the grace, want one warning", len(got))
	}
	w := messageText(got[0])
	mustContain(t, "warning in the grace", w, r.ID+"'s lease ended", "stopped in 20m", "Mon 23 Nov 10:30 CET", "Extend 1 day", "Release now")

	// Never twice: the next ticks and a restart say nothing more.
	h.advance(time.Minute)
	h.restart()
	h.advance(time.Minute)
	if n := len(h.dms(dev)) - before; n != 1 {
		t.Fatalf("%d DMs after more ticks in the grace, want still one", n)
	}
	// The end comes as usual.
	h.advance(20 * time.Minute)
	if n := len(h.ec2.CallsOf("StopInstances")); n != 1 {
		t.Fatalf("%d stops when the grace ran out, want 1", n)
	}
	for _, m := range h.dms(dev)[before:] {
		if s := messageText(m); strings.Contains(s, "lease ended") && strings.Contains(s, "stopped in") && m.TS != got[0].TS {
			t.Errorf("a second grace warning: %s", s)
		}
	}
}

// TestLeaseWarning_SentBeforeTheEndIsNotRepeatedInTheGrace: opsbot ran
// all along; the 1h warning went out before the end, so the grace brings
// nothing new.
func TestLeaseWarning_SentBeforeTheEndIsNotRepeatedInTheGrace(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.advance(r.LeaseEnd.Sub(h.clock.Now()) - time.Hour)
	before := len(h.dms(dev))
	for range 4 {
		h.advance(7 * time.Minute)
		h.advance(8 * time.Minute)
	}
	for _, m := range h.dms(dev)[before:] {
		if s := messageText(m); strings.Contains(s, "lease ended") || strings.Contains(s, "lease ends in") {
			t.Errorf("warned again in the grace: %s", s)
		}
	}
}
