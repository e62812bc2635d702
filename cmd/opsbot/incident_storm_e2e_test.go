package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// TestAlertStorm_HundredIncidentsOnOneService_AtMostFiveChannels: a
// hundred PagerDuty incidents on one service within minutes make the
// storm limit's channels (5 per 10 minutes by default) and announcements;
// the rest are linked into the newest open incident's channel, which names
// each of them, and are recorded as linked.
func TestAlertStorm_HundredIncidentsOnOneService_AtMostFiveChannels(t *testing.T) {
	h := newHarness(t)
	for i := range 100 {
		if _, err := h.pd.Trigger(pdService, fmt.Sprintf("Disk full on node %d", i)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			h.clock.Advance(20 * time.Second)
			h.drain()
		}
	}
	h.drain()
	chans := h.incidentChannels()
	if len(chans) != 5 {
		t.Fatalf("%d incident channels, want 5", len(chans))
	}
	if n := len(h.channelMessages("incidents")); n != 5 {
		t.Errorf("%d announcements, want 5", n)
	}
	var incs []*workflows.Incident
	h.app.DB.View(t.Context(), func(tx workflows.Tx) (err error) {
		incs, err = tx.Incidents(workflows.IncidentFilter{})
		return err
	})
	if len(incs) != 100 {
		t.Fatalf("%d incidents recorded, want 100", len(incs))
	}
	linked := 0
	for _, inc := range incs {
		if inc.LinkedTo != "" {
			linked++
			if inc.ChannelID != "" || inc.LinkedTo != "inc-5" {
				t.Errorf("%s linked to %s with channel %q", inc.ID, inc.LinkedTo, inc.ChannelID)
			}
		}
	}
	if linked != 95 {
		t.Errorf("%d linked, want 95", linked)
	}
	parent := h.incident("inc-5")
	named := 0
	for _, m := range h.slack.Messages(parent.ChannelID) {
		if strings.Contains(messageText(m), "Alert storm: inc-") {
			named++
		}
	}
	if named != 95 {
		t.Errorf("%d linked incidents named in %s's channel, want 95", named, parent.ID)
	}
	mustContain(t, "timeline", fmt.Sprint(h.timeline("inc-6")), "Linked into inc-5's channel (alert storm: 6 new incidents on this PagerDuty service within 10m")
	// A PagerDuty change to a linked incident is recorded on it.
	child := h.incident("inc-42")
	if err := h.pd.Resolve(child.PDIncidentID, "PUONCALL"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	if got := h.incident("inc-42"); got.Status != workflows.StatusResolved {
		t.Errorf("linked incident after PagerDuty resolved it: %s", got.Status)
	}
	// After the window, with the storm over, a new incident gets its own channel.
	h.clock.Advance(15 * time.Minute)
	if _, err := h.pd.Trigger(pdService, "Something else"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	if n := len(h.incidentChannels()); n != 6 {
		t.Errorf("%d channels after the window, want 6", n)
	}
}

// TestInvite_OneLookupFails_InvitesWhomItCanAndRetriesTheRest: PagerDuty
// fails the on-call lookup (GET /services). The assignee and the team's
// incident members are invited anyway, and the invite job runs again
// until the lookup works (before, one failed lookup invited nobody).
func TestInvite_OneLookupFails_InvitesWhomItCanAndRetriesTheRest(t *testing.T) {
	h := newHarness(t)
	h.pd.FailNext("GET /services/{id}", 503, 5)
	if _, err := h.pd.Trigger(pdService, "Checkout slow"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	ch := h.incidentChannels()[0]
	members := strings.Join(ch.Members, ",")
	for _, who := range []string{oncall, dev2, sre} {
		if !strings.Contains(members, who) {
			t.Errorf("%s not invited after a failed on-call lookup: %s", who, members)
		}
	}
	calls := len(h.pd.CallsTo("GET /services/{id}"))
	h.clock.Advance(time.Minute)
	h.drain()
	if n := len(h.pd.CallsTo("GET /services/{id}")); n <= calls {
		t.Errorf("the on-call lookup was not tried again (%d calls, then %d)", calls, n)
	}
}
