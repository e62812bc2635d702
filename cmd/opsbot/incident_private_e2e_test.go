package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

// home returns the text of a user's App Home as last published.
func (h *harness) home(user string) string {
	h.send(h.slack.AppHomeOpened(testSecret, user))
	h.drain()
	var out string
	for _, v := range h.slack.Views(user) {
		if v.Type == "home" {
			out = blockText(v.JSON)
		}
	}
	return out
}

// TestPrivateIncident_PrivateChannelNoAnnouncementHiddenFromOthers declares
// with --private and checks what each kind of person sees: the channel is
// private with only the declarer and the paged on-call in it, the
// incidents channel says nothing, and only the declarer's Home lists it.
func TestPrivateIncident_PrivateChannelNoAnnouncementHiddenFromOthers(t *testing.T) {
	h := newHarness(t)
	got := map[string]json.RawMessage{}
	reply := h.incidentCmd(dev, "general", "declare --private Payroll export leaked sev2")
	got["reply_incident_declare_private"] = json.RawMessage(h.slack.Responses()[len(h.slack.Responses())-1].Blocks)
	mustContain(t, "declare reply", reply, "inc-1", "privately", "no announcement")
	h.drain()
	inc := h.incident("inc-1")
	if !inc.Private || inc.Severity != workflows.Sev2 || inc.Title != "Payroll export leaked" {
		t.Fatalf("incident %+v", inc)
	}
	chans := h.incidentChannels()
	if len(chans) != 1 {
		t.Fatalf("%d incident channels", len(chans))
	}
	ch := chans[0]
	if !ch.IsPrivate {
		t.Error("the channel is public")
	}
	// Only whom it must: the declarer (commander) and PagerDuty's on-call;
	// not the team's incident members (dev2) nor anyone else.
	for _, who := range []string{dev, oncall} {
		if !slices.Contains(ch.Members, who) {
			t.Errorf("%s not invited: %v", who, ch.Members)
		}
	}
	for _, who := range []string{dev2, lead, analyst} {
		if slices.Contains(ch.Members, who) {
			t.Errorf("%s invited to a private incident: %v", who, ch.Members)
		}
	}
	if n := len(h.channelMessages("incidents")); n != 0 {
		t.Errorf("%d announcements of a private incident", n)
	}
	if len(h.slack.Messages(ch.ID)) == 0 {
		t.Error("nothing posted in the private channel")
	}
	mustContain(t, "declarer's home", h.home(dev), "Payroll export leaked")
	for _, who := range []string{lead, dev2, stranger} {
		if strings.Contains(h.home(who), "Payroll export leaked") || strings.Contains(h.home(who), "inc-1") {
			t.Errorf("%s's home lists the private incident", who)
		}
	}
	// A public one beside it is still listed to everyone.
	h.incidentCmd(dev2, "general", "declare Cache down sev3")
	h.drain()
	mustContain(t, "approver's home", h.home(lead), "Cache down")
	if n := len(h.channelMessages("incidents")); n != 1 {
		t.Errorf("%d announcements, want the public incident's only", n)
	}
	compareGolden(t, got)
}

// TestPrivateIncident_PostmortemStaysInChannelUntilPublished resolves a
// private incident: the post-mortem link is in its channel only; an
// outsider cannot publish; the commander can, and then the link is given
// anywhere.
func TestPrivateIncident_PostmortemStaysInChannelUntilPublished(t *testing.T) {
	h := newHarness(t)
	got := map[string]json.RawMessage{}
	last := func() json.RawMessage { return json.RawMessage(h.slack.Responses()[len(h.slack.Responses())-1].Blocks) }
	h.incidentCmd(dev, "general", "declare --private Payroll export leaked")
	h.drain()
	ch := h.incidentChannels()[0]
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	inc := h.incident("inc-1")
	if inc.PostmortemURL == "" {
		t.Fatal("no post-mortem page")
	}
	mustContain(t, "summary in the private channel", messageText(h.summary(ch.ID)), inc.PostmortemURL)
	// Outside the channel, even the commander gets no link before publishing.
	outside := h.incidentCmd(dev, "general", "postmortem inc-1")
	got["reply_postmortem_private"] = last()
	if strings.Contains(outside, inc.PostmortemURL) {
		t.Errorf("link given outside the private channel: %s", outside)
	}
	// The link reached no channel but the private one, nor any DM.
	for _, c := range h.slack.Channels() {
		if c.ID == ch.ID {
			continue
		}
		for _, m := range h.slack.Messages(c.ID) {
			if strings.Contains(messageText(m), inc.PostmortemURL) {
				t.Errorf("post-mortem link posted in %s (%s)", c.Name, c.ID)
			}
		}
	}
	// Outsiders cannot publish: another team's member, a person in no team.
	for _, who := range []string{analyst, stranger} {
		mustContain(t, who+" publishing", h.incidentCmd(who, "general", "postmortem publish inc-1"), "may publish")
		if h.incident("inc-1").PostmortemPublished {
			t.Fatalf("%s published the post-mortem", who)
		}
	}
	got["reply_postmortem_publish_refused"] = last()
	// The commander publishes, in the channel; it is recorded.
	mustContain(t, "publish", h.incidentCmd(dev, ch.ID, "postmortem publish"), "published")
	got["reply_postmortem_published"] = last()
	if !h.incident("inc-1").PostmortemPublished {
		t.Fatal("not recorded as published")
	}
	var noted bool
	for _, e := range h.timeline("inc-1") {
		noted = noted || e.Text == "Post-mortem published"
	}
	if !noted {
		t.Error("publishing is not in the timeline")
	}
	mustContain(t, "again", h.incidentCmd(dev, ch.ID, "postmortem publish"), "already published")
	mustContain(t, "link once published", h.incidentCmd(lead, "general", "postmortem inc-1"), inc.PostmortemURL)
	compareGolden(t, got)
}

// TestPrivateIncident_PublishingAPublicOneIsRefused: there is nothing to
// publish on a normal incident, and the flag must lead the title.
func TestPrivateIncident_PublishingAPublicOneIsRefused(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Cache down")
	h.drain()
	mustContain(t, "publish public", h.incidentCmd(dev, "general", "postmortem publish inc-1"), "not private")
	mustContain(t, "unknown option", h.incidentCmd(dev, "general", "declare --secret Cache down"), "not an option")
	if n := len(h.incidentChannels()); n != 1 {
		t.Errorf("%d channels after a refused declare", n)
	}
}
