package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"
)

// The ticks find what is due through stored due times (workflows/due.go).
// These tests attack the times: a clock that jumps past several of them,
// a change between two ticks that makes something due sooner than the
// stored time said, and a config that changes while opsbot is down. Each
// would miss or repeat a reminder if a stored time went stale.

// leaseDMs lists the lease warnings dev was sent.
func (h *harness) leaseDMs() []string {
	var out []string
	for _, m := range h.dms(dev) {
		if s := messageText(m); strings.Contains(s, "lease ends in") {
			out = append(out, s)
		}
	}
	return out
}

// stopOrder lists the instances EC2 was asked to stop.
func (h *harness) stopOrder() []string {
	var out []string
	for _, c := range h.ec2.CallsOf("StopInstances") {
		out = append(out, c.Params.Get("InstanceId.1"))
	}
	return out
}

// audited lists the subjects of the audit entries of action, in the order
// they were written.
func (h *harness) audited(action string) []string {
	h.t.Helper()
	db, err := sql.Open("sqlite", "file:"+h.db+"?mode=ro")
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), "SELECT subject FROM audit WHERE action = ? ORDER BY id", action)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestDueTimes_ClockJumpPastSeveralDueTimes_EachFiresOnceInOrder(t *testing.T) {
	h := newHarness(t)
	// Made in this order, due in the opposite one: 24h warnings at +24h,
	// +6h and +2h; 1h warnings at +47h, +29h, +25h.
	long, mid, short := h.launched("test-small for 2d"), h.launched("test-small for 30h"), h.launched("test-small for 26h")
	before := len(h.leaseDMs())

	// A jump of 23 hours passes the 24h warnings of short and mid.
	h.advance(23 * time.Hour)
	got := h.leaseDMs()[before:]
	if len(got) != 2 || !strings.Contains(got[0], short.ID) || !strings.Contains(got[1], mid.ID) {
		t.Fatalf("after 23 hours, want the warnings of %s then %s: %q", short.ID, mid.ID, got)
	}
	for range 3 {
		h.advance(0)
		h.advance(time.Minute)
	}
	if n := len(h.leaseDMs()) - before; n != 2 {
		t.Fatalf("%d warnings after more ticks, want still 2", n)
	}

	// A jump of a day passes the ends of short (+26h30m) and mid
	// (+30h30m) and the 1h warning of long (+47h, its 24h one now
	// superseded): each once, in the order they fell due.
	h.advance(24 * time.Hour)
	if got, want := h.audited("lease.end"), []string{short.ID, mid.ID}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("lease ends %v, want %v", got, want)
	}
	if n := len(h.stopOrder()); n != 2 {
		t.Fatalf("%d stops, want 2", n)
	}
	got = h.leaseDMs()[before+2:]
	if len(got) < 1 || !strings.Contains(got[len(got)-1], long.ID) || !strings.Contains(got[len(got)-1], "lease ends in") {
		t.Fatalf("after a day: want %s's 1h warning last: %q", long.ID, got)
	}
	warnings := strings.Count(strings.Join(h.leaseDMs(), "\n"), long.ID+"'s lease ends in")
	for range 3 {
		h.advance(0)
		h.advance(time.Minute)
	}
	if n := len(h.stopOrder()); n != 2 {
		t.Fatalf("%d stops after more ticks, want 2", n)
	}
	if n := strings.Count(strings.Join(h.leaseDMs(), "\n"), long.ID+"'s lease ends in"); n != warnings {
		t.Fatalf("%s warned %d times after more ticks, want %d", long.ID, n, warnings)
	}
}

func TestDueTimes_ExtensionBetweenTwoTicks_WarnsForTheNewEnd(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	start := h.clock.Now()
	h.advance(r.LeaseEnd.Sub(start) - 24*time.Hour) // the 24h warning; next due: the 1h one, at +47h
	before := len(h.leaseDMs())

	// Extended between two ticks: the new end's 24h warning falls due at
	// +2d, before the time stored for the old end's 1h warning.
	mustContain(t, "extend", h.ops(dev, "lease extend "+r.ID+" 1d"), r.ID)
	newEnd := h.request(r.ID).LeaseEnd
	if !newEnd.Equal(r.LeaseEnd.Add(24 * time.Hour)) {
		t.Fatalf("lease end %v, want a day later than %v", newEnd, r.LeaseEnd)
	}
	h.advance(newEnd.Add(-24 * time.Hour).Sub(h.clock.Now()))
	got := h.leaseDMs()[before:]
	if len(got) != 1 || !strings.Contains(got[0], "lease ends in 1d") {
		t.Fatalf("at the new end's 24h mark: %q, want its warning", got)
	}
	// The old end's 1h warning is gone with the old end.
	h.advance(r.LeaseEnd.Add(-time.Hour).Sub(h.clock.Now()))
	h.advance(time.Hour)
	if n := len(h.leaseDMs()) - before; n != 1 {
		t.Fatalf("%d warnings around the old end, want none", n-1)
	}
	h.advance(newEnd.Add(-time.Hour).Sub(h.clock.Now()))
	if got := h.leaseDMs()[before:]; len(got) != 2 || !strings.Contains(got[1], "lease ends in 1h") {
		t.Fatalf("at the new end's 1h mark: %q", got)
	}
	h.advance(90 * time.Minute)
	if n := len(h.stopOrder()); n != 1 {
		t.Fatalf("%d stops after the new end and its grace, want 1", n)
	}
}

func TestDueTimes_WarningOffsetAddedWhileDown_WarnsAtTheNewOffset(t *testing.T) {
	h := newHarness(t)
	r := h.launched("test-small for 2d")
	h.advance(time.Hour) // looked at: next due, the 24h warning at +1d
	before := len(h.leaseDMs())

	h.edit = func(cfg string) string {
		return strings.Replace(cfg, "warn_before: [24h, 1h]", "warn_before: [36h, 24h, 1h]", 1)
	}
	h.restart()
	h.advance(r.LeaseEnd.Add(-36 * time.Hour).Sub(h.clock.Now()))
	got := h.leaseDMs()[before:]
	if len(got) != 1 || !strings.Contains(got[0], "lease ends in 1d 12h") {
		t.Fatalf("at the new 36h mark: %q, want its warning", got)
	}
	h.advance(12 * time.Hour)
	if got := h.leaseDMs()[before:]; len(got) != 2 || !strings.Contains(got[1], "lease ends in 1d") {
		t.Fatalf("at the 24h mark: %q", got)
	}
}

func TestDueTimes_SeverityRaisedBetweenTwoTicks_NagsOnTheShorterPeriod(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Search slow sev3")
	h.drain()
	ch := h.incidentChannels()[0]
	h.advance(10 * time.Minute) // looked at: the sev3 nag is hours away
	if n := len(h.updateNags(ch.ID)); n != 0 {
		t.Fatalf("%d nags at 10 minutes", n)
	}
	h.incidentCmd(dev, ch.ID, "severity sev1") // every 30 minutes
	h.advance(20 * time.Minute)
	if got := h.updateNags(ch.ID); len(got) != 1 || !strings.Contains(got[0], "30 minutes with no update") {
		t.Fatalf("30 minutes into a sev1: %q, want one nag", got)
	}
	h.advance(0)
	if n := len(h.updateNags(ch.ID)); n != 1 {
		t.Fatalf("%d nags after another tick, want 1", n)
	}
}
