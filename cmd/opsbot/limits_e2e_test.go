package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// Tests that drive opsbot with the largest or oddest input a person can
// give and check that nothing it sends is over a limit the real service
// enforces (the fakes refuse what Slack, Notion, PagerDuty and EC2 refuse).

// selectOptions returns the values a static select in a view offers,
// from its options or its option groups.
func selectOptions(t *testing.T, view json.RawMessage, blockID string) []string {
	t.Helper()
	var v struct {
		Blocks []struct {
			BlockID string `json:"block_id"`
			Element struct {
				Options []struct {
					Value string `json:"value"`
				} `json:"options"`
				OptionGroups []struct {
					Options []struct {
						Value string `json:"value"`
					} `json:"options"`
				} `json:"option_groups"`
			} `json:"element"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(view, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range v.Blocks {
		if b.BlockID != blockID {
			continue
		}
		for _, o := range b.Element.Options {
			out = append(out, o.Value)
		}
		for _, g := range b.Element.OptionGroups {
			for _, o := range g.Options {
				out = append(out, o.Value)
			}
		}
	}
	return out
}

// TestExtendForm_MoreThanAHundredRunningServersAllListed: Slack refuses a
// static select of more than 100 options (invalid_arguments), so a person
// with 105 running servers got "Something went wrong" from `/ops lease
// extend`. The form now lists them all, in option groups of at most 100,
// and extending the last one works.
func TestExtendForm_MoreThanAHundredRunningServersAllListed(t *testing.T) {
	h := newHarness(t)
	for range 105 {
		h.ops(dev, "server request test-small for 1d load test")
		h.clock.Advance(time.Second)
	}
	h.settle()
	var running []*workflows.ServerRequest
	for _, r := range h.requests() {
		if r.State == workflows.StateRunning {
			running = append(running, r)
		}
	}
	if len(running) != 105 {
		t.Fatalf("%d servers running, want 105", len(running))
	}
	if got := h.ops(dev, "lease extend"); strings.Contains(got, "went wrong") {
		t.Fatalf("/ops lease extend: %s", got)
	}
	for _, c := range h.slack.CallsTo("views.open") {
		if c.Error != "" {
			t.Fatalf("views.open refused: %s", c.Error)
		}
	}
	var form slackfake.View
	for _, v := range h.slack.Views(dev) {
		if v.Type == "modal" && v.Open {
			form = v
		}
	}
	opts := selectOptions(t, form.JSON, "server")
	if len(opts) != 105 {
		t.Fatalf("the form offers %d servers, want 105", len(opts))
	}
	last := running[len(running)-1]
	var value string
	for _, o := range opts {
		if strings.HasPrefix(o, last.ID+" ") {
			value = o
		}
	}
	if value == "" {
		t.Fatalf("%s is not in the form", last.ID)
	}
	if status := h.send(h.slack.ViewSubmission(testSecret, dev, form.ID, map[string]map[string]slackfake.InputValue{
		"server":   {"server": {Type: "static_select", Value: value}},
		"duration": {"duration": {Value: "1d"}},
	})); status != 200 {
		t.Fatalf("submission status %d", status)
	}
	h.drain()
	if got := h.request(last.ID); !got.LeaseEnd.After(last.LeaseEnd) {
		t.Errorf("%s's lease still ends %s", last.ID, got.LeaseEnd)
	}
}

// TestApprovals_ThreeHundredWaitingAnsweredWithinSlackLimits: an approver
// with 300 requests waiting typed /ops approvals and got nothing: the
// answer listed every one with two buttons, 55 blocks, and Slack refuses
// more than 50 (invalid_blocks). The answer now lists the oldest ones
// with their buttons and counts the rest.
func TestApprovals_ThreeHundredWaitingAnsweredWithinSlackLimits(t *testing.T) {
	h := newHarness(t)
	for i := range 300 {
		h.ops(dev, "server request build-box for 3d compile")
		h.clock.Advance(time.Second)
		if i%20 == 19 {
			h.drain()
		}
	}
	h.drain()
	got := h.ops(lead, "approvals")
	mustContain(t, "/ops approvals", got, "300 waiting for your decision", "srv-1 ", "more wait")
	var blocks []json.RawMessage
	rs := h.slack.Responses()
	if err := json.Unmarshal(rs[len(rs)-1].Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	if len(blocks) > 50 {
		t.Errorf("%d blocks", len(blocks))
	}
}
