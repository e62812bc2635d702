package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/store/storetest"
)

// updateNags lists the "no update" nags posted in a channel.
func (h *harness) updateNags(channelID string) []string {
	var out []string
	for _, m := range h.slack.Messages(channelID) {
		if s := messageText(m); strings.Contains(s, "with no update") {
			out = append(out, s)
		}
	}
	return out
}

// tickAtOnce runs n nag ticks at once on each app, then the jobs.
func (h *harness) tickAtOnce(n int, apps ...*App) {
	h.t.Helper()
	var wg sync.WaitGroup
	for _, app := range apps {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := app.Incidents.Tick(context.Background()); err != nil {
					h.t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	h.drain()
}

// TestNags_ConcurrentTicksAndClockJumpsSendEachOnce is the double "390
// minutes" of issue 9: however many ticks race (replicas, the sandbox's
// catch-up beside the scheduler), each nag goes out once per due time; a
// clock jump of a day sends one catch-up, stating the real time since the
// last update, then the next a period later.
func TestNags_ConcurrentTicksAndClockJumpsSendEachOnce(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Search down sev1")
	h.drain()
	ch := h.incidentChannels()[0]
	h.clock.Advance(30 * time.Minute)
	h.tickAtOnce(32, h.app)
	if got := h.updateNags(ch.ID); len(got) != 1 || !strings.Contains(got[0], "It's been 30 minutes with no update") {
		t.Fatalf("after 32 ticks at 30 minutes: %q", got)
	}
	h.clock.Advance(24 * time.Hour)
	h.tickAtOnce(32, h.app)
	got := h.updateNags(ch.ID)
	if len(got) != 2 || !strings.Contains(got[1], "It's been 1 day with no update") {
		t.Fatalf("after a jump of a day, want one catch-up saying 1 day: %q", got)
	}
	h.clock.Advance(29 * time.Minute)
	h.tickAtOnce(8, h.app)
	if n := len(h.updateNags(ch.ID)); n != 2 {
		t.Fatalf("%d nags within a period of the catch-up", n)
	}
	h.clock.Advance(time.Minute)
	h.tickAtOnce(8, h.app)
	if got := h.updateNags(ch.ID); len(got) != 3 || !strings.Contains(got[2], "It's been 1 day 1 hour with no update") {
		t.Fatalf("the nag after the catch-up: %q", got)
	}
	// A restart remembers what was sent.
	h.restart()
	h.tickAtOnce(8, h.app)
	if n := len(h.updateNags(ch.ID)); n != 3 {
		t.Fatalf("%d nags after a restart, want still 3", n)
	}
}

// TestNags_SeverityChangeDoesNotRepeat: the old key held the period, so
// changing the severity at 390 minutes sent "390 minutes" a second time.
func TestNags_SeverityChangeDoesNotRepeat(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Search down sev1")
	h.drain()
	ch := h.incidentChannels()[0]
	for range 13 {
		h.advance(30 * time.Minute)
	}
	got := h.updateNags(ch.ID)
	if len(got) != 13 || !strings.Contains(got[12], "It's been 6 hours 30 minutes with no update") {
		t.Fatalf("13 nags to 390 minutes, the last saying 6 hours 30 minutes: %d, %q", len(got), got[len(got)-1])
	}
	h.incidentCmd(dev, ch.ID, "severity sev2")
	h.advance(0)
	h.incidentCmd(dev, ch.ID, "severity sev1")
	h.advance(0)
	if n := len(h.updateNags(ch.ID)); n != 13 {
		t.Fatalf("%d nags after severity changes in the same minute, want 13", n)
	}
}

// TestNags_CountFromTheIncidentsStart: a PagerDuty incident (high
// urgency: sev2, nagged hourly) whose event is handled 15 minutes late is
// nagged an hour after it began, saying an hour (the report: it came 45
// minutes in and said 30).
func TestNags_CountFromTheIncidentsStart(t *testing.T) {
	h := newHarness(t)
	if _, err := h.pd.Trigger(pdService, "Checkout failing"); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(15 * time.Minute)
	h.drain()
	ch := h.incidentChannels()[0]
	if sev := h.incident("inc-1").Severity; sev != "sev2" {
		t.Fatalf("severity %s", sev)
	}
	h.advance(44 * time.Minute)
	if got := h.updateNags(ch.ID); len(got) != 0 {
		t.Fatalf("nagged at 59 minutes: %q", got)
	}
	h.advance(time.Minute)
	if got := h.updateNags(ch.ID); len(got) != 1 || !strings.Contains(got[0], "It's been 1 hour with no update") {
		t.Fatalf("an hour from the start: %q", got)
	}
}

// TestNags_PostmortemDoneEndsEveryReminder: done without a meeting
// recorded used to leave the meeting nag going for ever.
func TestNags_PostmortemDoneEndsEveryReminder(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Disk full sev1")
	h.drain()
	ch := h.incidentChannels()[0]
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	h.incidentCmd(dev, ch.ID, "postmortem done")
	before := len(h.slack.Messages(ch.ID)) + len(h.dms(dev))
	for range 10 {
		h.advance(24 * time.Hour)
	}
	var extra []string
	for _, m := range append(h.slack.Messages(ch.ID), h.dms(dev)...) {
		if s := messageText(m); strings.Contains(s, "post-mortem meeting") || strings.Contains(s, "is not marked done") {
			extra = append(extra, s)
		}
	}
	if len(extra) > 0 || len(h.slack.Messages(ch.ID))+len(h.dms(dev)) != before {
		t.Fatalf("reminders after the post-mortem was done: %q", extra)
	}
}

// TestPostgres_NagsFromTwoReplicasOnce: two processes on one PostgreSQL
// database, each ticking many times at once, send each nag once.
func TestPostgres_NagsFromTwoReplicasOnce(t *testing.T) {
	h := newHarness(t, storetest.FreshPostgres(t))
	app2, _ := h.bootApp()
	h.incidentCmd(dev, "general", "declare Search down sev1")
	h.drain()
	ch := h.incidentChannels()[0]
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	h.incidentCmd(dev, ch.ID, "status investigating")
	h.drain()
	for _, d := range []time.Duration{30 * time.Minute, 30 * time.Minute, 24 * time.Hour} {
		h.clock.Advance(d)
		h.tickAtOnce(16, h.app, app2)
	}
	if got := h.updateNags(ch.ID); len(got) != 3 {
		t.Fatalf("%d nags from two replicas over three due times, want 3: %q", len(got), got)
	}
}

// TestGolden_NagTexts keeps the three reminders' wording.
func TestGolden_NagTexts(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Search down sev1")
	h.drain()
	ch := h.incidentChannels()[0]
	h.clock.Advance(6*time.Hour + 29*time.Minute)
	h.advance(time.Minute)
	got := map[string]json.RawMessage{}
	last := func(ms []slackfake.Message, contains string) json.RawMessage {
		for i := len(ms) - 1; i >= 0; i-- {
			if strings.Contains(messageText(ms[i]), contains) {
				return ms[i].Blocks
			}
		}
		t.Fatalf("no message containing %q", contains)
		return nil
	}
	got["nag_update_390m"] = last(h.slack.Messages(ch.ID), "with no update")
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	h.clock.Advance(24*time.Hour + 2*time.Hour)
	h.advance(5 * time.Minute)
	got["nag_meeting"] = last(h.slack.Messages(ch.ID), "post-mortem meeting")
	h.clock.Advance(5 * 24 * time.Hour)
	h.advance(0)
	got["nag_postmortem_overdue"] = last(h.dms(dev), "is not marked done")
	checkGolden(t, got)
}

// checkGolden compares each rendered message with testdata/golden/NAME.json
// (rewritten with -update).
func checkGolden(t *testing.T, got map[string]json.RawMessage) {
	t.Helper()
	dir := filepath.Join("testdata", "golden")
	for name, raw := range got {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".json")
		if *update {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (run go test ./cmd/opsbot -run Golden -update)", name, err)
			continue
		}
		if !bytes.Equal(want, buf.Bytes()) {
			t.Errorf("%s differs from %s:\n%s", name, path, buf.Bytes())
		}
	}
}
