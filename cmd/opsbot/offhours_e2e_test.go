package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/workflows"
)

// offHoursConfig gives team platform the office schedule: stop 20:00,
// start 08:00 Berlin time on working days, Tue 24 Nov a holiday.
func offHoursConfig(cfg string) string {
	cfg = strings.Replace(cfg, "    policy: standard\n    announce_channel", "    policy: standard\n    off_hours: office\n    announce_channel", 1)
	return cfg + `
off_hours:
  office:
    stop: "20:00"
    start: "08:00"
    days: [mon, tue, wed, thu, fri]
    warn_before: 30m
    holidays: ["2026-11-24"]
`
}

var berlin = func() *time.Location { l, _ := time.LoadLocation("Europe/Berlin"); return l }()

// at is a Berlin wall-clock time in the week of the harness's start.
func berlinAt(day, hour, min int) time.Time {
	return time.Date(2026, 11, day, hour, min, 0, 0, berlin).UTC()
}

// advanceTo moves the clock to t (ticking and running jobs on the way,
// a minute at a time around the instants that matter is not needed:
// due times make one tick at t enough).
func (h *harness) advanceTo(t time.Time) {
	h.t.Helper()
	if d := t.Sub(h.clock.Now()); d > 0 {
		h.advance(d)
	}
}

// TestOffHours_WarnStopHolidayStartKeepAndRestarts runs a week of the
// office schedule on one server: the warning 30 minutes before the stop
// with Keep running tonight; the stop at 20:00 keeping the lease; no start
// on the holiday; the start on the next working day with the new launch
// time; a night kept by its owner; a night skipped because opsbot was
// down until the morning (not made up); a stop missed while opsbot was
// down, made once after the restart; and the savings recorded.
func TestOffHours_WarnStopHolidayStartKeepAndRestarts(t *testing.T) {
	h := newEditedHarness(t, offHoursConfig)
	r := h.launched("test-small for 7d")
	stops := func() int { return len(h.ec2.CallsOf("StopInstances")) }
	starts := func() int { return len(h.ec2.CallsOf("StartInstances")) }

	// Saturday and Sunday are not working days: nothing.
	h.advanceTo(berlinAt(23, 19, 29))
	if stops() != 0 || len(h.dms(dev)) != 1 {
		t.Fatalf("weekend: %d stops, %d DMs", stops(), len(h.dms(dev)))
	}
	h.advanceTo(berlinAt(23, 19, 30))
	warn := dmContaining(t, h, dev, "stops tonight")
	mustContain(t, "warning", messageText(warn), "srv-1 stops tonight at 20:00 CET (off-hours)", "office",
		"Mon 23 Nov 20:00 CET", "started again at Wed 25 Nov 08:00 CET", "Keep running tonight", "Stop now", "Release now", "Saves tonight")
	compareGolden(t, map[string]json.RawMessage{"dm_offhours_warning": warn.Blocks})
	h.advanceTo(berlinAt(23, 19, 45))
	if n := dmsContaining(h, dev, "stops tonight"); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}

	h.advanceTo(berlinAt(23, 20, 0))
	h.advance(ec2fake.DefaultDelays.Stop)
	if got := h.request(r.ID); got.State != workflows.StateStopped || !got.LeaseEnd.Equal(r.LeaseEnd) || stops() != 1 {
		t.Fatalf("after 20:00: %s, lease end %s, %d stops", got.State, got.LeaseEnd, stops())
	}
	// A Keep pressed after the stop changes nothing and says why.
	h.click(dev, warn, workflows.ActServerKeep, buttonValue(t, warn, workflows.ActServerKeep))
	mustContain(t, "late keep", h.lastResponse(), "has passed", "Nothing was changed")

	// Tue 24 Nov is a holiday: no start, no stop.
	h.advanceTo(berlinAt(24, 12, 0))
	if got := h.request(r.ID); got.State != workflows.StateStopped || starts() != 0 {
		t.Fatalf("holiday: %s, %d starts", got.State, starts())
	}
	h.advanceTo(berlinAt(25, 8, 0))
	h.settle()
	started := h.request(r.ID)
	if started.State != workflows.StateRunning || starts() != 1 || !started.Instance.LaunchTime.After(r.Instance.LaunchTime) {
		t.Fatalf("Wed 08:00: %s, %d starts, launch %s", started.State, starts(), started.Instance.LaunchTime)
	}

	// Wed evening: the owner keeps it running tonight (a double click too).
	h.advanceTo(berlinAt(25, 19, 31))
	warn = dmContaining(t, h, dev, "Wed 25 Nov 20:00 CET")
	keep := buttonValue(t, warn, workflows.ActServerKeep)
	h.click(dev, warn, workflows.ActServerKeep, keep)
	mustContain(t, "keep", h.lastResponse(), "keeps running tonight", "will not stop it at Wed 25 Nov 20:00 CET")
	compareGolden(t, map[string]json.RawMessage{"reply_offhours_kept": lastResponseBlocks(h)})
	h.click(dev, warn, workflows.ActServerKeep, keep)
	mustContain(t, "keep again", h.lastResponse(), "kept running tonight already")
	h.click(analyst, warn, workflows.ActServerKeep, keep)
	mustContain(t, "another team's keep", h.lastResponse(), "srv-1 is not yours")
	h.advanceTo(berlinAt(25, 20, 1))
	h.advanceTo(berlinAt(26, 2, 0))
	if got := h.request(r.ID); got.State != workflows.StateRunning || stops() != 1 {
		t.Fatalf("kept night: %s, %d stops", got.State, stops())
	}

	// Thu: opsbot is down from 19:00 until 07:30 Friday. The night is
	// not made up in the morning.
	h.advanceTo(berlinAt(26, 19, 0))
	h.clock.Advance(berlinAt(27, 7, 30).Sub(h.clock.Now()))
	h.restart()
	h.advance(time.Minute)
	if got := h.request(r.ID); got.State != workflows.StateRunning || stops() != 1 {
		t.Fatalf("skipped night made up: %s, %d stops", got.State, stops())
	}

	// Fri: down at 20:00, back at 23:00: the stop is made once, late.
	h.advanceTo(berlinAt(27, 19, 0))
	h.clock.Advance(berlinAt(27, 23, 0).Sub(h.clock.Now()))
	h.restart()
	h.advance(time.Minute)
	h.advance(ec2fake.DefaultDelays.Stop)
	h.restart()
	h.advance(time.Minute)
	h.advance(time.Hour)
	if got := h.request(r.ID); got.State != workflows.StateStopped || stops() != 2 {
		t.Fatalf("missed stop: %s, %d stops, want stopped after 2", got.State, stops())
	}

	// Savings: Mon 20:00 to Wed 08:00 (36 h) and Fri 23:01 on, as of Sat 02:00.
	var sv map[workflows.Why]workflows.Savings
	if err := h.app.DB.View(context.Background(), func(tx workflows.Tx) (err error) {
		sv, err = workflows.SavingsIn(tx, "platform", berlinAt(1, 0, 0), berlinAt(30, 0, 0), berlinAt(28, 2, 0))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got := sv[workflows.WhyOffHours]
	if got.Stops != 2 || got.Hours < 38.9 || got.Hours > 39 || got.Money != r.HourlyRate.For(got.Hours) {
		t.Fatalf("savings %+v (rate %s)", got, r.HourlyRate)
	}
}

func dmsContaining(h *harness, user, text string) int {
	n := 0
	for _, m := range h.dms(user) {
		if strings.Contains(messageText(m), text) {
			n++
		}
	}
	return n
}
