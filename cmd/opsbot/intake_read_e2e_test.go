package main

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/aws/cefake"
	"github.com/opsbot/opsbot/integrations/aws/stsfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/store"
)

// TestSlashCommand_ReadsCommitOnce sends every command opsbot takes for
// a read (bot.readOnly), with the services they read set up (costs,
// audit, server actions), from a team member, an approver, an admin and
// a person absent from the config: each is answered with exactly one
// store commit, its take-in (its signature recorded), and changes
// nothing anyone sees. A command taken for a read that wrote would show
// here as a second commit.
func TestSlashCommand_ReadsCommitOnce(t *testing.T) {
	h := newUnbootedHarness(t)
	ce := cefake.New(h.clock.Now)
	cehs := httptest.NewServer(ce)
	t.Cleanup(cehs.Close)
	sts := stsfake.New(h.clock.Now)
	sts.AddRole(stsfake.Role{ARN: prodRole, ExternalID: "opsbot-e2e", Account: prodID})
	stshs := httptest.NewServer(sts)
	t.Cleanup(stshs.Close)
	h.costEndpoint, h.stsEndpoint = cehs.URL, stshs.URL
	h.slack.AddChannel(slackfake.Channel{Name: "cost-review", Members: []string{lead, admin, h.slack.BotUserID()}})
	h.edit = costsConfig
	var mu sync.Mutex
	var commits []string
	h.storeOpts = append(h.storeOpts, store.WithWriteHook(func(what string, committed bool) error {
		if committed {
			mu.Lock()
			commits = append(commits, what)
			mu.Unlock()
		}
		return nil
	}))
	h.boot()
	// Something to read: srv-1 running for dev.
	if got := h.ops(dev, "server request build-box for 1d e2e"); !strings.Contains(got, "srv-1") {
		t.Fatalf("request: %q", got)
	}
	h.drain()
	for range 3 {
		h.advance(11 * time.Second) // the fake EC2 needs 20s to run it
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(commits)
	}
	world := worldOutcome(t, h)
	reads := []string{"servers", "", "help", "budget", "budget platform", "approvals", "server srv-1", "server srv-99",
		"costs", "costs platform", "costs all", "audit", "audit srv-1", "audit 1d", "run", "servers now", "lease", "nonsense"}
	for _, user := range []string{dev, lead, admin, stranger} {
		for _, text := range reads {
			before := count()
			got := h.ops(user, text)
			if got == "" {
				t.Errorf("%s: /ops %s: no answer", user, text)
			}
			if n := count() - before; n != 1 {
				mu.Lock()
				t.Errorf("%s: /ops %s: %d commits, want 1 (the take-in): %v", user, text, n, commits[before:])
				mu.Unlock()
			}
		}
	}
	for _, text := range []string{"help", "", "bogus"} {
		before := count()
		if status := h.send(h.slack.SlashCommand(testSecret, stranger, "general", "/incident", text)); status != 200 {
			t.Errorf("/incident %s: %d", text, status)
		}
		if n := count() - before; n != 1 {
			t.Errorf("/incident %s: %d commits, want 1", text, n)
		}
	}
	if d := outcomeDiff(world, worldOutcome(t, h)); len(d) > 0 {
		t.Errorf("read commands changed the world: %v", d)
	}
}
