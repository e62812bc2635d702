package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/notion"
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

// TestPostmortem_NotionSetUpErrorsWaitUntilFixed: a database without the
// Incident ID property (how opsbot finds a page again) and without the
// optional Duration. /readyz names both; the incident channel is told,
// once, what to fix; the post-mortem is retried (past the runner's ten
// attempts, hourly) and written as soon as the property is added, without
// Duration.
func TestPostmortem_NotionSetUpErrorsWaitUntilFixed(t *testing.T) {
	h := newHarness(t)
	schema := notion.DefaultProps.Schema()
	delete(schema, "Incident ID")
	delete(schema, "Duration")
	db, err := h.notion.AddDatabase("Broken post-mortems", schema)
	if err != nil {
		t.Fatal(err)
	}
	h.dbID = db.ID
	h.restart()
	res, err := http.Get(h.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	mustContain(t, "readyz", string(body), "ready", `"Incident ID" (rich_text) is missing`, `"Duration" (rich_text) is missing`)
	if res.StatusCode != http.StatusOK {
		t.Errorf("readyz %d: the store is ready, Notion is detail", res.StatusCode)
	}

	h.incidentCmd(dev, "general", "declare Disk full sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	h.incidentCmd(dev, ch.ID, "status resolved")
	h.drain()
	for range 24 {
		h.advance(time.Hour)
	}
	waiting := 0
	for _, m := range h.slack.Messages(ch.ID) {
		s := messageText(m)
		if strings.Contains(s, "cannot write the post-mortem in Notion yet") {
			waiting++
			mustContain(t, "waiting", s, `"Incident ID" (rich_text) is missing`, "keeps trying")
		}
		if strings.Contains(s, "do it by hand") {
			t.Errorf("gave up: %s", s)
		}
	}
	if waiting != 1 {
		t.Fatalf("%d set-up messages in the channel, want 1", waiting)
	}
	if h.incident("inc-1").PostmortemPageID != "" || len(h.notion.Pages(db.ID)) != 0 {
		t.Fatal("a page without its Incident ID")
	}
	if err := h.notion.AddProperty(db.ID, "Incident ID", "rich_text"); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Hour)
	inc := h.incident("inc-1")
	if inc.PostmortemPageID == "" {
		t.Fatal("the post-mortem was not written once the database was fixed")
	}
	pages := h.notion.Pages(db.ID)
	if len(pages) != 1 {
		t.Fatalf("%d pages", len(pages))
	}
	if _, ok := pages[0].Properties["Duration"]; ok {
		t.Errorf("Duration written to a database without it: %v", pages[0].Properties)
	}
	mustContain(t, "page", fmt.Sprint(pages[0].Properties["Incident ID"]), "inc-1")
}

// TestPostmortem_PageStartedEarlyKeptInStep: a page opened with
// /incident postmortem six seconds in used to stay at "investigating,
// 6s, old commander". It follows the incident to its resolution (the
// body rewritten while only opsbot has written it), then only its
// properties once people work on it, and nothing after done.
func TestPostmortem_PageStartedEarlyKeptInStep(t *testing.T) {
	h := newHarness(t)
	h.incidentCmd(dev, "general", "declare Search down sev2")
	h.drain()
	ch := h.incidentChannels()[0]
	h.clock.Advance(6 * time.Second)
	h.incidentCmd(dev, ch.ID, "postmortem")
	h.drain()
	page := func() (props string, body string) {
		pages := h.notion.Pages(h.dbID)
		if len(pages) != 1 {
			t.Fatalf("%d pages", len(pages))
		}
		var lines []string
		for _, b := range h.notion.Blocks(pages[0].ID) {
			lines = append(lines, b.Text)
		}
		return fmt.Sprint(pages[0].Properties), strings.Join(lines, "\n")
	}
	props, body := page()
	mustContain(t, "early page", props, "investigating")
	h.clock.Advance(40 * time.Minute)
	h.incidentCmd(dev, ch.ID, "role commander <@"+lead+">")
	h.incidentCmd(dev, ch.ID, "severity sev1")
	h.incidentCmd(dev, ch.ID, "update Rolled back the index change")
	h.drain()
	h.clock.Advance(20 * time.Minute)
	h.incidentCmd(lead, ch.ID, "status resolved")
	h.drain()
	props, body = page()
	mustContain(t, "properties at resolution", props, "resolved", "sev1", "1h", "Lee Lead")
	mustContain(t, "body at resolution", body, "Rolled back the index change", "Status investigating → resolved", "Severity sev2 → sev1")
	if strings.Contains(props, "investigating") || strings.Contains(props, "6s") {
		t.Errorf("stale properties: %s", props)
	}
	// People write the analysis; later changes keep their text.
	pages := h.notion.Pages(h.dbID)
	blocks := h.notion.Blocks(pages[0].ID)
	h.notion.EditBlock(blocks[len(blocks)-1].ID, "Root cause: a missing index (written by a person)", nil)
	h.incidentCmd(lead, ch.ID, "role scribe <@"+dev2+">")
	h.drain()
	_, body = page()
	mustContain(t, "body after a person's edit", body, "Root cause: a missing index (written by a person)")
	h.incidentCmd(lead, ch.ID, "postmortem done")
	h.drain()
	before := len(h.notion.Requests())
	h.incidentCmd(lead, ch.ID, "role comms <@"+dev+">")
	h.drain()
	for _, r := range h.notion.Requests()[before:] {
		t.Errorf("Notion called after the post-mortem was done: %s %s", r.Method, r.Path)
	}
}

// TestIncidents_PerSeverityTemplatesAndInvites: a sev1 gets its own
// checklist and post-mortem template and invites its extra people, also
// when an incident is raised to sev1 later; a sev2 gets the defaults.
func TestIncidents_PerSeverityTemplatesAndInvites(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	check, pm := filepath.Join(dir, "sev1-check.md"), filepath.Join(dir, "sev1-pm.md")
	if err := os.WriteFile(check, []byte("# {{.ID}} is a sev1\n- [ ] Call the status page team\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pm, []byte("# {{.ID}} sev1 review\n## Executive summary\n- [ ] Brief the CTO\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.extra = "  severities:\n    sev1: {checklist_template: " + check + ", postmortem_template: " + pm + ", invite: [lead2@example.com]}\n"
	h.restart()

	members := func(name string) []string {
		for _, c := range h.incidentChannels() {
			if strings.HasPrefix(c.Name, name) {
				return c.Members
			}
		}
		t.Fatalf("no channel %s", name)
		return nil
	}
	h.incidentCmd(dev, "general", "declare Disk full sev2")
	h.drain()
	if slices.Contains(members("inc-1"), lead2) {
		t.Error("a sev2 invited the sev1 people")
	}
	h.incidentCmd(dev, "general", "declare Search down sev1")
	h.drain()
	if !slices.Contains(members("inc-2"), lead2) {
		t.Error("a sev1 did not invite its extra people")
	}
	var checklists []string
	for _, c := range h.incidentChannels() {
		for _, m := range h.slack.Messages(c.ID) {
			if s := messageText(m); strings.Contains(s, "Response checklist") {
				checklists = append(checklists, s)
			}
		}
	}
	if len(checklists) != 2 || strings.Contains(checklists[0], "status page team") || !strings.Contains(checklists[1], "Call the status page team") {
		t.Errorf("checklists: %q", checklists)
	}
	ch1 := h.incidentChannels()[0]
	h.incidentCmd(dev, ch1.ID, "severity sev1")
	h.drain()
	if !slices.Contains(members("inc-1"), lead2) {
		t.Error("raising to sev1 did not invite the sev1 people")
	}
	h.incidentCmd(dev, ch1.ID, "status resolved")
	h.drain()
	var texts []string
	for _, b := range h.notion.Blocks(h.incident("inc-1").PostmortemPageID) {
		texts = append(texts, b.Text)
	}
	mustContain(t, "sev1 post-mortem", strings.Join(texts, "\n"), "inc-1 sev1 review", "Brief the CTO")
}
